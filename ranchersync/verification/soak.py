"""The soak: after a rollout, the new version's pods must stay ready with no new restarts for the soak time.

The pods are read sparsely (a handful of reads over the soak, never a busy loop): what counts is whether a
container's `restartCount` went up, which the kubelet keeps, so a crash between two reads is still seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Final

from ranchersync.kernel.errors import RancherSyncError
from ranchersync.rancher import Pod, RancherClient

MIN_POLL: Final = 1.0
MAX_POLL: Final = 15.0
READS: Final = 8  # reads over one soak (at least every MAX_POLL seconds)


def poll_seconds(soak_seconds: float) -> float:
    """Seconds between two reads of the pods during a soak of that length."""
    return max(MIN_POLL, min(MAX_POLL, soak_seconds / READS))


@dataclass
class SoakOutcome:
    """How the soak went: restarts seen (per pod/container), the reads made, and why it failed ('' if it held)."""

    restarts: dict[str, int] = field(default_factory=dict)
    reads: int = 0
    failure: str = ""
    unread: str = ""  # the last read that failed, if the pods could not be read at the end

    @property
    def passed(self) -> bool:
        """Whether the pods stayed ready without restarts."""
        return not self.failure


def _new_version_pods(pods: list[Pod], images: Collection[str]) -> list[Pod]:
    """The pods that run the new version: one of their containers runs one of the images just set."""
    return [p for p in pods if any(c.image in images for c in p.containers if not c.init)]


def soak(
    client: RancherClient, cluster_id: str, namespace: str, selector: str, images: Collection[str],
    seconds: float, *, heartbeat: Callable[[], object] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> SoakOutcome:
    """Watch the new version's pods for `seconds`; fails on a restart or a pod that stops being ready."""
    outcome = SoakOutcome()
    baseline: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    interval = poll_seconds(seconds)
    first = True
    while True:
        try:
            pods = _new_version_pods(client.list_pods(cluster_id, namespace, selector), images)
        except RancherSyncError as error:
            outcome.unread = f"the pods could not be read: {error}"
        else:
            outcome.unread = ""
            outcome.reads += 1
            for pod in pods:
                for status in pod.container_statuses:
                    if status.init:
                        continue
                    key = f"{pod.name}/{status.name}"
                    # A pod that appears during the soak was started during it: all its restarts count.
                    start = baseline.setdefault(key, status.restart_count if first else 0)
                    if status.restart_count > start:
                        outcome.restarts[key] = status.restart_count - start
                    elif not status.ready and not outcome.failure:
                        outcome.failure = f"container {status.name} of pod {pod.name} is not ready"
            if outcome.restarts:
                worst = ", ".join(f"{key} restarted {count}×" for key, count in sorted(outcome.restarts.items()))
                outcome.failure = f"pods restarted during the soak (crash loop?): {worst}"
                return outcome
            if outcome.failure:
                return outcome
            first = False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        heartbeat()
        sleep(min(interval, remaining))
    if outcome.unread:
        outcome.failure = f"the soak could not be checked: {outcome.unread}"
    elif outcome.reads == 0:
        outcome.failure = "the soak could not be checked: the pods were never read"
    return outcome
