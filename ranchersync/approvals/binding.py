"""What an approval binds to, and the re-check of it at the last approval (DESIGN.md, "Approval").

An approval binds to the exact plan, not to a service name: per target workload its planned `resourceVersion` and
every container's previous → new image; per source workload the digests its pods run (`imageID`), since a tag can be
pushed again; and the source environment's health. The last approval re-reads all of it (`recheck`): when anything
moved, it returns what moved, in words (the request's stale reasons); otherwise the plan re-planned from the current
state and checked to be the bound plan.

The use-cases around it (requesting, deciding, expiry) live in `ranchersync.approvals.requests`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.inventory.compare import is_unhealthy
from ranchersync.inventory.listing import client_pool
from ranchersync.inventory.reading import Service, site_connections
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import ApprovalRequest, Environment
from ranchersync.rancher import RancherClient
from ranchersync.sync import SyncPlan, SyncSides, TargetChoice, plan_sync, read_sides

# ---- the binding ------------------------------------------------------------------------------------------------


def bind(plan: SyncPlan, sources: Sequence[Service], digests: Mapping[tuple[int, str, str], Mapping[str, list[str]]],
         source_now: Iterable[Service]) -> dict[str, Any]:
    """What a request for `plan` is bound to (stored as its `binding`): the targets' planned versions and images,
    the digests the `sources` run, the source environment's unhealthy services (`source_now`), the target choices."""
    return {
        "targets": [_bound_target(item, digests) for item in plan.to_apply],
        "sources": [{**_ref(s), "digests": digests.get(_key(s), {})} for s in sources],
        "sourceUnhealthy": sorted(_unhealthy(source_now)),
        "targetChoices": _choices(plan),
        **({"snapshot": plan.snapshot} if plan.snapshot else {}),  # a release train or a restore: re-planned from it
    }


def sources_of(plan: SyncPlan) -> list[Service]:
    """The source services of the plan's changes, each once."""
    seen: dict[tuple[int, str, str], Service] = {}
    for item in plan.to_apply:
        if item.source is not None:
            seen.setdefault(_key(item.source), item.source)
    return list(seen.values())


def _bound_target(item: Any, digests: Mapping[tuple[int, str, str], Mapping[str, list[str]]]) -> dict[str, Any]:
    target = item.target
    source_images = {(c.name, c.init): c.image for c in item.source.workload.containers} if item.source else {}
    source_digests = digests.get(_key(item.source), {}) if item.source else {}
    containers = []
    for change in item.changes:
        source_image = source_images.get((change.name, change.init), change.new)
        containers.append({"name": change.name, "init": change.init, "previous": change.current, "new": change.new,
                           "sourceImage": source_image, "digests": list(source_digests.get(source_image, []))})
    return {**_ref(target), "appInstance": target.instance.name, "namespace": target.instance.namespace,
            "resourceVersion": target.workload.resource_version, "containers": containers}


def _choices(plan: SyncPlan) -> dict[str, TargetChoice]:
    by_key: dict[str, set[int]] = defaultdict(set)
    for item in plan.to_apply:
        if item.target is not None:
            by_key[f"{item.kind}/{item.name}"].add(item.target.instance.id)
    return {key: next(iter(ids)) if len(ids) == 1 else "all" for key, ids in by_key.items()}


def _ref(service: Service) -> dict[str, Any]:
    return {"appInstanceId": service.instance.id, "kind": service.kind, "name": service.name}


def _key(service: Service) -> tuple[int, str, str]:
    return (service.instance.id, service.kind, service.name)


def _unhealthy(services: Iterable[Service]) -> dict[str, str]:
    """Unhealthy services by "instance/kind/name", each as the sentence names it ("api degraded")."""
    return {f"{s.instance.id}/{s.kind}/{s.name}": f"{s.name} {s.status}" for s in services if is_unhealthy(s.status)}


