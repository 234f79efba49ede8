"""Pods derived from a workload's rollout state, the way its controller would have created them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from .objects import (
    Obj,
    deep_copy,
    image_id,
    normalize_repository,
    normalized_image,
    random_name_suffix,
    rfc3339,
    split_image,
    stable_uid,
)
from .replicasets import HASH_LABEL, replica_set_name, replica_set_uid
from .rollout import PodSlot

_POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet")


def node_names(cluster_name: str, count: int) -> list[str]:
    """The worker nodes of a simulated cluster, named like an RKE2 node pool's machines."""
    return [f"{cluster_name}-pool1-{random_name_suffix(f'{cluster_name}/node/{i}', 5)}" for i in range(count)]


def node_object(name: str, index: int, architecture: str, version: str, created: datetime) -> Obj:
    """A worker node as kube-apiserver serves it (trimmed to what clients read): labels, addresses, capacity,
    the Ready condition and `status.nodeInfo` (architecture, operatingSystem, versions)."""
    since = rfc3339(created)
    runtime = "containerd://1.7.17-k3s1"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "beta.kubernetes.io/arch": architecture, "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": architecture, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/worker": "true"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": f"10.42.{index}.0/24", "podCIDRs": [f"10.42.{index}.0/24"], "providerID": f"rke2://{name}"},
        "status": {
            "addresses": [{"type": "InternalIP", "address": _ip(name, "10.0")}, {"type": "Hostname", "address": name}],
            "allocatable": {"cpu": "4", "ephemeral-storage": "95491281146", "memory": "16145400Ki", "pods": "110"},
            "capacity": {"cpu": "4", "ephemeral-storage": "98160Mi", "memory": "16247800Ki", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": since,
                            "lastTransitionTime": since}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": architecture, "bootID": stable_uid(name, "boot"),
                         "containerRuntimeVersion": runtime, "kernelVersion": "5.15.0-113-generic",
                         "kubeProxyVersion": version, "kubeletVersion": version,
                         "machineID": hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
                         "operatingSystem": "linux", "osImage": "Ubuntu 22.04.4 LTS",
                         "systemUUID": stable_uid(name, "system")},
        },
    }


