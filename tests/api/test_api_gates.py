"""The HTTP API's verification gates (issue 23): add, list, change, disable and enable for one service, remove and
try a gate, with the CLI's checks and roles, audited on the api channel; a token limited to some environments acts
only on their gates; a Prometheus host the policy refuses is refused by its name, before any lookup or connection;
"try" asks a real Prometheus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ranchersync.models import AuditEvent
from ranchersync.security import host_policy
from tests.api.conftest import ApiWorld, serve_world
from tests.core.prometheus_fixtures import Exporter, set_ratio

pytest_plugins = ["tests.core.prometheus_fixtures"]

QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'
LOCAL = "http://127.0.0.1:9090"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """A server whose host policy allows loopback only, as the Schemathesis world's."""
    with serve_world(tmp_path_factory.mktemp("gates"), allowed_hosts=("127.0.0.1", "localhost")) as found:
        yield found


@pytest.fixture(autouse=True)
def no_gates(world: ApiWorld) -> Iterator[None]:
    """Each test starts without gates (removed as an admin would)."""
    yield
    for gate in world.call("GET", "/gates").json():
        assert world.call("DELETE", f"/gates/{gate['id']}").status_code == 200


def add(world: ApiWorld, token: str = "admin", **fields: Any) -> tuple[int, dict[str, Any]]:
    body = {"environment": "Prod", "name": "error-rate", "prometheusUrl": LOCAL, "query": QUERY,
            "success": "result < 0.05", **fields}
    answer = world.call("POST", "/gates", token, json={k: v for k, v in body.items() if v is not None})
    return answer.status_code, answer.json()


def events(world: ApiWorld, after: int) -> list[AuditEvent]:
    with world.ctx.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)))
        session.expunge_all()
    return found


def last_event_id(world: ApiWorld) -> int:
    with world.ctx.session() as session:
        return max(session.scalars(select(AuditEvent.id)).all() or [0])


def test_add_list_change_disable_enable_remove_audited_as_the_token(world: ApiWorld) -> None:
    start = last_event_id(world)
    status, gate = add(world, interval="5s", count=4, failureLimit=1)
    assert status == 201, gate
    assert (gate["environment"], gate["prometheusUrl"], gate["intervalSeconds"], gate["count"], gate["failureLimit"],
            gate["inconclusive"], gate["source"], gate["service"]) == \
        ("Prod", LOCAL, 5.0, 4, 1, "fail", "prometheus", None)
    assert world.call("GET", "/gates", params={"env": "Prod"}).json() == [gate]
    assert world.call("GET", "/gates", params={"env": "Stage"}).json() == []

    changed = world.call("PATCH", f"/gates/{gate['id']}", json={"success": "result < 0.1", "rancherMonitoring": True})
    assert changed.status_code == 200, changed.text
    assert {**gate, "success": "result < 0.1", "source": "rancher-monitoring", "prometheusUrl": None} == changed.json()

    off = world.call("POST", f"/gates/{gate['id']}/disable", json={"service": "batch"})
    assert off.json() == {"environment": "Prod", "name": "error-rate", "service": "batch", "disabled": True}
    assert world.call("GET", "/gates").json()[0]["disabledFor"] == ["batch"]
    again = world.call("POST", f"/gates/{gate['id']}/disable", json={"service": "batch"})
    assert again.status_code == 422 and "already disabled" in again.json()["detail"]
    on = world.call("POST", f"/gates/{gate['id']}/enable", json={"service": "batch"})
    assert on.status_code == 200 and on.json()["disabled"] is False
    assert world.call("GET", "/gates").json()[0]["disabledFor"] == []

    removed = world.call("DELETE", f"/gates/{gate['id']}")
    assert removed.json() == {"id": gate["id"], "name": "error-rate", "removed": True}
    assert world.call("GET", "/gates").json() == []

    found = events(world, start)
    assert [e.action for e in found] == ["gate.add", "gate.update", "gate.disable", "gate.enable", "gate.remove"]
    assert {(e.actor, e.channel, e.client_address) for e in found} == {("token:admin", "api", "127.0.0.1")}
    assert not any(secret in json.dumps([(e.before, e.after) for e in found]) for secret in world.secrets.values())


