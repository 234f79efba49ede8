"""Notifications, preferences and the health checks' memory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, UTCDateTime, utcnow


class NotificationSubscription(Base):
    """Apprise URL (encrypted like a token) that receives some events of one environment, or of every one."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )  # None: every environment (and the events that belong to none: sites, stop-all)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    url_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    url_masked: Mapped[str] = mapped_column(String(300))  # scheme and fingerprint only: what pages and JSON show
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
    theme: Mapped[str] = mapped_column(String(10), default="", server_default="")  # "": the browser's; light; dark
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
