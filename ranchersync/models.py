"""Database models (SQLAlchemy 2 typed ORM): the catalogue, sync operations and results, and governance (users,
audit events, freeze windows, approval requests)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

OperationStatus = Literal["pending", "running", "complete", "partial", "failed", "rolled_back", "interrupted"]
ResultStatus = Literal["pending", "success", "failed", "skipped", "rolled_back"]
OperationKind = Literal["sync", "rollback"]
SyncMode = Literal["full", "tag"]
Role = Literal["viewer", "operator", "releaser", "admin"]
Channel = Literal["dashboard", "cli", "system"]
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


class Site(TimestampMixin, Base):
    """A Rancher server and the (encrypted) API token used to reach it."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    ca_bundle: Mapped[str | None] = mapped_column(Text)  # PEM; public material, not a secret
    insecure: Mapped[bool] = mapped_column(Boolean, default=False)  # explicit "skip TLS verification"
    allow_http: Mapped[bool] = mapped_column(Boolean, default=False)  # explicit "plain HTTP to a remote host"
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the last connection test learnt; shown on the sites page.
    rancher_user: Mapped[str | None] = mapped_column(String(200))
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    app_instances: Mapped[list[AppInstance]] = relationship(back_populates="site")

    def __repr__(self) -> str:  # never the token, not even encrypted
        return f"Site(id={self.id!r}, name={self.name!r}, url={self.url!r})"


