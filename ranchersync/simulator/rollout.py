"""The simulated workload controllers: status and pods as a function of the rollout and the time elapsed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .objects import Obj, pod_template, rfc3339, template_hash

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class PodSlot:
    """One pod a workload runs: the template it was made from, and whether it is ready."""

    template: Obj
    template_hash: str
    ready: bool
    failing: bool = False


@dataclass
class RolloutState:
    """What a workload's pods run: the template being replaced and the one replacing it."""

    old_template: Obj
    new_template: Obj
    failing: bool = False
    started: float | None = None  # monotonic time the rollout began; None while a paused Deployment waits
    started_at: str | None = None  # the same moment as a timestamp, for the new pods' creationTimestamp
    finished: bool = True
    revision: int | None = None
    old_hash: str = field(init=False)
    new_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.old_hash = template_hash(self.old_template)
        self.new_hash = template_hash(self.new_template)

    @classmethod
    def steady(cls, template: Obj, revision: int | None = None) -> RolloutState:
        """All pods already run this template."""
        return cls(template, template, revision=revision)

    @property
    def running_template(self) -> Obj:
        """The template the ready pods run: the new one once a rollout succeeded, else the old one."""
        return self.new_template if self.finished and not self.failing else self.old_template


@dataclass(frozen=True)
class Evaluation:
    """A workload's status and pods at one moment, and whether time alone will change them."""

    status: Obj
    slots: list[PodSlot]
    finished: bool


def _max_unavailable(value: Any, replicas: int) -> int:
    """`maxUnavailable` (an int or a percentage, rounded down as Kubernetes does) as a pod count."""
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(replicas * int(value[:-1]) / 100)
    return int(value or 0)


def _condition(previous: list[Obj], wall: datetime, kind: str, status: str, reason: str, message: str) -> Obj:
    """A condition that keeps its timestamps while it does not change, as controllers write them."""
    before = next((c for c in previous if c.get("type") == kind), {})
    now = rfc3339(wall)
    unchanged = (before.get("status"), before.get("reason"), before.get("message")) == (status, reason, message)
    return {
        "lastTransitionTime": before.get("lastTransitionTime", now) if before.get("status") == status else now,
        "lastUpdateTime": before.get("lastUpdateTime", now) if unchanged else now,
        "message": message,
        "reason": reason,
        "status": status,
        "type": kind,
    }


def _progress(state: RolloutState, now: float, seconds: float) -> float:
    if state.finished or state.started is None:
        return 1.0 if state.finished else 0.0
    return 1.0 if seconds <= 0 else min(1.0, (now - state.started) / seconds)


def _compact(status: Obj) -> Obj:
    """Drop zero counters, as Go's `omitempty` does in real status objects."""
    return {k: v for k, v in status.items() if v not in (0, None, [])}


# --- Deployment ----------------------------------------------------------------------------------------------------


