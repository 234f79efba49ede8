"""Server-side `Table` rendering: what `kubectl get` asks for and prints column by column."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .kinds import ResourceType
from .objects import Obj, human_duration, parse_rfc3339, pod_template, utc_now
from .selectors import selector_string

Column = tuple[str, str, int, str]  # name, type, priority, description
Cells = Callable[[Obj, datetime], list[Any]]

_NAME: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Column = ("Age", "string", 0, "CreationTimestamp is the server time when this object was created.")
_CONTAINERS: Column = ("Containers", "string", 1, "Names of each container in the template.")
_IMAGES: Column = ("Images", "string", 1, "Images referenced by each container in the template.")
_SELECTOR: Column = ("Selector", "string", 1, "A label query over pods that should match the replicas count.")


def _age(obj: Obj, now: datetime) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    return human_duration((now - parse_rfc3339(created)).total_seconds()) if created else "<unknown>"


def _containers(obj: Obj) -> tuple[str, str]:
    containers = (pod_template(obj).get("spec") or {}).get("containers") or []
    return ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers)


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    names, images = _containers(obj)
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [obj["metadata"]["name"], ready, status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            _age(obj, now), names, images, selector_string(spec.get("selector"))]


def _replicaset(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    names, images = _containers(obj)
    return [obj["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0),
            _age(obj, now), names, images, selector_string(spec.get("selector"))]


def _statefulset(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    names, images = _containers(obj)
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", _age(obj, now),
            names, images]


def _daemonset(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    names, images = _containers(obj)
    node_selector = (pod_template(obj).get("spec") or {}).get("nodeSelector") or {}
    return [obj["metadata"]["name"], status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>", _age(obj, now), names, images,
            selector_string(spec.get("selector"))]


def _cronjob(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    names, images = _containers(obj)
    last = status.get("lastScheduleTime")
    last_text = human_duration((now - parse_rfc3339(last)).total_seconds()) if last else "<none>"
    job_selector = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("selector")
    return [obj["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            str(bool(spec.get("suspend"))), len(status.get("active") or []), last_text, _age(obj, now), names, images,
            selector_string(job_selector)]


def _pod(obj: Obj, now: datetime) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    statuses = status.get("containerStatuses") or []
    reason = status.get("phase", "Unknown")
    for container in statuses:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    ready = sum(1 for c in statuses if c.get("ready"))
    return [obj["metadata"]["name"], f"{ready}/{len(spec.get('containers') or [])}", reason,
            str(sum(int(c.get("restartCount", 0)) for c in statuses)), _age(obj, now), status.get("podIP", "<none>"),
            spec.get("nodeName", "<none>"), "<none>", "<none>"]


def _scale(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("spec") or {}).get("replicas", 0),
            (obj.get("status") or {}).get("replicas", 0)]


def _namespace(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", "Active"), _age(obj, now)]


def _node(obj: Obj, now: datetime) -> list[Any]:
    status, labels = obj.get("status") or {}, (obj.get("metadata") or {}).get("labels") or {}
    ready: Obj = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [obj["metadata"]["name"], "Ready" if ready.get("status") == "True" else "NotReady",
            ",".join(roles) or "<none>", _age(obj, now), info.get("kubeletVersion", ""),
            addresses.get("InternalIP", "<none>"), addresses.get("ExternalIP", "<none>"), info.get("osImage", ""),
            info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _secret(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}), _age(obj, now)]


def _service_account(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], len(obj.get("secrets") or []), _age(obj, now)]


def _col(name: str, kind: str = "string", priority: int = 0) -> Column:
    # kubectl never prints descriptions, so the less-used columns get a short one.
    return (name, kind, priority, f"{name} of the object.")


_TABLES: dict[str, tuple[list[Column], Cells]] = {
    "Deployment": ([_NAME, _col("Ready"), _col("Up-to-date"), _col("Available"), _AGE, _CONTAINERS, _IMAGES,
                    _SELECTOR], _deployment),
    "ReplicaSet": ([_NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), _AGE,
                    _CONTAINERS, _IMAGES, _SELECTOR], _replicaset),
    "StatefulSet": ([_NAME, _col("Ready"), _AGE, _CONTAINERS, _IMAGES], _statefulset),
    "DaemonSet": ([_NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                   _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"), _AGE,
                   _CONTAINERS, _IMAGES, _SELECTOR], _daemonset),
    "CronJob": ([_NAME, _col("Schedule"), _col("Timezone"), _col("Suspend", "boolean"), _col("Active", "integer"),
                 _col("Last Schedule"), _AGE, _CONTAINERS, _IMAGES, _SELECTOR], _cronjob),
    "Pod": ([_NAME, _col("Ready"), _col("Status"), _col("Restarts"), _AGE, _col("IP", priority=1),
             _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)], _pod),
    "Namespace": ([_NAME, _col("Status"), _AGE], _namespace),
    "Node": ([_NAME, _col("Status"), _col("Roles"), _AGE, _col("Version"), _col("Internal-IP", priority=1),
              _col("External-IP", priority=1), _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
              _col("Container-Runtime", priority=1)], _node),
    "Secret": ([_NAME, _col("Type"), _col("Data", "integer"), _AGE], _secret),
    "ServiceAccount": ([_NAME, _col("Secrets", "integer"), _AGE], _service_account),
    "Scale": ([_NAME, _col("Desired", "integer"), _col("Available", "integer")], _scale),
}


def wants_table(accept: str | None) -> bool:
    """True when the Accept header asks for `as=Table` (kubectl get does, with a plain JSON fallback)."""
    compact = (accept or "").replace(" ", "")
    return "as=Table" in compact and "g=meta.k8s.io" in compact


def render_table(rt: ResourceType, objects: Iterable[Obj], *, include_object: str, list_meta: Obj) -> Obj:
    """A `meta.k8s.io/v1` Table of objects; rows carry metadata, the full object, or nothing (`includeObject`)."""
    columns, cells = _TABLES[rt.kind]
    now = utc_now()
    rows = []
    for obj in objects:
        row: Obj = {"cells": cells(obj, now)}
        if include_object == "Object":
            row["object"] = {"kind": rt.kind, "apiVersion": rt.api_version, **obj}
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata", {})}
        rows.append(row)
    definitions = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": p}
                   for n, t, p, d in columns]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": definitions,
            "rows": rows}
