"""Release trains: environment snapshots (immutable), locks with a message, and scheduled promotions."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, UTCDateTime, _in, utcnow

SnapshotKind = Literal["manual", "automatic"]
ScheduleKind = Literal["sync", "snapshot"]
ScheduleStatus = Literal["scheduled", "running", "executed", "requested", "refused", "failed", "cancelled"]


class EnvironmentSnapshot(Base):
    """What every service of an environment ran at one moment (per container: image and digest); never updated.

    `services`: [{"appInstanceId", "appInstance", "kind", "name", "containers": [{"name", "init", "image",
    "digest"}]}]. An automatic snapshot is taken of a sync's target before it changes anything (`operation_id`).
    """

    __tablename__ = "environment_snapshots"
    __table_args__ = (
        UniqueConstraint("name", name="uq_environment_snapshots_name"),
        CheckConstraint(_in("kind", get_args(SnapshotKind)), name="kind_known"),
        Index("ix_environment_snapshots_environment_created", "environment_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="manual")
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    environment_name: Mapped[str] = mapped_column(String(100))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("sync_operations.id", ondelete="SET NULL"),
                                                     index=True)
    services: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EnvironmentLock(Base):
    """A lock on an environment (service None) or one service of it: syncs into it are refused with the message."""

    __tablename__ = "environment_locks"
    __table_args__ = (
        Index("ix_environment_locks_in_force", "environment_id",
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(253))  # None: the whole environment
    message: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(320))


class ScheduledRequest(Base):
    """A sync or a snapshot promotion to run at `fire_at`: planned again and checked (freezes, locks, policy) when
    it fires. One scheduler claims it (`status` scheduled → running, a conditional update), so it runs once."""

    __tablename__ = "scheduled_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", get_args(ScheduleKind)), name="kind_known"),
        CheckConstraint(_in("status", get_args(ScheduleStatus)), name="status_known"),
        Index("ix_scheduled_requests_status_fire_at", "status", "fire_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    source_environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    target_environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    source_environment_name: Mapped[str] = mapped_column(String(100))
    target_environment_name: Mapped[str] = mapped_column(String(100))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("environment_snapshots.id", ondelete="SET NULL"))
    # The selection ("Kind/name"; empty: everything that differs), the mode and the sync options.
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[str] = mapped_column(String(10), default="full")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fire_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("sync_operations.id", ondelete="SET NULL"))
    approval_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("approval_requests.id", ondelete="SET NULL"))
