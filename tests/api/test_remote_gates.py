"""`gates …` through the API (RANCHERSYNC_SERVER + RANCHERSYNC_API_TOKEN) beside the local CLI on one database: the
same standard output, text and JSON, the same errors and the same exit statuses (issue 23)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ranchersync.people import tokens
from tests.api import test_remote_cli
from tests.builders import ADMIN

# The remote CLI's world (a server on the demo catalogue, its own for this module) and its local-beside-remote runner.
world = test_remote_cli.world
both = test_remote_cli.both
same = test_remote_cli.same

QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'
ADD = ("gates", "add", "--env", "Prod", "--prometheus", "http://127.0.0.1:9090/", "--query", QUERY, "--success",
       "result < 0.05", "--interval", "5s", "--count", "4", "--failure-limit", "1")


def _ids(text: str) -> str:
    """Text with gate ids made equal (a gate added locally and its remote twin differ only in their ids)."""
    return re.sub(r"#\d+", "#N", text)


def _unid(value: Any) -> Any:
    return {k: v for k, v in value.items() if k != "id"} if isinstance(value, dict) else value


def _gate_ids(both, env: str = "Prod") -> dict[str, int]:  # noqa: ANN001
    status, out, _ = both(False, "gates", "list", "--env", env, "--json")
    assert status == 0
    return {f"{g['name']}/{g['service'] or ''}": g["id"] for g in json.loads(out)}


def _remove_all(both) -> None:  # noqa: ANN001
    for env in ("Dev", "Stage", "Prod"):
        for gate_id in _gate_ids(both, env).values():
            assert both(False, "gates", "remove", str(gate_id))[0] == 0


@pytest.fixture(autouse=True)
def clean(both) -> Any:  # noqa: ANN001
    yield
    _remove_all(both)


@pytest.mark.parametrize("extra", [(), ("--json",)], ids=["text", "json"])
@pytest.mark.parametrize("variant", [
    ("--name", "error-rate"),
    ("--name", "legacy-errors", "--service", "legacy"),
    ("--name", "latency", "--inconclusive", "pass"),
], ids=["every-service", "one-service", "inconclusive-pass"])
def test_add_and_remove_print_the_same_through_the_api(both, variant: tuple[str, ...],  # noqa: ANN001
                                                       extra: tuple[str, ...]) -> None:
    local = both(False, *ADD, *variant, *extra)
    assert local[0] == 0, local[2]
    [local_id] = _gate_ids(both).values()
    removed_local = both(False, "gates", "remove", str(local_id), *extra)
    remote = both(True, *ADD, *variant, *extra)
    assert remote[0] == 0, remote[2]
    [remote_id] = _gate_ids(both).values()
    removed_remote = both(True, "gates", "remove", str(remote_id), *extra)
    if extra:
        assert _unid(json.loads(remote[1])) == _unid(json.loads(local[1]))
        assert _unid(json.loads(removed_remote[1])) == _unid(json.loads(removed_local[1]))
    else:
        assert _ids(remote[1]) == _ids(local[1]) and "Added gate #" in remote[1]
        assert _ids(removed_remote[1]) == _ids(removed_local[1]) and "Removed gate #" in removed_remote[1]
    assert removed_remote[0] == removed_local[0] == 0


def test_a_rancher_monitoring_gate_is_added_the_same_way(both) -> None:  # noqa: ANN001
    argv = ("gates", "add", "--env", "Stage", "--name", "latency", "--rancher-monitoring", "--query", QUERY,
            "--success", "result < 0.3", "--json")
    local = json.loads(both(False, *argv)[1])
    _remove_all(both)
    remote = json.loads(both(True, *argv)[1])
    assert _unid(remote) == _unid(local) and remote["source"] == "rancher-monitoring"


def test_list_update_disable_enable_print_the_same(both) -> None:  # noqa: ANN001
    assert both(False, *ADD, "--name", "error-rate")[0] == 0
    assert both(False, *ADD, "--name", "error-rate", "--service", "legacy")[0] == 0
    assert both(False, *ADD, "--env", "Stage", "--name", "latency")[0] == 0
    gate_id = _gate_ids(both)["error-rate/"]
    for argv in (("gates", "list"), ("gates", "list", "--env", "Prod"), ("gates", "list", "--env", "Dev")):
        assert same(both, *argv)[0] == 0

    update = ("gates", "update", str(gate_id), "--success", "result < 0.1", "--count", "5", "--interval", "1m",
              "--rancher-monitoring")
    assert same(both, *update)[0] == 0
    assert same(both, "gates", "update", str(gate_id), "--prometheus", "http://127.0.0.1:9091")[0] == 0
    status, out, _ = both(False, "gates", "list", "--env", "Prod", "--json")
    shared = next(g for g in json.loads(out) if g["id"] == gate_id)
    assert (shared["success"], shared["count"], shared["intervalSeconds"], shared["prometheusUrl"]) == \
        ("result < 0.1", 5, 60.0, "http://127.0.0.1:9091")

    for extra in ((), ("--json",)):
        off = ("gates", "disable", "--env", "Prod", "--name", "error-rate", "--service", "batch", *extra)
        on = ("gates", "enable", *off[2:])
        local_off = both(False, *off)
        listed = both(False, "gates", "list", "--env", "Prod")[1]
        local_on = both(False, *on)
        remote_off = both(True, *off)
        assert both(True, "gates", "list", "--env", "Prod")[1] == listed and "batch" in listed
        remote_on = both(True, *on)
        assert remote_off[:2] == local_off[:2] and remote_on[:2] == local_on[:2] and local_off[0] == local_on[0] == 0
    by_id = ("gates", "disable", "--env", str(_env_id(both, "Prod")), "--name", "error-rate", "--service", "cart")
    local = both(False, *by_id)
    assert both(False, "gates", "enable", "--env", "Prod", "--name", "error-rate", "--service", "cart")[0] == 0
    assert both(True, *by_id)[:2] == local[:2] and "no longer runs for cart" in local[1], "an environment's id too"


def _env_id(both, name: str) -> int:  # noqa: ANN001
    status, out, _ = both(False, "envs", "list", "--json")
    return int(next(e["id"] for e in json.loads(out) if e["name"] == name))


@pytest.mark.parametrize("argv", [
    ("gates", "list", "--env", "Nowhere"),
    ("gates", "remove", "4242"),
    ("gates", "update", "4242", "--success", "result < 1"),
    ("gates", "disable", "--env", "Prod", "--name", "ghost", "--service", "batch"),
    ("gates", "enable", "--env", "Prod", "--name", "ghost", "--service", "batch"),
    ("gates", "enable", "--env", "Prod", "--name", "error-rate", "--service", "batch"),
    ("gates", "disable", "--env", "Prod", "--name", "error-rate", "--service", "Not A Name"),
    ("gates", "disable", "--env", "Prod", "--name", "error-rate", "--service", ""),
    ("gates", "disable", "--env", "Nowhere", "--name", "error-rate", "--service", "batch"),
    (*ADD, "--name", "g", "--success", "__import__('os').system('id')"),
    (*ADD, "--name", "g", "--query", "up{namespace='{namespace}'}"),
    (*ADD, "--name", "g", "--interval", "soon"),
    (*ADD, "--name", "g", "--count", "2", "--failure-limit", "2"),
    (*ADD, "--name", "soak"),
    ("gates", "add", "--env", "Prod", "--name", "g", "--prometheus", "http://169.254.169.254", "--query", QUERY,
     "--success", "result < 1"),
    ("gates", "add", "--env", "Nowhere", "--name", "g", "--rancher-monitoring", "--query", QUERY, "--success",
     "result < 1"),
], ids=lambda a: " ".join(a[:2] + a[-2:]))
def test_bad_input_fails_the_same_way(both, argv: tuple[str, ...]) -> None:  # noqa: ANN001
    assert both(False, *ADD, "--name", "error-rate")[0] == 0
    local, remote = both(False, *argv), both(True, *argv)
    assert local[0] == remote[0] == 2, (local, remote)
    assert remote[1:] == local[1:]  # the same message and hint, on standard error


def test_a_viewer_is_refused_the_same_way(both, world, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    assert both(False, "users", "set-role", "visitor", "viewer")[0] == 0
    with world.ctx.session() as session:
        secret = tokens.create_token(session, ADMIN, name="gates-viewer", role="viewer", expires_days=1).secret
    assert both(False, *ADD, "--name", "error-rate")[0] == 0
    gate_id = _gate_ids(both)["error-rate/"]
    for argv in ((*ADD, "--name", "other"), ("gates", "remove", str(gate_id)),
                 ("gates", "update", str(gate_id), "--success", "result < 1"),
                 ("gates", "disable", "--env", "Prod", "--name", "error-rate", "--service", "batch")):
        monkeypatch.setenv("RANCHERSYNC_USER", "visitor")
        local = both(False, *argv)
        remote = both(True, *argv, token=secret)
        assert local[0] == remote[0] == 3, (argv, local, remote)
        assert local[1] == remote[1] == ""
        assert "only an admin or higher may change sites" in local[2] and "only an admin" in remote[2]
    monkeypatch.setenv("RANCHERSYNC_USER", "ops-lead")
    assert same(both, "gates", "list")[0] == 0
