"""Operations as server-side jobs: starting returns once the operation is recorded, the worker runs it to its end,
and a terminate request — from this process or another — stops the wait and rolls back (or keeps) what changed,
recorded as such."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.history import FailureRate, compute_metrics
from ranchersync.jobs import Started, start_rollback, start_sync, terminate_operation, wait_for_operation
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import PermissionDenied, ValidationError
from ranchersync.models import SyncOperation, SyncResult
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SourceUnhealthy, SyncOptions, get_operation, new_request_id
from tests.core.test_sync import EAST, WEST, image, plan

OPERATOR = Actor("olga@example.com", "operator", "dashboard")
NEVER_READY = r"frontend:3\.8\.1"  # the simulated rollout of this image never becomes ready
SLOW = SyncOptions(timeout_seconds=60, poll_seconds=0.1)


def start(ctx: AppContext, *services: str, options: SyncOptions = SLOW) -> Started:
    started = start_sync(ctx, OPERATOR, plan(ctx, *services), request_id=new_request_id(), options=options)
    assert isinstance(started, Started)
    return started


def wait_until_verifying(ctx: AppContext, operation_id: int) -> None:
    """Until every workload of the operation was patched (its rollouts are being waited for)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with ctx.session() as session:
            applied = session.scalars(select(SyncResult.applied).where(SyncResult.operation_id == operation_id,
                                                                        SyncResult.status == "pending")).all()
        if applied and all(applied):
            return
        time.sleep(0.05)
    raise AssertionError("the operation never reached its rollouts")


def operation(ctx: AppContext, operation_id: int) -> SyncOperation:
    with ctx.session() as session:
        return get_operation(session, operation_id)


def audit_actions(ctx: AppContext, operation_id: int) -> list[str]:
    with ctx.session() as session:
        events = audit.list_events(session, audit.AuditFilter()).items
        return sorted(e.action for e in events if e.object_type == "operation" and e.object_id == str(operation_id))


def test_starting_returns_while_it_runs_and_the_worker_finishes_it(demo: AppContext,
                                                                   rancher_us: SimulatedRancher) -> None:
    started = start(demo, "frontend")
    assert operation(demo, started.operation_id).status == "running"  # the rollouts take a second
    assert started.wait(timeout=30) == started.operation_id
    finished = operation(demo, started.operation_id)
    assert finished.status == "complete" and finished.rollback_reason is None
    assert image(rancher_us, EAST, "frontend").endswith("frontend:3.8.1")
    assert audit_actions(demo, started.operation_id) == ["sync.finished", "sync.start"]


def test_a_refusal_is_raised_by_the_start_itself(demo: AppContext) -> None:
    with pytest.raises(SourceUnhealthy):
        start(demo, "checkout")


@pytest.mark.parametrize("rancher_us", [NEVER_READY], indirect=True)
def test_terminate_mid_rollout_rolls_back_and_is_recorded(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    started = start(demo, "frontend")
    wait_until_verifying(demo, started.operation_id)
    assert image(rancher_us, EAST, "frontend").endswith("frontend:3.8.1")
    terminate_operation(demo, OPERATOR, started.operation_id)
    started.wait(timeout=30)
    done = operation(demo, started.operation_id)
    assert (done.status, done.rollback_reason) == ("rolled_back", "decided")
    assert done.error == "terminated by olga@example.com: every change was rolled back"
    assert {r.status for r in done.results} == {"rolled_back"}
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
    assert audit_actions(demo, started.operation_id) == ["sync.finished", "sync.start", "sync.terminate"]


@pytest.mark.parametrize("rancher_us", [NEVER_READY], indirect=True)
def test_terminate_keep_stops_waiting_and_leaves_the_change(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    started = start(demo, "frontend")
    wait_until_verifying(demo, started.operation_id)
    terminate_operation(demo, OPERATOR, started.operation_id, keep=True)
    started.wait(timeout=30)
    done = operation(demo, started.operation_id)
    assert (done.status, done.rollback_reason) == ("complete", None)
    assert done.error == "terminated by olga@example.com: kept what changed without waiting for its rollouts"
    assert image(rancher_us, EAST, "frontend").endswith("frontend:3.8.1")


# A slower failure: a new process takes seconds to start.
@pytest.mark.parametrize("rancher_us", [{"fail_images": NEVER_READY, "rollout_seconds": 30}], indirect=True)
def test_terminate_from_another_process(demo: AppContext, settings: Settings, rancher_us: SimulatedRancher) -> None:
    started = start(demo, "frontend")
    wait_until_verifying(demo, started.operation_id)
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ",".join(settings.secret_keys), "RANCHERSYNC_USER": "ops-lead"}
    done = subprocess.run([sys.executable, "-m", "ranchersync", "terminate", str(started.operation_id)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Operation #{started.operation_id}: rolled_back." in done.stdout
    assert started.done.done()
    assert operation(demo, started.operation_id).terminated_by == "ops-lead"
    assert image(rancher_us, WEST, "frontend").endswith("frontend:3.8.0")


def test_only_a_running_operation_is_terminated_and_only_by_who_may_sync(demo: AppContext) -> None:
    started = start(demo, "frontend")
    with pytest.raises(PermissionDenied):
        terminate_operation(demo, Actor("vic@example.com", "viewer", "dashboard"), started.operation_id)
    started.wait(timeout=30)
    with pytest.raises(ValidationError, match="is complete: only a running operation can be terminated"):
        terminate_operation(demo, OPERATOR, started.operation_id)
    assert wait_for_operation(demo, started.operation_id, timeout=0) == "complete"


@pytest.mark.parametrize("failed", [None, True])
def test_a_rollback_records_whether_it_was_a_decision_or_a_failure(demo: AppContext, failed: bool | None) -> None:
    synced = start(demo, "frontend")
    synced.wait(timeout=30)
    rollback = start_rollback(demo, OPERATOR, synced.operation_id, request_id=new_request_id(), options=SLOW,
                              failed=failed)
    rollback.wait(timeout=30)
    assert operation(demo, rollback.operation_id).status == "complete"
    undone = operation(demo, synced.operation_id)
    assert (undone.status, undone.rollback_reason) == ("rolled_back", "failed" if failed else "decided")
    # Only a failure counts: in the change failure rate, and so in the Display's "Failed".
    with demo.session() as session:
        assert compute_metrics(session).change_failure_rate == FailureRate(None, None, 1, 1 if failed else 0)


@pytest.mark.parametrize("rancher_us", [NEVER_READY], indirect=True)
def test_the_automatic_rollback_after_a_failure_records_a_failure(demo: AppContext,
                                                                  rancher_us: SimulatedRancher) -> None:
    started = start(demo, "frontend", options=SyncOptions(timeout_seconds=1, poll_seconds=0.1))
    started.wait(timeout=30)
    done = operation(demo, started.operation_id)
    assert (done.status, done.rollback_reason) == ("rolled_back", "failed")
    with demo.session() as session:
        assert compute_metrics(session).change_failure_rate == FailureRate(None, None, 1, 1)
