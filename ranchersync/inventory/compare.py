"""The comparison of environments, pure: which services differ, drift along the pipeline, and how healthy they are.

`compare()` takes inventories (read by `ranchersync.inventory.reading`) and returns a services × environments matrix;
the rules a screen or the CLI needs about it live here once: what a cell shows (`cell_state`), how many promotions
are pending into each environment (`drift_counts`), which statuses are unhealthy (`UNHEALTHY_STATUSES`,
`status_counts`). `compare_environments()` is the one function here that reads: it fetches, then compares.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from ranchersync.catalogue.environments import get_environment, list_environments
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.inventory.reading import (
    DEFAULT_CONCURRENCY,
    EnvironmentRef,
    Inventory,
    Service,
    display_tag,
    list_inventories,
)
from ranchersync.rancher import PROMOTABLE_KINDS, RancherClient, WorkloadStatus
from ranchersync.security.crypto import TokenCipher

# Worst first: how a cell that holds several app instances' copies of a service is summarised, and the order in
# which statuses are listed.
STATUS_SEVERITY: tuple[WorkloadStatus, ...] = (
    "failed", "unknown", "degraded", "updating", "paused", "stopped", "running",
)
# Stopped, paused and updating are states an operator chose or awaits; these need someone to look.
UNHEALTHY_STATUSES: frozenset[WorkloadStatus] = frozenset({"failed", "degraded", "unknown"})

CompareBy = Literal["image", "tag"]
# What one cell of the comparison shows, relative to the environment before it in the pipeline. "readonly": it
# runs another version than the one before, but its kind (a CronJob) is not promoted by this tool.
CellState = Literal["same", "drift", "readonly", "missing", "inconsistent", "unreadable"]
# What a container is to its workload: the one whose tag the grid shows, another regular container, an init one.
ContainerRole = Literal["primary", "sidecar", "init"]
# The words for a difference the grid's tag does not show, by the role of the container that differs.
HIDDEN_DIFFERENCE: dict[ContainerRole, str] = {
    "primary": "registry or digest differs", "sidecar": "sidecar differs", "init": "init container differs",
}


@dataclass(frozen=True)
class ContainerImages:
    """One container of a service in one environment: its role, and the distinct images its copies run there
    (empty when no copy has this container)."""

    name: str
    role: ContainerRole
    images: tuple[str, ...]


@dataclass(frozen=True)
class ContainerChange:
    """A container that runs other images in an environment than in the one before it (`before` or `images`
    empty: the container is absent there)."""

    name: str
    role: ContainerRole
    before: tuple[str, ...]
    images: tuple[str, ...]

    def text(self) -> str:
        """"exporter (sidecar): oliver006/redis_exporter:v1.61.0 → oliver006/redis_exporter:v1.62.0"."""
        return (f"{self.name} ({self.role}): {', '.join(self.before) or 'absent'} → "
                f"{', '.join(self.images) or 'absent'}")


@dataclass(frozen=True)
class Cell:
    """One service in one environment: every app instance's copy of it."""

    environment: EnvironmentRef
    services: tuple[Service, ...]
    unreadable: tuple[str, ...] = ()  # app instances of the environment that could not be listed
    compare_by: CompareBy = "image"

    @property
    def missing(self) -> bool:
        """No app instance runs it, and none failed to answer (so it really is absent)."""
        return not self.services and not self.unreadable

    @functools.cached_property
    def versions(self) -> tuple[tuple[tuple[str, str], ...], ...]:
        """The distinct container→version sets among the copies (worked out once per cell: a view asks for them
        several times per row)."""
        return tuple(dict.fromkeys(_version(s, self.compare_by) for s in self.services))

    @property
    def inconsistent(self) -> bool:
        """App instances inside this environment disagree on the version."""
        return len(self.versions) > 1

    @property
    def status(self) -> WorkloadStatus | None:
        """The worst status among the copies."""
        statuses = {s.status for s in self.services}
        return next((s for s in STATUS_SEVERITY if s in statuses), None)

    @property
    def image_tag(self) -> str:
        """The tags shown in the cell; disagreeing copies are separated by ' | '."""
        return " | ".join(dict.fromkeys(s.image_tag for s in self.services))

    @property
    def containers(self) -> tuple[ContainerImages, ...]:
        """Every container of the copies (primary, sidecars, init containers, in that order) with its images."""
        roles: dict[str, ContainerRole] = {}
        images: dict[str, dict[str, None]] = defaultdict(dict)
        for service in self.services:
            for name, role, image in _containers(service):
                roles.setdefault(name, role)
                images[name].setdefault(image)
        order = {"primary": 0, "sidecar": 1, "init": 2}
        return tuple(ContainerImages(name, roles[name], tuple(images[name]))
                     for name in sorted(roles, key=lambda n: order[roles[n]]))

    @property
    def digests(self) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        """Per regular container, the distinct digests its copies' pods run; None when they were not read."""
        running = [s.running for s in self.services if s.kind != "CronJob"]
        if not running or any(r is None for r in running):
            return None
        found: dict[str, set[str]] = defaultdict(set)
        for r in running:
            for container, digests in r.digests if r else ():
                found[container].update(digests)
        return tuple((name, tuple(sorted(d))) for name, d in sorted(found.items()))

    @property
    def mixed_digests(self) -> bool:
        """Pods of one workload here run different digests (a half-finished rollout or a re-pushed tag)."""
        return any(s.running is not None and s.running.mixed for s in self.services)

    @property
    def outside_changes(self) -> tuple[Service, ...]:
        """The copies someone changed outside the tool since our last sync into them."""
        return tuple(s for s in self.services if s.outside is not None)

    @property
    def replicas(self) -> tuple[int, int]:
        """Available and desired replicas summed over the copies."""
        available = sum(s.workload.available_replicas for s in self.services)
        return (available, sum(s.workload.replicas for s in self.services))


