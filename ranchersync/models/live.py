"""The live inventory the collector keeps from Kubernetes watches (`python -m ranchersync collect`).

One row per workload of every watched (site, cluster), with the object as the watch last delivered it and what its
pods run; one row per (site, cluster, kind) watch with its health; one lease row naming the active collector, its
heartbeat and a change counter that pages poll to know the inventory moved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, UTCDateTime, utcnow


class LiveWorkload(Base):
    """A workload as its cluster's watch last delivered it, and the digests its pods report."""

    __tablename__ = "live_workloads"
    __table_args__ = (UniqueConstraint("site_id", "cluster_id", "kind", "namespace", "name",
                                       name="uq_live_workloads_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    cluster_id: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    resource_version: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the object (managedFields dropped)
    running: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"digests": {container: [...]}, "pods": n}
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LiveWatch(Base):
    """One (site, cluster, kind) watch of the collector: where it is, whether it is streaming, what it cost."""

    __tablename__ = "live_watches"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(253), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    healthy: Mapped[bool] = mapped_column(Boolean, default=False)  # listed, and the watch is streaming
    state: Mapped[str] = mapped_column(String(32), default="starting")  # watching, reconnecting, relisting, failing
    resource_version: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")  # the last error, in words
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)  # in this state since
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # last event, bookmark or list
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    relists: Mapped[int] = mapped_column(Integer, default=0)


class CollectorLease(Base):
    """The one active collector: who holds the lease, until when, its heartbeat, and the inventory's changes."""

    __tablename__ = "collector_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # "collector"
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    changes: Mapped[int] = mapped_column(BigInteger, default=0)  # moves whenever stored workloads change
