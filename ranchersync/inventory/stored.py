"""Reading the live inventory the collector keeps (`ranchersync.collector`): which clusters it has fresh, and their
workloads and running digests as stored, with no request to Rancher.

A cluster is fresh while the collector's heartbeat is recent and every watch the read needs (each workload kind, and
pods for digests) is streaming; otherwise the reader falls back to a live read and says why.
"""

from __future__ import annotations

import datetime as dt
import threading
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
    its pods run)], by kind in the order given, then by name. Rows are parsed once per write (`_PARSED`)."""
    order = {kind: i for i, kind in enumerate(kinds)}
    rows: Sequence[Any] = session.execute(
        select(LiveWorkload.id, LiveWorkload.site_id, LiveWorkload.cluster_id, LiveWorkload.kind,
               LiveWorkload.namespace, LiveWorkload.name, LiveWorkload.observed_at)
        .where(_pairs(LiveWorkload, pairs), LiveWorkload.namespace.in_(set(namespaces)),
               LiveWorkload.kind.in_(list(order)))
        .order_by(LiveWorkload.name)
    ).all()
    parsed = _PARSED.get(session, [(row.id, row.observed_at) for row in rows])
    found: dict[tuple[int, str, str], list[tuple[str, Workload, RunningImages | None]]] = defaultdict(list)
    for row in rows:
        if row.id not in parsed:  # removed by the collector since the first query
            continue
        workload, running = parsed[row.id]
        found[(row.site_id, row.cluster_id, row.namespace)].append((row.kind, workload, running))
    return {key: [(w, r) for _, w, r in sorted(items, key=lambda item: order[item[0]])]
            for key, items in found.items()}


class _ParsedRows:
    """Stored rows parsed into Workloads, kept per row id and the time it was written: a row the collector did not
    rewrite since the last view is not decoded again (the JSON and the object model are most of a view's time:
    ~0.2 s of 0.35 s for 2,000 services). Bounded: past `limit` rows it starts over."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._rows: dict[int, tuple[dt.datetime, Workload, RunningImages | None]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, wanted: Sequence[tuple[int, dt.datetime]]
            ) -> dict[int, tuple[Workload, RunningImages | None]]:
        with self._lock:
            known = {i: self._rows.get(i) for i, _ in wanted}
        stale = [i for i, at in wanted if (hit := known[i]) is None or hit[0] != at]
        fresh: dict[int, tuple[dt.datetime, Workload, RunningImages | None]] = {}
        for start in range(0, len(stale), _CHUNK):
            rows: Sequence[Any] = session.execute(
                select(LiveWorkload.id, LiveWorkload.kind, LiveWorkload.payload, LiveWorkload.running,
                       LiveWorkload.observed_at).where(LiveWorkload.id.in_(stale[start:start + _CHUNK]))).all()
            for row in rows:
                fresh[row.id] = (row.observed_at, Workload.from_k8s(row.payload, row.kind), _running(row.running))
        with self._lock:
            if len(self._rows) + len(fresh) > self.limit:
                self._rows.clear()
            self._rows.update(fresh)
        # A row rewritten between the two queries is taken as read now: newer than the first query saw.
        return {i: (hit[1], hit[2]) for i, _ in wanted for hit in [fresh.get(i) or known[i]] if hit is not None}


_CHUNK = 500  # ids per IN (…): under SQLite's bound-parameter limit
_PARSED = _ParsedRows()


def _running(stored: dict[str, Any] | None) -> RunningImages | None:
    if not stored:
        return None
    digests = stored.get("digests") or {}
    return RunningImages(tuple((name, tuple(d)) for name, d in sorted(digests.items())), int(stored.get("pods", 0)))


def _pairs(model: type[LiveWatch] | type[LiveWorkload], pairs: Collection[Pair]) -> Any:
    return or_(*(and_(model.site_id == site, model.cluster_id == cluster) for site, cluster in pairs))


def _plural(kind: str) -> str:
    return kind + "s"