class Environment(TimestampMixin, Base):
    """A stage of the promotion pipeline (Dev, Stage, Prod…)."""

    __tablename__ = "environments"
    __table_args__ = (CheckConstraint("position >= 0", name="position_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7), default="#6c757d")
    position: Mapped[int] = mapped_column(Integer, default=0, index=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Four-eyes: how many people other than the requester must approve a sync into it (0: none).
    required_approvals: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    app_instances: Mapped[list[AppInstance]] = relationship(
        back_populates="environment", order_by="AppInstance.name"
    )

    def __repr__(self) -> str:
        return f"Environment(id={self.id!r}, name={self.name!r}, position={self.position!r})"


class AppInstance(TimestampMixin, Base):
    """One namespace of one cluster of one site, mapped to an environment."""

    __tablename__ = "app_instances"
    __table_args__ = (
        # A namespace is mapped once: two environments claiming it would make promotions ambiguous.
        UniqueConstraint("site_id", "cluster_id", "namespace", name="uq_app_instances_location"),
        UniqueConstraint("environment_id", "name", name="uq_app_instances_environment_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    cluster_id: Mapped[str] = mapped_column(String(100))
    cluster_name: Mapped[str] = mapped_column(String(200), default="")  # display name when it was picked
    namespace: Mapped[str] = mapped_column(String(63))
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="RESTRICT"), index=True)

    site: Mapped[Site] = relationship(back_populates="app_instances")
    environment: Mapped[Environment] = relationship(back_populates="app_instances")

    def __repr__(self) -> str:
        return f"AppInstance(id={self.id!r}, name={self.name!r}, {self.cluster_id}/{self.namespace})"


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


class KeyCheck(Base):
    """The key check value: a fixed text encrypted under the key the stored tokens are under (one row).

    It tells "these are not the keys of this database" apart from "no data yet" before any token is read, and
    whether the newest key is new (rotation). It holds no secret: the plaintext is a public constant, never a
    token, and it is a Fernet token (random IV, authenticated), not a hash of the key, so it neither helps to
    guess the key nor identifies the same key across databases or backups. It does show when it was made.
    """

    __tablename__ = "key_checks"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, default=1)
    check_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the check value
        return f"KeyCheck(created_at={self.created_at!r}, rotated_at={self.rotated_at!r})"


class User(Base):
    """Someone who signed in (or used the CLI): the role assigned here overrides the one from their groups."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", get_args(Role)), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str | None] = mapped_column(String(20))  # explicit assignment; None: from groups / defaults
    assigned_by: Mapped[str | None] = mapped_column(String(320))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_role: Mapped[str | None] = mapped_column(String(20))  # the role in force at the last sign-in

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role!r})"


class AuditEvent(Base):
    """One change, append-only; `hash` chains it to the event before, so an edited or deleted row is detected."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_actor_at", "actor", "at"),
        Index("ix_audit_events_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 1, 2, 3… given by the chain head
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    client_address: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))  # "site.update", "sync.start", "user.sign_in"…
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(100), default="")
    object_name: Mapped[str] = mapped_column(String(300), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last event (one row): appending locks it, so concurrent writers never fork the chain, and
    `audit verify` compares it with the last row, so deleting the newest events is detected too."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class FreezeWindow(Base):
    """A period in which syncs into an environment (or, for stop-all, every environment) are refused."""

    __tablename__ = "freeze_windows"
    __table_args__ = (CheckConstraint(_in("kind", get_args(FreezeKind)), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )  # None: every environment (stop-all)
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # once / stop_all
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # once; None for stop_all until lifted
    weekly: Mapped[str | None] = mapped_column(String(40))  # "Fri 16:00-Mon 08:00"
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(320))


class ApprovalRequest(Base):
    """A confirmed sync plan waiting for other people's approval; it runs once enough of them approve."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        CheckConstraint(_in("status", get_args(ApprovalStatus)), name="status_known"),
        Index("ix_approval_requests_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    target_environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    source_environment_name: Mapped[str] = mapped_column(String(100))
    target_environment_name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(10), default="full")
    services: Mapped[list[str]] = mapped_column(JSON, default=list)  # the selection, "Kind/name"
    # What the approval binds to: per target workload its planned resourceVersion and containers' previous → new
    # images, and per source image the digest it ran at request time.
    binding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    status_reason: Mapped[str] = mapped_column(Text, default="")  # what moved (stale), who rejected and why…
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("sync_operations.id", ondelete="SET NULL"))

    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ApprovalDecision.id"
    )


class ApprovalDecision(Base):
    """One person's approval or rejection of a request (once per person)."""

    __tablename__ = "approval_decisions"
    __table_args__ = (
        UniqueConstraint("request_id", "actor", name="uq_approval_decisions_request_actor"),
        CheckConstraint("decision IN ('approve', 'reject')", name="decision_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(320))
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[ApprovalRequest] = relationship(back_populates="decisions")


# ---- notifications, preferences and the health checks' memory (migration 0006) -------------------------------------

DeliveryStatus = Literal["ok", "failed", "retrying"]
CompareMode = Literal["image", "tag"]


class NotificationSubscription(Base):
    """Apprise URL (encrypted like a token) that receives some events of one environment, or of every one."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )  # None: every environment (and the events that belong to none: sites, stop-all)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    url_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    url_masked: Mapped[str] = mapped_column(String(300))  # scheme and host only: what pages and JSON show
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status: Mapped[str | None] = mapped_column(String(20))  # DeliveryStatus of the last attempt
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:  # never the URL, not even encrypted
        return f"NotificationSubscription(id={self.id!r}, url={self.url_masked!r}, events={self.events!r})"


class OutboxMessage(Base):
    """One notification to deliver to one subscription or one person's e-mail (exactly one of the two): written with
    its event, sent after commit, retried."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_due", "sent_at", "next_attempt_at"),
        CheckConstraint("(subscription_id IS NULL) <> (recipient IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str | None] = mapped_column(String(320))  # an e-mail (a person's preference), else None
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # None: given up
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class UserPreference(Base):
    """One person's display choices (by e-mail: the signed-in identity or the local user)."""

    __tablename__ = "user_preferences"
    __table_args__ = (CheckConstraint("rows_per_page BETWEEN 5 AND 500", name="rows_per_page_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    default_environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id", ondelete="SET NULL"))
    timezone: Mapped[str] = mapped_column(String(64), default="")  # "": the browser's
    date_format: Mapped[str] = mapped_column(String(20), default="iso")
    compare_by: Mapped[str] = mapped_column(String(10), default="image")  # CompareMode
    rows_per_page: Mapped[int] = mapped_column(Integer, default=25)
    email_events: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SiteHealth(Base):
    """What `check` last told about a site, so each warning is sent once per state change."""

    __tablename__ = "site_health"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    reachable: Mapped[bool | None] = mapped_column(Boolean)  # None: never checked
    state_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    expiry_warned_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the expiry last warned about
    expiry_warned_days: Mapped[int | None] = mapped_column(Integer)  # the smallest threshold warned (14, 7, 1)


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
