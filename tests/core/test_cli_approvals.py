"""Four-eyes on the command line across two users (two RANCHERSYNC_USER values): `envs update --approvals`, a sync
that becomes a request (exit 3 with its id), `approvals list/approve/reject`, and `sync --wait-approval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ranchersync.approvals import requests as approvals
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher
from tests.builders import CliRun, cli_runner

ROOT = Path(__file__).resolve().parents[2]
SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all")
EAST = "c-m-7rb2kx9q"


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """The CLI on the demo catalogue, run as the user named first: cli("alice", "sync", …)."""
    return cli_runner(demo, monkeypatch, capsys)


def prod_image(server: SimulatedRancher) -> str:
    obj = server.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def test_a_sync_needing_approval_exits_3_and_another_user_approves_it(cli, rancher_us: SimulatedRancher) -> None:
    status, out, err = cli("alice", "envs", "update", "Prod", "--approvals", "1", "--json")
    assert status == 0, err
    assert json.loads(out)["requiredApprovals"] == 1

    status, _, err = cli("alice", *SYNC, "--yes")
    assert status == 3
    assert "request #1 waits" in err and "approvals approve 1" in err
    assert prod_image(rancher_us).endswith("3.8.0")

    status, out, _ = cli("bob", "approvals", "list", "--pending", "--json")
    [listed] = json.loads(out)
    assert {k: listed[k] for k in ("id", "status", "requestedBy", "required", "approvals", "operationId")} == {
        "id": 1, "status": "pending", "requestedBy": "alice", "required": 1, "approvals": [], "operationId": None}
    assert listed["services"] == ["Deployment/frontend"] and listed["expiresAt"].endswith("Z")
    assert listed["targets"][0]["containers"][0]["digests"][0].startswith("sha256:")

    status, _, err = cli("alice", "approvals", "approve", "1")
    assert status == 3 and "requester can never approve" in err

    status, out, err = cli("bob", "approvals", "approve", "1", "--comment", "ship it")
    assert status == 0, err
    assert "Request #1 approved and run as operation #1" in out and "Operation #1: complete." in out
    assert "frontend @ shop-east: registry.example.com:5000/shop/frontend:3.8.0 -> " in err  # the bound diff
    assert prod_image(rancher_us).split("@sha256:")[0].endswith("3.8.1")  # pinned to the approved digest

    status, out, _ = cli("carol", "history", "--json")
    [operation] = json.loads(out)
    assert operation["initiatedBy"] == "alice" and operation["approvedBy"] == ["bob"]
    status, out, _ = cli("carol", "approvals", "list", "--json")
    assert json.loads(out)[0]["approvals"][0]["by"] == "bob" and json.loads(out)[0]["status"] == "executed"


def test_reject_needs_a_comment(cli, demo: AppContext) -> None:
    cli("alice", "envs", "update", "Prod", "--approvals", "1")
    assert cli("alice", *SYNC, "--yes")[0] == 3
    status, _, err = cli("bob", "approvals", "reject", "1")
    assert status == 2 and "--comment" in err
    status, out, err = cli("bob", "approvals", "reject", "1", "--comment", "freeze week", "--json")
    assert status == 0, err
    assert json.loads(out)["status"] == "rejected" and json.loads(out)["statusReason"] == "rejected by bob: freeze week"
    status, out, _ = cli("bob", "approvals", "list", "--pending")
    assert "(none)" in out


@pytest.mark.parametrize("value", ["6", "-1"])
def test_approvals_outside_zero_to_five_are_refused(cli, value: str) -> None:
    status, _, err = cli("alice", "envs", "update", "Prod", "--approvals", value)
    assert status == 2 and "0 (none) to 5" in err


def test_wait_approval_waits_for_another_users_decision(cli, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    cli("admin", "envs", "update", "Prod", "--approvals", "1")
    env = {**os.environ, "RANCHERSYNC_USER": "alice", "PYTHONPATH": str(ROOT)}
    waiting = subprocess.Popen(
        [sys.executable, "-m", "ranchersync", *SYNC, "--yes", "--json", "--wait-approval", "--wait-timeout", "60",
         "--timeout", "20"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the request exists once the waiting sync has planned it
            with demo.session() as session:
                if approvals.list_requests(session, pending=True):
                    break
            assert waiting.poll() is None, waiting.communicate()
            assert time.monotonic() < deadline, "the waiting sync never created its request"
            time.sleep(0.2)
        status, _, err = cli("bob", "approvals", "approve", "1")
        assert status == 0, err
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, err
    assert "request #1 waits" in err and "Waiting for the decision on request #1" in err
    operation = json.loads(out)
    assert operation["status"] == "complete" and operation["initiatedBy"] == "alice"
    assert operation["approvedBy"] == ["bob"]
    assert prod_image(rancher_us).split("@sha256:")[0].endswith("3.8.1")  # pinned to the approved digest


def test_wait_approval_reports_a_rejection_with_exit_3(cli, demo: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("admin", "envs", "update", "Prod", "--approvals", "1")

    def reject_while_waiting(ctx: AppContext, request_id: int, **kwargs: object):
        from ranchersync.access.identity import Actor

        approvals.decide(ctx, Actor("bob", "releaser", "cli"), request_id, False, "not today")
        return original(ctx, request_id, timeout=1, poll=0.05)

    original = approvals.wait_for_decision
    monkeypatch.setattr(approvals, "wait_for_decision", reject_while_waiting)
    status, _, err = cli("alice", *SYNC, "--yes", "--wait-approval")
    assert status == 3
    assert "request #1 is rejected: rejected by bob: not today" in err
