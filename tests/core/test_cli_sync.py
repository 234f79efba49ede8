"""`sync` and `rollback` on the command line: the plan, confirmations, JSON payloads and exit statuses."""

from __future__ import annotations

import functools
import json

import pytest

from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN, CliRun, cli_runner


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """The CLI on the demo catalogue (Dev/Stage on one simulated server, Prod on another)."""
    return functools.partial(cli_runner(demo, monkeypatch, capsys), "ops-lead")


SYNC = ("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance", "all")


def test_dry_run_prints_the_plan_and_changes_nothing(cli, rancher_us: SimulatedRancher) -> None:
    status, out, _ = cli(*SYNC, "--dry-run", "--json")
    assert status == 0
    plan = json.loads(out)
    assert plan["sourceEnvironment"] == "Stage" and plan["targetEnvironment"] == "Prod"
    assert [(i["targetAppInstance"], i["changes"][0]["newImage"]) for i in plan["items"]] == [
        ("shop-east", "registry.example.com:5000/shop/frontend:3.8.1"),
        ("shop-west", "registry.example.com:5000/shop/frontend:3.8.1")]
    status, out, _ = cli(*SYNC, "--dry-run")
    assert "| `frontend` | Deployment | `shop-east` | `web` |" in out
    obj = rancher_us.get_object("c-m-7rb2kx9q", "Deployment", "shop-prod", "frontend")
    assert obj is not None and obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith("3.8.0")


def test_sync_prints_the_operation_with_its_results(cli) -> None:
    status, out, err = cli(*SYNC, "--yes", "--json")
    assert status == 0, err
    operation = json.loads(out)
    assert {k: operation[k] for k in ("sourceEnvironment", "targetEnvironment", "status", "initiatedBy")} == {
        "sourceEnvironment": "Stage", "targetEnvironment": "Prod", "status": "complete", "initiatedBy": "ops-lead"}
    assert operation["serviceIds"] == ["frontend"]
    assert [(r["previousImageTag"], r["newImageTag"], r["status"]) for r in operation["results"]] == [
        ("3.8.0", "3.8.1", "success")] * 2
    assert operation["startTime"].endswith("Z") and operation["endTime"].endswith("Z")
    assert "frontend @ shop-east: success" in err


def test_a_protected_target_refuses_yes_alone(cli, demo: AppContext) -> None:
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    status, _, err = cli(*SYNC, "--yes")
    assert status == 2 and "--confirm-env Prod" in err
    assert "case-sensitive" not in err, "said only when the case is what differs"
    status, _, err = cli(*SYNC, "--yes", "--confirm-env", "prod")
    assert status == 2 and "protected" in err
    assert "the name is case-sensitive: check capitals" in err
    status, _, err = cli(*SYNC, "--confirm-env", "Prod", "--json")
    assert status == 0, err


def test_without_yes_and_without_a_terminal_nothing_happens(cli) -> None:
    status, _, err = cli(*SYNC)
    assert status == 2 and "--yes" in err


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_a_rolled_back_sync_exits_1(cli) -> None:
    status, out, _ = cli(*SYNC, "--yes", "--json", "--timeout", "20")
    assert status == 1
    assert json.loads(out)["status"] == "rolled_back"


def test_rollback_puts_back_the_previous_images(cli, rancher_us: SimulatedRancher) -> None:
    _, out, _ = cli(*SYNC, "--yes", "--json")
    operation_id = json.loads(out)["id"]
    status, out, err = cli("rollback", str(operation_id), "--yes", "--json")
    assert status == 0, err
    rollback = json.loads(out)
    assert rollback["kind"] == "rollback" and rollback["rollbackOf"] == operation_id
    for cluster in ("c-m-7rb2kx9q", "c-7xk2p"):
        obj = rancher_us.get_object(cluster, "Deployment", "shop-prod", "frontend")
        assert obj is not None and obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith("3.8.0")
    status, _, err = cli("rollback", str(operation_id), "--yes")
    assert status == 2 and "already rolled back" in err


def test_unknown_services_and_environments_are_bad_input(cli) -> None:
    status, _, err = cli("sync", "--from", "Stage", "--to", "Prod", "--service", "ghost", "--dry-run")
    assert status == 2 and "Stage has no service 'ghost'" in err
    status, _, err = cli("sync", "--from", "Stage", "--to", "Nowhere", "--all-different", "--dry-run")
    assert status == 2 and "no environment 'Nowhere'" in err
    status, _, err = cli("sync", "--from", "Stage", "--to", "Prod")
    assert status == 2 and "--all-different" in err


