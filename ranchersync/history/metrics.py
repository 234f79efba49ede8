"""Delivery metrics of the sync history, aggregated in SQL: activity per day, success rate, durations, and the four
DORA keys (deployment frequency, change failure rate, time to restore, lead time).

Every figure is computed by a few grouped or windowed queries that run unchanged on SQLite (≥ 3.35: window
functions, NULLS FIRST/LAST, AS MATERIALIZED) and PostgreSQL; Python only combines their aggregated rows (days ×
environments × kinds × statuses: a few thousand for a year).

Filters: `since`/`until` select operations *started* in the period (UTC days); `environment_id` selects changes
*into* that environment (its target), since every figure measures changes landing somewhere; `service` and
`initiated_by` narrow to operations that touched that service or that person started; `kind` narrows the activity
figures (daily counts, success rate, durations) only, because the DORA figures are defined on syncs — rollbacks
enter them as remediation; `status` is ignored: a rate over pre-filtered outcomes would mean nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from ranchersync.history import dora
from ranchersync.history.dora import CHANGED, Headline, LeadTimes, RestoreTimes
from ranchersync.history.filters import HistoryFilter, target_conditions
from ranchersync.history.sql import seconds_between, tune_for_reports, unindexed, utc_day
from ranchersync.models import Environment, SyncOperation, SyncResult

FINISHED = ("complete", "partial", "failed", "rolled_back", "interrupted")

# Histogram buckets for operation durations: (label, from seconds, below seconds).
DURATION_BUCKETS: tuple[tuple[str, float, float | None], ...] = (
    ("< 10 s", 0, 10), ("10–30 s", 10, 30), ("30–60 s", 30, 60), ("1–2 min", 60, 120), ("2–5 min", 120, 300),
    ("5–10 min", 300, 600), ("10–30 min", 600, 1800), ("≥ 30 min", 1800, None),
)


@dataclass(frozen=True)
class DayCount:
    """A count for one UTC day (or, in weekly series, the week starting that Monday)."""

    day: dt.date
    count: int


@dataclass(frozen=True)
class StatusCount:
    """Operations started on a UTC day that are (now) in a status."""

    day: dt.date
    status: str
    count: int


@dataclass(frozen=True)
class DaySuccess:
    """Of the operations started on a day that have finished, how many completed."""

    day: dt.date
    finished: int
    complete: int

    @property
    def rate(self) -> float | None:
        return self.complete / self.finished if self.finished else None


@dataclass(frozen=True)
class DurationBucket:
    """Finished operations whose duration lies in [low, high) seconds (high None: no upper bound)."""

    label: str
    low_seconds: float
    high_seconds: float | None
    count: int


@dataclass(frozen=True)
class Durations:
    """How long finished operations took, start to finish."""

    buckets: tuple[DurationBucket, ...]
    count: int
    mean_seconds: float | None
    max_seconds: float | None


@dataclass(frozen=True)
class Deployments:
    """Deployment frequency into one environment: its deployments per day and per ISO week (Monday first)."""

    environment_id: int | None
    environment: str
    total: int
    per_day: tuple[DayCount, ...]
    per_week: tuple[DayCount, ...]
    average_per_week: float | None  # over the whole period, quiet weeks included


@dataclass(frozen=True)
class FailureRate:
    """Change failure rate of the syncs into one environment (environment None: all of them)."""

    environment_id: int | None
    environment: str | None
    syncs: int
    failed: int

    @property
    def rate(self) -> float | None:
        return self.failed / self.syncs if self.syncs else None


@dataclass(frozen=True)
class Metrics:
    """Every figure of the metrics screen and `metrics --json` for one filter."""

    since: dt.date | None  # the period's first and last UTC day (the filter's, else the data's)
    until: dt.date | None
    failure_window: dt.timedelta
    operations: int
    daily: tuple[StatusCount, ...]
    success_rate: tuple[DaySuccess, ...]
    durations: Durations
    deployments: tuple[Deployments, ...]
    change_failure_rate: FailureRate
    change_failure_by_environment: tuple[FailureRate, ...]
    restore: RestoreTimes
    lead_times: LeadTimes
    headline: Headline

    def success_by_day(self) -> tuple[DaySuccess, ...]:
        """`success_rate` with every day of the period, a day without a finished operation at `finished` 0 (its
        rate None): a line over it shows a gap there instead of joining the days around it."""
        known = {d.day: d for d in self.success_rate}
        if not known:
            return ()
        first, last = min(known), max(known)
        first = min(first, self.since) if self.since else first
        last = max(last, self.until) if self.until else last
        days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
        return tuple(known.get(day) or DaySuccess(day, 0, 0) for day in days)


def compute_metrics(
    session: Session,
    filters: HistoryFilter | None = None,
    failure_window: dt.timedelta = dt.timedelta(hours=24),
    list_limit: int = 100,
) -> Metrics:
    """Compute every metric for `filters`; lists of incidents and lead times keep the newest `list_limit` items
    (their statistics cover all of them).

    Definitions (DORA's where one exists; an *operation's day* is the UTC day it started):

    - **Daily activity**: operations per day and current status.
    - **Success rate** per day: operations that ended `complete` ÷ those that finished (`complete`, `partial`,
      `failed`, `rolled_back`, `interrupted`); a sync rolled back later, by itself or by hand, is not a success.
    - **Durations**: finished operations bucketed by finish − start (`DURATION_BUCKETS`), with mean and maximum.
    - **Deployment frequency** per target environment: *deployments* per day and per week, where a deployment is
      a sync that changed at least one service there and was not undone by its own automatic rollback (a change
      rolled back later by a rollback operation still was delivered — DORA counts it, and counts its failure in
      the change failure rate). `complete` qualifies; `partial` and hand-rolled-back syncs when a service changed;
      `failed` and `interrupted` ones do not.
    - **Change failure rate**: of the finished syncs, those where a service failed (whether or not the automatic
      rollback then undid the operation) or for which a rollback operation was started within `failure_window`
      of the sync's end because it failed (`rollback_reason` not `decided`: a person rolling back, or terminating,
      a sync that went well is a decision, not a failure). An `interrupted` sync with no failed service is not
      counted as failed.
    - **Time to restore** and **lead time**: see `dora.restore_times` and `dora.lead_times`.
    - **Headline**: success rate and deployments per week over the whole period (`dora.Headline`).
    """
    filters = filters or HistoryFilter()
    rows = activity_by_day(session, filters, failure_window)
    kinds = (filters.kind,) if filters.kind else ("sync", "rollback")
    days = sorted({row.day for row in rows})
    since = filters.since.date() if filters.since else (days[0] if days else None)
    until = (filters.until - dt.timedelta(microseconds=1)).date() if filters.until else (days[-1] if days else None)
    period_days = (until - since).days + 1 if since and until else None
    chosen = [row for row in rows if row.kind in kinds]
    syncs = [row for row in rows if row.kind == "sync"]
    return Metrics(
        since=since,
        until=until,
        failure_window=failure_window,
        operations=sum(row.operations for row in chosen),
        daily=_daily(chosen),
        success_rate=_success_rate(chosen),
        durations=duration_histogram(session, filters),
        deployments=_deployments(syncs, period_days),
        change_failure_rate=_failure_rate(None, None, syncs),
        change_failure_by_environment=tuple(
            _failure_rate(env_id, name, group) for (env_id, name), group in _by_environment(syncs)
        ),
        restore=dora.restore_times(session, filters, list_limit),
        lead_times=dora.lead_times(session, filters, list_limit),
        headline=Headline(
            finished=sum(row.operations for row in chosen if row.status in FINISHED),
            complete=sum(row.operations for row in chosen if row.status == "complete"),
            deployments=sum(row.deployments for row in syncs),
            period_days=period_days,
        ),
    )


@dataclass(frozen=True)
class ActivityRow:
    """Operations of one day into one environment, of one kind, in one status."""

    day: dt.date
    environment_id: int | None
    environment: str
    position: int | None
    kind: str
    status: str
    operations: int
    deployments: int
    failed_changes: int


def activity_by_day(
    session: Session, filters: HistoryFilter, failure_window: dt.timedelta
) -> list[ActivityRow]:
    """Operations grouped by (day, target environment, kind, status), with deployments and failed changes."""
    op = SyncOperation
    rollback = aliased(SyncOperation)
    first_rollback = (
        select(rollback.rollback_of_id.label("operation_id"),
               func.min(func.coalesce(rollback.started_at, rollback.created_at)).label("at"))
        .where(rollback.rollback_of_id.is_not(None)).group_by(rollback.rollback_of_id).subquery()
    )
    rolled_back_by_hand = first_rollback.c.at.is_not(None)
    changed_a_service = _any_result(op, SyncResult.status.in_(CHANGED))
    a_service_failed = _any_result(op, SyncResult.status == "failed")
    # CASE, in this order, so that the per-operation probes only run for the few operations that need them.
    deployed = case(
        (op.kind != "sync", 0),
        (op.status == "complete", 1),
        (and_(op.status == "partial", changed_a_service), 1),
        (and_(op.status == "rolled_back", rolled_back_by_hand, changed_a_service), 1),
        else_=0,
    )
    failed_change = case(
        (op.kind != "sync", 0),
        (op.status.not_in(FINISHED), 0),
        # A person's rollback of a complete sync is their decision (`rollback_reason` "decided"), not a failure.
        (and_(rolled_back_by_hand, op.rollback_reason.is_distinct_from("decided"),
              seconds_between(op.finished_at, first_rollback.c.at) <= failure_window.total_seconds()), 1),
        (op.status == "complete", 0),
        (a_service_failed, 1),
        else_=0,
    )
    inner = (
        select(
            utc_day(op.started_at).label("day"),
            op.target_environment_id.label("environment_id"),
            func.coalesce(Environment.name, op.target_environment_name).label("environment"),
            Environment.position.label("position"),
            op.kind.label("kind"),
            op.status.label("status"),
            deployed.label("deployed"),
            failed_change.label("failed_change"),
        )
        .select_from(op)
        .outerjoin(Environment, Environment.id == op.target_environment_id)
        .outerjoin(first_rollback, first_rollback.c.operation_id == op.id)
        # Not through ix_sync_operations_started_at (SQLite would, for IS NOT NULL): a scan reads in table order.
        .where(unindexed(op.started_at).is_not(None), *target_conditions(filters))
        .subquery()
    )
    keys = (inner.c.day, inner.c.environment_id, inner.c.environment, inner.c.position, inner.c.kind, inner.c.status)
    tune_for_reports(session)
    stmt = select(*keys, func.count(), func.sum(inner.c.deployed), func.sum(inner.c.failed_change)).group_by(*keys)
    rows: list[Any] = list(session.execute(stmt))
    return [
        ActivityRow(dt.date.fromisoformat(day), env_id, env, position, kind, status, int(n), int(deployed_n),
                    int(failed_n))
        for day, env_id, env, position, kind, status, n, deployed_n, failed_n in rows
    ]


def _any_result(op: type[SyncOperation], condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether one of the operation's results meets `condition`: an index probe per operation. LIMIT 1, not EXISTS,
    because PostgreSQL, given memory, would turn EXISTS into a hash of every result in the table."""
    probe = select(literal(1)).where(SyncResult.operation_id == op.id, condition).limit(1)
    return probe.scalar_subquery().is_not(None)


