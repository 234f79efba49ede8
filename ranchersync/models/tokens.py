"""API tokens (issue 21): what a pipeline authenticates with, and the answers it may replay by Idempotency-Key."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, Role, UTCDateTime, _in, utcnow


class ApiToken(Base):
    """A named token for the HTTP API: a role, optionally limited to environments, expiring, revocable.

    The secret itself is never stored: `lookup` is the public part of the secret that finds the row, `secret_hash`
    a slow salted hash of the whole secret (`people.tokens`).
    """

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", get_args(Role)), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    environment_ids: Mapped[list[int] | None] = mapped_column(JSON)  # None: every environment
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_address: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(320))

    def __repr__(self) -> str:  # never the hash
        return f"ApiToken(id={self.id!r}, name={self.name!r}, role={self.role!r})"


class IdempotentAnswer(Base):
    """The first answer to a POST carrying an `Idempotency-Key`, kept per token for a day: a retry gets it back.

    `status` is None while the first request is still being answered (a concurrent retry is told so).
    """

    __tablename__ = "api_idempotency"
    __table_args__ = (
        UniqueConstraint("token_id", "key", name="uq_api_idempotency_token_id_key"),
        Index("ix_api_idempotency_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # HMAC-SHA-256 of method, path and body (idempotency.py)
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
