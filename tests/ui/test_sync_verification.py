"""Verification in the sync flow, against the simulated Rancher servers and a real Prometheus: the review says which
gates and soak will run after each rollout into the target (and that none run when rollouts are not waited for),
and a sync whose gate fails is rolled back, its failing values in the history detail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.models import Measurement
from ranchersync.simulator import SimulatedRancher
from ranchersync.verification import gates
from tests.builders import ADMIN
from tests.core.prometheus_fixtures import Exporter, set_ratio
from tests.ui.conftest import assert_ok
from tests.ui.fakes import shown
from tests.ui.test_sync_dialog import EAST, FRONTEND, finished, image, review

pytest_plugins = ["tests.core.prometheus_fixtures"]
QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'


@pytest.fixture
def shop(app_env: AppContext, demo: AppContext) -> AppContext:
    """The demo catalogue with Prod protected (as the sync dialog's tests have it)."""
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    return demo


def _gate(ctx: AppContext, url: str, *, soak: str | None = None) -> None:
    with ctx.session() as session:
        gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url=url, query=QUERY, success="result < 0.05", interval_seconds=0.3,
            count=3))
        if soak:
            gates.set_soak(session, ADMIN, "Prod", soak=soak)


def test_the_review_says_which_gates_and_soak_will_run(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    _gate(shop, "http://127.0.0.1:9090", soak="5m")
    at = review(shop, "frontend")

    said = shown(next(m.value for m in at.markdown if "After each rollout into Prod" in m.value))
    assert "**error-rate** `result < 0.05` (3 × every 0.3 s, 0 failures tolerated)" in said
    assert "**soak** 5 min without restarts" in said and "the sync rolls back" in said
    at.toggle(key="sync_rollback").set_value(False).run()
    assert "stays as it is (rollback is off)" in next(m.value for m in at.markdown if "After each rollout" in m.value)
    at.toggle(key="sync_verify").set_value(False).run()
    assert any("will **not** run" in w.value for w in at.warning)


def test_a_review_into_an_environment_without_gates_says_nothing_of_them(shop: AppContext,
                                                                        rancher_us: SimulatedRancher) -> None:
    at = review(shop, "frontend")
    assert not any("After each rollout" in m.value for m in at.markdown)


def test_a_failing_gate_rolls_the_sync_back_and_its_values_are_in_the_history(
        shop: AppContext, rancher_us: SimulatedRancher, exporter: Exporter, prometheus: str) -> None:
    set_ratio(exporter, prometheus, 0.2)
    _gate(shop, prometheus)
    at = review(shop, "frontend")
    at.text_input(key="sync_confirm").input("Prod").run()
    at.button(key="sync_apply").click().run()

    assert_ok(at)
    assert finished(shop, at) == "rolled_back"
    assert image(rancher_us, EAST, "frontend") == f"{FRONTEND}:3.8.0"
    measured = next(d.value for d in at.dataframe if "Gate" in d.value.columns)
    assert set(measured["Gate"]) == {"error-rate"} and set(measured["Values"]) == {"0.2"}
    assert set(measured["Verdict"]) == {"✗ fail"}
    assert all(detail == "result < 0.05: 0.2" for detail in measured["Detail"])
    with shop.session() as session:
        assert len(measured) == len(session.scalars(select(Measurement)).all())


def test_the_review_says_what_runs_for_a_service_with_its_own_gates(shop: AppContext,
                                                                   rancher_us: SimulatedRancher) -> None:
    _gate(shop, "http://127.0.0.1:9090")
    with shop.session() as session:
        gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url="http://127.0.0.1:9090", query=QUERY, success="result < 0.5",
            interval_seconds=1, count=2, service="frontend"))
        gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="latency", prometheus_url="http://127.0.0.1:9090", query=QUERY, success="result < 0.3"))
        gates.disable_gate(session, ADMIN, "Prod", "latency", "frontend")
    at = review(shop, "frontend")

    assert any(shown(c.value) == "For **frontend**: **error-rate** `result < 0.5` (2 × every 1.0 s, 0 failures "
               "tolerated) (its own gates and exemptions)." for c in at.caption), [c.value for c in at.caption]