def _daily(rows: Sequence[ActivityRow]) -> tuple[StatusCount, ...]:
    counts: dict[tuple[dt.date, str], int] = defaultdict(int)
    for row in rows:
        counts[row.day, row.status] += row.operations
    return tuple(StatusCount(day, status, n) for (day, status), n in sorted(counts.items()))


def _success_rate(rows: Sequence[ActivityRow]) -> tuple[DaySuccess, ...]:
    finished: dict[dt.date, int] = defaultdict(int)
    complete: dict[dt.date, int] = defaultdict(int)
    for row in rows:
        if row.status in FINISHED:
            finished[row.day] += row.operations
            complete[row.day] += row.operations if row.status == "complete" else 0
    return tuple(DaySuccess(day, finished[day], complete[day]) for day in sorted(finished))


def duration_histogram(session: Session, filters: HistoryFilter) -> Durations:
    """Finished operations' durations, bucketed."""
    op = SyncOperation
    conditions = [*target_conditions(filters), op.status.in_(FINISHED), op.finished_at.is_not(None)]
    if filters.kind:
        conditions.append(op.kind == filters.kind)
    # Materialized, so that each duration is computed once, not once per CASE branch below (SQLite inlines).
    timed = (select(seconds_between(op.started_at, op.finished_at).label("seconds")).where(*conditions)
             .cte("timed").prefix_with("MATERIALIZED"))
    bucket = case(*((timed.c.seconds < high, index) for index, (_, _, high) in enumerate(DURATION_BUCKETS) if high),
                  else_=len(DURATION_BUCKETS) - 1)
    inner = select(bucket.label("bucket"), timed.c.seconds).subquery()
    tune_for_reports(session)
    stmt = (select(inner.c.bucket, func.count(), func.sum(inner.c.seconds), func.max(inner.c.seconds))
            .group_by(inner.c.bucket))
    found: list[Any] = list(session.execute(stmt))
    by_bucket = {index: (int(n), float(total), float(longest)) for index, n, total, longest in found}
    count = sum(n for n, _, _ in by_bucket.values())
    return Durations(
        buckets=tuple(DurationBucket(label, low, high, by_bucket.get(i, (0, 0.0, 0.0))[0])
                      for i, (label, low, high) in enumerate(DURATION_BUCKETS)),
        count=count,
        mean_seconds=round(sum(t for _, t, _ in by_bucket.values()) / count, 3) if count else None,
        max_seconds=max(m for _, _, m in by_bucket.values()) if count else None,
    )


