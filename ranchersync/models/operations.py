"""Sync operations and their results, and what the history derives from them: first arrivals, journeys, and
sightings of changes made outside the tool."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ranchersync.models.base import (
    ACTIVE_OPERATION_STATUSES,
    Base,
    OperationKind,
    OperationStatus,
    ResultStatus,
    SyncMode,
    UTCDateTime,
    _in,
    utcnow,
)


class SyncOperation(Base):
    """One promotion (or rollback) from a source to a target environment."""

    __tablename__ = "sync_operations"
    __table_args__ = (
        CheckConstraint(_in("status", get_args(OperationStatus)), name="status_known"),
        CheckConstraint(_in("kind", get_args(OperationKind)), name="kind_known"),
        CheckConstraint(_in("mode", get_args(SyncMode)), name="mode_known"),
        # One operation at a time per target environment, enforced by the database itself so that two tabs,
        # two CLI runs or two replicas cannot interleave.
        Index(
            "uq_sync_operations_one_active_per_target",
            "target_environment_id",
            unique=True,
            sqlite_where=text(_in("status", ACTIVE_OPERATION_STATUSES)),
            postgresql_where=text(_in("status", ACTIVE_OPERATION_STATUSES)),
        ),
        Index("ix_sync_operations_started_at", "started_at"),
        # "Rolled back by" lookups and the delivery metrics join rollbacks to their syncs; an unindexed foreign
        # key would also make deleting an operation (ON DELETE SET NULL) scan the table.
        Index(
            "ix_sync_operations_rollback_of_id",
            "rollback_of_id",
            sqlite_where=text("rollback_of_id IS NOT NULL"),
            postgresql_where=text("rollback_of_id IS NOT NULL"),
        ),
        Index("ix_sync_operations_status_started_at", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="sync")
    mode: Mapped[str] = mapped_column(String(10), default="full")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # Environments may be removed later; history keeps their names.
    source_environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL"), index=True
    )
    target_environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL"), index=True
    )
    source_environment_name: Mapped[str] = mapped_column(String(100))
    target_environment_name: Mapped[str] = mapped_column(String(100))
    rollback_of_id: Mapped[int | None] = mapped_column(ForeignKey("sync_operations.id", ondelete="SET NULL"))
    initiated_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # The confirmed plan's id: applying the same confirmation twice (a double click, a rerun) hits this constraint.
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Which process runs it, and when it last showed signs of life: a restart finds dead ones and marks them
    # interrupted, without touching an operation that another replica is still running.
    owner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Terminate (`ranchersync.jobs.terminate_operation`): asked on the row, so the worker that runs the operation,
    # in whichever process or replica, sees it at its next poll; it stops waiting and rolls back unless `keep`.
    terminate_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    terminate_keep: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    terminated_by: Mapped[str | None] = mapped_column(String(320))
    # Why it was rolled back: "failed" (a rollout or a check failed) or "decided" (a person chose to); only failures
    # count in the change failure rate.
    rollback_reason: Mapped[str | None] = mapped_column(String(20))

    results: Mapped[list[SyncResult]] = relationship(
        back_populates="operation", cascade="all, delete-orphan", order_by="SyncResult.id"
    )

    def __repr__(self) -> str:
        return f"SyncOperation(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"


class SyncResult(Base):
    """What happened to one service (workload) in one operation, with every container's previous and new image."""

    __tablename__ = "sync_results"
    __table_args__ = (
        CheckConstraint(_in("status", get_args(ResultStatus)), name="status_known"),
        Index("ix_sync_results_service_finished_at", "service", "finished_at"),
        # Time to restore starts from the applied failures, a few percent of the results.
        Index("ix_sync_results_failed_applied", "operation_id", sqlite_where=text("status = 'failed' AND applied = 1"),
              postgresql_where=text("status = 'failed' AND applied")),
        # ... and ends at the workload's next change that landed: one index seek per failure, index-only.
        Index("ix_sync_results_changed_workload", "service", "workload_kind", "namespace", "cluster_id", "site_name",
              "finished_at", "id", sqlite_where=text("status IN ('success', 'rolled_back')"),
              postgresql_where=text("status IN ('success', 'rolled_back')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("sync_operations.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(253))  # workload name
    workload_kind: Mapped[str] = mapped_column(String(20))
    source_app_instance_id: Mapped[int | None] = mapped_column(ForeignKey("app_instances.id", ondelete="SET NULL"))
    target_app_instance_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_instances.id", ondelete="SET NULL"), index=True
    )
    # Where the change landed, kept even if the app instance is removed later.
    site_name: Mapped[str] = mapped_column(String(100), default="")
    cluster_id: Mapped[str] = mapped_column(String(100), default="")
    namespace: Mapped[str] = mapped_column(String(63), default="")
    # [{"name": "app", "init": false, "previous": "reg/app:1.0", "new": "reg/app:1.1"}, ...]
    containers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    previous_image: Mapped[str | None] = mapped_column(String(1000))
    new_image: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    # The PATCH was accepted by Rancher: what a rollback or a resume must look at.
    applied: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the rollout was verified: per changed container, the digest the target's pods ran ({"app": "sha256:…"}).
    verified_digests: Mapped[dict[str, str] | None] = mapped_column(JSON)

    operation: Mapped[SyncOperation] = relationship(back_populates="results")

    def __repr__(self) -> str:
        return f"SyncResult(id={self.id!r}, service={self.service!r}, status={self.status!r})"


class VersionArrival(Base):
    """The first time a version (a service's image, as a sync's result recorded it) reached an environment: the
    lead time runs between these. Written when a sync's result becomes `success` (insert-or-ignore: the first
    writer wins), withdrawn when the operation's automatic rollback undoes it; a later rollback operation does
    not (the version did run there). Filled from the existing history by migration 0006."""

    __tablename__ = "version_arrivals"
    __table_args__ = (
        # Service and image first: a version's arrivals in every environment are one index range.
        UniqueConstraint("service", "image", "environment_id", name="uq_version_arrivals_version_environment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(253))
    image: Mapped[str] = mapped_column(String(1000))
    operation_id: Mapped[int] = mapped_column(ForeignKey("sync_operations.id", ondelete="CASCADE"), index=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("sync_results.id", ondelete="CASCADE"), index=True)
    arrived_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class VersionJourney(Base):
    """A version's journey from its first arrival in one environment to its first arrival, at the same time or
    later, in another: the lead time's rows, kept as arrivals are recorded (deleted with either arrival). Both
    directions between two environments may exist; the pipeline order, read when the lead time is computed,
    decides which count."""

    __tablename__ = "version_journeys"
    __table_args__ = (
        UniqueConstraint("to_arrival_id", "from_arrival_id", name="uq_version_journeys_arrivals"),
        Index("ix_version_journeys_pair_to_at", "to_environment_id", "from_environment_id", "to_at"),
        Index("ix_version_journeys_pair_seconds", "to_environment_id", "from_environment_id", "seconds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_arrival_id: Mapped[int] = mapped_column(ForeignKey("version_arrivals.id", ondelete="CASCADE"), index=True)
    to_arrival_id: Mapped[int] = mapped_column(ForeignKey("version_arrivals.id", ondelete="CASCADE"))
    from_environment_id: Mapped[int] = mapped_column(Integer)
    to_environment_id: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(253))
    image: Mapped[str] = mapped_column(String(1000))
    from_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    to_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[float] = mapped_column(Float)


class OutsideChangeSighting(Base):
    """When a change made outside the tool was first seen: per app instance, workload and the images it ran then
    (`images`: "container=image" lines, sorted; `images_key` their SHA-256, which the unique key holds since a
    long text cannot be a PostgreSQL index key), so the comparison and the drift report say when it was noticed."""

    __tablename__ = "outside_change_sightings"
    __table_args__ = (
        UniqueConstraint("app_instance_id", "workload_kind", "workload_name", "images_key",
                         name="uq_outside_change_sightings_workload_images"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    app_instance_id: Mapped[int] = mapped_column(ForeignKey("app_instances.id", ondelete="CASCADE"))
    workload_kind: Mapped[str] = mapped_column(String(20))
    workload_name: Mapped[str] = mapped_column(String(253))
    images: Mapped[str] = mapped_column(Text)
    images_key: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
