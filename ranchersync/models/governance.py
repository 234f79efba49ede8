"""Governance: users and their roles, the audit chain, freeze windows, approval requests and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ranchersync.models.base import ApprovalStatus, Base, FreezeKind, Role, UTCDateTime, _in, utcnow


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
