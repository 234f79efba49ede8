"""`history show OPERATION`: one operation with each service's and container's result, as text and as the API's
payload (`GET /api/v1/operations/{id}`)."""

from __future__ import annotations

import functools
import json

import pytest

from ranchersync import history
from ranchersync.context import AppContext
from ranchersync.models import Measurement
from tests.builders import CliRun, cli_runner

SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all", "--yes")


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return functools.partial(cli_runner(demo, monkeypatch, capsys), "ops-lead")


def test_show_prints_every_service_and_container_with_old_and_new_images(cli, demo: AppContext) -> None:
    sync_id = json.loads(cli(*SYNC, "--json")[1])["id"]
    rollback_id = json.loads(cli("rollback", str(sync_id), "--yes", "--json")[1])["id"]

    status, out, err = cli("history", "show", str(sync_id), "--json")
    assert status == 0, err
    shown = json.loads(out)
    with demo.session() as session:  # the very payload the API answers for GET /operations/{id}
        assert shown == history.operation_detail_payload(session, sync_id)
    assert (shown["id"], shown["status"], shown["rollbackReason"], shown["rolledBackBy"]) == (
        sync_id, "rolled_back", "decided", [rollback_id])
    assert sorted((r["namespace"], r["cluster"], r["status"]) for r in shown["results"]) == [
        ("shop-prod", "c-7xk2p", "rolled_back"), ("shop-prod", "c-m-7rb2kx9q", "rolled_back")]
    assert {(c["name"], c["previous"].rsplit(":", 1)[1], c["new"].rsplit(":", 1)[1])
            for r in shown["results"] for c in r["containers"]} == {("web", "3.8.0", "3.8.1")}

    status, out, _ = cli("history", "show", str(sync_id))
    assert status == 0
    assert f"Operation #{sync_id}: sync Stage -> Prod, rolled_back" in out
    assert "initiated by ops-lead" in out
    assert f"Rolled back by operation #{rollback_id}" in out and "Rollback reason: decided" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("frontend ")]
    assert len(rows) == 2 and all(row[3] == "web" and row[4].endswith(":3.8.0") and row[5].endswith(":3.8.1")
                                  and row[6] == "rolled_back" for row in rows)
    assert {row[2] for row in rows} == {"us/prod-us-east/shop-prod", "us/prod-us-west/shop-prod"}, "cluster names"

    status, out, _ = cli("history", "show", str(rollback_id))
    assert status == 0 and f"Rollback of operation #{sync_id}" in out


def test_show_lists_the_verification_measurements(cli, demo: AppContext) -> None:
    sync_id = json.loads(cli(*SYNC, "--json")[1])["id"]
    with demo.session() as session:
        result_id = history.get_operation_detail(session, sync_id).results[0].id
        session.add(Measurement(result_id=result_id, gate="error-rate", values=[0.01], verdict="pass",
                                detail="below 0.05"))
    payload = json.loads(cli("history", "show", str(sync_id), "--json")[1])
    measured = [m for r in payload["results"] for m in r["measurements"]]
    assert [(m["gate"], m["values"], m["verdict"]) for m in measured] == [("error-rate", [0.01], "pass")]
    out = cli("history", "show", str(sync_id))[1]
    assert "Verification:" in out and "error-rate pass" in out and "values 0.01 (below 0.05)" in out


def test_an_unknown_operation_is_bad_input(cli) -> None:
    status, out, err = cli("history", "show", "4242")
    assert (status, out) == (2, "")
    assert "no operation #4242" in err
    status, out, err = cli("history", "show", "4242", "--json")
    assert (status, out) == (2, "") and "no operation #4242" in err


def test_history_without_an_action_still_lists(cli) -> None:
    cli(*SYNC)
    status, out, _ = cli("history", "--env", "Prod")
    assert status == 0 and "Stage -> Prod" in out
