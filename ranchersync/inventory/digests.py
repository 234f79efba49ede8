"""What workloads really run, pure: the image digests their pods report, and workloads changed outside the tool.

A tag names a digest only at the moment it is pulled: a re-pushed tag, or a rollout left half way, makes pods of
"the same version" run different code. Pods report the digest they run in ``status.containerStatuses[].imageID``;
`running_images()` gathers those per workload. `outside_change()` compares what a workload's template runs now
with what our last sync into it set (every patch is annotated with its operation id): when they differ, someone
else (kubectl, the Rancher UI, another pipeline) changed it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ranchersync.rancher import Pod, Workload


def digest_of(image_id: str) -> str:
    """The ``sha256:…`` part of a container status' ``imageID`` (``docker.io/library/nginx@sha256:…``,
    ``docker-pullable://…@sha256:…``, or a bare ``sha256:…`` image id); "" when it names none."""
    _, at, digest = image_id.rpartition("@")
    if at:
        return digest
    return image_id if image_id.startswith("sha256:") else ""


@dataclass(frozen=True)
class RunningImages:
    """The digests the pods of one workload report, per regular container (sorted, distinct), and the pod count."""

    digests: tuple[tuple[str, tuple[str, ...]], ...]
    pods: int

    @property
    def by_container(self) -> dict[str, tuple[str, ...]]:
        return dict(self.digests)

    @property
    def mixed(self) -> bool:
        """Pods of this one workload run different digests of a container (a half-finished rollout, a re-pushed
        tag pulled by some pods only)."""
        return any(len(d) > 1 for _, d in self.digests)

    def digest(self, container: str) -> str | None:
        """The one digest a container runs in every pod; None when unknown or mixed."""
        found = self.by_container.get(container, ())
        return found[0] if len(found) == 1 else None


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether a ``matchLabels`` selector selects these labels (an empty selector selects nothing)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def running_images(workload: Workload, pods: Iterable[Pod]) -> RunningImages:
    """What the workload's pods (those its selector selects, in its namespace) run, per regular container."""
    found: dict[str, set[str]] = {c.name: set() for c in workload.containers if not c.init}
    count = 0
    for pod in pods:
        if pod.namespace and pod.namespace != workload.namespace or not selects(workload.selector, pod.labels):
            continue
        count += 1
        for status in pod.container_statuses:
            digest = digest_of(status.image_id)
            if not status.init and digest and status.name in found:
                found[status.name].add(digest)
    return RunningImages(tuple((name, tuple(sorted(d))) for name, d in sorted(found.items())), count)


@dataclass(frozen=True)
class LastSync:
    """What our last successful sync into a workload set: per container the image (and the digest its pods ran once
    the rollout was verified), when, and by which operation."""

    images: dict[str, str]
    finished_at: dt.datetime | None
    operation_id: int
    digests: dict[str, str] = field(default_factory=dict)  # per container, what its pods ran when verified


@dataclass(frozen=True)
class OutsideChange:
    """A workload whose images are no longer the ones our last sync set: someone else changed it."""

    containers: tuple[tuple[str, str, str], ...]  # (container, what we set, what it runs now)
    last_sync: LastSync
    noticed_at: dt.datetime


def outside_change(workload: Workload, last: LastSync | None, noticed_at: dt.datetime) -> OutsideChange | None:
    """The change made outside the tool since our last sync into this workload, or None (never synced by us, or
    still as we left it). Containers we did not set, and containers removed since, are not counted."""
    if last is None:
        return None
    now = {c.name: c.image for c in workload.containers}
    changed = tuple((name, image, now[name]) for name, image in sorted(last.images.items())
                    if name in now and now[name] != image)
    return OutsideChange(changed, last, noticed_at) if changed else None


def verified_digests(workload: Workload, pods: Iterable[Pod], images: Mapping[str, str]) -> dict[str, str]:
    """Per changed container (`images`: container → the image the sync set), the digest its pods run once the
    rollout is verified: from the pods the workload selects whose spec runs that image (a terminating old pod
    does not count). A container whose pods report no digest, or several, is left out."""
    found: dict[str, set[str]] = {name: set() for name in images}
    for pod in pods:
        if pod.namespace and pod.namespace != workload.namespace or not selects(workload.selector, pod.labels):
            continue
        spec = {c.name: c.image for c in pod.containers}
        for status in pod.container_statuses:
            digest = digest_of(status.image_id)
            if digest and status.name in found and spec.get(status.name) == images[status.name]:
                found[status.name].add(digest)
    return {name: next(iter(digests)) for name, digests in sorted(found.items()) if len(digests) == 1}
