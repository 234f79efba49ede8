"""What every model shares: the UTC timestamp type, the naming convention, the status vocabularies."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import (
    DateTime,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ranchersync.kernel.roles import Role as Role  # the models speak of roles; the vocabulary is the kernel's

OperationStatus = Literal["pending", "running", "complete", "partial", "failed", "rolled_back", "interrupted"]
ResultStatus = Literal["pending", "success", "failed", "skipped", "rolled_back"]
OperationKind = Literal["sync", "rollback"]
SyncMode = Literal["full", "tag"]
Channel = Literal["dashboard", "cli", "api", "system"]
ApprovalStatus = Literal["pending", "approved", "rejected", "stale", "expired", "executed"]
FreezeKind = Literal["once", "weekly", "stop_all"]

# Statuses in which an operation still holds its target environment (see the partial unique index below).
ACTIVE_OPERATION_STATUSES: tuple[str, ...] = ("pending", "running")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only kind stored)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware UTC time")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        # SQLite keeps no zone: what we wrote was UTC.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so Alembic batch mode can find constraints by name."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TimestampMixin:
    """Creation and last-change times."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

DeliveryStatus = Literal["ok", "failed", "retrying"]
CompareMode = Literal["image", "tag"]
