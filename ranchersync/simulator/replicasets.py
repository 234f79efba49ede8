"""The ReplicaSets a Deployment owns, as the deployment controller keeps them: one per pod template it has run,
numbered by revision, scaled as a rollout moves pods from the old template to the new one.

`kubectl rollout history` lists them and `kubectl rollout undo` copies a template back from one
(kubernetes `pkg/controller/deployment/util/deployment_util.go` names the annotations used here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .objects import Obj, deep_copy, stable_uid
from .rollout import REVISION_ANNOTATION

HASH_LABEL = "pod-template-hash"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Deployment annotations the controller does not copy onto its ReplicaSets (`skipCopyAnnotation`).
_NOT_COPIED = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION, REVISION_HISTORY,
                         DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})


def replica_set_name(deployment_name: str, pod_template_hash: str) -> str:
    """`web-7d9c5b8f4`: the Deployment's name and the template hash."""
    return f"{deployment_name}-{pod_template_hash}"


def replica_set_uid(deployment_uid: str, pod_template_hash: str) -> str:
    """The ReplicaSet's uid, which its pods' ownerReferences name."""
    return stable_uid("replicaset", deployment_uid, pod_template_hash)


def revision_of(obj: Obj) -> int:
    """The `deployment.kubernetes.io/revision` annotation as a number (0 when missing or not a number)."""
    text = str((obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, ""))
    return int(text) if text.isdecimal() else 0


def max_surge(deployment: Obj) -> int:
    """`maxSurge` as a pod count: a percentage rounds up, as the controller resolves it; Recreate surges none."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value: Any = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(spec.get("replicas", 1)) * int(value[:-1]) / 100)
    return int(value or 0)


def _with_hash(template: Obj, pod_template_hash: str) -> Obj:
    template = deep_copy(template)
    metadata = template.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), HASH_LABEL: pod_template_hash}
    return template


def _copied_annotations(deployment: Obj) -> dict[str, str]:
    annotations = deployment["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def _replica_set(deployment: Obj, pod_template_hash: str, template: Obj, annotations: dict[str, str],
                 replicas: int, ready: int, created: str, generation: int) -> Obj:
    metadata = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = _with_hash(template, pod_template_hash)
    selector = deep_copy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_template_hash}
    status: Obj = {"replicas": replicas}
    if replicas:
        status["fullyLabeledReplicas"] = replicas
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    status["observedGeneration"] = generation
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "annotations": dict(sorted(annotations.items())),
            "creationTimestamp": created,
            "generation": generation,
            "labels": dict(template["metadata"]["labels"]),
            "name": replica_set_name(metadata["name"], pod_template_hash),
            "namespace": metadata["namespace"],
            "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                 "kind": "Deployment", "name": metadata["name"], "uid": metadata["uid"]}],
            "uid": replica_set_uid(metadata["uid"], pod_template_hash),
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
        "status": status,
    }


def replica_sets(deployment: Obj, existing: Mapping[str, Obj], current_hash: str, current_template: Obj,
                 pods: Mapping[str, tuple[int, int]], created: str) -> dict[str, Obj]:
    """The ReplicaSets a Deployment owns now, by name (without resourceVersions).

    Args:
        deployment: the Deployment as stored; its revision annotation is the current ReplicaSet's revision.
        existing: the ReplicaSets it owned so far, by pod-template-hash.
        current_hash: the hash of the template the Deployment rolls out (or runs, when no rollout is under way).
        current_template: that template, for a ReplicaSet made now.
        pods: pod-template-hash → (pods, ready pods) as the rollout stands.
        created: the creationTimestamp of a ReplicaSet made now.
    """
    spec = deployment.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    sizes = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(desired + max_surge(deployment))}
    revision = revision_of(deployment)
    result: dict[str, Obj] = {}
    for pod_template_hash in sorted({*existing, current_hash}):
        before = existing.get(pod_template_hash)
        replicas, ready = pods.get(pod_template_hash, (0, 0))
        if before is None:
            template, annotations, generation = current_template, {}, 1
        else:
            template = deep_copy(before["spec"]["template"])
            template["metadata"]["labels"].pop(HASH_LABEL, None)
            annotations = dict(before["metadata"].get("annotations") or {})
            generation = before["metadata"]["generation"]
            if before["spec"]["replicas"] != replicas:
                generation += 1
        if pod_template_hash == current_hash:
            old_revision = revision_of(before) if before is not None else 0
            history = [h for h in str(annotations.get(REVISION_HISTORY, "")).split(",") if h]
            annotations = {k: v for k, v in annotations.items() if k not in _NOT_COPIED}
            annotations.update(_copied_annotations(deployment))
            if 0 < old_revision < revision:
                # A template that comes back (a rollback) reuses its ReplicaSet under the new revision.
                history.append(str(old_revision))
            if history:
                annotations[REVISION_HISTORY] = ",".join(history)
            annotations.update(sizes, **{REVISION_ANNOTATION: str(max(revision, old_revision))})
        elif before is None or before["spec"]["replicas"] != replicas:
            annotations.update(sizes)  # the controller stamps the sizes on each ReplicaSet it scales
        made = created if before is None else before["metadata"]["creationTimestamp"]
        rs = _replica_set(deployment, pod_template_hash, template, annotations, replicas, ready, made, generation)
        result[rs["metadata"]["name"]] = rs
    return _within_history_limit(result, current_hash, int(spec.get("revisionHistoryLimit", 10)))


def _within_history_limit(sets: dict[str, Obj], current_hash: str, limit: int) -> dict[str, Obj]:
    """Old ReplicaSets scaled to zero beyond `revisionHistoryLimit` are deleted, the oldest revisions first."""
    old = [rs for rs in sets.values() if rs["metadata"]["labels"][HASH_LABEL] != current_hash
           and rs["spec"]["replicas"] == 0]
    old.sort(key=revision_of)
    for rs in old[: max(0, len(old) - max(0, limit))]:
        del sets[rs["metadata"]["name"]]
    return sets