def read_digests(
    ctx: AppContext, services: Sequence[Service], factory: ClientFactory = RancherClient
) -> dict[tuple[int, str, str], dict[str, list[str]]]:
    """Per workload, the digests its pods run for each image of its pod template (from `imageID`)."""
    with ctx.session() as session:
        connections = site_connections(session, ctx.cipher, {s.instance.site_id for s in services})
    found: dict[tuple[int, str, str], dict[str, list[str]]] = {}
    with client_pool(connections, factory) as pool:
        for service in services:
            ref, workload = service.instance, service.workload
            selector = workload.selector_string()
            pods = pool.client(ref).list_pods(ref.cluster_id, ref.namespace, selector) if selector else []
            images = {(c.name, c.init): c.image for c in workload.containers}
            per_image: dict[str, set[str]] = defaultdict(set)
            for pod in pods:
                for status in pod.container_statuses:
                    image = images.get((status.name, status.init))
                    if image is not None and status.image_id:
                        per_image[image].add(status.image_id.rpartition("@")[2] or status.image_id)
            found[_key(service)] = {image: sorted(d) for image, d in per_image.items()}
    return found


# ---- the re-check -----------------------------------------------------------------------------------------------


class Snapshot:
    """What the re-check needs of a request, read in one session and used outside it."""

    def __init__(self, request: ApprovalRequest) -> None:
        self.id = request.id
        self.source_id, self.target_id = request.source_environment_id, request.target_environment_id
        self.source_name, self.target_name = request.source_environment_name, request.target_environment_name
        self.mode = request.mode
        self.binding: dict[str, Any] = dict(request.binding)


def freeze_reason(session: Session, environment: Environment, now: dt.datetime) -> str | None:
    """Why syncs into `environment` are frozen at `now`, or None: a freeze that started since the request lapses it."""
    from ranchersync.governance.freeze import active_freeze, frozen_message  # freeze builds on the sync use-cases

    freeze = active_freeze(session, environment, now)
    return None if freeze is None else frozen_message(environment.name, freeze)


def recheck(
    ctx: AppContext, snap: Snapshot, factory: ClientFactory, now: dt.datetime
) -> tuple[SyncPlan | None, list[str]]:
    """Re-read what the approval is bound to: the plan to run when nothing moved, else what moved."""
    with ctx.session() as session:
        source = session.get(Environment, snap.source_id) if snap.source_id else None
        target = session.get(Environment, snap.target_id) if snap.target_id else None
        if source is None or target is None:
            gone = snap.source_name if source is None else snap.target_name
            return None, [f"the environment {gone} was removed"]
        moved = [reason] if (reason := freeze_reason(session, target, now)) else []
        sides = read_sides(session, ctx.cipher, source.id, target.id, factory)
    newly = {k: v for k, v in _unhealthy(sides.source_services).items()
             if k not in set(snap.binding.get("sourceUnhealthy", ()))}
    if newly:
        moved.append(f"{snap.source_name} is unhealthy: {', '.join(sorted(newly.values()))}")
    plan, plan_moves = _replan_snapshot(ctx, snap, sides) if snap.binding.get("snapshot") else _replan(snap, sides)
    moved += plan_moves
    bound_sources = snap.binding.get("sources", [])
    now_sources = {_key(s): s for s in sides.source_services}
    present = [now_sources[k] for k in (_bound_key(b) for b in bound_sources) if k in now_sources]
    digests = read_digests(ctx, present, factory)
    for bound in bound_sources:
        key = _bound_key(bound)
        if key in now_sources:
            moved += _digest_moves(bound["name"], bound.get("digests", {}), digests.get(key, {}))
    return (plan if not moved else None), list(dict.fromkeys(moved))


def pin_to_binding(plan: SyncPlan, binding: Mapping[str, Any]) -> SyncPlan:
    """The approved plan promoting ``repo:tag@sha256:<the bound digest>`` for every change whose source ran one
    digest when it was approved: a tag pushed again between the last re-check and the pull cannot deploy unreviewed
    bits (issue 18 item 13)."""
    bound = {(_bound_key(t), c["name"], bool(c["init"])): c.get("digests") or []
             for t in binding.get("targets", []) for c in t.get("containers", [])}
    items = []
    for item in plan.items:
        if not item.will_change or item.target is None:
            items.append(item)
            continue
        key = (item.target.instance.id, item.kind, item.name)
        containers = tuple(c.pinned(digests[0]) if len(digests := bound.get((key, c.name, c.init), [])) == 1 else c
                           for c in item.containers)
        items.append(replace(item, containers=containers))
    return replace(plan, items=tuple(items))


