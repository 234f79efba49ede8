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
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ranchersync.inventory.digests import RunningImages
from ranchersync.models import CollectorLease, LiveWatch, LiveWorkload, utcnow
from ranchersync.rancher import Workload, WorkloadStatus, workload_status

FRESH_SECONDS = 5.0  # the collector renews its heartbeat every second; past this it is taken for gone
LEASE_NAME = "collector"

Pair = tuple[int, str]  # (site, cluster)


class StoredWorkload(NamedTuple):
    """One stored workload as parsed: the workload, what its pods run, and its status (worked out once per write:
    `workload_status` is a pure function of the workload)."""

    workload: Workload
    running: RunningImages | None
    status: WorkloadStatus


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
                     kinds: Iterable[str]) -> dict[tuple[int, str, str], list[StoredWorkload]]:
    """The stored workloads of these clusters in these namespaces: (site, cluster, namespace) → [(workload, what
    its pods run, its status)], by kind in the order given, then by name. Rows are parsed once per write
    (`_PARSED`)."""
    order = {kind: i for i, kind in enumerate(kinds)}
    rows: Sequence[Any] = session.execute(
        select(LiveWorkload.id, LiveWorkload.site_id, LiveWorkload.cluster_id, LiveWorkload.kind,
               LiveWorkload.namespace, LiveWorkload.observed_at)
        .where(_pairs(LiveWorkload, pairs), LiveWorkload.namespace.in_(set(namespaces)),
               LiveWorkload.kind.in_(list(order)))
        .order_by(LiveWorkload.name)
    ).all()
    # Plain tuples, sorted once by kind (stable: names stay in order within a kind), then grouped: no per-group sort.
    rows = sorted(rows, key=lambda row: order[row[3]])
    parsed = _PARSED.get(session, [(row[0], row[5]) for row in rows])
    found: dict[tuple[int, str, str], list[StoredWorkload]] = defaultdict(list)
    for row_id, site_id, cluster_id, _kind, namespace, _at in rows:
        hit = parsed.get(row_id)
        if hit is not None:  # else removed by the collector since the first query
            found[(site_id, cluster_id, namespace)].append(hit)
    return dict(found)


class _ParsedRows:
    """Stored rows parsed into Workloads, kept per row id and the time it was written: a row the collector did not
    rewrite since the last view is not decoded again (the JSON and the object model are most of a view's time:
    ~0.2 s of 0.35 s for 2,000 services). Bounded: past `limit` rows it starts over."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._rows: dict[int, tuple[dt.datetime, StoredWorkload]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, wanted: Sequence[tuple[int, dt.datetime]]
            ) -> dict[int, StoredWorkload]:
        found: dict[int, StoredWorkload] = {}
        older: dict[int, StoredWorkload] = {}  # what is kept of rows rewritten since
        stale: list[int] = []
        with self._lock:
            rows = self._rows
            for row_id, at in wanted:
                hit = rows.get(row_id)
                if hit is not None and hit[0] == at:
                    found[row_id] = hit[1]
                else:
                    stale.append(row_id)
                    if hit is not None:
                        older[row_id] = hit[1]
        fresh: dict[int, tuple[dt.datetime, StoredWorkload]] = {}
        for start in range(0, len(stale), _CHUNK):
            chunk: Sequence[Any] = session.execute(
                select(LiveWorkload.id, LiveWorkload.kind, LiveWorkload.payload, LiveWorkload.running,
                       LiveWorkload.observed_at).where(LiveWorkload.id.in_(stale[start:start + _CHUNK]))).all()
            for row in chunk:
                workload = Workload.from_k8s(row.payload, row.kind)
                fresh[row.id] = (row.observed_at,
                                 StoredWorkload(workload, _running(row.running), workload_status(workload)))
        with self._lock:
            if len(self._rows) + len(fresh) > self.limit:
                self._rows.clear()
            self._rows.update(fresh)
        # A row rewritten between the two queries is taken as read now: newer than the first query saw.
        for row_id in stale:
            hit = fresh.get(row_id)
            if hit is not None:
                found[row_id] = hit[1]
            elif row_id in older:
                found[row_id] = older[row_id]
        return found


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