def _ip(seed: str, prefix: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{prefix}.{digest[0] % 250 + 2}.{digest[1] % 250 + 2}"


def _container_status(container: Obj, phase: str, since: str, pod_name: str,
                      repushed: Mapping[str, str] | None = None) -> Obj:
    """A container status in one of four phases: running, creating, failing (image pull) or completed (init).

    `repushed`: tags pushed again since the world began; a pod then runs (and reports) the tag's new digest.
    """
    image = str(container.get("image", ""))
    name = str(container.get("name", ""))
    status: Obj = {"image": image, "imageID": "", "lastState": {}, "name": name, "ready": False, "restartCount": 0,
                   "started": False}
    if phase == "failing":
        status["state"] = {"waiting": {"message": f'Back-off pulling image "{image}"', "reason": "ImagePullBackOff"}}
        return status
    if phase == "creating":
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return status
    container_id = "containerd://" + hashlib.sha256(f"{pod_name}/{name}".encode()).hexdigest()
    digest = (repushed or {}).get(image)
    image_ref = f"{normalize_repository(split_image(image)[0])}@{digest}" if digest else image_id(image)
    status.update(containerID=container_id, image=normalized_image(image), imageID=image_ref)
    if phase == "completed":
        status["state"] = {"terminated": {"containerID": container_id, "exitCode": 0, "finishedAt": since,
                                          "reason": "Completed", "startedAt": since}}
    else:
        status.update(ready=True, started=True, state={"running": {"startedAt": since}})
    return status


def _pod(workload: Obj, slot: PodSlot, name: str, node: str, extra_labels: dict[str, str], owner: Obj,
         created: str, fail_images: re.Pattern[str] | None, repushed: Mapping[str, str] | None = None) -> Obj:
    metadata = workload["metadata"]
    template = slot.template
    spec = deep_copy(template.get("spec") or {})
    spec.update({"nodeName": node, "serviceAccount": "default", "serviceAccountName": "default",
                 "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0})
    init_containers = spec.get("initContainers") or []
    containers = spec.get("containers") or []
    # The containers whose image cannot be pulled; a failure stated by the world file blames the main containers.
    culprits = {str(c.get("name")) for c in init_containers + containers
                if fail_images and fail_images.search(str(c.get("image", "")))} if slot.failing else set()
    if slot.failing and not culprits:
        culprits = {str(c.get("name")) for c in containers}
    init_failing = any(str(c.get("name")) in culprits for c in init_containers)
    init_statuses = [_container_status(c, "failing" if str(c.get("name")) in culprits else "completed", created, name,
                                       repushed) for c in init_containers]
    statuses = []
    for container in containers:
        if str(container.get("name")) in culprits:
            phase = "failing"
        elif init_failing or not (slot.ready or slot.failing):
            phase = "creating"  # a pod still starting; beside a failing image the others do run
        else:
            phase = "running"
        statuses.append(_container_status(container, phase, created, name, repushed))
    if init_failing:
        for status in statuses:
            status["state"] = {"waiting": {"reason": "PodInitializing"}}
    ready = all(s["ready"] for s in statuses)
    ready_text = "True" if ready else "False"
    conditions = [("PodReadyToStartContainers", "True"), ("Initialized", "False" if init_failing else "True"),
                  ("Ready", ready_text), ("ContainersReady", ready_text), ("PodScheduled", "True")]
    pod_status: Obj = {
        "conditions": [{"lastProbeTime": None, "lastTransitionTime": created, "status": value, "type": kind}
                       for kind, value in conditions],
        "containerStatuses": statuses,
        "hostIP": _ip(node, "10.0"),
        "hostIPs": [{"ip": _ip(node, "10.0")}],
        "phase": "Running" if ready else "Pending",
        "podIP": _ip(name, "10.42"),
        "podIPs": [{"ip": _ip(name, "10.42")}],
        "qosClass": "BestEffort",
        "startTime": created,
    }
    if init_statuses:
        pod_status["initContainerStatuses"] = init_statuses
    pod_metadata: Obj = {
        "creationTimestamp": created,
        "labels": {**((template.get("metadata") or {}).get("labels") or {}), **extra_labels},
        "name": name,
        "namespace": metadata["namespace"],
        "ownerReferences": [owner],
        "resourceVersion": metadata.get("resourceVersion", "1"),
        "uid": stable_uid("pod", metadata["uid"], name),
    }
    annotations = (template.get("metadata") or {}).get("annotations")
    if annotations:
        pod_metadata["annotations"] = dict(annotations)
    if workload["kind"] != "StatefulSet":
        pod_metadata["generateName"] = name[:-5]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata, "spec": spec, "status": pod_status}


def pods_for(workload: Obj, slots: Sequence[PodSlot], nodes: Sequence[str], *, rolled_out: tuple[str, str] | None,
             fail_images: re.Pattern[str] | None, repushed: Mapping[str, str] | None = None,
             repushed_pods: Mapping[str, tuple[str, int | None]] | None = None) -> list[Obj]:
    """The pods a workload's slots stand for, with names, labels and owners as their controller sets them.

    `rolled_out` is (template hash, start time) of the last rollout: its pods were created when it began.
    `repushed_pods`: image -> (digest, n): the first n pods (all with None) pulled the re-pushed tag again.
    """
    kind = workload["kind"]
    if kind not in _POD_OWNERS or not nodes:
        return []
    metadata = workload["metadata"]
    workload_name = metadata["name"]
    uid = metadata["uid"]
    created = str(metadata.get("creationTimestamp"))
    pods = []
    ordinals: dict[str, int] = {}
    for index, slot in enumerate(slots):
        since = rolled_out[1] if rolled_out and rolled_out[0] == slot.template_hash else created
        # A ReplicaSet's pods are numbered among themselves, so a pod keeps its name while the rollout moves on.
        ordinal = ordinals[slot.template_hash] = ordinals.get(slot.template_hash, -1) + 1
        suffix = random_name_suffix(f"{uid}/{slot.template_hash}/{ordinal if kind == 'Deployment' else index}")
        if kind == "Deployment":
            rs_name = replica_set_name(workload_name, slot.template_hash)
            name = f"{rs_name}-{suffix}"
            labels = {HASH_LABEL: slot.template_hash}
            owner = {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "ReplicaSet",
                     "name": rs_name, "uid": replica_set_uid(uid, slot.template_hash)}
            node = nodes[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(nodes)]
        else:
            owner = {"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": kind,
                     "name": workload_name, "uid": metadata["uid"]}
            if kind == "StatefulSet":
                name = f"{workload_name}-{index}"
                labels = {"apps.kubernetes.io/pod-index": str(index),
                          "controller-revision-hash": f"{workload_name}-{slot.template_hash}",
                          "statefulset.kubernetes.io/pod-name": name}
                node = nodes[index % len(nodes)]
            else:
                name = f"{workload_name}-{suffix}"
                labels = {"controller-revision-hash": slot.template_hash,
                          "pod-template-generation": str(metadata.get("generation", 1))}
                node = nodes[index % len(nodes)]
        pulled = {image: digest for image, (digest, count) in (repushed_pods or {}).items()
                  if count is None or index < count}
        pods.append(_pod(workload, slot, name, node, labels, owner, since, fail_images,
                         {**pulled, **(repushed or {})}))
    return pods