def _bound_key(bound: Mapping[str, Any]) -> tuple[int, str, str]:
    return (int(bound["appInstanceId"]), str(bound["kind"]), str(bound["name"]))


def _replan(snap: Snapshot, sides: SyncSides) -> tuple[SyncPlan | None, list[str]]:
    """Plan the bound services again from what runs now, and say where it differs from the bound plan."""
    bound = snap.binding.get("targets", [])
    keys = list(dict.fromkeys((str(b["kind"]), str(b["name"])) for b in bound))
    moved = [f"{name} is no longer in {snap.source_name}" for kind, name in keys if not sides.source_has((kind, name))]
    keys = [k for k in keys if sides.source_has(k)]
    choices = snap.binding.get("targetChoices", {})
    targets = {k: choices.get(f"{k[0]}/{k[1]}", "all") for k in keys}
    try:
        plan = plan_sync(sides.source, sides.target, sides.source_services, sides.target_services, selected=keys,
                         mode=snap.mode, targets=targets)  # type: ignore[arg-type]
    except ValidationError as error:
        return None, [*moved, str(error)]
    return _kept(snap, plan, keys, moved)


def _replan_snapshot(ctx: AppContext, snap: Snapshot, sides: SyncSides) -> tuple[SyncPlan | None, list[str]]:
    """A release train or a restore: plan the bound services again from the snapshot (immutable) and what the target
    runs now."""
    from ranchersync.snapshots.store import get_snapshot
    from ranchersync.sync import plan_snapshot

    name = str(snap.binding["snapshot"])
    with ctx.session() as session:
        try:
            entries = get_snapshot(session, name).entries
        except NotFoundError:
            return None, [f"the snapshot {name} was removed"]
    plan = plan_snapshot(name, entries, sides.source, sides.target, sides.target_services)
    keys = list(dict.fromkeys((str(b["kind"]), str(b["name"])) for b in snap.binding.get("targets", [])))
    return _kept(snap, plan, keys, [])


def _kept(snap: Snapshot, plan: SyncPlan, keys: list[tuple[str, str]], moved: list[str]
          ) -> tuple[SyncPlan | None, list[str]]:
    """The re-planned items that are still the bound ones, and what moved."""
    bound = snap.binding.get("targets", [])
    items = {(i.target.instance.id, i.kind, i.name): i for i in plan.items if i.target is not None}
    kept = []
    for b in bound:
        where = f"{b['name']} in {b.get('appInstance') or b.get('namespace')}"
        item = items.get(_bound_key(b))
        if item is None or item.target is None:
            if (str(b["kind"]), str(b["name"])) in keys:
                moved.append(f"{where} is no longer there")
            continue
        version = item.target.workload.resource_version
        if version != b["resourceVersion"]:
            moved.append(f"{where} changed since the request (resourceVersion {b['resourceVersion']} → {version})")
            continue
        planned = {(c["name"], bool(c["init"])): (c["previous"], c["new"]) for c in b["containers"]}
        now = {(c.name, c.init): (c.current, c.new) for c in item.changes}
        if now != planned:
            for (name, init), (previous, new) in planned.items():
                current = now.get((name, init))
                if current is None or current[1] != new:
                    moved.append(f"{b['name']}: {snap.source_name} now runs "
                                 f"{current[1] if current else previous} instead of {new}")
            if not any(m.startswith(f"{b['name']}:") for m in moved):
                moved.append(f"{where} would now change differently than approved")
            continue
        kept.append(item)
    return SyncPlan(plan.source, plan.target, plan.mode, tuple(kept), snapshot=plan.snapshot), moved


def _digest_moves(name: str, then: Mapping[str, Sequence[str]], now: Mapping[str, Sequence[str]]) -> list[str]:
    moved = []
    for image, digests in then.items():
        current = set(now.get(image, ()))
        if not current and digests:
            moved.append(f"{name}: no pod runs {image} now (it ran {', '.join(digests)})")
        elif current != set(digests):
            new = sorted(current - set(digests)) or sorted(current)
            moved.append(f"{name}: {image} now points at {', '.join(new)}")
    return moved