@pytest.mark.parametrize(("fields", "complaint"), [
    ({"success": "__import__('os').system('id') == 0"}, "not allowed"),
    ({"success": "result <"}, "not valid"),
    ({"query": "up{namespace='{namespace}'}"}, "double-quoted"),
    ({"query": 'up{namespace="{namespace}"}\x00'}, "NUL"),
    ({"prometheusUrl": "http://169.254.169.254/"}, "metadata"),
    ({"prometheusUrl": "file:///etc/passwd"}, "not a Prometheus URL"),
    ({"interval": "soon"}, "not a duration"),
    ({"interval": "2h"}, "at most 3600"),
    ({"count": 0}, "count"),
    ({"count": 3, "failureLimit": 3}, "failure limit"),
    ({"prometheusUrl": None}, "give prometheusUrl"),
    ({"rancherMonitoring": True}, "not both"),
    ({"service": "Not A Service"}, "not a service name"),
    ({"name": "soak"}, "not a gate name"),
])
def test_a_bad_gate_is_refused_with_422_and_nothing_is_stored(world: ApiWorld, fields: dict[str, Any],
                                                               complaint: str) -> None:
    status, problem = add(world, **fields)
    assert status == 422, problem
    assert complaint in problem["detail"], problem
    assert problem["exitCode"] == 2
    assert world.call("GET", "/gates").json() == []


