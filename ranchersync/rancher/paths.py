"""Validated URL paths for the Rancher and Kubernetes-proxy endpoints we call.

Every value that ends up in a URL path is checked against the Kubernetes naming rules and then percent-quoted,
so a name such as ``../../v3/tokens`` can never steer a request (and its token) somewhere else.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args
from urllib.parse import quote

from ranchersync.kernel.errors import ValidationError

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "CronJob"]
WORKLOAD_KINDS: Final[tuple[WorkloadKind, ...]] = get_args(WorkloadKind)
# The kinds a sync changes; a CronJob is read and compared, never promoted (its next Job would pick a change up
# with no rollout to watch or roll back).
PROMOTABLE_KINDS: Final[tuple[WorkloadKind, ...]] = ("Deployment", "StatefulSet", "DaemonSet")

# kind -> (API group path, resource plural), as served under /k8s/clusters/<id>/ (rancher-api.md §3.1).
_KIND_API: Final[dict[str, tuple[str, str]]] = {
    "Deployment": ("apis/apps/v1", "deployments"),
    "StatefulSet": ("apis/apps/v1", "statefulsets"),
    "DaemonSet": ("apis/apps/v1", "daemonsets"),
    "CronJob": ("apis/batch/v1", "cronjobs"),
}

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def normalize_kind(kind: str) -> WorkloadKind:
    """Return the canonical kind for ``kind`` (case-insensitive), or raise ValidationError."""
    for known in WORKLOAD_KINDS:
        if kind.lower() == known.lower():
            return known
    raise ValidationError(f"Unsupported workload kind {kind!r}: use one of {', '.join(WORKLOAD_KINDS)}.")


def check_cluster_id(cluster_id: str) -> str:
    """Return ``cluster_id`` if it is a Rancher cluster id (``local``, ``c-xxxxx``, ``c-m-xxxxxxxx``)."""
    if not isinstance(cluster_id, str) or len(cluster_id) > 63 or not _DNS1123_LABEL.match(cluster_id):
        raise ValidationError(f"{cluster_id!r} is not a valid Rancher cluster id (like 'local' or 'c-m-8x2kq4vd').")
    return cluster_id


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a valid DNS-1123 label (the Kubernetes namespace rule)."""
    if not isinstance(namespace, str) or len(namespace) > 63 or not _DNS1123_LABEL.match(namespace):
        raise ValidationError(
            f"{namespace!r} is not a valid namespace name: lower-case letters, digits and '-', at most 63 characters."
        )
    return namespace


def check_name(name: str, what: str = "object") -> str:
    """Return ``name`` if it is a valid DNS-1123 subdomain (the rule for workload names)."""
    if not isinstance(name, str) or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise ValidationError(
            f"{name!r} is not a valid {what} name: lower-case letters, digits, '-' and '.', at most 253 characters."
        )
    return name


def check_container_name(name: str) -> str:
    """Return ``name`` if it is a valid container name (a DNS-1123 label)."""
    if not isinstance(name, str) or len(name) > 63 or not _DNS1123_LABEL.match(name):
        raise ValidationError(f"{name!r} is not a valid container name.")
    return name


def _seg(value: str) -> str:
    # Values are validated before they get here; quoting is the second lock on the door.
    return quote(value, safe="")


def cluster_prefix(cluster_id: str) -> str:
    """Path of the Kubernetes proxy of one downstream cluster."""
    return f"/k8s/clusters/{_seg(check_cluster_id(cluster_id))}"


def namespaces_path(cluster_id: str, name: str | None = None) -> str:
    """Path of the namespace collection, or of one namespace."""
    base = f"{cluster_prefix(cluster_id)}/api/v1/namespaces"
    return base if name is None else f"{base}/{_seg(check_namespace(name))}"


def workloads_path(cluster_id: str, namespace: str, kind: str, name: str | None = None) -> str:
    """Path of a workload collection in a namespace, or of one workload."""
    group, plural = _KIND_API[normalize_kind(kind)]
    base = f"{cluster_prefix(cluster_id)}/{group}/namespaces/{_seg(check_namespace(namespace))}/{plural}"
    return base if name is None else f"{base}/{_seg(check_name(name, 'workload'))}"


def cluster_workloads_path(cluster_id: str, kind: str) -> str:
    """Path of a workload collection across every namespace of a cluster (needs a cluster-wide list right)."""
    group, plural = _KIND_API[normalize_kind(kind)]
    return f"{cluster_prefix(cluster_id)}/{group}/{plural}"


def cluster_pods_path(cluster_id: str) -> str:
    """Path of the pod collection across every namespace of a cluster."""
    return f"{cluster_prefix(cluster_id)}/api/v1/pods"


def nodes_path(cluster_id: str) -> str:
    """Path of a cluster's node collection."""
    return f"{cluster_prefix(cluster_id)}/api/v1/nodes"


def secret_path(cluster_id: str, namespace: str, name: str) -> str:
    """Path of one secret (a workload's imagePullSecrets entry)."""
    return (f"{cluster_prefix(cluster_id)}/api/v1/namespaces/{_seg(check_namespace(namespace))}/secrets/"
            f"{_seg(check_name(name, 'secret'))}")


def service_account_path(cluster_id: str, namespace: str, name: str) -> str:
    """Path of one ServiceAccount (whose imagePullSecrets its pods get when their template names none)."""
    return (f"{cluster_prefix(cluster_id)}/api/v1/namespaces/{_seg(check_namespace(namespace))}/serviceaccounts/"
            f"{_seg(check_name(name, 'service account'))}")


def pods_path(cluster_id: str, namespace: str) -> str:
    """Path of the pod collection in a namespace."""
    return f"{cluster_prefix(cluster_id)}/api/v1/namespaces/{_seg(check_namespace(namespace))}/pods"


def monitoring_query_path(cluster_id: str) -> str:
    """Path of an instant query to the cluster's rancher-monitoring Prometheus, through Rancher's service proxy."""
    return (f"{cluster_prefix(cluster_id)}/api/v1/namespaces/cattle-monitoring-system/services/"
            "http:rancher-monitoring-prometheus:9090/proxy/api/v1/query")


def version_path(cluster_id: str) -> str:
    """Path of a downstream cluster's kube-apiserver version (works for cluster-scoped tokens)."""
    return f"{cluster_prefix(cluster_id)}/version"


def norman_cluster_path(cluster_id: str) -> str:
    """Path of one Norman cluster object (also readable with a token scoped to that cluster)."""
    return f"/v3/clusters/{_seg(check_cluster_id(cluster_id))}"


def token_path(token_name: str) -> str:
    """Path of one API token object, by its name (the access key)."""
    return f"/v3/tokens/{_seg(check_name(token_name, 'token'))}"
