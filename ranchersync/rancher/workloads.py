"""Kubernetes workloads and pods as small frozen dataclasses (``Workload.from_k8s(obj)``), parsed leniently like the
Rancher objects of ``ranchersync.rancher.types``: unknown fields ignored, missing counts taken as zero, a missing
name refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ranchersync.rancher.paths import WorkloadKind, normalize_kind
from ranchersync.rancher.types import _d, _i, _l, _name, _oi, _s, _str_map, parse_time

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# The container kubectl logs/exec pick when none is named; set on the pod template (kubernetes/kubectl
# `podcmd.DefaultContainerAnnotationName`). Our `imageTag` follows the same choice.
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


# ---- Kubernetes workloads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """One container of a pod template."""

    name: str
    image: str
    init: bool = False


@dataclass(frozen=True)
class Condition:
    """One entry of ``status.conditions``."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition: datetime | None = None  # lastTransitionTime: since when `status` holds
    last_update: datetime | None = None  # lastUpdateTime (Deployments): when the reason or message last changed

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any]) -> Condition:
        """Parse one condition."""
        return cls(
            type=_s(obj.get("type")),
            status=_s(obj.get("status")),
            reason=_s(obj.get("reason")),
            message=_s(obj.get("message")),
            last_transition=parse_time(obj.get("lastTransitionTime")),
            last_update=parse_time(obj.get("lastUpdateTime")),
        )


def _containers(pod_spec: Mapping[str, Any]) -> tuple[Container, ...]:
    init = tuple(
        Container(name=_s(c.get("name")), image=_s(c.get("image")), init=True)
        for c in map(_d, _l(pod_spec.get("initContainers")))
    )
    main = tuple(
        Container(name=_s(c.get("name")), image=_s(c.get("image")), init=False)
        for c in map(_d, _l(pod_spec.get("containers")))
    )
    return main + init


