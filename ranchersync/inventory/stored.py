"""Reading the live inventory the collector keeps (`ranchersync.collector`): which clusters it has fresh, and their
workloads and running digests as stored, with no request to Rancher.

A cluster is fresh while the collector's heartbeat is recent and every watch the read needs (each workload kind, and
pods for digests) is streaming; otherwise the reader falls back to a live read and says why.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ranchersync.inventory.digests import RunningImages
from ranchersync.models import CollectorLease, LiveWatch, LiveWorkload, utcnow
from ranchersync.rancher import Workload

FRESH_SECONDS = 5.0  # the collector renews its heartbeat every second; past this it is taken for gone
LEASE_NAME = "collector"

Pair = tuple[int, str]  # (site, cluster)


@dataclass(frozen=True)
class Freshness:
    """Whether one (site, cluster) can be read from the stored inventory, and since when it is known."""

    fresh: bool
    observed_at: dt.datetime | None  # the heartbeat when fresh; else the watches' last confirmation
    reason: str = ""  # why not fresh, in words ("the watch of Pods is reconnecting")


def change_counter(session: Session) -> int:
    """The collector's change counter: moves whenever a stored workload changes (pages poll it, cheaply)."""
    return int(session.scalar(select(CollectorLease.changes).where(CollectorLease.name == LEASE_NAME)) or 0)


def collector_ever_ran(session: Session) -> bool:
    """Whether a collector ever held the lease in this database."""
    return session.scalar(select(CollectorLease.name).where(CollectorLease.name == LEASE_NAME)) is not None


def freshness(session: Session, pairs: Collection[Pair], kinds: Iterable[str],
              now: dt.datetime | None = None) -> dict[Pair, Freshness]:
    """How fresh the stored inventory of each (site, cluster) is, for a read of these kinds."""
    if not pairs:
        return {}
    now = now or utcnow()
    heartbeat = session.scalar(select(CollectorLease.heartbeat_at).where(CollectorLease.name == LEASE_NAME))
    alive = heartbeat is not None and (now - heartbeat).total_seconds() <= FRESH_SECONDS
    watches: dict[Pair, dict[str, LiveWatch]] = defaultdict(dict)
    for row in session.scalars(select(LiveWatch).where(_pairs(LiveWatch, pairs))):
        watches[(row.site_id, row.cluster_id)][row.kind] = row
    wanted = tuple(kinds)
    found: dict[Pair, Freshness] = {}
    for pair in pairs:
        rows = watches.get(pair, {})
        seen = [t for k in wanted if k in rows for t in [rows[k].observed_at] if t is not None]
        oldest = min(seen) if seen and len(seen) == len(wanted) else None
        missing = [k for k in wanted if k not in rows]
        unhealthy = [rows[k] for k in wanted if k in rows and not rows[k].healthy]
        if not alive:
            known = [t for t in (heartbeat, oldest) if t is not None]
            found[pair] = Freshness(False, min(known) if known else None, "the collector is not running")
        elif missing:
            found[pair] = Freshness(False, None, f"the collector has not listed {', '.join(missing)} yet")
        elif unhealthy:
            found[pair] = Freshness(False, oldest, "; ".join(f"the watch of {_plural(w.kind)} is {w.state}"
                                                              for w in unhealthy))
        else:
            found[pair] = Freshness(True, heartbeat)
    return found


def stored_workloads(session: Session, pairs: Collection[Pair], namespaces: Collection[str],
                     kinds: Iterable[str]) -> dict[tuple[int, str, str], list[tuple[Workload, RunningImages | None]]]:
    """The stored workloads of these clusters in these namespaces: (site, cluster, namespace) → [(workload, what
    its pods run)], by kind in the order given, then by name."""
    order = {kind: i for i, kind in enumerate(kinds)}
    rows: Sequence[Any] = session.execute(
        select(LiveWorkload.site_id, LiveWorkload.cluster_id, LiveWorkload.kind, LiveWorkload.payload,
               LiveWorkload.running)
        .where(_pairs(LiveWorkload, pairs), LiveWorkload.namespace.in_(set(namespaces)),
               LiveWorkload.kind.in_(list(order)))
        .order_by(LiveWorkload.name)
    ).all()
    found: dict[tuple[int, str, str], list[tuple[str, Workload, RunningImages | None]]] = defaultdict(list)
    for site_id, cluster_id, kind, payload, running in rows:
        workload = Workload.from_k8s(payload, kind)
        found[(site_id, cluster_id, workload.namespace)].append((kind, workload, _running(running)))
    return {key: [(w, r) for _, w, r in sorted(items, key=lambda item: order[item[0]])]
            for key, items in found.items()}


def _running(stored: dict[str, Any] | None) -> RunningImages | None:
    if not stored:
        return None
    digests = stored.get("digests") or {}
    return RunningImages(tuple((name, tuple(d)) for name, d in sorted(digests.items())), int(stored.get("pods", 0)))


def _pairs(model: type[LiveWatch] | type[LiveWorkload], pairs: Collection[Pair]) -> Any:
    return or_(*(and_(model.site_id == site, model.cluster_id == cluster) for site, cluster in pairs))


def _plural(kind: str) -> str:
    return kind + "s"