@dataclass(frozen=True)
class ComparisonRow:
    """One service (kind + name) across the compared environments."""

    kind: str
    name: str
    cells: tuple[Cell, ...]

    @property
    def promotable(self) -> bool:
        """Whether a sync can promote this kind (a CronJob is compared, never promoted)."""
        return self.kind in PROMOTABLE_KINDS

    @property
    def explanations(self) -> tuple[str, ...]:
        """Per cell, why it differs from the cell before when its tag does not show it ("sidecar differs"), or ""."""
        return tuple(hidden_difference(c, self.cells[j - 1] if j else None) for j, c in enumerate(self.cells))

    def container_images(self) -> tuple[tuple[str, ContainerRole, tuple[tuple[str, ...], ...]], ...]:
        """Per container of the service (primary, sidecars, init containers): its role and, per cell, the images
        its copies run there: what a cell's tag leaves out, side by side."""
        per_cell = [{c.name: c for c in cell.containers} for cell in self.cells]
        roles: dict[str, ContainerRole] = {}
        for found in per_cell:
            for c in found.values():
                roles.setdefault(c.name, c.role)
        order = {"primary": 0, "sidecar": 1, "init": 2}
        return tuple(
            (name, roles[name], tuple(found[name].images if name in found else () for found in per_cell))
            for name in sorted(roles, key=lambda n: order[roles[n]])
        )

    @property
    def differs(self) -> bool:
        """Environments run different versions, or the service is missing from some."""
        present = [c for c in self.cells if c.services]
        if any(c.missing for c in self.cells):
            return True
        return len({c.versions for c in present}) > 1 or any(c.inconsistent for c in present)

    @property
    def digest_mismatch(self) -> bool:
        """Same tag, different digest: every environment runs the same tags, yet their pods run different
        digests of some container (a re-pushed tag). Only when the digests of every present cell were read."""
        present = [c for c in self.cells if c.services]
        if len(present) < 2 or any(c.digests is None for c in present):
            return False
        tags = {tuple(dict.fromkeys(_version(s, "tag") for s in c.services)) for c in present}
        return len(tags) == 1 and len({c.digests for c in present}) > 1

    @property
    def mixed_digests_in(self) -> tuple[str, ...]:
        return tuple(c.environment.name for c in self.cells if c.mixed_digests)

    @property
    def changed_outside_in(self) -> tuple[str, ...]:
        return tuple(c.environment.name for c in self.cells if c.outside_changes)

    @property
    def missing_in(self) -> tuple[str, ...]:
        return tuple(c.environment.name for c in self.cells if c.missing)

    @property
    def inconsistent_in(self) -> tuple[str, ...]:
        return tuple(c.environment.name for c in self.cells if c.inconsistent)


