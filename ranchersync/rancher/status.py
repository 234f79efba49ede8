"""Workload status and rollout progress, computed from a ``Workload`` alone (pure functions).

``rollout_state`` ports kubectl's ``rollout status`` (kubernetes/kubectl ``pkg/polymorphichelpers/rollout_status.go``)
with its messages; ``workload_status`` condenses the same facts, and the parts of Rancher's state summary that
matter to us (rancher-api.md §4.3), into the project's status vocabulary (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from ranchersync.rancher.workloads import Workload

WorkloadStatus = Literal["running", "updating", "degraded", "failed", "stopped", "paused", "unknown"]
STATUSES: Final[tuple[WorkloadStatus, ...]] = get_args(WorkloadStatus)

DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
_NO_ROLLOUT_STATUS: Final = "rollout status is only available for RollingUpdate strategy type"


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands: ``done`` (finished), ``failed`` (will not finish by itself), and kubectl's message."""

    done: bool
    failed: bool
    message: str


def _observed(w: Workload) -> bool:
    """True when the controller has seen the latest spec (observedGeneration >= generation)."""
    return w.observed_generation is not None and w.observed_generation >= w.generation


def _rolling_strategy(w: Workload) -> bool:
    # The API server defaults the strategy to RollingUpdate; "" only occurs in hand-built objects.
    return w.update_strategy in ("RollingUpdate", "")


def deadline_exceeded(w: Workload) -> bool:
    """True when a Deployment's Progressing condition says ProgressDeadlineExceeded for the current spec."""
    cond = w.condition("Progressing")
    return w.kind == "Deployment" and _observed(w) and cond is not None and cond.reason == DEADLINE_EXCEEDED


def rollout_in_progress(w: Workload) -> bool:
    """True while pods are still being replaced to match the spec, whatever their availability.

    * every kind: the controller has not observed the latest generation yet;
    * Deployment: fewer updated replicas than desired, or old replicas pending termination
      (``status.replicas > updatedReplicas``);
    * StatefulSet (RollingUpdate): fewer updated replicas than ``replicas - partition``, or, without
      ``rollingUpdate`` parameters, ``updateRevision != currentRevision``; more pods than desired (scaling down);
      OnDelete never counts as rolling (pods change only when someone deletes them);
    * DaemonSet (RollingUpdate): fewer updated pods than desired nodes;
    * CronJob: never (a template change applies to the next Job).
    """
    if w.kind == "CronJob":
        return False
    if not _observed(w) or (w.kind == "StatefulSet" and not w.observed_generation):
        return True
    if w.kind == "Deployment":
        return w.updated_replicas < w.replicas or w.status_replicas > w.updated_replicas
    if w.kind == "StatefulSet":
        if w.status_replicas > w.replicas:
            return True
        if not _rolling_strategy(w):
            return False
        if w.has_rolling_update:
            return w.updated_replicas < w.replicas - (w.partition or 0)
        return w.update_revision != w.current_revision
    if w.kind == "DaemonSet":
        return _rolling_strategy(w) and w.updated_replicas < w.replicas
    return False


def workload_status(w: Workload) -> WorkloadStatus:
    """Condense a workload into one status word; the first matching rule wins.

    1. ``unknown``: a kind this project does not know.
    2. CronJob: ``paused`` when ``spec.suspend``, otherwise ``running`` (it has no rollout; Rancher shows it active).
    3. ``paused``: a Deployment with ``spec.paused`` (its rollout will not progress; Rancher's UI shows the same).
    4. Desired replicas 0 (DaemonSet: no node to run on): ``updating`` while pods still exist (or a DaemonSet's
       spec is not yet observed), otherwise ``stopped``.
    5. ``failed``: a Deployment whose Progressing condition reports ProgressDeadlineExceeded for the current
       generation (kubectl's and kstatus' rule).
    6. ``failed``: no replica available while no rollout is in progress (crash loop, image never pulled, ...).
    7. ``updating``: a rollout in progress (see ``rollout_in_progress``), even with nothing available yet.
    8. ``degraded``: fewer available replicas than desired.
    9. ``running``: rolled out, all desired replicas available.
    """
    if w.kind not in ("Deployment", "StatefulSet", "DaemonSet", "CronJob"):
        return "unknown"
    if w.kind == "CronJob":
        return "paused" if w.paused else "running"
    if w.paused:
        return "paused"
    if w.replicas == 0:
        waiting = w.status_replicas > 0 or (w.kind == "DaemonSet" and not _observed(w))
        return "updating" if waiting else "stopped"
    if deadline_exceeded(w):
        return "failed"
    rolling = rollout_in_progress(w)
    if w.available_replicas == 0 and not rolling:
        return "failed"
    if rolling:
        return "updating"
    if w.available_replicas < w.replicas:
        return "degraded"
    return "running"


