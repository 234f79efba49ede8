"""The remote CLI (RANCHERSYNC_SERVER + RANCHERSYNC_API_TOKEN) against a real API server, beside the local CLI on the
same database: the same standard output, the same errors and the same exit statuses (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.routing import Mount

from ranchersync.access import audit
from ranchersync.api.app import create_app
from ranchersync.api.limits import Limit
from ranchersync.catalogue import environments
from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.people import tokens
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.api.conftest import _serve
from tests.builders import ADMIN
from tests.conftest import make_demo


@dataclass
class World:
    server: str  # what RANCHERSYNC_SERVER holds: the server's address, without /api/v1
    ctx: AppContext
    secret: str
    approver: str  # a second token (releaser): four eyes hold between tokens too
    eu: SimulatedRancher  # Stage's cluster
    us: SimulatedRancher  # Prod's clusters


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real API server (uvicorn on a free 127.0.0.1 port) on the demo catalogue, and an admin token."""
    root: Path = tmp_path_factory.mktemp("remote")
    ctx = AppContext(Settings(database_url=f"sqlite:///{root / 'ranchersync.db'}",
                              secret_keys=(Fernet.generate_key().decode(),), key_file=root / "secret.key",
                              user="tester"))
    ctx.upgrade_database()
    with SimulatedRancher(load_demo_world("rancher-eu"), rollout_seconds=1) as eu, \
            SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=1) as us:
        make_demo(ctx, eu, us)
        with ctx.session() as session:
            secret = tokens.create_token(session, ADMIN, name="pipeline", role="admin", expires_days=1).secret
            approver = tokens.create_token(session, ADMIN, name="approver", role="releaser", expires_days=1).secret
        app = Starlette(routes=[Mount("/api/v1", app=create_app(ctx, limit=Limit(per_minute=60_000,
                                                                                     burst=10_000)))])
        server: uvicorn.Server
        server, thread, url = _serve(app)
        try:
            yield World(url.removesuffix("/api/v1"), ctx, secret, approver, eu, us)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            ctx.engine.dispose()