def pod_template(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The pod template of a workload object (CronJob: ``spec.jobTemplate.spec.template``)."""
    spec = _d(obj.get("spec"))
    if kind == "CronJob":
        spec = _d(_d(spec.get("jobTemplate")).get("spec"))
    return _d(spec.get("template"))


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet, DaemonSet or CronJob, with what the status rules and the sync need.

    ``replicas`` is the desired count (DaemonSet: ``desiredNumberScheduled``; CronJob: 0) and ``status_replicas``
    the pods that exist (``status.replicas``; DaemonSet: ``currentNumberScheduled``). For a DaemonSet the updated,
    ready and available counts come from the ``*NumberScheduled``/``number*`` fields.
    """

    kind: WorkloadKind
    name: str
    namespace: str
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    observed_generation: int | None = None
    replicas: int = 0
    status_replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0
    paused: bool = False  # Deployment spec.paused, CronJob spec.suspend
    containers: tuple[Container, ...] = ()  # regular containers first, then init containers
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    template_annotations: dict[str, str] = field(default_factory=dict)
    selector: dict[str, str] = field(default_factory=dict)  # spec.selector.matchLabels
    conditions: tuple[Condition, ...] = ()
    update_strategy: str = ""  # RollingUpdate, Recreate, OnDelete; "" for CronJob
    has_rolling_update: bool = False  # StatefulSet: spec.updateStrategy.rollingUpdate is present
    partition: int | None = None  # StatefulSet: spec.updateStrategy.rollingUpdate.partition
    current_replicas: int = 0  # StatefulSet: pods at currentRevision
    current_revision: str = ""
    update_revision: str = ""
    progress_deadline_seconds: int | None = None
    deleting: bool = False
    schedule: str = ""  # CronJob
    active_jobs: int = 0  # CronJob
    last_schedule_time: datetime | None = None  # CronJob
    created_at: datetime | None = None
    node_selector: dict[str, str] = field(default_factory=dict)  # the pod template's spec.nodeSelector
    image_pull_secrets: tuple[str, ...] = ()  # the pod template's spec.imagePullSecrets[].name
    # The pod template's spec.serviceAccountName (the deprecated spec.serviceAccount before it), else "default":
    # when the template names no pull secret, its pods get this account's (the ServiceAccount admission).
    service_account: str = "default"

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any], kind: str | None = None) -> Workload:
        """Parse a workload object; list items carry no ``kind``, so pass it for them."""
        kind_name = normalize_kind(kind or _s(obj.get("kind")))
        meta = _d(obj.get("metadata"))
        spec = _d(obj.get("spec"))
        status = _d(obj.get("status"))
        template = pod_template(obj, kind_name)
        strategy = _d(spec.get("updateStrategy") if kind_name != "Deployment" else spec.get("strategy"))
        rolling = strategy.get("rollingUpdate")
        common: dict[str, Any] = {
            "kind": kind_name,
            "name": _name(meta, kind_name),
            "namespace": _s(meta.get("namespace")),
            "uid": _s(meta.get("uid")),
            "resource_version": _s(meta.get("resourceVersion")),
            "generation": _i(meta.get("generation")),
            "observed_generation": _oi(status.get("observedGeneration")),
            "containers": _containers(_d(template.get("spec"))),
            "labels": _str_map(meta.get("labels")),
            "annotations": _str_map(meta.get("annotations")),
            "template_annotations": _str_map(_d(template.get("metadata")).get("annotations")),
            "selector": _str_map(_d(spec.get("selector")).get("matchLabels")),
            "conditions": tuple(Condition.from_k8s(c) for c in map(_d, _l(status.get("conditions")))),
            "update_strategy": _s(strategy.get("type")),
            "deleting": bool(meta.get("deletionTimestamp")),
            "created_at": parse_time(meta.get("creationTimestamp")),
            "node_selector": _str_map(_d(template.get("spec")).get("nodeSelector")),
            "service_account": _s(_d(template.get("spec")).get("serviceAccountName"))
            or _s(_d(template.get("spec")).get("serviceAccount")) or "default",
            "image_pull_secrets": tuple(dict.fromkeys(
                n for n in (_s(_d(s).get("name")) for s in _l(_d(template.get("spec")).get("imagePullSecrets"))) if n)),
        }
        if kind_name == "DaemonSet":
            return cls(
                **common,
                replicas=_i(status.get("desiredNumberScheduled")),
                status_replicas=_i(status.get("currentNumberScheduled")),
                ready_replicas=_i(status.get("numberReady")),
                updated_replicas=_i(status.get("updatedNumberScheduled")),
                available_replicas=_i(status.get("numberAvailable")),
            )
        if kind_name == "CronJob":
            return cls(
                **common,
                paused=spec.get("suspend") is True,
                schedule=_s(spec.get("schedule")),
                active_jobs=len(_l(status.get("active"))),
                last_schedule_time=parse_time(status.get("lastScheduleTime")),
            )
        ready = _i(status.get("readyReplicas"))
        extra: dict[str, Any] = {}
        if kind_name == "StatefulSet":
            extra = {
                "has_rolling_update": isinstance(rolling, Mapping),
                "partition": _oi(_d(rolling).get("partition")),
                "current_replicas": _i(status.get("currentReplicas")),
                "current_revision": _s(status.get("currentRevision")),
                "update_revision": _s(status.get("updateRevision")),
            }
        else:
            extra = {
                "paused": spec.get("paused") is True,
                "progress_deadline_seconds": _oi(spec.get("progressDeadlineSeconds")),
            }
        return cls(
            **common,
            **extra,
            replicas=_i(spec.get("replicas"), 1),  # the API server defaults a missing spec.replicas to 1
            status_replicas=_i(status.get("replicas")),
            ready_replicas=ready,
            updated_replicas=_i(status.get("updatedReplicas")),
            # StatefulSets before Kubernetes 1.22 have no availableReplicas; ready is the closest measure there.
            available_replicas=_i(status.get("availableReplicas"), ready if kind_name == "StatefulSet" else 0),
        )

    @property
    def images(self) -> dict[str, str]:
        """Image per regular container name."""
        return {c.name: c.image for c in self.containers if not c.init}

    @property
    def primary_container(self) -> Container | None:
        """The container the workload is about: the one the pod template's
        ``kubectl.kubernetes.io/default-container`` annotation names, else the first regular container."""
        regular = [c for c in self.containers if not c.init]
        named = self.template_annotations.get(DEFAULT_CONTAINER_ANNOTATION)
        return next((c for c in regular if c.name == named), regular[0] if regular else None)

    @property
    def init_images(self) -> dict[str, str]:
        """Image per init container name."""
        return {c.name: c.image for c in self.containers if c.init}

    @property
    def revision(self) -> str:
        """The Deployment revision annotation, or ""."""
        return self.annotations.get(REVISION_ANNOTATION, "")

    def condition(self, type_: str) -> Condition | None:
        """The condition of that type, if present."""
        return next((c for c in self.conditions if c.type == type_), None)

    def selector_string(self) -> str:
        """``spec.selector.matchLabels`` as a label selector for ``list_pods`` ("" when there is none)."""
        return ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))


# ---- pods ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerStatus:
    """What the kubelet reports about one container of a pod (``imageID`` carries the digest)."""

    name: str
    image: str
    image_id: str = ""
    ready: bool = False
    restart_count: int = 0
    init: bool = False


@dataclass(frozen=True)
class Pod:
    """A pod, for the images and digests that actually run."""

    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    phase: str = ""
    node_name: str = ""
    containers: tuple[Container, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()

    @classmethod
    def from_k8s(cls, obj: Mapping[str, Any]) -> Pod:
        """Parse a Kubernetes ``Pod`` object."""
        meta = _d(obj.get("metadata"))
        spec = _d(obj.get("spec"))
        status = _d(obj.get("status"))

        def statuses(key: str, init: bool) -> tuple[ContainerStatus, ...]:
            return tuple(
                ContainerStatus(
                    name=_s(c.get("name")),
                    image=_s(c.get("image")),
                    image_id=_s(c.get("imageID")),
                    ready=c.get("ready") is True,
                    restart_count=_i(c.get("restartCount")),
                    init=init,
                )
                for c in map(_d, _l(status.get(key)))
            )

        return cls(
            name=_name(meta, "pod"),
            namespace=_s(meta.get("namespace")),
            labels=_str_map(meta.get("labels")),
            phase=_s(status.get("phase")),
            node_name=_s(spec.get("nodeName")),
            containers=_containers(spec),
            container_statuses=statuses("containerStatuses", False) + statuses("initContainerStatuses", True),
        )
