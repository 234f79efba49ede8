"""One watch of the collector: list a kind across a cluster, then watch it from the list's resourceVersion, resumed
from the last event or bookmark when the server ends it, relisted after 410 Gone, reconnected with backoff and
jitter when the connection fails. Its health is what readers check before trusting the stored inventory."""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass

from ranchersync.collector.clusterstate import ClusterState
from ranchersync.kernel.errors import RancherAPIError, RancherSyncError
from ranchersync.models import utcnow
from ranchersync.rancher import RancherClient, retry_delay
from ranchersync.rancher.client import WATCH_SECONDS

log = logging.getLogger(__name__)

BACKOFF = 0.5  # seconds before the first reconnect, doubling (jittered) up to the transport's maximum


@dataclass(frozen=True)
class WatchStatus:
    """A watch's health as the `live_watches` row stores it."""

    healthy: bool = False
    state: str = "starting"
    resource_version: str = ""
    detail: str = ""
    since: object = None
    observed_at: object = None
    reconnects: int = 0
    relists: int = 0


class Watcher:
    """A thread keeping one (site, cluster, kind) of a ClusterState current."""

    def __init__(self, client: RancherClient, state: ClusterState, kind: str, *,
                 timeout_seconds: int = WATCH_SECONDS) -> None:
        self.client = client
        self.state = state
        self.kind = kind
        self.timeout_seconds = timeout_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = WatchStatus(since=utcnow())
        self.version = 0  # moves with every status change, so the writer writes only what moved
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"watch-{state.site_id}-{state.cluster_id}-{kind}")

    @property
    def status(self) -> WatchStatus:
        with self._lock:
            return self._status

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end (the caller cuts the client's open streams)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _set(self, **changes: object) -> None:
        with self._lock:
            old = self._status
            if "state" in changes and changes["state"] != old.state:
                changes.setdefault("since", utcnow())
            self._status = dataclasses.replace(old, **changes)  # type: ignore[arg-type]
            self.version += 1

    def _run(self) -> None:
        version, attempt, listed = "", 0, False
        while not self._stop.is_set():
            try:
                if not version:
                    self._set(healthy=False, state="relisting" if listed else "listing")
                    items, version = self.client.list_for_watch(self.state.cluster_id, self.kind)
                    self.state.replace_kind(self.kind, items)
                    relists = self.status.relists + (1 if listed else 0)
                    listed = True
                    self._set(healthy=True, state="watching", resource_version=version, observed_at=utcnow(),
                              detail="", relists=relists)
                for event in self.client.watch(self.state.cluster_id, self.kind, version,
                                               timeout_seconds=self.timeout_seconds):
                    if self._stop.is_set():
                        return
                    obj = event["object"]
                    version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self.state.apply(self.kind, str(event["type"]), obj)
                    self._set(healthy=True, state="watching", resource_version=version, observed_at=utcnow(),
                              detail="")
                    attempt = 0
                # The server ended the watch at its timeout: resume at once from the last version seen.
            except RancherAPIError as error:
                if self._stop.is_set():
                    return
                if error.status == 410:
                    log.info("watch of %s in %s expired (410): listing again", self.kind, self.state.cluster_id)
                    version = ""
                    continue
                self._failed(error, attempt)
                attempt += 1
            except RancherSyncError as error:  # a malformed answer: list again after a pause
                if self._stop.is_set():
                    return
                version = ""
                self._failed(error, attempt)
                attempt += 1

    def _failed(self, error: RancherSyncError, attempt: int) -> None:
        log.warning("watch of %s in %s failed: %s", self.kind, self.state.cluster_id, error)
        self._set(healthy=False, state="reconnecting", detail=str(error)[:500],
                  reconnects=self.status.reconnects + 1)
        self._stop.wait(retry_delay(attempt, BACKOFF))
