"""A sync process killed mid-flight: the trail shows what happened, a restart marks it interrupted, and it can be
rolled back or resumed to a state the record describes."""

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

ROOT = Path(__file__).resolve().parents[2]
EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"


@pytest.fixture
def rancher_us() -> Iterator[SimulatedRancher]:
    """Prod, with rollouts slow enough to kill the sync while it waits for them."""
    with SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=3) as server:
        yield server


def cli(ctx: AppContext, *args: str, wait: bool = True) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": ctx.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ",".join(ctx.settings.secret_keys), "RANCHERSYNC_USER": "ops"}
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
