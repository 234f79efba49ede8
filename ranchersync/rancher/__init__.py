"""The Rancher repository: one HTTP funnel, typed results, typed errors (the errors live in the kernel)."""

from ranchersync.rancher.client import RancherClient
from ranchersync.rancher.patch import STRATEGIC_MERGE, ImageChange, image_patch
from ranchersync.rancher.paths import PROMOTABLE_KINDS, WORKLOAD_KINDS, WorkloadKind, normalize_kind
from ranchersync.rancher.status import (
    STATUSES,
    RolloutState,
    WorkloadStatus,
    rollout_in_progress,
    rollout_state,
    workload_status,
)
from ranchersync.rancher.transport import USER_AGENT, Transport, TransportSettings, retry_delay
from ranchersync.rancher.types import Cluster, ConnectionInfo, Namespace, Node, ServiceAccount, TokenInfo, UserInfo
from ranchersync.rancher.workloads import Condition, Container, ContainerStatus, Pod, Workload
from ranchersync.security.cabundle import ca_bundle_file

__all__ = [
    "STATUSES",
    "STRATEGIC_MERGE",
    "USER_AGENT",
    "PROMOTABLE_KINDS",
    "WORKLOAD_KINDS",
    "Cluster",
    "Condition",
    "ImageChange",
    "ConnectionInfo",
    "Container",
    "ContainerStatus",
    "Namespace",
    "Node",
    "Pod",
    "RancherClient",
    "RolloutState",
    "ServiceAccount",
    "TokenInfo",
    "Transport",
    "TransportSettings",
    "UserInfo",
    "Workload",
    "WorkloadKind",
    "WorkloadStatus",
    "ca_bundle_file",
    "image_patch",
    "normalize_kind",
    "retry_delay",
    "rollout_in_progress",
    "rollout_state",
    "workload_status",
]
