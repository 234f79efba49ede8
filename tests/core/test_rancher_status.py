"""Table-driven tests of workload_status and rollout_state (a port of kubectl's rollout_status.go)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from ranchersync.rancher import STATUSES, Workload, rollout_in_progress, rollout_state, workload_status
from ranchersync.rancher.workloads import Condition

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rancher"

AVAILABLE = Condition("Available", "True", "MinimumReplicasAvailable")
PROGRESSED = Condition("Progressing", "True", "NewReplicaSetAvailable")
UPDATING = Condition("Progressing", "True", "ReplicaSetUpdated")
DEADLINE = Condition(
    "Progressing", "False", "ProgressDeadlineExceeded", 'ReplicaSet "web-1" has timed out progressing.'
)

# Fully rolled-out baselines; each case changes only what it is about.
DEPLOY = Workload(
    kind="Deployment",
    name="web",
    namespace="shop",
    generation=2,
    observed_generation=2,
    replicas=3,
    status_replicas=3,
    updated_replicas=3,
    ready_replicas=3,
    available_replicas=3,
    update_strategy="RollingUpdate",
    conditions=(AVAILABLE, PROGRESSED),
)
STS = Workload(
    kind="StatefulSet",
    name="db",
    namespace="shop",
    generation=4,
    observed_generation=4,
    replicas=3,
    status_replicas=3,
    updated_replicas=3,
    ready_replicas=3,
    available_replicas=3,
    current_replicas=3,
    update_strategy="RollingUpdate",
    has_rolling_update=True,
    partition=0,
    current_revision="db-1",
    update_revision="db-1",
)
DS = Workload(
    kind="DaemonSet",
    name="log-agent",
    namespace="shop",
    generation=5,
    observed_generation=5,
    replicas=5,
    status_replicas=5,
    updated_replicas=5,
    ready_replicas=5,
    available_replicas=5,
    update_strategy="RollingUpdate",
)
CRON = Workload(kind="CronJob", name="nightly", namespace="shop", generation=1)


def d(**changes: Any) -> Workload:
    return dataclasses.replace(DEPLOY, **changes)


def s(**changes: Any) -> Workload:
    return dataclasses.replace(STS, **changes)


def ds(**changes: Any) -> Workload:
    return dataclasses.replace(DS, **changes)


STATUS_CASES: list[tuple[str, Workload, str]] = [
    # Deployment
    ("deploy: rolled out, all available", d(), "running"),
    ("deploy: more available than desired (surge)", d(available_replicas=4), "running"),
    ("deploy: paused wins over everything", d(paused=True, observed_generation=1, available_replicas=0), "paused"),
    ("deploy: scaled to zero", d(replicas=0, status_replicas=0, updated_replicas=0, available_replicas=0), "stopped"),
    ("deploy: scaling to zero, pods still there", d(replicas=0, status_replicas=2, available_replicas=2), "updating"),
    (
        "deploy: progress deadline exceeded",
        d(updated_replicas=1, available_replicas=2, conditions=(DEADLINE,)),
        "failed",
    ),
    ("deploy: deadline exceeded, nothing available", d(available_replicas=0, conditions=(DEADLINE,)), "failed"),
    ("deploy: deadline of an older generation", d(generation=3, conditions=(DEADLINE,)), "updating"),
    ("deploy: spec not observed yet", d(generation=3), "updating"),
    ("deploy: status never reported", d(observed_generation=None), "updating"),
    ("deploy: new replicas being created", d(updated_replicas=1, conditions=(AVAILABLE, UPDATING)), "updating"),
    ("deploy: old replicas pending termination", d(status_replicas=4), "updating"),
    ("deploy: first rollout, none available yet", d(updated_replicas=1, available_replicas=0), "updating"),
    ("deploy: nothing available, not rolling", d(available_replicas=0, ready_replicas=0), "failed"),
    ("deploy: some but not all available", d(available_replicas=2, ready_replicas=2), "degraded"),
    (
        "deploy: one of many available",
        d(replicas=10, status_replicas=10, updated_replicas=10, available_replicas=1),
        "degraded",
    ),
    # StatefulSet
    ("sts: rolled out", s(), "running"),
    ("sts: spec not observed", s(generation=5), "updating"),
    ("sts: observedGeneration 0", s(generation=0, observed_generation=0), "updating"),
    ("sts: rolling, 1 of 3 updated", s(updated_replicas=1, update_revision="db-2"), "updating"),
    ("sts: partition 2 reached", s(partition=2, updated_replicas=1, update_revision="db-2"), "running"),
    ("sts: partition 1 not reached", s(partition=1, updated_replicas=1, update_revision="db-2"), "updating"),
    (
        "sts: no rollingUpdate, revisions differ",
        s(has_rolling_update=False, partition=None, update_revision="db-2"),
        "updating",
    ),
    ("sts: no rollingUpdate, revisions equal", s(has_rolling_update=False, partition=None), "running"),
    (
        "sts: OnDelete never rolls by itself",
        s(update_strategy="OnDelete", update_revision="db-2", updated_replicas=0),
        "running",
    ),
    ("sts: scaling down", s(status_replicas=4), "updating"),
    ("sts: two of three available", s(available_replicas=2, ready_replicas=2), "degraded"),
    ("sts: none available", s(available_replicas=0, ready_replicas=0), "failed"),
    ("sts: scaled to zero", s(replicas=0, status_replicas=0, available_replicas=0), "stopped"),
    # DaemonSet
    ("ds: rolled out", ds(), "running"),
    ("ds: 3 of 5 nodes updated", ds(updated_replicas=3), "updating"),
    ("ds: spec not observed", ds(generation=6), "updating"),
    ("ds: 4 of 5 available", ds(available_replicas=4), "degraded"),
    ("ds: none available", ds(available_replicas=0), "failed"),
    ("ds: no node selected", ds(replicas=0, status_replicas=0, updated_replicas=0, available_replicas=0), "stopped"),
    ("ds: new, not yet observed", ds(replicas=0, status_replicas=0, observed_generation=None), "updating"),
    ("ds: OnDelete with old pods", ds(update_strategy="OnDelete", updated_replicas=2), "running"),
    # CronJob
    ("cron: scheduled", CRON, "running"),
    ("cron: suspended", dataclasses.replace(CRON, paused=True), "paused"),
    # Anything else
    ("unknown kind", dataclasses.replace(DEPLOY, kind="Job"), "unknown"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("case", "workload", "expected"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES])
def test_workload_status(case: str, workload: Workload, expected: str) -> None:
    assert workload_status(workload) == expected, case


def test_every_status_word_is_reachable() -> None:
    assert {c[2] for c in STATUS_CASES} == set(STATUSES)


ROLLOUT_CASES: list[tuple[str, Workload, bool, bool, str]] = [
    # Deployment (kubectl DeploymentStatusViewer)
    ("deploy: observed", d(generation=3), False, False, "Waiting for deployment spec update to be observed..."),
    ("deploy: deadline", d(conditions=(DEADLINE,)), False, True, 'deployment "web" exceeded its progress deadline'),
    (
        "deploy: updating",
        d(updated_replicas=1),
        False,
        False,
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    ),
    (
        "deploy: old pending",
        d(status_replicas=4),
        False,
        False,
        'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
    ),
    (
        "deploy: availability",
        d(available_replicas=2),
        False,
        False,
        'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
    ),
    ("deploy: done", d(), True, False, 'deployment "web" successfully rolled out'),
    (
        "deploy: zero replicas done at once",
        d(replicas=0, status_replicas=0, updated_replicas=0, available_replicas=0),
        True,
        False,
        'deployment "web" successfully rolled out',
    ),
    (
        "deploy: paused and not done",
        d(paused=True, updated_replicas=1),
        False,
        False,
        'deployment "web" is paused: its rollout will not progress until it is resumed',
    ),
    ("deploy: paused but done", d(paused=True), True, False, 'deployment "web" successfully rolled out'),
    # DaemonSet (kubectl DaemonSetStatusViewer)
    (
        "ds: OnDelete",
        ds(update_strategy="OnDelete"),
        True,
        False,
        "rollout status is only available for RollingUpdate strategy type",
    ),
    ("ds: observed", ds(generation=6), False, False, "Waiting for daemon set spec update to be observed..."),
    (
        "ds: updating",
        ds(updated_replicas=3),
        False,
        False,
        'Waiting for daemon set "log-agent" rollout to finish: 3 out of 5 new pods have been updated...',
    ),
    (
        "ds: availability",
        ds(available_replicas=4),
        False,
        False,
        'Waiting for daemon set "log-agent" rollout to finish: 4 of 5 updated pods are available...',
    ),
    ("ds: done", ds(), True, False, 'daemon set "log-agent" successfully rolled out'),
    # StatefulSet (kubectl StatefulSetStatusViewer)
    (
        "sts: OnDelete",
        s(update_strategy="OnDelete"),
        True,
        False,
        "rollout status is only available for RollingUpdate strategy type",
    ),
    (
        "sts: observed 0",
        s(observed_generation=0),
        False,
        False,
        "Waiting for statefulset spec update to be observed...",
    ),
    ("sts: observed behind", s(generation=5), False, False, "Waiting for statefulset spec update to be observed..."),
    ("sts: ready", s(ready_replicas=1), False, False, "Waiting for 2 pods to be ready..."),
    (
        "sts: partition",
        s(partition=1, updated_replicas=1),
        False,
        False,
        "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
    ),
    (
        "sts: rollingUpdate done",
        s(partition=1, updated_replicas=2),
        True,
        False,
        "partitioned roll out complete: 2 new pods have been updated...",
    ),
    (
        "sts: rollingUpdate without partition is done once ready",
        s(partition=None, updated_replicas=0),
        True,
        False,
        "partitioned roll out complete: 0 new pods have been updated...",
    ),
    (
        "sts: revisions differ",
        s(has_rolling_update=False, partition=None, updated_replicas=1, update_revision="db-2"),
        False,
        False,
        "waiting for statefulset rolling update to complete 1 pods at revision db-2...",
    ),
    (
        "sts: revisions equal",
        s(has_rolling_update=False, partition=None),
        True,
        False,
        "statefulset rolling update complete 3 pods at revision db-1...",
    ),
    # CronJob
    ("cron", CRON, True, False, 'cronjob "nightly" has no rollout: the next job uses the new template'),
]


@pytest.mark.parametrize(
    ("case", "workload", "done", "failed", "message"), ROLLOUT_CASES, ids=[c[0] for c in ROLLOUT_CASES]
)
def test_rollout_state(case: str, workload: Workload, done: bool, failed: bool, message: str) -> None:
    state = rollout_state(workload)
    assert (state.done, state.failed, state.message) == (done, failed, message), case


@pytest.mark.parametrize("workload", [c[1] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_status_and_rollout_agree(workload: Workload) -> None:
    status = workload_status(workload)
    state = rollout_state(workload)
    if status == "updating":
        assert rollout_in_progress(workload) or workload.replicas == 0
        # kubectl ignores a StatefulSet's surplus pods while it scales down; kstatus (and we) call that updating.
        sts_scaling_down = workload.kind == "StatefulSet" and workload.status_replicas > workload.replicas
        assert not state.done or sts_scaling_down
    if status == "failed" and workload.kind == "Deployment" and workload.condition("Progressing") == DEADLINE:
        assert state.failed
    if status == "running" and workload.update_strategy == "RollingUpdate":
        assert state.done


def test_fixture_objects() -> None:
    def load(name: str) -> dict[str, Any]:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    web = Workload.from_k8s(load("deployment_web"))
    api = Workload.from_k8s(load("deployments_page1")["items"][0], "Deployment")
    stopped = Workload.from_k8s(load("deployments_page2")["items"][0], "Deployment")
    db = Workload.from_k8s(load("statefulsets")["items"][0], "StatefulSet")
    agent = Workload.from_k8s(load("daemonsets")["items"][0], "DaemonSet")
    report = Workload.from_k8s(load("cronjobs")["items"][0], "CronJob")
    patched = Workload.from_k8s(load("deployment_web_patched"))
    assert [workload_status(w) for w in (web, api, stopped, db, agent, report, patched)] == [
        "running",
        "updating",
        "stopped",
        "running",
        "degraded",
        "running",
        "updating",
    ]
    assert rollout_state(api).message == (
        'Waiting for deployment "api" rollout to finish: 1 out of 2 new replicas have been updated...'
    )
