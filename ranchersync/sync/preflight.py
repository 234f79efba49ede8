"""The preflight every plan gets before anything is patched: each new image resolved in its registry.

Per change: the digest the new reference resolves to now, what the source's pods run (the tag moved when they
differ), and the changelog from the labels of the target's current image to the new one. A reference the registry
does not have skips its service (`not in the registry`), an image without the target's platform too; a registry
that cannot be reached is a warning (the sync may go on). A quarantined digest refuses the whole plan (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ranchersync.governance.quarantine import Quarantine, check_digests
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.images import parse_image
from ranchersync.registry import (
    CACHE,
    DEFAULT_PLATFORM,
    Lookup,
    Platform,
    RegistryAccess,
    ResolutionCache,
    changelog,
    resolve_images,
)
from ranchersync.security.host_policy import HostPolicy
from ranchersync.sync.plan import SKIP_NOT_IN_REGISTRY, SKIP_PLATFORM, PlannedContainer, ServicePlan, SyncPlan
from ranchersync.sync.targets import TargetFacts, item_platforms


def preflight(
    plan: SyncPlan,
    registries: Mapping[str, RegistryAccess],
    *,
    platforms: Sequence[Platform] = (DEFAULT_PLATFORM,),
    targets: TargetFacts | None = None,
    cache: ResolutionCache | None = CACHE,
    policy: HostPolicy | None = None,
) -> SyncPlan:
    """The plan with each change's digest, source digest and changelog, and the rows the registries refuse.

    `platforms`: what every target runs on, unless `targets` (``sync.targets.read_targets``) says per cluster what
    its nodes run: an image must then have a variant for every platform its pods may land on."""
    wanted: dict[int, tuple[Sequence[Platform], str]] = {}
    for index, item in enumerate(plan.items):
        if item.will_change and targets is not None and item.target is not None:
            ref = item.target.instance
            wanted[index] = item_platforms(targets, ref.site_id, ref.cluster_id, item.target.workload.node_selector)
    union = tuple(dict.fromkeys(p for ps, _ in wanted.values() for p in ps)) or tuple(platforms)
    private = _private_accesses(plan, registries, targets)
    images = [image for index, item in enumerate(plan.items) if item.will_change and index not in private
              for c in item.changes for image in (c.new, c.current)]
    lookups = resolve_images(images, registries, platforms=union, cache=cache, policy=policy) if images else {}
    by_item: dict[int, Mapping[str, Lookup]] = {}
    for index, accesses in private.items():
        # With the workload's own pull secret: resolved for this plan only (no shared cache: another site's plan
        # must not learn what these credentials see).
        own = [image for c in plan.items[index].changes for image in (c.new, c.current)]
        by_item[index] = resolve_images(own, accesses, platforms=union, cache=None, policy=policy)
    items = []
    for index, item in enumerate(plan.items):
        if not item.will_change:
            items.append(item)
            continue
        checked = _checked(item, by_item.get(index, lookups), *wanted.get(index, (platforms, "")))
        notes = targets.pull_warnings.get(_service_key(item), ()) if targets is not None else ()
        if notes:
            checked = replace(checked, warnings=tuple(dict.fromkeys((*checked.warnings, *notes))))
        items.append(checked)
    return replace(plan, items=tuple(items))


def _service_key(item: ServicePlan) -> tuple[int, str, str]:
    return (item.target.instance.id if item.target is not None else -1, item.kind, item.name)


def _private_accesses(plan: SyncPlan, registries: Mapping[str, RegistryAccess],
                      targets: TargetFacts | None) -> dict[int, dict[str, RegistryAccess]]:
    """For each item whose workload's pull secret names a registered registry that has no stored credentials: the
    registries as that workload's pods see them (stored credentials keep precedence; an unregistered registry
    stays unasked, whatever a secret says)."""
    if targets is None or not targets.pull:
        return {}
    found: dict[int, dict[str, RegistryAccess]] = {}
    for index, item in enumerate(plan.items):
        pulled = targets.pull.get(_service_key(item)) if item.will_change else None
        if not pulled:
            continue
        hosts = {h for c in item.changes for h in _hosts(c.new, c.current)}
        borrowed = {h: replace(registries[h], credentials=pulled[h]) for h in hosts
                    if h in registries and registries[h].credentials is None and h in pulled}
        if borrowed:
            found[index] = {**registries, **borrowed}
    return found


def _hosts(*images: str) -> list[str]:
    hosts = []
    for image in images:
        try:
            hosts.append(parse_image(image).registry)
        except ValidationError:
            continue
    return hosts


def _checked(item: ServicePlan, lookups: Mapping[str, Lookup], platforms: Sequence[Platform],
             unknown: str = "") -> ServicePlan:
    containers: list[PlannedContainer] = []
    warnings = list(item.warnings)
    if unknown and item.target is not None:
        warnings.append(f"the platform of {item.target.instance.cluster_name} is not known ({unknown}): images were "
                        f"checked for {', '.join(str(p) for p in platforms)}")
    for change in item.containers:
        if not change.changes:
            containers.append(change)
            continue
        found = lookups.get(change.new)
        source_digest = _source_digest(item, change)
        if found is None or found.state == "unchecked":
            containers.append(replace(change, source_digest=source_digest))
            continue
        if found.state == "missing":
            return replace(item, skip_reason=SKIP_NOT_IN_REGISTRY, detail=f"{change.new}: {found.message}")
        if found.state == "unreachable" or found.resolution is None:
            warnings.append(f"{change.new} could not be checked in its registry: {found.message}")
            containers.append(replace(change, source_digest=source_digest))
            continue
        resolution = found.resolution
        lacking = [p for p in platforms if not resolution.runs_on(p)]
        if lacking:
            where = f" (the nodes of {item.target.instance.cluster_name})" if item.target is not None else ""
            return replace(item, skip_reason=SKIP_PLATFORM,
                           detail=f"{change.new} is built for {', '.join(resolution.platforms)}, not "
                                  f"{', '.join(str(p) for p in lacking)}{where}")
        previous = lookups.get(change.current)
        old_labels = previous.resolution.labels if previous and previous.resolution else None
        digest = resolution.digest
        if source_digest and source_digest == resolution.platform_digest:
            source_digest = digest  # the pods report the platform's manifest of the same index
        containers.append(replace(change, new_digest=digest, source_digest=source_digest,
                                  changelog=changelog(old_labels, resolution.labels)))
    return replace(item, containers=tuple(containers), warnings=tuple(dict.fromkeys(warnings)))


def _source_digest(item: ServicePlan, change: PlannedContainer) -> str | None:
    running = item.source.running if item.source is not None else None
    return running.digest(change.name) if running is not None and not change.init else None


def check_quarantine(plan: SyncPlan, quarantined: Mapping[str, Quarantine]) -> None:
    """Refuse a plan that would promote a quarantined digest: resolved, pinned in the reference, or run by the
    source's pods (ImageQuarantined, exit 3)."""
    if not quarantined:
        return
    digests: list[tuple[str, str]] = []
    for item in plan.to_apply:
        for change in item.changes:
            what = f"{item.name} ({item.target_label}, {change.name})"
            pinned = parse_image(change.new).digest
            digests += [(what, d) for d in dict.fromkeys((change.new_digest, change.source_digest, pinned)) if d]
    check_digests(digests, dict(quarantined))
