"""Resilience (issue 19): a sync rides through a flaky Rancher and a database that blinks, and whatever the end, the
record and the clusters agree. Loopback only, bounded in count and time."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import (
    ProgressEvent,
    SyncOptions,
    apply_plan,
    get_operation,
    new_request_id,
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
