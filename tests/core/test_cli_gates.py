"""`gates …` and `envs update --soak/--min-source-soak` on the command line: admins add and remove, audited."""

from __future__ import annotations

import functools
import json

import pytest

from ranchersync.context import AppContext
from tests.builders import cli_runner

QUERY = 'sum(rate(http_requests_total{namespace="{namespace}",code=~"5.."}[1m]))'


@pytest.fixture
def cli(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    run = functools.partial(cli_runner(ctx, monkeypatch, capsys), "ops-lead")
    for name in ("Stage", "Prod"):
        assert run("envs", "add", "--name", name)[0] == 0
    return run


def test_gates_add_list_remove_are_audited(cli) -> None:
    status, out, err = cli("gates", "add", "--env", "Prod", "--name", "error-rate", "--prometheus",
                           "http://127.0.0.1:9090/", "--query", QUERY, "--success", "result < 0.05", "--interval",
                           "5s", "--count", "4", "--failure-limit", "1", "--json")
    assert status == 0, err
    gate = json.loads(out)
    assert (gate["environment"], gate["prometheusUrl"], gate["intervalSeconds"], gate["count"], gate["failureLimit"],
            gate["inconclusive"], gate["source"]) == ("Prod", "http://127.0.0.1:9090", 5.0, 4, 1, "fail", "prometheus")
    status, out, _ = cli("gates", "add", "--env", "Prod", "--name", "latency", "--rancher-monitoring", "--query",
                         'histogram_quantile(0.95, x{namespace="{namespace}"})', "--success", "result < 0.3",
                         "--inconclusive", "pass", "--json")
    assert status == 0 and json.loads(out)["source"] == "rancher-monitoring"
    status, out, _ = cli("gates", "list", "--env", "Prod")
    assert status == 0 and "error-rate" in out and "rancher-monitoring" in out
    assert cli("gates", "remove", str(gate["id"]))[0] == 0
    status, out, _ = cli("gates", "list", "--json")
    assert [g["name"] for g in json.loads(out)] == ["latency"]
    status, out, _ = cli("audit", "--action", "gate", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert "gate.add" in actions and "gate.remove" in actions


@pytest.mark.parametrize(("args", "complaint"), [
    (("--success", "__import__('os').system('id') == 0"), "not allowed"),
    (("--success", "result <"), "not valid"),
    (("--query", "up{namespace='{namespace}'}"), "double-quoted"),
    (("--prometheus", "http://169.254.169.254/"), "link-local"),
    (("--interval", "soon"), "not a duration"),
    (("--count", "0"), "count"),
    (("--failure-limit", "3"), "failure limit"),
])
def test_bad_gates_are_refused_with_exit_2(cli, args: tuple[str, ...], complaint: str) -> None:
    base = {"--prometheus": "http://127.0.0.1:9090", "--query": QUERY, "--success": "result < 0.05"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in base.items() for part in pair]
    status, _, err = cli("gates", "add", "--env", "Prod", "--name", "g", *flat)
    assert status == 2 and complaint in err, err


def test_envs_update_sets_the_soak_times(cli) -> None:
    status, out, err = cli("envs", "update", "Prod", "--soak", "5m", "--json")
    assert status == 0, err
    assert json.loads(out)["soakSeconds"] == 300
    status, _, err = cli("envs", "update", "Prod", "--soak", "forever")
    assert status == 2 and "not a duration" in err


def test_a_viewer_cannot_add_a_gate(ctx: AppContext, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], cli) -> None:
    assert cli("users", "set-role", "visitor", "viewer")[0] == 0
    viewer = functools.partial(cli_runner(ctx, monkeypatch, capsys), "visitor")
    status, _, err = viewer("gates", "add", "--env", "Prod", "--name", "g", "--prometheus", "http://127.0.0.1:9090",
                            "--query", QUERY, "--success", "result < 1")
    assert status == 3, err


def _add(cli, name: str, success: str, *extra: str) -> dict:
    status, out, err = cli("gates", "add", "--env", "Prod", "--name", name, "--prometheus", "http://127.0.0.1:9090",
                           "--query", QUERY, "--success", success, *extra, "--json")
    assert status == 0, err
    return dict(json.loads(out))


def test_a_service_gate_overrides_the_environments_and_a_gate_can_be_disabled_for_one_service(
        cli, ctx: AppContext) -> None:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    _add(cli, "error-rate", "result < 0.05")
    _add(cli, "latency", "result < 0.3")
    own = _add(cli, "error-rate", "result < 0.2", "--service", "legacy")  # the same name: legacy's own
    assert own["service"] == "legacy"
    status, _, err = cli("gates", "add", "--env", "Prod", "--name", "error-rate", "--prometheus",
                         "http://127.0.0.1:9090", "--query", QUERY, "--success", "result < 1", "--service", "legacy")
    assert status == 2 and "already has a gate named 'error-rate'" in err
    status, _, err = cli("gates", "add", "--env", "Prod", "--name", "x", "--prometheus", "http://127.0.0.1:9090",
                         "--query", QUERY, "--success", "result < 1", "--service", "Not A Name")
    assert status == 2 and "not a service name" in err

    assert cli("gates", "disable", "--env", "Prod", "--name", "latency", "--service", "batch")[0] == 0
    status, _, err = cli("gates", "disable", "--env", "Prod", "--name", "latency", "--service", "batch")
    assert status == 2 and "already disabled" in err
    status, _, err = cli("gates", "disable", "--env", "Prod", "--name", "nope", "--service", "batch")
    assert status == 2 and "no gate named 'nope'" in err

    def effective(service: str) -> list[tuple[str, str]]:
        with ctx.session() as session:
            env = environments.get_environment(session, "Prod")
            return [(g.name, g.success) for g in gates.effective_gates(session, env.id, service)]

    assert effective("frontend") == [("error-rate", "result < 0.05"), ("latency", "result < 0.3")]
    assert effective("legacy") == [("error-rate", "result < 0.2"), ("latency", "result < 0.3")]
    assert effective("batch") == [("error-rate", "result < 0.05")]

    status, out, _ = cli("gates", "list", "--env", "Prod", "--json")
    listed = {(g["name"], g["service"]): g["disabledFor"] for g in json.loads(out)}
    assert listed == {("error-rate", None): [], ("latency", None): ["batch"], ("error-rate", "legacy"): []}
    status, out, _ = cli("gates", "list", "--env", "Prod")
    assert "legacy" in out and "batch" in out

    assert cli("gates", "enable", "--env", "Prod", "--name", "latency", "--service", "batch")[0] == 0
    assert effective("batch") == [("error-rate", "result < 0.05"), ("latency", "result < 0.3")]
    status, out, _ = cli("audit", "--action", "gate", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert "gate.disable" in actions and "gate.enable" in actions


def test_removing_an_environments_gate_forgets_whom_it_was_disabled_for(cli, ctx: AppContext) -> None:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    gate = _add(cli, "latency", "result < 0.3")
    assert cli("gates", "disable", "--env", "Prod", "--name", "latency", "--service", "batch")[0] == 0
    assert cli("gates", "remove", str(gate["id"]))[0] == 0
    _add(cli, "latency", "result < 0.5")  # a new gate of that name runs for batch: nobody disabled it
    with ctx.session() as session:
        env = environments.get_environment(session, "Prod")
        assert [g.success for g in gates.effective_gates(session, env.id, "batch")] == ["result < 0.5"]


def test_gates_update_changes_what_is_given_and_is_audited(cli) -> None:
    gate = _add(cli, "error-rate", "result < 0.05", "--count", "4", "--failure-limit", "1")
    status, out, err = cli("gates", "update", str(gate["id"]), "--success", "result < 0.02", "--rancher-monitoring",
                           "--json")
    assert status == 0, err
    changed = json.loads(out)
    assert (changed["success"], changed["source"], changed["prometheusUrl"], changed["count"],
            changed["failureLimit"], changed["query"]) == ("result < 0.02", "rancher-monitoring", None, 4, 1, QUERY)
    status, _, err = cli("gates", "update", str(gate["id"]), "--failure-limit", "9")
    assert status == 2 and "failure limit" in err
    status, _, err = cli("gates", "update", "4242", "--count", "2")
    assert status == 2 and "no gate #4242" in err
    status, out, _ = cli("audit", "--action", "gate.update", "--json")
    [event] = json.loads(out)
    assert event["before"]["success"] == "result < 0.05" and event["after"]["success"] == "result < 0.02"