def _by_environment(rows: Sequence[ActivityRow]) -> list[tuple[tuple[int | None, str], list[ActivityRow]]]:
    """Rows grouped by target environment, in pipeline order; removed environments (no position) last, by name."""
    groups: dict[tuple[int | None, str], list[ActivityRow]] = defaultdict(list)
    order: dict[tuple[int | None, str], tuple[bool, int, str]] = {}
    for row in rows:
        key = (row.environment_id, row.environment)
        groups[key].append(row)
        order[key] = (row.position is None, row.position or 0, row.environment)
    return sorted(groups.items(), key=lambda item: order[item[0]])


def _deployments(rows: Sequence[ActivityRow], period_days: int | None) -> tuple[Deployments, ...]:
    result = []
    for (env_id, name), group in _by_environment(rows):
        per_day: dict[dt.date, int] = defaultdict(int)
        for row in group:
            if row.deployments:
                per_day[row.day] += row.deployments
        per_week: dict[dt.date, int] = defaultdict(int)
        for day, n in per_day.items():
            per_week[day - dt.timedelta(days=day.weekday())] += n
        total = sum(per_day.values())
        result.append(Deployments(
            environment_id=env_id, environment=name, total=total,
            per_day=tuple(DayCount(d, n) for d, n in sorted(per_day.items())),
            per_week=tuple(DayCount(d, n) for d, n in sorted(per_week.items())),
            average_per_week=round(total * 7 / period_days, 3) if period_days else None,
        ))
    return tuple(result)


def _failure_rate(env_id: int | None, name: str | None, rows: Sequence[ActivityRow]) -> FailureRate:
    finished = [row for row in rows if row.status in FINISHED]
    return FailureRate(env_id, name, sum(r.operations for r in finished), sum(r.failed_changes for r in finished))
