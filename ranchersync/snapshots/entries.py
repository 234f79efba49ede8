"""A snapshot's content, pure: one entry per service of an app instance (per container: image and the digest its
pods ran), to and from the stored JSON, and the difference between two snapshots (or a snapshot and now)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from ranchersync.inventory.reading import Service


@dataclass(frozen=True)
class SnapshotContainer:
    """One container as the snapshot recorded it."""

    name: str
    init: bool
    image: str
    digest: str = ""  # "" when unknown (not read, or the pods disagreed)


@dataclass(frozen=True)
class SnapshotEntry:
    """One service of one app instance."""

    instance_id: int
    instance: str
    kind: str
    name: str
    containers: tuple[SnapshotContainer, ...]

    @property
    def key(self) -> tuple[str, str]:
        """What matches a service across environments: kind and name."""
        return (self.kind, self.name)

    def images(self) -> dict[tuple[str, bool], str]:
        """Image per (container, init)."""
        return {(c.name, c.init): c.image for c in self.containers}


def entry_of(service: Service) -> SnapshotEntry:
    """A service as a snapshot records it; digests where its pods were read and agree."""
    running = service.running
    containers = tuple(
        SnapshotContainer(c.name, c.init, c.image, (running.digest(c.name) or "") if running and not c.init else "")
        for c in service.workload.containers
    )
    return SnapshotEntry(service.instance.id, service.instance.name, service.kind, service.name, containers)


def entries_of(services: Iterable[Service]) -> list[SnapshotEntry]:
    """Services as a snapshot records them, each (app instance, kind, name) once, in a stable order."""
    seen: dict[tuple[int, str, str], SnapshotEntry] = {}
    for service in services:
        seen.setdefault((service.instance.id, service.kind, service.name), entry_of(service))
    return sorted(seen.values(), key=lambda e: (e.name, e.kind, e.instance))


class ContainerEntryPayload(TypedDict):
    """One container of a snapshot's service: its image and the digest its pods ran ("" when unknown)."""

    name: str
    init: bool
    image: str
    digest: str


class EntryPayload(TypedDict):
    """One service of one app instance in a snapshot."""

    appInstanceId: int
    appInstance: str
    kind: str
    name: str
    containers: list[ContainerEntryPayload]


def to_json(entries: Sequence[SnapshotEntry]) -> list[EntryPayload]:
    """The stored form (camelCase, as payloads)."""
    return [{"appInstanceId": e.instance_id, "appInstance": e.instance, "kind": e.kind, "name": e.name,
             "containers": [{"name": c.name, "init": c.init, "image": c.image, "digest": c.digest}
                            for c in e.containers]} for e in entries]


def from_json(rows: Iterable[Mapping[str, Any]]) -> list[SnapshotEntry]:
    """Entries from the stored form."""
    return [SnapshotEntry(int(r["appInstanceId"]), str(r.get("appInstance", "")), str(r["kind"]), str(r["name"]),
                          tuple(SnapshotContainer(str(c["name"]), bool(c.get("init")), str(c["image"]),
                                                  str(c.get("digest") or "")) for c in r.get("containers", ())))
            for r in rows]


DiffState = Literal["same", "changed", "only_left", "only_right"]


@dataclass(frozen=True)
class DiffRow:
    """One container of one service on both sides: images (several where app instances disagree) and digests."""

    kind: str
    name: str
    container: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    left_digests: tuple[str, ...]
    right_digests: tuple[str, ...]

    @property
    def state(self) -> DiffState:
        if not self.left:
            return "only_right"
        if not self.right:
            return "only_left"
        same_digests = not (self.left_digests and self.right_digests) or self.left_digests == self.right_digests
        return "same" if self.left == self.right and same_digests else "changed"


def diff(left: Sequence[SnapshotEntry], right: Sequence[SnapshotEntry]) -> list[DiffRow]:
    """Service by service and container by container (matched by kind and name, so two environments compare):
    what each side ran. A digest difference under the same image (a re-pushed tag) counts as a change."""
    def gather(entries: Sequence[SnapshotEntry]) -> dict[tuple[str, str, str], tuple[set[str], set[str]]]:
        found: dict[tuple[str, str, str], tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for entry in entries:
            for c in entry.containers:
                images, digests = found[(entry.kind, entry.name, f"{c.name} (init)" if c.init else c.name)]
                images.add(c.image)
                if c.digest:
                    digests.add(c.digest)
        return found

    a, b = gather(left), gather(right)
    rows = []
    for key in sorted(set(a) | set(b), key=lambda k: (k[1], k[0], k[2])):
        li, ld = a.get(key, (set(), set()))
        ri, rd = b.get(key, (set(), set()))
        rows.append(DiffRow(key[0], key[1], key[2], tuple(sorted(li)), tuple(sorted(ri)), tuple(sorted(ld)),
                            tuple(sorted(rd))))
    return rows


class DiffRowPayload(TypedDict):
    """One container of one service on both sides of a comparison."""

    kind: str
    service: str
    container: str
    left: list[str]
    right: list[str]
    leftDigests: list[str]
    rightDigests: list[str]
    state: DiffState


class DiffPayload(TypedDict):
    """`snapshots diff --json`: a snapshot (left) against another or an environment now (right)."""

    left: str
    right: str
    rows: list[DiffRowPayload]


def diff_payload(rows: Sequence[DiffRow]) -> list[DiffRowPayload]:
    """A diff as `snapshots diff --json` prints it."""
    return [{"kind": r.kind, "service": r.name, "container": r.container, "left": list(r.left),
             "right": list(r.right), "leftDigests": list(r.left_digests), "rightDigests": list(r.right_digests),
             "state": r.state} for r in rows]
