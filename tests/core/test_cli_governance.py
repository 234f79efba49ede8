"""`freeze …` and `audit …` on the command line, and a sync meeting a freeze: refused with exit 3 naming the window
and when it reopens, overridden with a reason (audited), rollbacks still allowed."""

from __future__ import annotations

import csv
import functools
import io
import json

import pytest
from sqlalchemy import text

from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher
from tests.builders import CliRun, cli_runner


def _runner(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return functools.partial(cli_runner(ctx, monkeypatch, capsys), "ops-lead")


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The CLI on an empty catalogue with Stage and Prod."""
    run = _runner(ctx, monkeypatch, capsys)
    for name in ("Stage", "Prod"):
        assert run("envs", "add", "--name", name)[0] == 0
    return run


@pytest.fixture
def demo_cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The CLI on the demo catalogue (Prod on a simulated Rancher)."""
    return _runner(demo, monkeypatch, capsys)


SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all", "--yes")


def test_freeze_add_list_remove(cli) -> None:
    status, out, err = cli("freeze", "add", "--env", "Prod", "--weekly", "Fri 16:00-Mon 08:00", "--tz",
                           "Europe/Berlin", "--reason", "weekend", "--json")
    assert status == 0, err
    window = json.loads(out)
    assert (window["environment"], window["kind"], window["schedule"], window["createdBy"]) == (
        "Prod", "weekly", "weekly Fri 16:00-Mon 08:00 (Europe/Berlin)", "ops-lead")
    status, out, _ = cli("freeze", "list", "--env", "Prod")
    assert status == 0 and "Fri 16:00-Mon 08:00" in out and "weekend" in out
    assert cli("freeze", "remove", str(window["id"]))[0] == 0
    status, out, _ = cli("freeze", "list", "--json")
    assert json.loads(out) == []


@pytest.mark.parametrize(("args", "complaint"), [
    (("--weekly", "Fri 16:00-Mon 08:00", "--from", "2030-01-01T00:00", "--to", "2030-01-02T00:00"), "not both"),
    (("--from", "2030-01-01T00:00"), "both --from and --to"),
    (("--weekly", "Fri 16:00"), "Fri 16:00-Mon 08:00"),
    (("--weekly", "Fri 16:00-Mon 08:00", "--tz", "Mars/Olympus"), "unknown time zone"),
])
def test_freeze_add_refuses_bad_input_with_exit_2(cli, args: tuple[str, ...], complaint: str) -> None:
    status, _, err = cli("freeze", "add", "--env", "Prod", "--reason", "x", *args)
    assert status == 2 and complaint in err
    assert json.loads(cli("audit", "--action", "freeze", "--json")[1]) == []


def test_stop_all_and_lift_all_are_audited(cli) -> None:
    status, out, _ = cli("freeze", "stop-all", "--reason", "INC-42 failover")
    assert status == 0 and "every environment is frozen" in out
    status, out, _ = cli("freeze", "list")
    assert "every environment" in out and "until lifted" in out
    assert cli("freeze", "stop-all", "--reason", "again")[0] == 2
    assert cli("freeze", "lift-all", "--reason", "resolved")[0] == 0
    events = json.loads(cli("audit", "--action", "freeze", "--json")[1])
    assert [(e["action"], e["actor"], e["channel"]) for e in events] == [
        ("freeze.lift_all", "ops-lead", "cli"), ("freeze.stop_all", "ops-lead", "cli")]


def test_audit_filters_pages_and_csv_defuses_formulas(cli) -> None:
    cli("freeze", "add", "--env", "Prod", "--weekly", "Fri 16:00-Mon 08:00", "--reason", "=HYPERLINK(\"x\")")
    cli("freeze", "add", "--env", "Stage", "--weekly", "Sat 00:00-Sun 00:00", "--reason", "quiet")
    cli("freeze", "stop-all", "--reason", "incident")
    cli("freeze", "lift-all", "--reason", "=SUM(A1:A9)")
    status, out, _ = cli("audit", "--object", "Prod", "--action", "freeze", "--json")
    assert status == 0 and [e["objectName"] for e in json.loads(out)] == ["Prod"]
    status, out, err = cli("audit", "--action", "freeze.add", "--limit", "1")
    assert "Stage" in out and "Prod" not in out and "page 1 of 2" in err
    assert json.loads(cli("audit", "--actor", "nobody", "--json")[1]) == []
    assert json.loads(cli("audit", "--until", "2000-01-01", "--json")[1]) == []
    status, out, _ = cli("audit", "--action", "freeze", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["action"] for r in rows] == ["freeze.lift_all", "freeze.stop_all", "freeze.add", "freeze.add"]
    assert rows[0]["detail"] == "'=SUM(A1:A9)"  # a spreadsheet shows it, never runs it
    assert json.loads(rows[3]["after"])["reason"] == "=HYPERLINK(\"x\")"
    status, _, err = cli("audit", "--since", "yesterday")
    assert status == 2 and "not a date" in err


def test_audit_verify_exits_1_at_the_first_broken_link(cli, ctx: AppContext) -> None:
    for reason in ("one", "two", "three"):
        cli("freeze", "add", "--env", "Prod", "--weekly", "Fri 16:00-Mon 08:00", "--reason", reason)
    status, out, _ = cli("audit", "verify")
    assert status == 0 and "intact: 5 event(s)" in out  # the two environments added, then the three windows
    with ctx.session() as session:
        session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
    status, out, _ = cli("audit", "verify")
    assert status == 1 and "broken at event #2" in out and "changed after it was written" in out
    status, out, _ = cli("audit", "verify", "--json")
    assert status == 1 and json.loads(out) == {
        "ok": False, "checked": 1, "brokenAt": 2, "problem": "event #2 was changed after it was written",
        "restores": [], "checkpoint": None, "checkpoints": []}  # no restore in this log; no checkpoint of a broken one


def test_a_sync_into_a_frozen_environment_exits_3_naming_the_window(demo_cli, rancher_us: SimulatedRancher) -> None:
    status, out, _ = demo_cli("freeze", "add", "--env", "Prod", "--from", "2020-01-01T00:00", "--to",
                              "2099-01-01T00:00", "--tz", "Europe/Berlin", "--reason", "release freeze", "--json")
    window = json.loads(out)["id"]
    status, _, err = demo_cli(*SYNC)
    assert status == 3
    assert f"Prod is frozen by freeze window #{window}" in err and "release freeze" in err
    assert "reopens Thu 01 Jan 2099 00:00 CET (23:00 UTC)" in err
    obj = rancher_us.get_object("c-m-7rb2kx9q", "Deployment", "shop-prod", "frontend")
    assert obj is not None and obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith("3.8.0")
    assert json.loads(demo_cli("history", "--json")[1]) == []  # refused before any operation was recorded


def test_an_admin_overrides_the_freeze_with_a_reason_and_rollback_stays_allowed(demo_cli) -> None:
    demo_cli("freeze", "stop-all", "--reason", "INC-42")
    status, _, err = demo_cli(*SYNC, "--override-freeze")
    assert status == 2 and "--reason" in err
    status, out, err = demo_cli(*SYNC, "--override-freeze", "--reason", "hotfix for INC-42", "--json")
    assert status == 0, err
    operation = json.loads(out)["id"]
    overrides = json.loads(demo_cli("audit", "--action", "freeze.override", "--json")[1])
    assert [(e["actor"], e["objectName"], e["detail"]) for e in overrides] == [("ops-lead", "Prod",
                                                                                 "hotfix for INC-42")]
    status, out, err = demo_cli("rollback", str(operation), "--yes", "--json")
    assert status == 0, err
    assert json.loads(out)["status"] == "complete"
