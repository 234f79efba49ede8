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