@pytest.fixture
def both(world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """run(remote, *argv) → (status, out, err): the CLI on the database (remote=False) or through the API."""
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", world.ctx.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ",".join(world.ctx.settings.secret_keys))
    monkeypatch.setenv("RANCHERSYNC_USER", "ops-lead")

    def run(remote: bool, *argv: str, token: str | None = None) -> tuple[int, str, str]:
        if remote:
            monkeypatch.setenv("RANCHERSYNC_SERVER", world.server)
            monkeypatch.setenv("RANCHERSYNC_API_TOKEN", token or world.secret)
        else:
            monkeypatch.delenv("RANCHERSYNC_SERVER", raising=False)
            monkeypatch.delenv("RANCHERSYNC_API_TOKEN", raising=False)
        status = main(list(argv))
        out, err = capsys.readouterr()
        assert world.secret not in out + err and world.approver not in out + err
        return status, out, err

    return run


SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all")
READS = [
    ("envs", "list"),
    ("services", "list", "--env", "Prod"),
    ("services", "compare", "--env", "Dev", "--env", "Stage", "--env", "Prod"),
    ("services", "compare", "--env", "Stage", "--env", "Prod", "--only-differences", "--tag-only"),
    ("history",),
    ("history", "--env", "Prod", "--status", "rolled_back"),
    ("approvals", "list"),
    (*SYNC, "--dry-run"),
    ("sync", "--from", "Dev", "--to", "Stage", "--all-different", "--dry-run"),
]


def same(both, *argv: str) -> tuple[int, str]:  # noqa: ANN001
    """Run a command locally and remotely, text and JSON: the outputs and statuses must be equal (in JSON, but for
    `observedAt`: when each call read Rancher)."""
    for extra in ((), ("--json",)):
        local = both(False, *argv, *extra)
        remote = both(True, *argv, *extra)
        if extra:
            assert (remote[0], _unobserved(json.loads(remote[1]))) == (local[0], _unobserved(json.loads(local[1]))), (
                argv, extra, remote[2])
        else:
            assert remote[:2] == local[:2], (argv, extra, remote[2])
    return local[0], local[1]


def _unobserved(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unobserved(v) for k, v in value.items() if k != "observedAt"}
    if isinstance(value, list):
        return [_unobserved(v) for v in value]
    return value


@pytest.mark.parametrize("argv", READS, ids=[" ".join(a) for a in READS])
def test_reads_print_the_same_through_the_api(both, argv: tuple[str, ...]) -> None:  # noqa: ANN001
    status, _ = same(both, *argv)
    assert status == 0


@pytest.mark.parametrize("argv", [
    ("services", "list", "--env", "Nowhere"),
    ("history", "show", "4242"),
    ("terminate", "4242"),
    ("approvals", "approve", "4242"),
    ("sync", "--from", "Stage", "--to", "Nowhere", "--all-different", "--dry-run"),
    ("sync", "--from", "Stage", "--to", "Prod", "--service", "ghost", "--dry-run"),
    ("sync", "--from", "Stage", "--to", "Prod"),
], ids=lambda a: " ".join(a))
def test_bad_input_fails_the_same_way(both, argv: tuple[str, ...]) -> None:  # noqa: ANN001
    local, remote = both(False, *argv), both(True, *argv)
    assert local[0] == remote[0] == 2
    assert remote[1:] == local[1:]  # the same message and hint, on standard error


def test_a_sync_and_its_rollback_through_the_api_read_back_as_the_local_history(both, world: World) -> None:  # noqa: ANN001
    status, out, err = both(True, *SYNC, "--yes", "--json")
    assert status == 0, err
    synced = json.loads(out)
    assert synced["status"] == "complete" and synced["initiatedBy"] == "token:pipeline"
    same(both, "history", "show", str(synced["id"]))
    assert json.loads(both(False, "history", "show", str(synced["id"]), "--json")[1]) == synced

    status, out, _ = both(True, *SYNC, "--yes")  # a rerun has nothing to do: exit 0, as locally
    assert status == 0 and "### Sync Stage → Prod" in out

    status, out, err = both(True, "rollback", str(synced["id"]), "--yes", "--json")
    assert status == 0, err
    rollback = json.loads(out)
    assert (rollback["kind"], rollback["rollbackOf"], rollback["status"]) == ("rollback", synced["id"], "complete")
    same(both, "history", "show", str(rollback["id"]))
    same(both, "history")
    local, remote = both(False, "rollback", str(synced["id"]), "--yes"), both(True, "rollback", str(synced["id"]),
                                                                               "--yes")
    assert local[0] == remote[0] == 2 and "already rolled back" in remote[2]


def test_a_protected_target_and_an_approval_request_end_as_locally(both, world: World) -> None:  # noqa: ANN001
    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    local, remote = both(False, *SYNC, "--yes"), both(True, *SYNC, "--yes")
    assert local[0] == remote[0] == 2 and local[1] == remote[1]
    assert local[2].endswith(remote[2]) and remote[2] == "error: Prod is protected: add --confirm-env Prod\n"

    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", required_approvals=1, actor=ADMIN)
    status, out, err = both(True, *SYNC, "--confirm-env", "Prod", "--json")
    assert (status, out) == (3, "")
    assert "request #" in err and "approvals approve" in err
    same(both, "approvals", "list", "--pending")
    request_id = json.loads(both(False, "approvals", "list", "--pending", "--json")[1])[0]["id"]

    status, _, err = both(True, "approvals", "approve", str(request_id))  # a token never approves its own request
    assert status == 3, err
    status, out, err = both(True, "approvals", "approve", str(request_id), "--comment", "diff checked",
                            token=world.approver)
    assert status == 0, err
    assert f"Request #{request_id} approved and run as operation #" in out and "Operation #" in out
    decided = json.loads(both(False, "approvals", "list", "--json")[1])[0]
    assert decided["status"] == "executed" and decided["approvals"][0]["by"] == "token:approver"
    same(both, "history", "show", str(decided["operationId"]))
    with world.ctx.session() as session:
        environments.update_environment(session, "Prod", protected=False, required_approvals=0, actor=ADMIN)


def test_commands_the_api_does_not_cover_say_so(both) -> None:  # noqa: ANN001
    for argv in (("sites", "list"), ("metrics",), ("history", "--by", "ops-lead"),
                 (*SYNC, "--yes", "--at", "2099-01-01 10:00", "--no-wait")):
        status, out, err = both(True, *argv)
        assert (status, out) == (2, "") and "not available through RANCHERSYNC_SERVER" in err, argv


def test_a_wrong_or_revoked_token_is_refused_without_being_shown(both, world: World) -> None:  # noqa: ANN001
    wrong = "rsm_0123456789abcdef_" + "x" * 43
    status, out, err = both(True, "envs", "list", token=wrong)
    assert (status, out) == (3, "") and "the API token is not valid" in err and "tokens create" in err
    assert wrong not in err
    with world.ctx.session() as session:
        revoked = tokens.create_token(session, ADMIN, name="old-ci", role="viewer").secret
        tokens.revoke_token(session, ADMIN, "old-ci")
    status, out, err = both(True, "history", token=revoked)
    assert (status, out) == (3, "") and "'old-ci' was revoked" in err and revoked not in err


def test_wait_approval_waits_for_another_tokens_decision_then_reports_the_sync(world: World) -> None:
    with world.ctx.session() as session:
        environments.update_environment(session, "Stage", required_approvals=1, actor=ADMIN)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RANCHERSYNC_SERVER": world.server,
           "RANCHERSYNC_API_TOKEN": world.secret}  # no database, no key: what a pipeline's runner holds
    waiting = subprocess.Popen([sys.executable, "-m", "ranchersync", "sync", "--from", "Dev", "--to", "Stage",
                                "--service", "checkout", "--yes", "--wait-approval", "--wait-timeout", "120",
                                "--json"], cwd=Path(__file__).resolve().parents[2], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        auth = {"Authorization": f"Bearer {world.approver}"}
        deadline, pending = time.monotonic() + 60, []
        while not pending and time.monotonic() < deadline:
            pending = requests.get(f"{world.server}/api/v1/approvals", params={"pending": "true"}, headers=auth,
                                   timeout=30).json()
            time.sleep(0.2)
        assert pending, "the request was not made"
        decided = requests.post(f"{world.server}/api/v1/approvals/{pending[0]['id']}/approve", headers=auth,
                                json={"comment": "ok"}, timeout=120)
        assert decided.status_code == 200, decided.text
        out, err = waiting.communicate(timeout=120)
    finally:
        waiting.kill()
        with world.ctx.session() as session:
            environments.update_environment(session, "Stage", required_approvals=0, actor=ADMIN)
    assert waiting.returncode == 0, err
    operation = json.loads(out)
    assert (operation["status"], operation["initiatedBy"], operation["approvedBy"]) == (
        "complete", "token:pipeline", ["token:approver"])
    assert world.secret not in out + err


def test_pinning_no_rollback_and_a_policy_override_go_through_the_api_as_locally(both, world: World) -> None:  # noqa: ANN001
    same(both, *SYNC, "--pin-digests", "--dry-run", "--json")
    same(both, *SYNC, "--no-pin-digests", "--dry-run")
    checkout = ("sync", "--from", "Stage", "--to", "Prod", "--service", "checkout", "--target-instance", "all",
                "--yes")  # paused in Stage below: the source-health policy refuses it
    stage = world.eu.get_object("c-m-4hs9wz2t", "Deployment", "shop-stage", "checkout")
    assert stage is not None
    world.eu.set_object("c-m-4hs9wz2t", {**stage, "spec": {**stage["spec"], "paused": True}})
    for cluster in ("c-m-7rb2kx9q", "c-7xk2p"):  # Prod runs 4.0.2 again, whatever the tests before did
        obj = world.us.get_object(cluster, "Deployment", "shop-prod", "checkout")
        assert obj is not None
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/checkout:4.0.2"
        world.us.set_object(cluster, obj)
    local, remote = both(False, *checkout), both(True, *checkout)
    assert local[0] == remote[0] == 3, (local, remote)
    assert "checkout in Stage" in remote[2] and "is paused" in remote[2]
    assert both(True, *checkout, "--override-policy")[0] == 2, "an override needs its reason, as locally"
    status, out, err = both(True, *checkout, "--override-policy", "--reason", "hotfix INC-9", "--no-rollback",
                            "--json")
    assert status == 0, err
    assert json.loads(out)["status"] == "complete"
    with world.ctx.session() as session:
        [event] = audit.list_events(session, audit.AuditFilter(action="policy.override")).items
    assert (event.actor, event.channel, event.detail) == ("token:pipeline", "api", "hotfix INC-9")