def _deployment(obj: Obj, state: RolloutState, now: float, seconds: float, wall: datetime) -> Evaluation:
    spec = obj["spec"]
    replicas = int(spec.get("replicas", 1))
    previous = (obj.get("status") or {}).get("conditions") or []
    strategy = spec.get("strategy") or {}
    max_unavailable = _max_unavailable((strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%"), replicas)
    new_rs = f'ReplicaSet "{obj["metadata"]["name"]}-{state.new_hash}"'
    progress = _progress(state, now, seconds)
    changing = replicas > 0 and state.old_hash != state.new_hash and (state.failing or progress < 1)

    if not changing:
        old, updated, new_ready = 0, replicas, replicas
    elif state.started is None:
        # Paused before the rollout began: the old pods stay and none is up to date.
        old, updated, new_ready = replicas, 0, 0
    elif state.failing:
        # The surge pod never becomes ready, so the old ones are never scaled down.
        old, updated, new_ready = replicas, 1, 0
    else:
        new_ready = math.floor(progress * replicas)
        if strategy.get("type") == "Recreate":
            old, updated = 0, replicas
        else:
            old, updated = replicas - new_ready, min(replicas, new_ready + 1)
    available = old + new_ready

    if available >= replicas - max_unavailable:
        conditions = [_condition(previous, wall, "Available", "True", "MinimumReplicasAvailable",
                                 "Deployment has minimum availability.")]
    else:
        conditions = [_condition(previous, wall, "Available", "False", "MinimumReplicasUnavailable",
                                 "Deployment does not have minimum availability.")]
    if spec.get("paused"):
        progressing = ("Unknown", "DeploymentPaused", "Deployment is paused")
    elif changing and state.failing and progress >= 1:
        progressing = ("False", "ProgressDeadlineExceeded", f"{new_rs} has timed out progressing.")
    elif changing:
        progressing = ("True", "ReplicaSetUpdated", f"{new_rs} is progressing.")
    else:
        progressing = ("True", "NewReplicaSetAvailable", f"{new_rs} has successfully progressed.")
    conditions.append(_condition(previous, wall, "Progressing", *progressing))
    status = _compact({
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": old + updated,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": old + updated - available,
    })
    status["conditions"] = conditions
    slots = [PodSlot(state.old_template, state.old_hash, True) for _ in range(old)]
    slots += [PodSlot(state.new_template, state.new_hash, i < new_ready, changing and state.failing)
              for i in range(updated)]
    return Evaluation(status, slots, progress >= 1 or not changing)


def _replacement(state: RolloutState, count: int, progress: float) -> tuple[int, int | None]:
    """How many pods (of `count` to replace, one at a time) run the new template, and which one is starting."""
    if state.old_hash == state.new_hash or count == 0:
        return count, None
    if state.failing:
        return 1, 0
    if progress >= 1:
        return count, None
    done = math.floor(progress * count)
    return done + 1, done


# --- StatefulSet ---------------------------------------------------------------------------------------------------


def _statefulset(obj: Obj, state: RolloutState, now: float, seconds: float) -> Evaluation:
    spec = obj["spec"]
    name = obj["metadata"]["name"]
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        partition = replicas  # nothing is replaced until someone deletes the pods
    else:
        partition = min(replicas, int((strategy.get("rollingUpdate") or {}).get("partition", 0)))
    progress = _progress(state, now, seconds)
    updated, starting = _replacement(state, replicas - partition, progress)
    # Pods are replaced from the highest ordinal down, so the lowest ones keep the old revision.
    slots = []
    for ordinal in range(replicas):
        position = replicas - 1 - ordinal
        is_new = position < updated
        template = state.new_template if is_new else state.old_template
        ready = position != starting
        slots.append(PodSlot(template, template_hash(template), ready, is_new and not ready and state.failing))
    new_count = sum(s.template_hash == state.new_hash for s in slots)
    all_new = new_count == replicas
    ready_count = sum(s.ready for s in slots)
    status = _compact({
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": replicas,
        "readyReplicas": ready_count,
        "currentReplicas": replicas if all_new else replicas - new_count,
        "updatedReplicas": new_count,
        "currentRevision": f"{name}-{state.new_hash if all_new else state.old_hash}",
        "updateRevision": f"{name}-{state.new_hash}",
        "availableReplicas": ready_count,
    })
    status["collisionCount"] = 0
    return Evaluation(status, slots, progress >= 1 or starting is None)


# --- DaemonSet -----------------------------------------------------------------------------------------------------


def _daemonset(obj: Obj, state: RolloutState, now: float, seconds: float, nodes: int) -> Evaluation:
    progress = _progress(state, now, seconds)
    on_delete = (obj["spec"].get("updateStrategy") or {}).get("type") == "OnDelete"
    updated, starting = _replacement(state, 0 if on_delete else nodes, progress)
    slots = []
    for index in range(nodes):
        is_new = index < updated
        template = state.new_template if is_new else state.old_template
        ready = index != starting
        slots.append(PodSlot(template, template_hash(template), ready, is_new and not ready and state.failing))
    ready_count = sum(s.ready for s in slots)
    status = {
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberAvailable": ready_count,
        "numberMisscheduled": 0,
        "numberReady": ready_count,
        "observedGeneration": obj["metadata"].get("generation", 1),
        "updatedNumberScheduled": sum(s.template_hash == state.new_hash for s in slots),
    }
    if nodes - ready_count:
        status["numberUnavailable"] = nodes - ready_count
    return Evaluation(status, slots, progress >= 1 or starting is None)


def evaluate(obj: Obj, state: RolloutState, *, now: float, seconds: float, nodes: int, wall: datetime) -> Evaluation:
    """Status and pods of a workload the controller manages, at monotonic time `now`."""
    kind = obj["kind"]
    if kind == "Deployment":
        return _deployment(obj, state, now, seconds, wall)
    if kind == "StatefulSet":
        return _statefulset(obj, state, now, seconds)
    if kind == "DaemonSet":
        return _daemonset(obj, state, now, seconds, nodes)
    return Evaluation(obj.get("status") or {}, [], True)


def slots_from_status(obj: Obj, nodes: int) -> list[PodSlot]:
    """Pods of a workload whose status came from the world file: counts as its status states them."""
    kind = obj["kind"]
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        return []
    template = pod_template(obj)
    digest = template_hash(template)
    if kind == "DaemonSet":
        total = int(status.get("desiredNumberScheduled", nodes))
        ready = int(status.get("numberReady", total))
    else:
        total = max(int(spec.get("replicas", 1)), int(status.get("replicas", 0)))
        ready = int(status.get("readyReplicas", 0))
    deadline = any(c.get("reason") == "ProgressDeadlineExceeded" for c in status.get("conditions") or [])
    return [PodSlot(template, digest, i < ready, deadline and i >= ready) for i in range(total)]


def initial_status(obj: Obj, nodes: int, wall: datetime) -> Obj:
    """The status of a fully rolled-out workload, for world objects that come without one."""
    template = pod_template(obj)
    return evaluate(obj, RolloutState.steady(template), now=0.0, seconds=0.0, nodes=nodes, wall=wall).status
