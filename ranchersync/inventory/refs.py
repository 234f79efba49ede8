"""Detached references to an app instance and an environment: read from the database before any thread starts,
holding no token, so services and plans that carry them can be cached and kept in a UI session."""

from __future__ import annotations

from dataclasses import dataclass

from ranchersync.models import AppInstance, Environment


@dataclass(frozen=True)
class InstanceRef:
    """An app instance, read from the database before any thread starts. It holds no token, so services and
    plans can be cached and kept in a UI session; connections are looked up by site when a request is made."""

    id: int
    name: str
    environment_id: int
    site_id: int
    site_name: str
    site_active: bool
    cluster_id: str
    cluster_name: str
    namespace: str

    @classmethod
    def of(cls, inst: AppInstance) -> InstanceRef:
        """A detached copy of a stored app instance (its site loaded); the cluster's id stands in for a missing
        name."""
        return cls(
            id=inst.id, name=inst.name, environment_id=inst.environment_id, site_id=inst.site_id,
            site_name=inst.site.name, site_active=inst.site.active, cluster_id=inst.cluster_id,
            cluster_name=inst.cluster_name or inst.cluster_id, namespace=inst.namespace,
        )


@dataclass(frozen=True)
class EnvironmentRef:
    """An environment's identity and looks, for comparison columns."""

    id: int
    name: str
    color: str
    position: int

    @classmethod
    def of(cls, env: Environment) -> EnvironmentRef:
        return cls(env.id, env.name, env.color, env.position)
