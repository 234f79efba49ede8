"""The Kubernetes resource types the simulated clusters serve, as discovery describes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    """One served resource: its kind, its URL name and what discovery says about it."""

    kind: str
    plural: str
    group: str
    version: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """`apps/v1`, or `v1` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of a list response, e.g. `DeploymentList`."""
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group: how Status messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        """The lower-case singular name discovery reports."""
        return self.kind.lower()

    @property
    def is_workload(self) -> bool:
        """True for the kinds whose pod template can be patched."""
        return self.kind in WORKLOAD_KINDS

    @property
    def scalable(self) -> bool:
        """True for the kinds that serve the `scale` subresource (autoscaling/v1 Scale)."""
        return self.kind in SCALABLE_KINDS


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")
SCALABLE_KINDS = ("Deployment", "StatefulSet")
# The verbs of a scale subresource, as `/apis/apps/v1` lists them for `deployments/scale`.
SCALE_VERBS = ("get", "patch", "update")

# Only the verbs the simulator implements are advertised, so kubectl never tries one that would fail oddly.
_WORKLOAD_VERBS = ("get", "list", "patch", "update", "watch")

NAMESPACES = ResourceType("Namespace", "namespaces", "", "v1", False, ("get", "list", "watch"), ("ns",))
# Nodes come from the world (`architecture`), secrets from its objects: both are read, never written, by clients.
NODES = ResourceType("Node", "nodes", "", "v1", False, ("get", "list", "watch"), ("no",))
SECRETS = ResourceType("Secret", "secrets", "", "v1", True, ("get", "list", "watch"))
# Every namespace has a `default` one (Kubernetes' serviceaccount controller makes it); its imagePullSecrets are what
# the ServiceAccount admission gives a pod that names none of its own. Read only, as secrets are.
SERVICEACCOUNTS = ResourceType("ServiceAccount", "serviceaccounts", "", "v1", True, ("get", "list", "watch"), ("sa",))
# Pods and ReplicaSets belong to the simulated controllers: clients read and watch them, never write them.
PODS = ResourceType("Pod", "pods", "", "v1", True, ("get", "list", "watch"), ("po",), ("all",))
REPLICASETS = ResourceType("ReplicaSet", "replicasets", "apps", "v1", True, ("get", "list", "watch"), ("rs",),
                          ("all",))
DEPLOYMENTS = ResourceType("Deployment", "deployments", "apps", "v1", True, _WORKLOAD_VERBS, ("deploy",), ("all",))
STATEFULSETS = ResourceType("StatefulSet", "statefulsets", "apps", "v1", True, _WORKLOAD_VERBS, ("sts",), ("all",))
DAEMONSETS = ResourceType("DaemonSet", "daemonsets", "apps", "v1", True, _WORKLOAD_VERBS, ("ds",), ("all",))
CRONJOBS = ResourceType("CronJob", "cronjobs", "batch", "v1", True, _WORKLOAD_VERBS, ("cj",), ("all",))

# The autoscaling/v1 view of a workload's `scale` subresource (served under each scalable resource, not on its own).
SCALE = ResourceType("Scale", "scale", "autoscaling", "v1", True, SCALE_VERBS)

ALL_TYPES = (NAMESPACES, NODES, SECRETS, SERVICEACCOUNTS, PODS, DEPLOYMENTS, STATEFULSETS, DAEMONSETS, REPLICASETS,
             CRONJOBS)
BY_KIND = {t.kind: t for t in ALL_TYPES}
WORKLOAD_TYPES = tuple(BY_KIND[k] for k in WORKLOAD_KINDS)
GROUP_VERSIONS = ("v1", "apps/v1", "batch/v1")


def find_type(api_version: str, plural: str) -> ResourceType | None:
    """The resource served at `/api(s)/<api_version>/<plural>`, if any."""
    for t in ALL_TYPES:
        if t.api_version == api_version and t.plural == plural:
            return t
    return None


def types_in(api_version: str) -> list[ResourceType]:
    """The resources of one group version, for its APIResourceList."""
    return [t for t in ALL_TYPES if t.api_version == api_version]


def find_kind(name: str) -> ResourceType:
    """A resource type by kind, plural or short name, case-insensitively (used by the test hooks)."""
    wanted = name.lower()
    for t in ALL_TYPES:
        if wanted in (t.kind.lower(), t.plural, *t.short_names):
            return t
    raise KeyError(f"unknown kind {name!r}")