def test_history_and_metrics_after_a_sync_and_its_rollback(cli) -> None:
    _, out, _ = cli(*SYNC, "--yes", "--json")
    sync_id = json.loads(out)["id"]
    _, out, _ = cli("rollback", str(sync_id), "--yes", "--json")
    rollback_id = json.loads(out)["id"]
    status, out, _ = cli("history", "--json")
    assert status == 0
    listed = json.loads(out)
    assert [(o["id"], o["kind"], o["status"]) for o in listed] == [
        (rollback_id, "rollback", "complete"), (sync_id, "sync", "rolled_back")]
    _, out, _ = cli("history", "--status", "rolled_back", "--service", "frontend", "--env", "Prod", "--json")
    assert [o["id"] for o in json.loads(out)] == [sync_id]
    status, out, _ = cli("history")
    assert status == 0 and "Stage -> Prod" in out and "ops-lead" in out
    # A person rolled back a sync that had completed: their decision, not a change failure (issue 20).
    assert next(o for o in listed if o["id"] == sync_id)["rollbackReason"] == "decided"
    status, out, _ = cli("metrics", "--json", "--env", "Prod")
    metrics = json.loads(out)
    assert metrics["changeFailureRate"]["syncs"] == 1 and metrics["changeFailureRate"]["failed"] == 0
    status, out, _ = cli("metrics")
    assert status == 0 and "Change failure rate: 0%" in out
    # The two headline figures of the history screen's cards, in text as in JSON: the sync (rolled back) and its
    # rollback (complete) finished, one completed; the sync delivered one change.
    headline = json.loads(cli("metrics", "--json")[1])["headline"]
    assert (headline["successRate"], headline["deployments"]) == (0.5, 1) and headline["deploysPerWeek"] > 0
    assert "Succeeded: 50% (1 of 2 finished operations completed)" in out
    assert f"Deploys per week: {headline['deploysPerWeek']:.1f} (1 deployment(s) into any environment)" in out
    with pytest.raises(SystemExit) as usage:  # argparse refuses the date before anything runs
        cli("history", "--since", "2026-13-01")
    assert usage.value.code == 2


# ---- exit statuses that pipelines rely on (DESIGN.md, "Command line") --------------------------------------------


def test_a_sync_with_nothing_to_change_exits_0(cli) -> None:
    assert cli(*SYNC, "--yes", "--json")[0] == 0
    status, out, err = cli(*SYNC, "--yes", "--json")  # a pipeline's rerun: everything already runs 3.8.1
    assert status == 0, err
    assert "Nothing to change: every selected service already runs the source's images." in err
    assert [i["skipReason"] for i in json.loads(out)["items"]] == ["already equal", "already equal"]


def test_a_sync_whose_services_are_all_skipped_exits_1_with_the_reasons(cli, rancher_us: SimulatedRancher) -> None:
    for cluster in ("c-m-7rb2kx9q", "c-7xk2p"):
        assert rancher_us.delete_object(cluster, "Deployment", "shop-prod", "frontend")
    status, out, err = cli(*SYNC, "--yes")
    assert status == 1
    assert "error: nothing to change: every selected service is skipped (frontend (—): missing in target)" in err
    assert "hint: Each service's reason is listed" in err
    assert "Skipped:" in out  # the plan, printed before


def test_an_unreadable_app_instance_exits_1_not_2(cli, rancher_us: SimulatedRancher) -> None:
    rancher_us.set_cluster_state("c-7xk2p", "unavailable")
    status, _, err = cli(*SYNC, "--dry-run")
    assert status == 1, err
    assert "error: cannot plan while app instances are unreadable (shop-west: " in err
    assert "hint: A plan needs both environments complete" in err


def test_services_list_names_an_unreadable_app_instance_with_its_title_and_hint(
    cli, rancher_us: SimulatedRancher
) -> None:
    rancher_us.set_cluster_state("c-7xk2p", "unavailable")
    status, out, err = cli("services", "list", "--env", "Prod")
    assert status == 1, err
    assert "warning: app instance 'shop-west': The cluster is unavailable: The cluster is unavailable through " in err
    assert "hint: Rancher answers, but this cluster is disconnected or not ready" in err
    assert "shop-east" in out and "shop-west" not in out


def test_a_busy_target_exits_3_and_changes_nothing(cli, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    from ranchersync.sync import records

    with demo.session() as session:
        stage, prod = (environments.get_environment(session, name).id for name in ("Stage", "Prod"))
    holder, _ = records.open_operation(demo, records.Opening(
        kind="sync", mode="full", source=(stage, "Stage"), target=(prod, "Prod"), initiated_by="someone-else",
        request_id="held", planned=[]), actor=Actor("someone-else", "admin", "cli"))
    status, _, err = cli(*SYNC, "--yes")
    assert status == 3, err
    assert f"error: operation #{holder} by someone-else is changing Prod right now" in err
    assert "hint: Nothing was changed. Wait for it to finish, then review the sync again." in err
    obj = rancher_us.get_object("c-m-7rb2kx9q", "Deployment", "shop-prod", "frontend")
    assert obj is not None and obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith("3.8.0")
