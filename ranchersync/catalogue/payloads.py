"""JSON shapes of the catalogue in the original plan's API (camelCase keys) for `--json` output; never a token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from ranchersync.kernel.timefmt import iso

if TYPE_CHECKING:  # annotations only: `envs list` must not pay for the Rancher client
    from ranchersync.models import AppInstance, Environment, Site
    from ranchersync.rancher import Cluster, Namespace


def site_payload(site: Site) -> dict[str, Any]:
    """A site as the plan's Sites API returns it, plus what the last connection test learnt."""
    return {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "active": site.active,
        "insecure": site.insecure,
        "hasCaBundle": bool(site.ca_bundle),
        "usePullSecrets": bool(site.use_pull_secrets),
        "rancherUser": site.rancher_user,
        "tokenExpiresAt": iso(site.token_expires_at),
        "lastContactAt": iso(site.last_contact_at),
        "lastLatencyMs": site.last_latency_ms,
        "lastError": site.last_error,
        "createdAt": iso(site.created_at),
        "updatedAt": iso(site.updated_at),
    }


class EnvironmentPayload(TypedDict):
    """`envs list --json` and the API's GET /environments: one environment (the OpenAPI schema is made from this)."""

    id: int
    name: str
    description: str
    color: str
    position: int
    protected: bool
    requiredApprovals: int
    pinDigests: bool  # a plan into it promotes repo:tag@sha256:… unless the sync says otherwise
    createdAt: str | None
    updatedAt: str | None


def environment_payload(env: Environment) -> EnvironmentPayload:
    """An environment as the plan's Environments API returns it, with its pipeline position."""
    return {
        "id": env.id,
        "name": env.name,
        "description": env.description,
        "color": env.color,
        "position": env.position,
        "protected": env.protected,
        "requiredApprovals": env.required_approvals,
        "pinDigests": env.pins_digests,
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