@dataclass(frozen=True)
class Comparison:
    """A services × environments matrix, environments in pipeline order."""

    environments: tuple[EnvironmentRef, ...]
    rows: tuple[ComparisonRow, ...]
    source: str = "live"  # "watch" when every environment came from the stored inventory
    observed_at: dt.datetime | None = None  # the oldest moment its inventories were known current

    def only_differences(self) -> Comparison:
        """The rows that differ, or whose digests, pods or outside changes need a look."""
        return dataclasses.replace(self, rows=tuple(
            r for r in self.rows if r.differs or r.digest_mismatch or r.mixed_digests_in or r.changed_outside_in))


def compare(
    environments: Sequence[EnvironmentRef],
    inventories: Mapping[int, Inventory],
    *,
    compare_by: CompareBy = "image",
) -> Comparison:
    """Match services by kind and name across environments (pipeline order) and flag what differs."""
    ordered = tuple(sorted(environments, key=lambda e: (e.position, e.id)))
    keys: dict[tuple[str, str], None] = {}
    grouped: dict[tuple[int, tuple[str, str]], list[Service]] = defaultdict(list)
    for env in ordered:
        inventory = inventories.get(env.id)
        for service in inventory.services if inventory else ():
            keys.setdefault(service.key)
            grouped[(env.id, service.key)].append(service)
    unreadable = {
        env.id: tuple(f.instance.name for f in inv.failures)
        for env in ordered
        if (inv := inventories.get(env.id)) is not None
    }
    rows = tuple(
        ComparisonRow(
            kind,
            name,
            tuple(
                Cell(env, tuple(grouped.get((env.id, (kind, name)), ())), unreadable.get(env.id, ()), compare_by)
                for env in ordered
            ),
        )
        for kind, name in sorted(keys, key=lambda k: (k[1], k[0]))
    )
    present = [inv for env in ordered if (inv := inventories.get(env.id)) is not None]
    source = "watch" if present and all(inv.source == "watch" for inv in present) else "live"
    observed = min((inv.observed_at or inv.fetched_at for inv in present), default=None)
    return Comparison(ordered, rows, source, observed)


def compare_environments(
    session: Session,
    cipher: TokenCipher,
    environments: Sequence[int | str] | None = None,
    *,
    compare_by: CompareBy = "image",
    concurrency: int = DEFAULT_CONCURRENCY,
    factory: ClientFactory = RancherClient,
    digests: bool = False,
) -> Comparison:
    """Fetch and compare these environments (all of them by default); with ``digests`` also read what their pods
    run, for `ComparisonRow.digest_mismatch` and `Cell.mixed_digests`."""
    envs = (
        [get_environment(session, ref) for ref in environments] if environments else list_environments(session)
    )
    inventories = list_inventories(session, cipher, envs, concurrency=concurrency, factory=factory, digests=digests)
    return compare([EnvironmentRef.of(e) for e in envs], inventories, compare_by=compare_by)


def _version(service: Service, compare_by: CompareBy) -> tuple[tuple[str, str], ...]:
    # Every container, init ones too: a sync promotes them all, so an init container that differs is a difference.
    images = sorted((c.name, c.image) for c in service.workload.containers)
    if compare_by == "tag":
        return tuple((name, display_tag(image)) for name, image in images)
    return tuple(images)


