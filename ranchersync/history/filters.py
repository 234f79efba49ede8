"""What the history and the metrics are narrowed to, and the WHERE clauses that say it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, get_args

from sqlalchemy import ColumnElement, or_, select

from ranchersync.kernel.errors import ValidationError
from ranchersync.models import OperationKind, OperationStatus, SyncOperation, SyncResult


@dataclass(frozen=True)
class HistoryFilter:
    """Operations to show: touching an environment (as source or target), by status, service, person, kind, and
    started in [since, until). Blank text means no filter; times must be timezone-aware."""

    environment_id: int | None = None
    status: str | None = None
    service: str | None = None
    initiated_by: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str):
                # Frozen, so normalise through object.__setattr__: " web " and "" come from forms and the CLI.
                object.__setattr__(self, field.name, value.strip() or None)
        _check_choice("status", self.status, get_args(OperationStatus))
        _check_choice("kind", self.kind, get_args(OperationKind))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationError(f"'{name}' needs a time zone (UTC is what history stores)")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValidationError("'since' must come before 'until'")


def date_range(since: dt.date | None, until: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC bounds for calendar days, both included: `until` covers its whole day (the CLI's --since/--until)."""
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC) if until else None
    return start, end


def _check_choice(name: str, value: str | None, allowed: tuple[Any, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValidationError(f"unknown {name} '{value}': use one of {', '.join(allowed)}")


def operation_conditions(filters: HistoryFilter) -> list[ColumnElement[bool]]:
    """The history's WHERE clause on sync_operations; the environment matches as source or target."""
    op = SyncOperation
    conditions = period_conditions(filters)
    if filters.environment_id is not None:
        conditions.append(or_(op.source_environment_id == filters.environment_id,
                              op.target_environment_id == filters.environment_id))
    if filters.status is not None:
        conditions.append(op.status == filters.status)
    if filters.initiated_by is not None:
        conditions.append(op.initiated_by == filters.initiated_by)
    if filters.kind is not None:
        conditions.append(op.kind == filters.kind)
    if filters.service is not None:
        # IN (subquery), not EXISTS: both databases read the service's results once through
        # ix_sync_results_service_finished_at instead of probing every operation.
        conditions.append(op.id.in_(select(SyncResult.operation_id).where(SyncResult.service == filters.service)))
    return conditions


def target_conditions(filters: HistoryFilter) -> list[ColumnElement[bool]]:
    """The metrics' WHERE clause on sync_operations: the environment is the target, since every metric measures
    changes landing in an environment."""
    op = SyncOperation
    conditions = period_conditions(filters)
    if filters.environment_id is not None:
        conditions.append(op.target_environment_id == filters.environment_id)
    if filters.initiated_by is not None:
        conditions.append(op.initiated_by == filters.initiated_by)
    if filters.service is not None:
        conditions.append(op.id.in_(select(SyncResult.operation_id).where(SyncResult.service == filters.service)))
    return conditions


def period_conditions(filters: HistoryFilter) -> list[ColumnElement[bool]]:
    """Operations started in [since, until)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(SyncOperation.started_at >= filters.since)
    if filters.until is not None:
        conditions.append(SyncOperation.started_at < filters.until)
    return conditions
