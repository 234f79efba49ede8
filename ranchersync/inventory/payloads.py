"""JSON shapes of the original plan's API (camelCase keys) for `--json` output; never a token."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: `envs list` must not pay for the Rancher client and the sync engine
    from ranchersync.inventory.compare import Comparison
    from ranchersync.inventory.reading import Service
    from ranchersync.models import AppInstance, Environment, Site
    from ranchersync.rancher import Cluster, Namespace
    from ranchersync.sync.plan import SyncPlan


def iso(value: dt.datetime | None) -> str | None:
    """A UTC timestamp as RFC 3339 with a Z, as the plan's payloads show it."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def site_payload(site: Site) -> dict[str, Any]:
    """A site as the plan's Sites API returns it, plus what the last connection test learnt."""
    return {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "active": site.active,
        "insecure": site.insecure,
        "hasCaBundle": bool(site.ca_bundle),
        "rancherUser": site.rancher_user,
        "tokenExpiresAt": iso(site.token_expires_at),
        "lastContactAt": iso(site.last_contact_at),
        "lastLatencyMs": site.last_latency_ms,
        "lastError": site.last_error,
        "createdAt": iso(site.created_at),
        "updatedAt": iso(site.updated_at),
    }


def environment_payload(env: Environment) -> dict[str, Any]:
    """An environment as the plan's Environments API returns it, with its pipeline position."""
    return {
        "id": env.id,
        "name": env.name,
        "description": env.description,
        "color": env.color,
        "position": env.position,
        "protected": env.protected,
        "requiredApprovals": env.required_approvals,
        "createdAt": iso(env.created_at),
        "updatedAt": iso(env.updated_at),
    }


def instance_payload(instance: AppInstance) -> dict[str, Any]:
    """An app instance as the plan's AppInstances API returns it."""
    return {
        "id": instance.id,
        "name": instance.name,
        "rancherSiteId": instance.site_id,
        "cluster": instance.cluster_id,
        "clusterName": instance.cluster_name,
        "namespace": instance.namespace,
        "environmentId": instance.environment_id,
        "createdAt": iso(instance.created_at),
        "updatedAt": iso(instance.updated_at),
    }


def cluster_payload(cluster: Cluster) -> dict[str, Any]:
    """A cluster as Rancher lists it."""
    return {"id": cluster.id, "name": cluster.name, "state": cluster.state}


def namespace_payload(namespace: Namespace) -> dict[str, Any]:
    """A namespace as Rancher lists it."""
    return {"name": namespace.name, "phase": namespace.phase, "projectId": namespace.project_id}


def service_payload(service: Service) -> dict[str, Any]:
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
    }


def outside_payload(service: Service) -> dict[str, Any]:
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


def comparison_payload(comparison: Comparison) -> dict[str, Any]:
    """The services × environments matrix."""
    return {
        "environments": [{"id": e.id, "name": e.name, "color": e.color} for e in comparison.environments],
        "services": [
            {
                "name": row.name,
                "workloadType": row.kind,
                "differs": row.differs,
                "missingIn": list(row.missing_in),
                "inconsistentIn": list(row.inconsistent_in),
                "digestMismatch": row.digest_mismatch,
                "mixedDigestsIn": list(row.mixed_digests_in),
                "changedOutsideIn": list(row.changed_outside_in),
                "environments": {
                    cell.environment.name: {
                        "imageTag": cell.image_tag or None,
                        "images": [dict(v) for v in cell.versions],
                        "status": cell.status,
                        "availableReplicas": cell.replicas[0],
                        "replicas": cell.replicas[1],
                        "appInstanceIds": [s.instance.id for s in cell.services],
                        "digests": None if cell.digests is None else {c: list(d) for c, d in cell.digests},
                        "changedOutside": [outside_payload(s) for s in cell.outside_changes],
                        "unreadable": list(cell.unreadable),
                    }
                    for cell in row.cells
                },
            }
            for row in comparison.rows
        ],
    }


def plan_payload(plan: SyncPlan) -> dict[str, Any]:
    """A sync plan: what `sync --dry-run --json` prints."""
    return {
        "sourceEnvironmentId": plan.source.id,
        "targetEnvironmentId": plan.target.id,
        "sourceEnvironment": plan.source.name,
        "targetEnvironment": plan.target.name,
        "mode": plan.mode,
        "serviceIds": sorted({i.name for i in plan.to_apply}),
        "warnings": list(plan.warnings),
        "items": [
            {
                "serviceId": i.name,
                "workloadType": i.kind,
                "targetAppInstanceId": i.target.instance.id if i.target else None,
                "targetAppInstance": i.target.instance.name if i.target else None,
                "sourceAppInstanceId": i.source.instance.id if i.source else None,
                "changes": [{"container": c.name, "init": c.init, "previousImage": c.current, "newImage": c.new}
                            for c in i.changes],
                "skipReason": i.skip_reason,
                "detail": i.detail or None,
            }
            for i in plan.items
        ],
    }
