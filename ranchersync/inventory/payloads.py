"""JSON shapes of services and comparisons in the original plan's API (camelCase keys) for `--json` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from ranchersync.kernel.timefmt import iso

if TYPE_CHECKING:
    from ranchersync.inventory.compare import Comparison
    from ranchersync.inventory.reading import Service


class ContainerPayload(TypedDict):
    name: str
    image: str
    init: bool


class OutsideContainerPayload(TypedDict):
    name: str
    setByUs: str | None
    runningNow: str | None


class OutsidePayload(TypedDict):
    """A change made outside the tool since our last sync into a service."""

    appInstanceId: int
    appInstance: str
    operationId: int | None
    lastSyncedAt: str | None
    lastPromotedDigests: Any
    noticedAt: str | None
    containers: list[OutsideContainerPayload]


class ServicePayload(TypedDict):
    """`services list --json` and the API's GET /environments/{name}/services: one service (the OpenAPI schema is
    made from these types)."""

    id: str
    name: str
    appInstanceId: int
    appInstance: str
    status: str
    replicas: int | None
    availableReplicas: int | None
    imageTag: str
    workloadType: str
    lastSynced: str | None
    cluster: str
    namespace: str
    containers: list[ContainerPayload]
    runningDigests: Any
    changedOutside: OutsidePayload | None
    source: str
    observedAt: str | None


class EnvironmentRef(TypedDict):
    id: int
    name: str
    color: str


class CellContainerPayload(TypedDict):
    """A container of a cell: its role (primary, sidecar, init) and the images its copies run."""

    name: str
    role: str
    images: list[str]


class PromotionPayload(TypedDict):
    """How a cell's version stands against the next environment's minimum source soak (the promotion policy)."""

    target: str  # the next environment, whose minimum applies
    runningSeconds: float | None  # how long it has run here; None: no known start (the policy refuses it)
    minimumSeconds: int
    leftSeconds: float | None  # until it may enter on time alone
    gated: bool  # this environment has gates for the service
    gatesPassed: bool
    ready: bool  # the policy would let it enter now
    text: str  # "ready to promote in 40 min", "ran 2 h, gates passed"


class CellPayload(TypedDict):
    imageTag: str | None
    images: list[dict[str, Any]]
    containers: list[CellContainerPayload]
    hiddenDifference: str | None  # why it differs from the environment before when its imageTag is the same
    hiddenChanges: list[str]  # then, each container that differs: "exporter (sidecar): …:v1.61.0 → …:v1.62.0"
    status: str | None
    availableReplicas: int
    replicas: int
    appInstanceIds: list[int]
    digests: dict[str, list[str]] | None
    changedOutside: list[OutsidePayload]
    unreadable: list[str]
    promotion: PromotionPayload | None  # only where the next environment sets --min-source-soak


class ComparedService(TypedDict):
    name: str
    workloadType: str
    differs: bool
    promotable: bool  # false for a kind no sync changes (a CronJob)
    missingIn: list[str]
    inconsistentIn: list[str]
    digestMismatch: bool
    mixedDigestsIn: list[str]
    changedOutsideIn: list[str]
    environments: dict[str, CellPayload]


class ComparisonPayload(TypedDict):
    """`services compare --json` and the API's GET /compare: the services × environments matrix, and the locks a
    sync into each environment would meet."""

    source: str
    observedAt: str | None
    environments: list[EnvironmentRef]
    services: list[ComparedService]
    locks: NotRequired[list[dict[str, Any]]]


def service_payload(service: Service) -> ServicePayload:
    """A service as the plan's Services API returns it, plus its containers and where it runs. ``imageTag`` is the
    primary container's tag (`Workload.primary_container`); every container is in ``containers``."""
    return {
        "id": service.id,
        "name": service.name,
        "appInstanceId": service.instance.id,
        "appInstance": service.instance.name,
        "status": service.status,
        "replicas": service.workload.replicas,
        "availableReplicas": service.workload.available_replicas,
        "imageTag": service.image_tag,
        "workloadType": service.kind,
        "lastSynced": iso(service.last_synced),
        "cluster": service.instance.cluster_id,
        "namespace": service.instance.namespace,
        "containers": [
            {"name": c.name, "image": c.image, "init": c.init} for c in service.workload.containers
        ],
        "runningDigests": None if service.running is None else service.running.by_container,
        "changedOutside": outside_payload(service) if service.outside is not None else None,
        "source": service.source,
        "observedAt": iso(service.observed_at),
    }


def outside_payload(service: Service) -> OutsidePayload:
    """A change made outside the tool since our last sync into a service: what we set, what runs, when noticed."""
    change = service.outside
    assert change is not None
    return {
        "appInstanceId": service.instance.id,
        "appInstance": service.instance.name,
        "operationId": change.last_sync.operation_id,
        "lastSyncedAt": iso(change.last_sync.finished_at),
        "lastPromotedDigests": change.last_sync.digests,
        "noticedAt": iso(change.noticed_at),
        "containers": [{"name": n, "setByUs": ours, "runningNow": now} for n, ours, now in change.containers],
    }


def comparison_payload(comparison: Comparison) -> ComparisonPayload:
    """The services × environments matrix. Per cell, ``images`` has every container (init ones too) as the
    comparison sees it, ``containers`` each one's role, and ``hiddenDifference`` why it differs from the
    environment before when its ``imageTag`` is the same ("sidecar differs"). ``promotable`` is false for a kind
    no sync changes (a CronJob)."""
    from ranchersync.inventory.compare import changed_containers

    return {
        "source": comparison.source,
        "observedAt": iso(comparison.observed_at),
        "environments": [{"id": e.id, "name": e.name, "color": e.color} for e in comparison.environments],
        "services": [
            {
                "name": row.name,
                "workloadType": row.kind,
                "differs": row.differs,
                "promotable": row.promotable,
                "missingIn": list(row.missing_in),
                "inconsistentIn": list(row.inconsistent_in),
                "digestMismatch": row.digest_mismatch,
                "mixedDigestsIn": list(row.mixed_digests_in),
                "changedOutsideIn": list(row.changed_outside_in),
                "environments": {
                    cell.environment.name: {
                        "imageTag": cell.image_tag or None,
                        "images": [dict(v) for v in cell.versions],
                        "containers": [{"name": c.name, "role": c.role, "images": list(c.images)}
                                       for c in cell.containers],
                        "hiddenDifference": why or None,
                        "hiddenChanges": [c.text() for c in changed_containers(cell, row.cells[j - 1])] if why else [],
                        "status": cell.status,
                        "availableReplicas": cell.replicas[0],
                        "replicas": cell.replicas[1],
                        "appInstanceIds": [s.instance.id for s in cell.services],
                        "digests": None if cell.digests is None else {c: list(d) for c, d in cell.digests},
                        "changedOutside": [outside_payload(s) for s in cell.outside_changes],
                        "unreadable": list(cell.unreadable),
                        "promotion": None,  # the promotion policy's, filled by sync.add_readiness
                    }
                    for j, (cell, why) in enumerate(zip(row.cells, row.explanations, strict=True))
                },
            }
            for row in comparison.rows
        ],
    }