def test_a_prometheus_host_outside_the_policy_is_refused_before_any_lookup(world: ApiWorld,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        raise OSError("no lookups in this test")

    monkeypatch.setattr(host_policy, "system_resolve", resolve)
    for url in ("http://prometheus.example.com:9090", "https://10.0.0.7", "http://0x7f000001"):
        status, problem = add(world, prometheusUrl=url)
        assert status == 422 and "RANCHERSYNC_ALLOWED_HOSTS" in problem["detail"], (url, problem)
    status, gate = add(world)
    assert status == 201
    answer = world.call("PATCH", f"/gates/{gate['id']}", json={"prometheusUrl": "http://prometheus.example.com"})
    assert answer.status_code == 422 and "RANCHERSYNC_ALLOWED_HOSTS" in answer.json()["detail"]
    assert world.call("GET", "/gates").json() == [gate], "the gate did not change"
    assert asked == [], "refused by its name: no DNS lookup, no connection"


def test_only_admins_change_gates(world: ApiWorld) -> None:
    for token in ("viewer", "releaser"):
        status, problem = add(world, token)
        assert status == 403 and problem["exitCode"] == 3, problem
    status, gate = add(world)
    for method, path, body in (("PATCH", "", {"success": "result < 1"}), ("DELETE", "", None),
                               ("POST", "/disable", {"service": "batch"}), ("POST", "/enable", {"service": "batch"})):
        answer = world.call(method, f"/gates/{gate['id']}{path}", "releaser", json=body)
        assert answer.status_code == 403, (method, path, answer.text)
    assert world.call("GET", "/gates", "viewer").json() == [gate], "everyone reads"
    assert world.call("PATCH", "/gates/424242", "viewer", json={}).status_code == 403, "the role before the gate"


def test_a_token_limited_to_stage_acts_on_stages_gates_only(world: ApiWorld) -> None:
    status, prod = add(world)
    status, problem = add(world, "ci-stage")
    assert status == 403 and "limited to Stage" in problem["detail"], problem
    status, stage = add(world, "ci-stage", environment="Stage")
    assert status == 201 and stage["environment"] == "Stage"
    assert len(world.call("GET", "/gates", "ci-stage").json()) == 2, "reading stays open"
    for method, path, body in (("PATCH", "", {"success": "result < 1"}), ("POST", "/disable", {"service": "batch"}),
                               ("POST", "/try", {"service": "frontend"}), ("DELETE", "", None)):
        answer = world.call(method, f"/gates/{prod['id']}{path}", "ci-stage", json=body)
        assert answer.status_code == 403 and "limited to Stage" in answer.json()["detail"], (method, path)
        answer = world.call(method, f"/gates/{stage['id']}{path}", "ci-stage", json=body)
        assert answer.status_code == 200, (method, path, answer.text)
    assert [g["environment"] for g in world.call("GET", "/gates").json()] == ["Prod"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PATCH", "/gates/424242", {"success": "result < 1"}),
    ("DELETE", "/gates/424242", None),
    ("POST", "/gates/424242/disable", {"service": "batch"}),
    ("POST", "/gates/424242/try", {"service": "frontend"}),
    ("DELETE", "/gates/not-a-number", None),
    ("GET", "/gates?env=Nowhere", None),
])
def test_unknown_gates_and_environments_are_404(world: ApiWorld, method: str, path: str, body: Any) -> None:
    answer = world.call(method, path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_services_own_gate_is_not_disabled_and_an_exemption_needs_a_service(world: ApiWorld) -> None:
    _, own = add(world, service="legacy")
    answer = world.call("POST", f"/gates/{own['id']}/disable", json={"service": "legacy"})
    assert answer.status_code == 422 and "own gate" in answer.json()["detail"]
    _, shared = add(world)
    answer = world.call("POST", f"/gates/{shared['id']}/disable", json={"service": " "})
    assert answer.status_code == 422 and "Name the service" in answer.json()["detail"]
    answer = world.call("POST", f"/gates/{shared['id']}/enable", json={"service": "batch"})
    assert answer.status_code == 404 and "not disabled for batch" in answer.json()["detail"]


@pytest.mark.parametrize(("ratio", "verdict"), [(0.0, "pass"), (0.2, "fail")])
def test_try_runs_the_query_once_against_a_real_prometheus(world: ApiWorld, exporter: Exporter, prometheus: str,
                                                            ratio: float, verdict: str) -> None:
    set_ratio(exporter, prometheus, ratio)
    _, gate = add(world, prometheusUrl=prometheus)
    start = last_event_id(world)
    answer = world.call("POST", f"/gates/{gate['id']}/try", "releaser",
                        json={"service": "frontend", "instance": "shop-east"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["verdict"], found["values"], found["instance"], found["service"], found["environment"]) == \
        (verdict, [ratio], "shop-east", "frontend", "Prod")
    assert found["query"] == 'max(app_error_ratio{namespace="shop-prod",service="frontend"})'
    assert found["where"] == prometheus.removeprefix("http://")
    assert events(world, start) == [], "a trial is a read: nothing recorded"


def test_try_names_why_it_cannot_choose_and_what_gave_no_number(world: ApiWorld, prometheus: str) -> None:
    _, gate = add(world, prometheusUrl=prometheus)
    answer = world.call("POST", f"/gates/{gate['id']}/try", json={"service": "frontend"})
    assert answer.status_code == 422 and "shop-east, shop-west" in answer.json()["detail"], answer.text
    answer = world.call("POST", f"/gates/{gate['id']}/try", json={"service": "frontend", "instance": "shop-stage"})
    assert answer.status_code == 404, "an app instance of another environment"
    answer = world.call("POST", f"/gates/{gate['id']}/try", "viewer", json={"service": "frontend"})
    assert answer.status_code == 403
    empty = world.call("POST", f"/gates/{gate['id']}/try", json={"service": "no-such-service", "instance": "shop-west"})
    assert empty.status_code == 200 and empty.json()["verdict"] == "inconclusive"
    assert "empty result" in empty.json()["detail"] and empty.json()["values"] == []


def test_try_spells_a_value_json_cannot_hold_as_prometheus_does(world: ApiWorld, prometheus: str) -> None:
    _, gate = add(world, prometheusUrl=prometheus, query="0/0", success="result >= 0")
    answer = world.call("POST", f"/gates/{gate['id']}/try", json={"service": "frontend", "instance": "shop-east"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["values"], answer.json()["verdict"]) == (["NaN"], "fail")


def test_try_through_rancher_monitoring_that_is_not_installed_is_inconclusive(world: ApiWorld) -> None:
    _, gate = add(world, prometheusUrl=None, rancherMonitoring=True)
    answer = world.call("POST", f"/gates/{gate['id']}/try", json={"service": "frontend", "instance": "shop-east"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "inconclusive" and answer.json()["where"].startswith("rancher-monitoring in ")
