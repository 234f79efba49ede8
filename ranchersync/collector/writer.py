"""Writing what the watches saw: changed workloads (insert, update or delete by key), the watches' health, the
heartbeat and the change counter, in one transaction per flush."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from ranchersync.collector.clusterstate import Change, ClusterState, Key
from ranchersync.collector.watcher import WatchStatus
from ranchersync.models import CollectorLease, LiveWatch, LiveWorkload, utcnow

from .lease import NAME


def stored_workloads(session: Session, site_id: int, cluster_id: str) -> list[tuple[Key, dict[str, Any],
                                                                                    dict[str, Any] | None]]:
    """What the database holds for one cluster, to start its state from."""
    rows = session.execute(select(LiveWorkload.kind, LiveWorkload.namespace, LiveWorkload.name, LiveWorkload.payload,
                                  LiveWorkload.running)
                           .where(LiveWorkload.site_id == site_id, LiveWorkload.cluster_id == cluster_id)).all()
    return [((str(kind), str(ns), str(name)), cast(dict[str, Any], payload), cast(dict[str, Any] | None, running))
            for kind, ns, name, payload, running in rows]


def write_changes(session: Session, state: ClusterState, changes: Sequence[Change]) -> int:
    """Apply one cluster's changes; returns how many rows changed."""
    if not changes:
        return 0
    now = utcnow()
    where = (LiveWorkload.site_id == state.site_id, LiveWorkload.cluster_id == state.cluster_id)
    keys = [c.key for c in changes]
    existing = {(k, ns, n): row_id for row_id, k, ns, n in session.execute(
        select(LiveWorkload.id, LiveWorkload.kind, LiveWorkload.namespace, LiveWorkload.name)
        .where(*where, tuple_(LiveWorkload.kind, LiveWorkload.namespace, LiveWorkload.name).in_(keys)))}
    for change in changes:
        row_id = existing.get(change.key)
        if change.payload is None:
            if row_id is not None:
                session.execute(delete(LiveWorkload).where(LiveWorkload.id == row_id))
            continue
        version = str(change.payload.get("metadata", {}).get("resourceVersion") or "")
        values = {"resource_version": version, "payload": change.payload, "running": change.running,
                  "observed_at": now}
        if row_id is None:
            kind, namespace, name = change.key
            session.add(LiveWorkload(site_id=state.site_id, cluster_id=state.cluster_id, kind=kind,
                                     namespace=namespace, name=name, **values))
        else:
            session.execute(update(LiveWorkload).where(LiveWorkload.id == row_id).values(**values)
                            .execution_options(synchronize_session=False))
    return len(changes)


def write_status(session: Session, site_id: int, cluster_id: str, kind: str, status: WatchStatus) -> None:
    """Upsert one watch's health row."""
    row = session.get(LiveWatch, (site_id, cluster_id, kind))
    if row is None:
        row = LiveWatch(site_id=site_id, cluster_id=cluster_id, kind=kind)
        session.add(row)
    row.healthy, row.state, row.resource_version = status.healthy, status.state, status.resource_version
    row.detail, row.reconnects, row.relists = status.detail, status.reconnects, status.relists
    row.since = status.since  # type: ignore[assignment]
    row.observed_at = status.observed_at  # type: ignore[assignment]


def count_changes(session: Session, changed: int) -> None:
    """Move the change counter pages poll."""
    if changed:
        session.execute(update(CollectorLease).where(CollectorLease.name == NAME)
                        .values(changes=CollectorLease.changes + 1).execution_options(synchronize_session=False))


def forget_clusters(session: Session, keep: Iterable[tuple[int, str]]) -> None:
    """Drop the rows of clusters no app instance lives in any more."""
    kept = set(keep)
    for site_id, cluster_id in session.execute(select(LiveWatch.site_id, LiveWatch.cluster_id).distinct()).all():
        if (site_id, cluster_id) not in kept:
            session.execute(delete(LiveWorkload).where(LiveWorkload.site_id == site_id,
                                                       LiveWorkload.cluster_id == cluster_id))
            session.execute(delete(LiveWatch).where(LiveWatch.site_id == site_id, LiveWatch.cluster_id == cluster_id))
