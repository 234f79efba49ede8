"""Registries (their credentials encrypted like tokens) and quarantined image digests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class Registry(TimestampMixin, Base):
    """An OCI Distribution (v2) server the plans resolve images in: anonymous, or with credentials."""

    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)  # as images name it: docker.io, ghcr.io, host:5000
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet, as site tokens
    ca_bundle: Mapped[str | None] = mapped_column(Text)  # PEM; public material
    allow_http: Mapped[bool] = mapped_column(Boolean, default=False)  # explicit "plain HTTP"
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # never the password, not even encrypted
        return f"Registry(id={self.id!r}, host={self.host!r}, username={self.username!r})"


class QuarantinedImage(Base):
    """A digest declared bad: refused in every plan on every site until lifted (the row stays, for the record)."""

    __tablename__ = "quarantined_images"
    __table_args__ = (Index("ix_quarantined_images_digest", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))  # registry/repository, normalized (docker.io/library/redis)
    digest: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(320))
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lift_reason: Mapped[str | None] = mapped_column(Text)
    # Where it ran when last looked (`quarantine list`, the site check): what the exporter serves without Rancher.
    running_count: Mapped[int | None] = mapped_column(Integer)
    running_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.digest}"

    def __repr__(self) -> str:
        return f"QuarantinedImage(id={self.id!r}, {self.name}@{self.digest})"
