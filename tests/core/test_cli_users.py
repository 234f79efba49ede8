"""`users list|set-role` and the CLI's actor: RANCHERSYNC_USER with its assigned role (else admin, local mode), so
a user assigned `viewer` cannot sync from the command line either (exit 3), and every event says channel=cli."""

from __future__ import annotations

import json

import pytest

from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.simulator import SimulatedRancher
from tests.builders import CliRun, cli_runner

SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all", "--yes")


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """Run the CLI on the demo catalogue as `user` (RANCHERSYNC_USER)."""
    return cli_runner(demo, monkeypatch, capsys)


def test_a_cli_user_assigned_viewer_cannot_sync(cli, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    status, out, err = cli("lead@example.com", "users", "set-role", "vic@example.com", "viewer")
    assert status == 0, err
    assert "vic@example.com is now viewer" in out
    status, _, err = cli("vic@example.com", *SYNC)
    assert status == 3 and "vic@example.com is a viewer" in err
    with demo.session() as session:
        assert session.query(SyncOperation).count() == 0
    assert cli("vic@example.com", "envs", "add", "--name", "QA")[0] == 3  # nor change the catalogue
    assert cli("vic@example.com", "users", "set-role", "lead@example.com", "viewer")[0] == 3
    status, _, err = cli("vic@example.com", "services", "list", "--env", "Prod")  # reading stays open
    assert status == 0, err


def test_users_list_and_clear_and_the_audit_names_the_cli(cli, demo: AppContext) -> None:
    assert cli("lead@example.com", "users", "set-role", "Rita@Example.com", "releaser")[0] == 0
    status, out, _ = cli("lead@example.com", "users", "list", "--json")
    assert status == 0
    assert [(p["email"], p["role"], p["source"], p["assignedBy"]) for p in json.loads(out)] == [
        ("rita@example.com", "releaser", "assignment", "lead@example.com")]
    status, out, _ = cli("lead@example.com", "users", "set-role", "rita@example.com", "none")
    assert status == 0 and "assignment is cleared" in out
    status, out, _ = cli("lead@example.com", "audit", "--action", "user", "--json")
    events = json.loads(out)
    assert [(e["action"], e["actor"], e["role"], e["channel"]) for e in events] == [
        ("user.role_set", "lead@example.com", "admin", "cli"), ("user.role_set", "lead@example.com", "admin", "cli")]
    status, _, err = cli("lead@example.com", "users", "set-role", "rita@example.com", "boss")
    assert status == 2 and "unknown role 'boss'" in err
    status, _, err = cli("lead@example.com", "users", "set-role", "lead@example.com", "viewer")
    assert status == 3 and "own role" in err


def _cli_events(ctx: AppContext, action: str) -> list[tuple[str, str, str | None]]:
    from sqlalchemy import select

    from ranchersync.models import AuditEvent
    with ctx.session() as session:
        rows = session.execute(select(AuditEvent.actor, AuditEvent.channel, AuditEvent.client_address)
                               .where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_every_cli_event_names_the_os_user_beside_the_claimed_name(cli, demo: AppContext) -> None:
    import getpass

    assert cli("rita@example.com", "envs", "add", "--name", "QA")[0] == 0
    assert _cli_events(demo, "environment.add")[-1] == ("rita@example.com", "cli", f"os:{getpass.getuser()}")


def test_demo_and_demo_stop_need_an_admin_and_are_audited_as_who_ran_them(cli, demo: AppContext) -> None:
    import getpass

    assert cli("lead@example.com", "users", "set-role", "vic@example.com", "viewer")[0] == 0
    status, _, err = cli("vic@example.com", "demo")
    assert status == 3 and "vic@example.com is a viewer" in err, "refused before any server starts"
    assert cli("vic@example.com", "demo", "--stop")[0] == 3
    status, out, err = cli("lead@example.com", "demo", "--stop")
    assert status == 0, err
    assert _cli_events(demo, "demo.stopped") == [("lead@example.com", "cli", f"os:{getpass.getuser()}")]
