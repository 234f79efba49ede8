"""Plan putting a snapshot in place (pure): a release train into another environment, or a restore of the
environment the snapshot was taken of. The snapshot stands in for the source, so the sync's own rules apply (paused
workloads, container mismatches, missing services, app instances that disagree)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

from ranchersync.inventory.reading import EnvironmentRef, InstanceRef, Service
from ranchersync.rancher import Container, Workload, workload_status
from ranchersync.snapshots.entries import SnapshotEntry
from ranchersync.sync.plan import SKIP_MISSING, ServicePlan, SyncPlan, plan_sync

_STAND_IN = EnvironmentRef(-1, "snapshot", "", 0)  # plan_sync refuses a source equal to the target


def _as_service(entry: SnapshotEntry, environment_id: int) -> Service:
    ref = InstanceRef(entry.instance_id, entry.instance, environment_id, 0, "", True, "", "", "")
    workload = Workload(kind=entry.kind, name=entry.name, namespace="",  # type: ignore[arg-type]
                        containers=tuple(Container(c.name, c.image, c.init) for c in entry.containers))
    return Service(ref, workload, workload_status(workload))


def plan_snapshot(
    snapshot: str,
    entries: Sequence[SnapshotEntry],
    source: EnvironmentRef,
    target: EnvironmentRef,
    target_services: Sequence[Service],
) -> SyncPlan:
    """Plan setting `target` to the snapshot's images (`source`: the environment it was taken of).

    Into another environment, a service goes to every app instance of the target that runs it. Into the same
    environment (a restore), each app instance gets back what it ran; an app instance removed since is skipped.
    Services the snapshot does not hold are left alone; services it holds that run the same images are not listed.
    """
    items: list[ServicePlan] = []
    if source.id != target.id:
        stand_ins = [_as_service(e, _STAND_IN.id) for e in entries]
        items = list(plan_sync(_STAND_IN, target, stand_ins, target_services, default_target="all").items)
    else:
        by_instance: dict[int, list[SnapshotEntry]] = defaultdict(list)
        for entry in entries:
            by_instance[entry.instance_id].append(entry)
        present = {s.instance.id for s in target_services}
        for instance_id, group in sorted(by_instance.items(), key=lambda pair: pair[1][0].instance):
            if instance_id not in present:
                items += [ServicePlan(e.kind, e.name, None, None, skip_reason=SKIP_MISSING,
                                      detail=f"the app instance {e.instance} is gone or runs nothing")
                          for e in group]
                continue
            mine = [s for s in target_services if s.instance.id == instance_id]
            stand_ins = [_as_service(e, _STAND_IN.id) for e in group]
            items += plan_sync(_STAND_IN, target, stand_ins, mine).items
    # The stand-in services are not stored anywhere: the operation records no source app instance for them.
    items = [dataclasses.replace(i, source=None) for i in items]
    return SyncPlan(source, target, "full", tuple(items), snapshot=snapshot)
