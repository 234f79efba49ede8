"""A sync process killed mid-flight: the trail shows what happened, a restart marks it interrupted, and it can be
rolled back or resumed to a state the record describes — at every step boundary (plan, each patch, each rollout
check, each recorded result), the kill placed there by the test-only fault hook (`RANCHERSYNC_FAULT_AT`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ranchersync.context import AppContext
from ranchersync.models import SyncOperation, SyncResult
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.core.test_resilience import consistent

ROOT = Path(__file__).resolve().parents[2]
EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"


@pytest.fixture
def rancher_us() -> Iterator[SimulatedRancher]:
    """Prod, with rollouts slow enough to kill the sync while it waits for them."""
    with SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=3) as server:
        yield server


def cli(ctx: AppContext, *args: str, wait: bool = True, fault_at: str = ""
        ) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": ctx.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ",".join(ctx.settings.secret_keys), "RANCHERSYNC_USER": "ops",
           "RANCHERSYNC_FAULT_AT": fault_at}
    command = [sys.executable, "-m", "ranchersync", *args]
    if wait:
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def image(server: SimulatedRancher, cluster: str) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def kill_after_first_patch(demo: AppContext) -> int:
    process = cli(demo, "sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance",
                  "all", "--yes", wait=False)
    assert isinstance(process, subprocess.Popen)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with demo.session() as session:
            applied = session.scalars(select(SyncResult).where(SyncResult.applied.is_(True))).all()
        if len(applied) == 2:
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"the sync did not patch both targets within 60 s: {process.communicate()}")
    process.send_signal(signal.SIGKILL)
    process.communicate()
    with demo.session() as session:
        operation = session.scalars(select(SyncOperation)).one()
        assert operation.status == "running"  # nobody got the chance to close it
        assert {r.status for r in operation.results} == {"pending"}
        return operation.id


def test_a_killed_sync_is_found_interrupted_and_rolled_back(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    operation_id = kill_after_first_patch(demo)
    assert image(rancher_us, EAST).endswith("frontend:3.8.1")  # the patches landed before the kill

    listed = cli(demo, "envs", "list")
    assert isinstance(listed, subprocess.CompletedProcess)
    assert f"operation #{operation_id} was interrupted" in listed.stderr
    with demo.session() as session:
        assert session.get_one(SyncOperation, operation_id).status == "interrupted"

    rolled = cli(demo, "rollback", str(operation_id), "--yes", "--json")
    assert isinstance(rolled, subprocess.CompletedProcess)
    assert rolled.returncode == 0, rolled.stderr
    payload = json.loads(rolled.stdout)
    assert payload["status"] == "complete" and payload["rollbackOf"] == operation_id
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster).endswith("frontend:3.8.0")
    with demo.session() as session:
        assert session.get_one(SyncOperation, operation_id).status == "rolled_back"


def test_a_killed_sync_can_be_resumed(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    operation_id = kill_after_first_patch(demo)
    resumed = cli(demo, "resume", str(operation_id), "--json")
    assert isinstance(resumed, subprocess.CompletedProcess)
    assert resumed.returncode == 0, resumed.stderr
    payload = json.loads(resumed.stdout)
    assert payload["status"] == "complete"
    assert [r["status"] for r in payload["results"]] == ["success", "success"]
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster).endswith("frontend:3.8.1")


# Every boundary of a two-target sync: the operation opened (nothing sent), after the first and the second PATCH,
# as each rollout check starts, after the first and the second result is recorded (the last one: just before the
# operation's own status is written).
BOUNDARIES = ["plan", "patch:1", "patch:2", "verify:1", "verify:2", "record:1", "record:2"]


def killed_at(demo: AppContext, step: str) -> int:
    """Run the CLI sync of frontend to both Prod clusters with the fault hook set: it dies there, SIGKILLed."""
    run = cli(demo, "sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all",
              "--yes", fault_at=step)
    assert isinstance(run, subprocess.CompletedProcess)
    assert run.returncode == -signal.SIGKILL, (run.returncode, run.stdout, run.stderr)
    with demo.session() as session:
        operation = session.scalars(select(SyncOperation)).one()
        assert operation.status == "running"  # nobody got the chance to close it
        return operation.id


@pytest.mark.parametrize("recovery", ["rollback", "resume"])
@pytest.mark.parametrize("step", BOUNDARIES)
def test_a_sync_killed_at_each_step_boundary_recovers_consistent(
    demo: AppContext, rancher_us: SimulatedRancher, step: str, recovery: str
) -> None:
    operation_id = killed_at(demo, step)
    args = ("rollback", str(operation_id), "--yes") if recovery == "rollback" else ("resume", str(operation_id))
    finished = cli(demo, *args, "--json")
    assert isinstance(finished, subprocess.CompletedProcess)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["status"] == "complete"
    version = "3.8.0" if recovery == "rollback" else "3.8.1"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster).endswith(f"frontend:{version}")
    with demo.session() as session:
        operations = session.scalars(select(SyncOperation).order_by(SyncOperation.id)).all()
        assert operations[0].status == ("rolled_back" if recovery == "rollback" else "complete")
        for operation in operations:  # the killed sync and its rollback both tell what the clusters run
            assert operation.status not in ("running", "interrupted")
            assert consistent(rancher_us, operation) == []


def test_a_misspelt_fault_step_stops_at_once_rather_than_never_firing() -> None:
    """A crash test whose hook silently never fires would pass without testing anything."""
    run = subprocess.run([sys.executable, "-c", "import ranchersync.kernel.faults"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False, env={**os.environ, "RANCHERSYNC_FAULT_AT": "pach:2"})
    assert run.returncode != 0 and "RANCHERSYNC_FAULT_AT='pach:2': expected one of plan, patch" in run.stderr
