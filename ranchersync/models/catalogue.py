"""Rancher sites, environments, app instances, and the key check value."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ranchersync.models.base import Base, TimestampMixin, UTCDateTime, utcnow


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
    # Opt-in: a plan's registry preflight reads the target workloads' own imagePullSecrets, else their
    # ServiceAccount's (kept in memory only).
    use_pull_secrets: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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
    # Whether a plan into it promotes `repo:tag@sha256:…` unless the sync says otherwise; None: nobody chose, so it
    # follows `protected` (the behaviour from before the setting existed, also when protection changes later).
    pin_digests: Mapped[bool | None] = mapped_column(Boolean)

    app_instances: Mapped[list[AppInstance]] = relationship(
        back_populates="environment", order_by="AppInstance.name"
    )

    @property
    def pins_digests(self) -> bool:
        """What a plan into it does by default: the explicit setting, else on when the environment is protected."""
        return self.protected if self.pin_digests is None else self.pin_digests

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