def _containers(service: Service) -> list[tuple[str, ContainerRole, str]]:
    primary = service.workload.primary_container
    return [(c.name, "init" if c.init else "primary" if primary is not None and c.name == primary.name
             else "sidecar", c.image) for c in service.workload.containers]


# --- rules on a comparison --------------------------------------------------------------------------------------


def cell_state(cell: Cell, before: Cell | None = None) -> CellState:
    """What a cell shows: `unreadable` or `missing` without copies; `inconsistent` when its app instances disagree;
    `drift` when it runs another version than `before` (the environment before it, when that one runs the
    service): a promotion is pending — or `readonly` when its kind is never promoted (a CronJob); else `same`."""
    if not cell.services:
        return "unreadable" if cell.unreadable else "missing"
    versions = cell.versions
    if len(versions) > 1:
        return "inconsistent"
    if before is not None and before.services and before.versions != versions:
        return "drift" if is_promotable(cell) else "readonly"
    return "same"


def is_promotable(cell: Cell) -> bool:
    """Whether the service of this cell is of a kind a sync promotes."""
    return all(s.kind in PROMOTABLE_KINDS for s in cell.services)


def changed_containers(cell: Cell, before: Cell) -> tuple[ContainerChange, ...]:
    """The containers whose images differ between `before` and `cell` (by the comparison's `compare_by`)."""
    here = {c.name: c for c in cell.containers}
    there = {c.name: c for c in before.containers}
    by = cell.compare_by
    return tuple(
        ContainerChange(name, (here.get(name) or there[name]).role,
                        there[name].images if name in there else (), here[name].images if name in here else ())
        for name in dict.fromkeys([*here, *there])
        if _shown(here.get(name), by) != _shown(there.get(name), by)
    )


def hidden_difference(cell: Cell, before: Cell | None) -> str:
    """Why `cell` differs from `before` when the tag the grid shows is the same in both ("sidecar differs",
    "init container differs", both joined by " · "); "" when they do not differ or the shown tag already says
    how."""
    if before is None or not cell.services or not before.services or cell.versions == before.versions:
        return ""
    if cell.image_tag != before.image_tag:
        return ""
    roles = {c.role for c in changed_containers(cell, before)}
    return " · ".join(words for role, words in HIDDEN_DIFFERENCE.items() if role in roles)


def _shown(container: ContainerImages | None, by: CompareBy) -> tuple[str, ...]:
    if container is None:
        return ()
    return tuple(sorted({display_tag(i) for i in container.images} if by == "tag" else set(container.images)))


def drift_counts(comparison: Comparison) -> dict[int, int]:
    """Per environment (after the first), how many services it runs in another version than the one before it,
    or lacks while the one before runs them: the promotions pending into it. A service the environment before
    does not run, whose copies here could not be read, or of a kind no sync promotes (a CronJob) is not
    counted."""
    counts: dict[int, int] = {}
    envs = comparison.environments
    for j in range(1, len(envs)):
        pending = 0
        for row in comparison.rows:
            before, cell = row.cells[j - 1], row.cells[j]
            if not before.services or (not cell.services and cell.unreadable) or not row.promotable:
                continue  # nothing to promote, unknown, or a kind no sync changes (a CronJob)
            pending += not cell.services or cell.versions != before.versions
        counts[envs[j].id] = pending
    return counts


def changed_outside(inventory: Inventory) -> list[Service]:
    """The services of an environment someone changed outside the tool since our last sync into them
    (`Service.outside` says what, what we had set, and when it was noticed): for the drift report."""
    return [s for s in inventory.services if s.outside is not None]


def is_unhealthy(status: str | None) -> bool:
    """Whether a service in this status needs someone to look (failed, degraded, unknown)."""
    return status in UNHEALTHY_STATUSES


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many services are in each status, worst first, zeros left out."""
    counts = Counter(statuses)
    return {s: counts[s] for s in STATUS_SEVERITY if counts[s]}


def unhealthy_count(services: Iterable[Service]) -> int:
    """How many of these services are unhealthy."""
    return sum(is_unhealthy(s.status) for s in services)
