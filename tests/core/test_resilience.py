"""Resilience (issue 19): a sync rides through a flaky Rancher and a database that blinks, and whatever the end, the
record and the clusters agree. Loopback only, bounded in count and time."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.models import Site, SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import (
    ProgressEvent,
    SyncOptions,
    apply_plan,
    get_operation,
    new_request_id,
    plan_environments,
    rollback_operation,
)
from ranchersync.sync.records import RecordIncomplete
from tests.core.test_sync import EAST, WEST, image, plan

ACTOR = Actor("tester", "admin", "cli")
FAST = SyncOptions(timeout_seconds=30, poll_seconds=0.2)
CLUSTERS = {"prod-us-east": EAST, "prod-us-west": WEST}


def consistent(server: SimulatedRancher, operation: SyncOperation) -> list[str]:
    """Where the record and the cluster disagree (empty when they agree)."""
    wrong = []
    for result in operation.results:
        if result.status == "skipped" or not result.containers:
            continue
        running = image(server, CLUSTERS[result.cluster_id] if result.cluster_id in CLUSTERS else result.cluster_id,
                        result.service)
        claims_new = result.status == "success"
        expected = result.new_image if claims_new else result.previous_image
        if running != expected:
            wrong.append(f"#{operation.id} {result.service}@{result.cluster_id}: record {result.status} "
                         f"({result.error}), cluster runs {running}")
    return wrong


def faults(server: SimulatedRancher, rate: float, seed: int) -> None:
    server.error_rate = rate
    server._random = random.Random(seed)  # reproducible dice for this test


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3])
def test_syncs_and_rollbacks_under_server_errors_end_consistent(
    demo: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher, rate: float
) -> None:
    completed = 0
    for round_ in range(3):
        faults(rancher, rate, seed=round_)
        faults(rancher_us, rate, seed=100 + round_)
        the_plan = plan(demo, "frontend", "checkout")  # the reads ride through the 500s too
        operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST)
        with demo.session() as session:
            operation = get_operation(session, operation_id)
            assert consistent(rancher_us, operation) == []
            completed += operation.status == "complete"
        back = rollback_operation(demo, operation_id, actor=ACTOR, request_id=new_request_id(), options=FAST,
                                  confirm_env="Prod")
        with demo.session() as session:
            rollback = get_operation(session, back)
            assert rollback.status == "complete", rollback.error
            assert consistent(rancher_us, rollback) == []
    assert completed >= 2, f"{completed} of 3 syncs completed at {rate:.0%} errors"


def hold_sqlite_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the SQLite file's write lock for `seconds` (a backup tool, a stuck writer)."""
    script = ("import sqlite3, sys, time\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN EXCLUSIVE')\n"
              "print('locked', flush=True)\n"
              "time.sleep(float(sys.argv[2]))\n"
              "c.execute('COMMIT')\n")
    process = subprocess.Popen([sys.executable, "-c", script, str(path), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    process.stdout.close()
    return process


def database_file(ctx: AppContext) -> Path:
    database = ctx.engine.url.database
    assert database
    return Path(database)


def lock_on_first_patch(ctx: AppContext, seconds: float) -> tuple[list[subprocess.Popen[str]], object]:
    started: list[subprocess.Popen[str]] = []
    once = threading.Lock()

    def listener(event: ProgressEvent) -> None:
        if event.stage == "applied" and once.acquire(blocking=False):
            started.append(hold_sqlite_lock(database_file(ctx), seconds))

    return started, listener


def test_a_locked_database_mid_sync_is_ridden_through(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    started, listener = lock_on_first_patch(demo, 12)  # longer than SQLite's own 10 s busy timeout
    operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST,
                              progress=listener)  # type: ignore[arg-type]
    assert started and started[0].wait(30) == 0
    with demo.session() as session:
        operation = get_operation(session, operation_id)
        assert operation.status == "complete", operation.error
        assert consistent(rancher_us, operation) == [] and all(r.status == "success" for r in operation.results)


def test_past_the_outage_budget_the_message_names_what_changed(
    demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "settings", replace(demo.settings, db_outage_seconds=1.0))
    the_plan = plan(demo, "frontend")
    started, listener = lock_on_first_patch(demo, 14)
    with pytest.raises(RecordIncomplete) as info:
        apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST,
                   progress=listener)  # type: ignore[arg-type]
    error = info.value
    text = f"{error} {error.hint}"
    assert "nothing was changed" not in text.lower()
    assert "Deployment frontend changed on site us" in text and "frontend 3.8.0" not in text
    assert f"resume {error.operation_id}" in error.hint and f"rollback {error.operation_id}" in error.hint
    changed = [c for c in error.changed if "changed on" in c]
    clusters = {cluster for cluster in (EAST, WEST) if image(rancher_us, cluster, "frontend").endswith("3.8.1")}
    assert len(changed) == len(clusters) >= 1  # every change on Rancher is named, and only those
    assert started[0].wait(30) == 0
    with demo.session() as session:
        # One quick try marks it `interrupted`; the file was still locked, so it is left to the next start to mark.
        assert get_operation(session, error.operation_id).status in ("running", "interrupted")


def restart_on_first_rollout_check(server: SimulatedRancher, down_seconds: float) -> tuple[list[threading.Timer],
                                                                                          object]:
    """Stop the server (open connections cut) as the sync starts waiting for its rollouts; start it again on the same
    port, with the same state (a Rancher restarted over its cluster), `down_seconds` later."""
    timers: list[threading.Timer] = []
    once = threading.Lock()

    def listener(event: ProgressEvent) -> None:
        if event.stage == "verifying" and once.acquire(blocking=False):
            server.stop()
            timers.append(threading.Timer(down_seconds, server.start))
            timers[0].start()

    return timers, listener


def test_a_simulator_restarted_mid_rollout_is_ridden_through(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    port = rancher_us.port
    the_plan = plan(demo, "frontend", "checkout")
    timers, listener = restart_on_first_rollout_check(rancher_us, 3)
    operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST,
                              progress=listener)  # type: ignore[arg-type]
    assert timers and rancher_us.port == port  # it was down, and came back where the site points
    timers[0].join()
    with demo.session() as session:
        operation = get_operation(session, operation_id)
        assert operation.status == "complete", operation.error
        assert consistent(rancher_us, operation) == [] and all(r.status == "success" for r in operation.results)


def simulate(port: int, token: str) -> subprocess.Popen[str]:
    """`simulate` in its own process: the US demo world, loaded afresh at each start."""
    process = subprocess.Popen([sys.executable, "-m", "ranchersync", "simulate", "--world", "rancher-us", "--port",
                                str(port), "--token", token, "--rollout-seconds", "1"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]  # URL, token, then "# serving …": it is up
    assert lines[0].startswith("RANCHER_URL=") and lines[2].startswith("# serving"), lines
    process.stdout.close()
    return process


def test_a_simulator_killed_mid_rollout_and_reloaded_ends_consistent(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    """The worst case: the server dies (SIGKILL) and comes back from its world file, the patch forgotten. The sync
    cannot complete, but what it records is what the cluster runs."""
    port = free_port()
    processes = [simulate(port, rancher_us.token)]
    with demo.session() as session:
        session.execute(update(Site).where(Site.name == "us").values(url=f"http://127.0.0.1:{port}"))
    try:
        the_plan = plan(demo, "frontend")
        once = threading.Lock()
        verifying: list[int] = []

        def listener(event: ProgressEvent) -> None:
            # Mid-rollout: once every PATCH landed (each rollout is watched from the moment its own PATCH lands).
            if event.stage == "verifying":
                verifying.append(event.result_id)
            if len(verifying) == len(the_plan.to_apply) and once.acquire(blocking=False):
                processes[0].kill()
                processes[0].wait()
                processes.append(simulate(port, rancher_us.token))

        operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(),
                                  options=replace(FAST, timeout_seconds=8), progress=listener)
        assert len(processes) == 2, "the simulator was never killed"
        with demo.session() as session:
            operation = get_operation(session, operation_id)
            results = [(r.status, r.error) for r in operation.results]
            assert operation.status == "rolled_back", (operation.status, operation.error, results)
            assert all("no longer runs the images it was changed to" in (r.error or "") for r in operation.results)
            running = {reading_image(port, rancher_us.token, cluster) for cluster in (EAST, WEST)}
            claims = {r.new_image if r.status == "success" else r.previous_image for r in operation.results}
            assert running == claims, (results, running)
    finally:
        for process in processes:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reading_image(port: int, token: str, cluster: str) -> str:
    """What the restarted server's workload runs, read over its Kubernetes API."""
    response = requests.get(f"http://127.0.0.1:{port}/k8s/clusters/{cluster}/apis/apps/v1/namespaces/shop-prod/"
                         "deployments/frontend", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return str(response.json()["spec"]["template"]["spec"]["containers"][0]["image"])


STAGE = "c-m-4hs9wz2t"
BATCH = ("frontend", "cart", "catalog", "checkout")  # Deployments on the Stage cluster and on both Prod clusters


def release_to_stage(server: SimulatedRancher, version: int) -> None:
    """A new version of every batch service in Stage (its primary container), written straight into the cluster."""
    for name in BATCH:
        obj = server.get_object(STAGE, "Deployment", "shop-stage", name)
        assert obj is not None
        container = obj["spec"]["template"]["spec"]["containers"][0]
        container["image"] = f"{container['image'].rpartition(':')[0]}:{version}.0.0"
        server.set_object(STAGE, obj)


def test_batch_syncs_under_20_percent_server_errors(
    demo: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher
) -> None:
    """Ten syncs of four services to two clusters over both servers (plan reads on each, patches and rollout checks
    on the second), every fifth request answered 500 by each: nine complete, and all ten tell the truth."""
    faults(rancher, 0.2, seed=19)
    faults(rancher_us, 0.2, seed=1019)
    outcomes = []
    for version in range(10, 20):
        release_to_stage(rancher, version)
        with demo.session() as session:
            the_plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=list(BATCH),
                                         default_target="all")
        assert len(the_plan.to_apply) == 2 * len(BATCH) - 1  # the demo's catalog is paused on one Prod cluster
        operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST)
        with demo.session() as session:
            operation = get_operation(session, operation_id)
            assert consistent(rancher_us, operation) == []
            outcomes.append((operation.status, operation.error))
    assert sum(status == "complete" for status, _ in outcomes) >= 9, outcomes