def rollout_state(w: Workload) -> RolloutState:
    """kubectl's ``rollout status`` verdict for one poll, with kubectl's message (without the trailing newline).

    Differences from kubectl, each deliberate: a paused Deployment that is not done says so instead of waiting
    forever; a non-RollingUpdate DaemonSet/StatefulSet is reported ``done`` with kubectl's error text as message;
    a CronJob (which kubectl refuses) is always done.
    """
    if w.kind == "Deployment":
        state = _deployment(w)
        if w.paused and not state.done and not state.failed:
            return RolloutState(
                False, False, f'deployment "{w.name}" is paused: its rollout will not progress until it is resumed'
            )
        return state
    if w.kind == "DaemonSet":
        return _daemonset(w)
    if w.kind == "StatefulSet":
        return _statefulset(w)
    if w.kind == "CronJob":
        return RolloutState(True, False, f'cronjob "{w.name}" has no rollout: the next job uses the new template')
    return RolloutState(False, False, f"no status viewer has been implemented for {w.kind}")


def _deployment(w: Workload) -> RolloutState:
    if w.generation > (w.observed_generation or 0):
        return RolloutState(False, False, "Waiting for deployment spec update to be observed...")
    cond = w.condition("Progressing")
    if cond is not None and cond.reason == DEADLINE_EXCEEDED:
        return RolloutState(False, True, f'deployment "{w.name}" exceeded its progress deadline')
    waiting = f'Waiting for deployment "{w.name}" rollout to finish: '
    if w.updated_replicas < w.replicas:
        return RolloutState(
            False, False, f"{waiting}{w.updated_replicas} out of {w.replicas} new replicas have been updated..."
        )
    if w.status_replicas > w.updated_replicas:
        pending = w.status_replicas - w.updated_replicas
        return RolloutState(False, False, f"{waiting}{pending} old replicas are pending termination...")
    if w.available_replicas < w.updated_replicas:
        return RolloutState(
            False,
            False,
            f"{waiting}{w.available_replicas} of {w.updated_replicas} updated replicas are available...",
        )
    return RolloutState(True, False, f'deployment "{w.name}" successfully rolled out')


def _daemonset(w: Workload) -> RolloutState:
    if not _rolling_strategy(w):
        return RolloutState(True, False, _NO_ROLLOUT_STATUS)
    if w.generation > (w.observed_generation or 0):
        return RolloutState(False, False, "Waiting for daemon set spec update to be observed...")
    waiting = f'Waiting for daemon set "{w.name}" rollout to finish: '
    if w.updated_replicas < w.replicas:
        return RolloutState(
            False, False, f"{waiting}{w.updated_replicas} out of {w.replicas} new pods have been updated..."
        )
    if w.available_replicas < w.replicas:
        return RolloutState(
            False, False, f"{waiting}{w.available_replicas} of {w.replicas} updated pods are available..."
        )
    return RolloutState(True, False, f'daemon set "{w.name}" successfully rolled out')


def _statefulset(w: Workload) -> RolloutState:
    if not _rolling_strategy(w):
        return RolloutState(True, False, _NO_ROLLOUT_STATUS)
    if not w.observed_generation or w.generation > w.observed_generation:
        return RolloutState(False, False, "Waiting for statefulset spec update to be observed...")
    if w.ready_replicas < w.replicas:
        return RolloutState(False, False, f"Waiting for {w.replicas - w.ready_replicas} pods to be ready...")
    if w.has_rolling_update:
        if w.partition is not None and w.updated_replicas < w.replicas - w.partition:
            return RolloutState(
                False,
                False,
                "Waiting for partitioned roll out to finish: "
                f"{w.updated_replicas} out of {w.replicas - w.partition} new pods have been updated...",
            )
        return RolloutState(
            True, False, f"partitioned roll out complete: {w.updated_replicas} new pods have been updated..."
        )
    if w.update_revision != w.current_revision:
        return RolloutState(
            False,
            False,
            f"waiting for statefulset rolling update to complete {w.updated_replicas} pods "
            f"at revision {w.update_revision}...",
        )
    return RolloutState(
        True,
        False,
        f"statefulset rolling update complete {w.current_replicas} pods at revision {w.current_revision}...",
    )
