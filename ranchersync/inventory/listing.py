"""The listing strategy: which list requests read the services (or pods) of many app instances, and running them.

App instances are grouped by (site, cluster): where a cluster holds several of them, one cluster-wide list per kind
replaces their per-namespace lists; a cluster whose token may only list inside namespaces (403) is remembered for a
while and listed namespace by namespace. The requests run in parallel, each worker thread with its own client per
site (`ClientPool`). What is read, and how it becomes services, lives in `ranchersync.inventory.reading`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

from ranchersync.catalogue.sites import ClientFactory, Connection
from ranchersync.inventory.refs import InstanceRef
from ranchersync.kernel.errors import RancherAuthError, RancherSyncError
from ranchersync.rancher import RancherClient

# From this many app instances (namespaces) in one cluster on, one cluster-wide list per kind replaces theirs.
CLUSTER_WIDE_FROM = 2
ListingStrategy = Literal["auto", "namespace"]
T = TypeVar("T")

class ClientPool:
    """One client per site and per worker thread: tokens never mix between sites, sessions never between threads."""

    def __init__(
        self, connections: Mapping[int, Connection], factory: ClientFactory = RancherClient, pool_size: int = 4
    ) -> None:
        self._connections = connections
        self._factory = factory
        self._pool_size = pool_size
        self._local = threading.local()
        self._all: list[RancherClient] = []
        self._lock = threading.Lock()

    def client(self, ref: InstanceRef) -> RancherClient:
        """This thread's client for the instance's site."""
        clients: dict[int, RancherClient] = self._local.__dict__.setdefault("clients", {})
        if ref.site_id not in clients:
            conn = self._connections[ref.site_id]
            clients[ref.site_id] = self._factory(
                conn.url, conn.token, ca_bundle=conn.ca_bundle, insecure=conn.insecure, pool_size=self._pool_size
            )
            with self._lock:
                self._all.append(clients[ref.site_id])
        return clients[ref.site_id]

    def close(self) -> None:
        """Close every client made by any thread."""
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()


@contextmanager
def client_pool(connections: Mapping[int, Connection], factory: ClientFactory = RancherClient) -> Iterator[ClientPool]:
    """A ClientPool closed when the block ends."""
    pool = ClientPool(connections, factory)
    try:
        yield pool
    finally:
        pool.close()


class _ScopeMemory:
    """Which (site, cluster) pairs refused a cluster-wide list (403), remembered for a while so each listing does
    not ask again; a role granted meanwhile is used once the memory lapses."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until: dict[tuple[int, str, str], float] = {}
        self._lock = threading.Lock()

    def namespaced_only(self, key: tuple[int, str, str]) -> bool:
        with self._lock:
            until = self._until.get(key)
            if until is not None and until <= time.monotonic():
                del self._until[key]
                until = None
            return until is not None

    def remember(self, key: tuple[int, str, str]) -> None:
        with self._lock:
            self._until[key] = time.monotonic() + self.seconds

    def forget(self) -> None:
        with self._lock:
            self._until.clear()


# As long as the dashboard caches what Rancher lists (ui/queries.py RANCHER_TTL).
SCOPE_MEMORY_SECONDS = 60.0
_scopes = _ScopeMemory(SCOPE_MEMORY_SECONDS)


def forget_listing_scopes() -> None:
    """Forget which clusters refused cluster-wide lists (after a site's token changed, and in tests)."""
    _scopes.forget()


@dataclass(frozen=True)
class ListJob:
    """One list request: a kind in one namespace, or across a cluster for several app instances at once."""

    refs: tuple[InstanceRef, ...]
    kind: str
    cluster_wide: bool


def listing_jobs(refs: Sequence[InstanceRef], kinds: Sequence[str], strategy: ListingStrategy,
                 connections: Mapping[int, Connection]) -> list[ListJob]:
    """The requests that list these app instances: where a cluster holds several of them (and may be listed
    whole), one cluster-wide list per kind; else one list per namespace and kind."""
    groups: dict[tuple[int, str], list[InstanceRef]] = defaultdict(list)
    for ref in refs:
        groups[(ref.site_id, ref.cluster_id)].append(ref)
    jobs: list[ListJob] = []
    for (site_id, cluster_id), group in groups.items():
        key = (site_id, connections[site_id].url, cluster_id)
        whole = (strategy == "auto" and len({r.namespace for r in group}) >= CLUSTER_WIDE_FROM
                 and not _scopes.namespaced_only(key))
        if whole:
            jobs += [ListJob(tuple(group), kind, True) for kind in kinds]
        else:
            jobs += [ListJob((ref,), kind, False) for ref in group for kind in kinds]
    return jobs


def run_listing(
    jobs: list[ListJob],
    connections: Mapping[int, Connection],
    concurrency: int,
    factory: ClientFactory,
    in_namespace: Callable[[RancherClient, InstanceRef, str], list[T]],
    in_cluster: Callable[[RancherClient, InstanceRef, str], list[T]],
    namespace_of: Callable[[T], str],
) -> tuple[dict[tuple[int, str], list[T]], dict[int, RancherSyncError]]:
    """Run list jobs in parallel: results per (app instance, kind), and the first error per app instance (typed, its
    traceback dropped: a cached inventory must not keep the failed call's frames alive).
    A cluster-wide list refused with 403 is remembered and replaced by per-namespace lists."""
    results: dict[tuple[int, str], list[T]] = {}
    errors: dict[int, RancherSyncError] = {}
    with client_pool(connections, factory) as pool, ThreadPoolExecutor(max_workers=max(1, concurrency)) as executor:

        def run(job: ListJob) -> list[ListJob]:
            first = job.refs[0]
            try:
                if not job.cluster_wide:
                    results[(first.id, job.kind)] = in_namespace(pool.client(first), first, job.kind)
                    return []
                found = in_cluster(pool.client(first), first, job.kind)
            except RancherSyncError as error:
                if job.cluster_wide and isinstance(error, RancherAuthError) and error.status == 403:
                    _scopes.remember((first.site_id, connections[first.site_id].url, first.cluster_id))
                    return [ListJob((ref,), job.kind, False) for ref in job.refs]
                error.__traceback__ = None
                for ref in job.refs:
                    errors.setdefault(ref.id, error)
                return []
            by_namespace: dict[str, list[T]] = defaultdict(list)
            for item in found:
                by_namespace[namespace_of(item)].append(item)
            for ref in job.refs:
                results[(ref.id, job.kind)] = by_namespace.get(ref.namespace, [])
            return []

        pending = {executor.submit(run, job) for job in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending |= {executor.submit(run, job) for job in future.result()}
    return results, errors
