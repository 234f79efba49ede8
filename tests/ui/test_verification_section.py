"""The Verification section of the Environments screen: each environment's gates and soak, add, edit and remove a
gate and set the soak (admins, audited as the CLI's), and "Try it now" against a real Prometheus."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ranchersync.context import AppContext
from ranchersync.models import AuditEvent
from ranchersync.verification import gates
from tests.builders import ADMIN
from tests.core.prometheus_fixtures import Exporter, set_ratio
from tests.ui.conftest import ROOT, OpenApp, Seed, assert_ok
from tests.ui.fakes import shown

pytest_plugins = ["tests.core.prometheus_fixtures"]

PAGE = "pages/2_Environments.py"
QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'
IN_PROD = (("shop-prod", "rancher-eu", "Prod", "c-m-prod01", "shop-prod"),)


def _gates(ctx: AppContext) -> list[dict]:
    with ctx.session() as session:
        return [gates.gate_payload(g, env) for g, env in gates.list_gates(session)]


def _actions(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def _add(ctx: AppContext, url: str = "http://127.0.0.1:9090", success: str = "result < 0.05") -> int:
    with ctx.session() as session:
        return gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url=url, query=QUERY, success=success, interval_seconds=30, count=5,
            failure_limit=1)).id


def _prod(ids: dict[str, int]) -> int:
    return ids["Prod"]


def test_each_environment_shows_its_gates_and_soak(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    ids = seed()
    _add(app_env)
    with app_env.session() as session:
        gates.set_soak(session, ADMIN, "Prod", soak="5m", min_source_soak="1h")

    at = open_app(PAGE)

    texts = [m.value for m in at.main.markdown]
    assert any("**error-rate** · success when `result < 0.05`" in t for t in texts)
    assert QUERY in [c.value for c in at.code]
    captions = [c.value for c in at.caption]
    assert any("5 × every 30 s · fails after 2 failed measurements · inconclusive counts as fail · from "
               in shown(c) and "127.0.0.1:9090" in shown(c) for c in captions)
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert any("soak 5 min" in b for b in badges) and any("min source soak 1 h" in b for b in badges)
    assert any("no soak" in b for b in badges), "Dev and Stage have none"
    assert "No gate: a finished rollout is the success." in captions
    assert at.button(key=f"gate_add_{_prod(ids)}")


def test_add_a_gate_through_the_dialog_audited(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"gate_add_{_prod(ids)}").click().run()
    key = f"gate_new_{_prod(ids)}"
    at.text_input(key=f"{key}_name").input("error-rate")
    at.text_input(key=f"{key}_url").input("http://127.0.0.1:9090/")
    at.text_area(key=f"{key}_query").input(QUERY)
    at.text_input(key=f"{key}_success").input("result < 0.01")
    at.text_input(key=f"{key}_interval").input("15s")
    at.number_input(key=f"{key}_count").set_value(4)
    at.number_input(key=f"{key}_failures").set_value(1)
    at.button(key="gate_add_save").click().run()

    assert_ok(at)
    assert at.toast[0].value == "Gate 'error-rate' added."
    [gate] = _gates(app_env)
    assert (gate["environment"], gate["prometheusUrl"], gate["success"], gate["intervalSeconds"], gate["count"],
            gate["failureLimit"]) == ("Prod", "http://127.0.0.1:9090", "result < 0.01", 15.0, 4, 1)
    assert _actions(app_env)[-1] == "gate.add"


@pytest.mark.parametrize(("field", "value", "complaint"), [
    ("success", "__import__('os').system('id')", "not allowed"),
    ("query", 'up{namespace={namespace}}', "double-quoted label value"),
    ("interval", "soon", "is not a duration"),
])
def test_a_bad_gate_is_refused_in_the_dialog_and_nothing_is_stored(
        open_app: OpenApp, seed: Seed, app_env: AppContext, field: str, value: str, complaint: str) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"gate_add_{_prod(ids)}").click().run()
    key = f"gate_new_{_prod(ids)}"
    at.text_input(key=f"{key}_name").input("error-rate")
    at.text_input(key=f"{key}_url").input("http://127.0.0.1:9090")
    at.text_area(key=f"{key}_query").input(value if field == "query" else QUERY)
    at.text_input(key=f"{key}_success").input(value if field == "success" else "result < 0.05")
    if field == "interval":
        at.text_input(key=f"{key}_interval").input(value)
    at.button(key="gate_add_save").click().run()

    assert_ok(at)
    assert any(complaint in shown(e.value) for e in at.error), [e.value for e in at.error]
    assert at.get("dialog"), "the dialog stays open for a correction"
    assert _gates(app_env) == []


def test_edit_then_remove_a_gate(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    seed()
    gate_id = _add(app_env)
    at = open_app(PAGE)
    at.button(key=f"gate_edit_{gate_id}").click().run()
    key = f"gate_{gate_id}_form"
    assert at.text_input(key=f"{key}_success").value == "result < 0.05", "the form starts from the gate"
    at.text_input(key=f"{key}_success").input("result < 0.02")
    at.segmented_control(key=f"{key}_source").set_value("rancher-monitoring").run()
    at.button(key="gate_edit_save").click().run()

    assert_ok(at)
    [gate] = _gates(app_env)
    assert (gate["success"], gate["source"], gate["prometheusUrl"]) == ("result < 0.02", "rancher-monitoring", None)
    assert _actions(app_env)[-1] == "gate.update"

    at.button(key=f"gate_remove_{gate_id}").click().run()
    at.button(key="gate_remove_confirm").click().run()
    assert_ok(at)
    assert _gates(app_env) == [] and _actions(app_env)[-1] == "gate.remove"


def test_set_the_soak_times(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"soak_edit_{_prod(ids)}").click().run()
    at.text_input(key=f"soak_{_prod(ids)}_soak").input("2m")
    at.text_input(key=f"soak_{_prod(ids)}_min").input("1h30m")
    at.button(key="soak_save").click().run()

    assert_ok(at)
    with app_env.session() as session:
        assert gates.checks_payload(session, "Prod")["soakSeconds"] == 120
        assert gates.checks_payload(session, "Prod")["minSourceSoakSeconds"] == 5400
    assert _actions(app_env)[-1] == "environment.soak"


@pytest.mark.parametrize(("ratio", "verdict"), [(0.0, "pass"), (0.2, "fail")])
def test_try_it_now_shows_the_value_and_the_verdict_from_a_real_prometheus(
        open_app: OpenApp, seed: Seed, app_env: AppContext, exporter: Exporter, prometheus: str, ratio: float,
        verdict: str) -> None:
    seed(instance_specs=IN_PROD)
    set_ratio(exporter, prometheus, ratio)
    gate_id = _add(app_env, url=prometheus)
    at = open_app(PAGE)
    at.button(key=f"gate_try_{gate_id}").click().run()
    at.text_input(key="gate_try_service").input("frontend")
    at.button(key="gate_try_run").click().run()

    assert_ok(at)
    assert any(m.value.endswith(f" {verdict}]") for m in at.markdown if "badge[" in m.value)
    assert any(m.value.startswith(f"Values: `{ratio:.6g}`") for m in at.markdown)
    assert 'max(app_error_ratio{namespace="shop-prod",service="frontend"})' in [c.value for c in at.code]


def test_try_it_now_names_why_a_query_gave_no_number(open_app: OpenApp, seed: Seed, app_env: AppContext,
                                                     prometheus: str) -> None:
    seed(instance_specs=IN_PROD)
    gate_id = _add(app_env, url=prometheus)
    at = open_app(PAGE)
    at.button(key=f"gate_try_{gate_id}").click().run()
    at.text_input(key="gate_try_service").input("no-such-service")
    at.button(key="gate_try_run").click().run()

    assert_ok(at)
    assert any(m.value.endswith(" inconclusive]") for m in at.markdown if "badge[" in m.value)
    assert any("empty result" in shown(w.value) for w in at.warning)


def test_a_viewer_sees_the_gates_without_controls(app_env: AppContext, seed: Seed,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_AUTH", "oidc")
    ids = seed()
    gate_id = _add(app_env)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "v@example.com", "email_verified": True, "groups": []}
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    assert QUERY in [c.value for c in at.code]
    for key in (f"gate_add_{_prod(ids)}", f"soak_edit_{_prod(ids)}", f"gate_edit_{gate_id}",
                f"gate_remove_{gate_id}", f"gate_try_{gate_id}"):
        assert at.button(key=key).disabled, key


def test_a_service_gate_and_an_exemption_are_shown_and_a_service_gate_is_added(
        open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    ids = seed()
    _add(app_env)
    with app_env.session() as session:
        gates.disable_gate(session, ADMIN, "Prod", "error-rate", "batch")
    at = open_app(PAGE)
    assert any("disabled for batch" in shown(c.value) for c in at.caption)

    at.button(key=f"gate_add_{_prod(ids)}").click().run()
    key = f"gate_new_{_prod(ids)}"
    at.text_input(key=f"{key}_name").input("error-rate")
    at.text_input(key=f"{key}_url").input("http://127.0.0.1:9090")
    at.text_area(key=f"{key}_query").input(QUERY)
    at.text_input(key=f"{key}_success").input("result < 0.5")
    at.text_input(key=f"{key}_service").input("legacy")
    at.button(key="gate_add_save").click().run()

    assert_ok(at)
    assert {(g["name"], g["service"]) for g in _gates(app_env)} == {("error-rate", None), ("error-rate", "legacy")}
    assert any("**error-rate** · for **legacy** only · success when `result < 0.5`" in m.value
               for m in at.main.markdown)


def _audit(ctx: AppContext) -> list[tuple[str, str, dict | None]]:
    with ctx.session() as session:
        return [(e.action, e.channel, e.after or e.before) for e in
                session.scalars(select(AuditEvent).where(AuditEvent.action.like("gate.%")).order_by(AuditEvent.id))]


def test_disable_a_gate_for_one_service_then_enable_it_again_confirmed_and_audited(
        open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    seed()
    gate_id = _add(app_env)
    at = open_app(PAGE)
    assert not any(b.key == f"gate_enable_{gate_id}" for b in at.button), "nothing disabled yet: nothing to enable"
    at.button(key=f"gate_disable_{gate_id}").click().run()
    assert at.button(key="gate_disable_confirm").disabled, "no service named yet"
    at.text_input(key="gate_disable_service").input("batch").run()
    assert any("will no longer run after rollouts of **batch** into **Prod**" in m.value for m in at.markdown)
    assert _gates(app_env)[0]["disabledFor"] == [], "nothing changes before the confirmation"
    at.button(key="gate_disable_confirm").click().run()

    assert_ok(at)
    assert at.toast[0].value == "Gate 'error-rate' no longer runs for batch in Prod."
    with app_env.session() as session:
        assert [g.name for g in gates.effective_gates(session, _prod_id(app_env), "batch")] == []
        assert [g.name for g in gates.effective_gates(session, _prod_id(app_env), "frontend")] == ["error-rate"]
    assert any("disabled for batch" in shown(c.value) for c in at.caption)
    # Audited as the CLI's `gates disable --service` (same action and record), from the dashboard.
    assert _audit(app_env)[-1] == ("gate.disable", "dashboard",
                                   {"environment": "Prod", "name": "error-rate", "service": "batch", "disabled": True})

    at.button(key=f"gate_enable_{gate_id}").click().run()
    assert at.selectbox(key="gate_enable_service").value == "batch"
    at.button(key="gate_enable_confirm").click().run()
    assert_ok(at)
    assert at.toast[0].value == "Gate 'error-rate' runs for batch in Prod again."
    assert _gates(app_env)[0]["disabledFor"] == []
    assert _audit(app_env)[-1][:2] == ("gate.enable", "dashboard")


def test_disabling_for_a_bad_service_name_is_refused_in_the_dialog(open_app: OpenApp, seed: Seed,
                                                                  app_env: AppContext) -> None:
    seed()
    gate_id = _add(app_env)
    at = open_app(PAGE)
    at.button(key=f"gate_disable_{gate_id}").click().run()
    at.text_input(key="gate_disable_service").input("Not A Service").run()
    at.button(key="gate_disable_confirm").click().run()
    assert_ok(at)
    assert any("not a service name" in shown(e.value) for e in at.error), [e.value for e in at.error]
    assert at.get("dialog"), "the dialog stays open for a correction"
    assert _gates(app_env)[0]["disabledFor"] == []


def test_a_services_own_gate_has_no_per_service_control_and_a_viewer_cannot_disable(
        app_env: AppContext, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    seed()
    shared = _add(app_env)
    with app_env.session() as session:
        own = gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url="http://127.0.0.1:9090", query=QUERY, success="result < 0.5",
            service="legacy")).id
        gates.disable_gate(session, ADMIN, "Prod", "error-rate", "batch")
    monkeypatch.setenv("RANCHERSYNC_AUTH", "oidc")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "v@example.com", "email_verified": True, "groups": []}
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    keys = {b.key for b in at.button}
    assert f"gate_disable_{own}" not in keys and f"gate_enable_{own}" not in keys
    assert at.button(key=f"gate_disable_{shared}").disabled and at.button(key=f"gate_enable_{shared}").disabled


def _prod_id(ctx: AppContext) -> int:
    from ranchersync.catalogue import environments

    with ctx.session() as session:
        return environments.get_environment(session, "Prod").id
