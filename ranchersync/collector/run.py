"""The collector's loop: wait for the lease, then hold one list + watch per (site, cluster) and kind of every
cluster an app instance lives in, flushing what changed every FLUSH_SECONDS and renewing the lease (the heartbeat)
every HEARTBEAT_SECONDS; give everything up when the lease is lost or the process is asked to stop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.catalogue.sites import ClientFactory, site_connection
from ranchersync.collector import lease, writer
from ranchersync.collector.clusterstate import ClusterState
from ranchersync.collector.watcher import Watcher, WatchStatus
from ranchersync.context import AppContext
from ranchersync.models import AppInstance, Site, utcnow
from ranchersync.rancher import WORKLOAD_KINDS, RancherClient
from ranchersync.rancher.client import WATCH_SECONDS

log = logging.getLogger(__name__)

WATCH_KINDS: tuple[str, ...] = (*WORKLOAD_KINDS, "Pod")
FLUSH_SECONDS = 0.1
HEARTBEAT_SECONDS = 1.0
TARGETS_SECONDS = 10.0  # app instances added in another cluster are watched within this


def holder_name() -> str:
    """Who holds the lease: host, process and a random part (two collectors in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def targets(session: Session) -> dict[tuple[int, str], int]:
    """(site, cluster) of every app instance on an active site."""
    rows = session.execute(select(AppInstance.site_id, AppInstance.cluster_id).join(Site)
                           .where(Site.active.is_(True)).distinct()).all()
    return {(site_id, cluster_id): site_id for site_id, cluster_id in rows}


@dataclass
class _Cluster:
    state: ClusterState
    client: RancherClient
    watchers: list[Watcher]
    written: dict[str, int] = field(default_factory=dict)  # kind → the watcher status version written


class Collector:
    """Run with `run(stop)` (until `stop` is set) or `once()`."""

    def __init__(self, ctx: AppContext, *, factory: ClientFactory = RancherClient, holder: str | None = None,
                 timeout_seconds: int = WATCH_SECONDS, alive_file: Path | None = None) -> None:
        self.ctx = ctx
        self.alive_file = alive_file  # touched on every turn of the loop: a probe tells a stuck loop from a live one
        self.factory = factory
        self.holder = holder or holder_name()
        self.timeout_seconds = timeout_seconds
        self.leading = threading.Event()  # set while this collector holds the lease (for tests and logs)
        self._clusters: dict[tuple[int, str], _Cluster] = {}

    # --- the loop ----------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Stand by until the lease is free, lead until it is lost or `stop` is set; release it on the way out."""
        try:
            while not stop.is_set():
                self._alive()
                with self.ctx.session() as session:
                    acquired = lease.try_acquire(session, self.holder)
                if acquired:
                    log.info("collector %s holds the lease", self.holder)
                    self._lead(stop)
                else:
                    stop.wait(HEARTBEAT_SECONDS)
        finally:
            self._stop_all()
            with self.ctx.session() as session:
                lease.release(session, self.holder)

    def _lead(self, stop: threading.Event) -> None:
        self.leading.set()
        next_beat = next_targets = 0.0
        try:
            while not stop.is_set():
                self._alive()
                now = time.monotonic()
                if now >= next_targets:
                    self._follow_targets()
                    next_targets = now + TARGETS_SECONDS
                with self.ctx.session() as session:
                    self._flush(session)
                    if now >= next_beat:
                        if not lease.try_acquire(session, self.holder):
                            log.warning("collector %s lost the lease", self.holder)
                            return
                        next_beat = now + HEARTBEAT_SECONDS
                stop.wait(FLUSH_SECONDS)
        finally:
            self.leading.clear()
            self._stop_all()

    def _alive(self) -> None:
        if self.alive_file is not None:
            self.alive_file.touch()

    def once(self) -> int:
        """List every watched kind once and store it (no watches); returns how many workloads changed."""
        with self.ctx.session() as session:
            wanted = targets(session)
            clients = self._clients(session, wanted)
        changed = 0
        for key, (state, client) in clients.items():
            with client:
                for kind in WATCH_KINDS:
                    items, version = client.list_for_watch(key[1], kind)
                    state.replace_kind(kind, items)
                    with self.ctx.session() as session:
                        writer.write_status(session, key[0], key[1], kind, WatchStatus(
                            healthy=True, state="listed", resource_version=version, since=utcnow(),
                            observed_at=utcnow()))
            with self.ctx.session() as session:
                changed += writer.write_changes(session, state, state.take_changes())
                writer.count_changes(session, changed)
        with self.ctx.session() as session:
            writer.forget_clusters(session, clients)
        return changed

    # --- clusters and watches ----------------------------------------------------------------------------------

    def _clients(self, session: Session, wanted: dict[tuple[int, str], int]) -> dict[tuple[int, str],
                                                                                      tuple[ClusterState,
                                                                                            RancherClient]]:
        sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(set(wanted.values()))))}
        found = {}
        for (site_id, cluster_id) in wanted:
            conn = site_connection(sites[site_id], self.ctx.cipher)
            state = ClusterState(site_id, cluster_id)
            state.load(writer.stored_workloads(session, site_id, cluster_id))
            found[(site_id, cluster_id)] = (state, conn.client(self.factory, pool_size=len(WATCH_KINDS) + 1))
        return found

    def _follow_targets(self) -> None:
        with self.ctx.session() as session:
            wanted = targets(session)
            new = {k: v for k, v in wanted.items() if k not in self._clusters}
            started = self._clients(session, new) if new else {}
            writer.forget_clusters(session, wanted)
        for key in [k for k in self._clusters if k not in wanted]:
            self._stop_cluster(self._clusters.pop(key))
        for key, (state, client) in started.items():
            watchers = [Watcher(client, state, kind, timeout_seconds=self.timeout_seconds).start()
                        for kind in WATCH_KINDS]
            self._clusters[key] = _Cluster(state, client, watchers)
            log.info("watching site %s cluster %s", *key)

    def _flush(self, session: Session) -> None:
        changed = 0
        for (site_id, cluster_id), cluster in self._clusters.items():
            # Statuses are read before the changes are taken: a watcher updates the state before its status, so
            # every status written here ("listed", "watching") has its items in this flush, never in the next one
            # (a view reading between the two would see a fresh inventory with a kind missing).
            statuses = [(watch.kind, watch.version, watch.status) for watch in cluster.watchers]
            changed += writer.write_changes(session, cluster.state, cluster.state.take_changes())
            for kind, version, status in statuses:
                if cluster.written.get(kind) != version:
                    writer.write_status(session, site_id, cluster_id, kind, status)
                    cluster.written[kind] = version
        writer.count_changes(session, changed)

    def _stop_cluster(self, cluster: _Cluster) -> None:
        for watch in cluster.watchers:
            watch.stop()
        cluster.client.abort_watches()
        for watch in cluster.watchers:
            watch.join(5)
        cluster.client.close()

    def _stop_all(self) -> None:
        clusters, self._clusters = list(self._clusters.values()), {}
        for cluster in clusters:
            self._stop_cluster(cluster)
