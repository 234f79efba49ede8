"""Verification against a REAL Prometheus (Debian's server binary) scraping a tiny exporter of this test, whose
error ratio the test sets, and the simulated Rancher: a passing gate completes the sync, a failing or inconclusive
one rolls it back on the cluster with its measurements recorded, and a crash loop during the soak rolls it back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.history import get_operation_detail
from ranchersync.history.payloads import operation_payload
from ranchersync.kernel.errors import PermissionDenied
from ranchersync.models import Measurement, OutboxMessage
from ranchersync.simulator import SimulatedRancher, load_demo_world
from ranchersync.sync import ProgressEvent, SyncOptions
from ranchersync.verification import gates, trial
from tests.builders import ADMIN
from tests.core.prometheus_fixtures import Exporter, set_ratio
from tests.core.test_sync import EAST, WEST, apply, image, plan

pytest_plugins = ["tests.core.prometheus_fixtures"]

OPTIONS = SyncOptions(timeout_seconds=30, poll_seconds=0.2)
QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'


@pytest.fixture
def rancher_us(request: pytest.FixtureRequest) -> Iterator[SimulatedRancher]:
    """The demo's US Rancher; an indirect parameter names images that crash-loop once started."""
    crash = getattr(request, "param", None)
    with SimulatedRancher(load_demo_world("rancher-us"), rollout_seconds=0.5, crash_images=crash,
                          crash_seconds=0.4) as server:
        yield server


def _add_gate(ctx: AppContext, prometheus: str, query: str = QUERY, inconclusive: str = "fail") -> None:
    with ctx.session() as session:
        gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
            name="error-rate", prometheus_url=prometheus, query=query, success="result < 0.05",
            interval_seconds=0.3, count=3, inconclusive=inconclusive))  # type: ignore[arg-type]


def _results(ctx: AppContext, operation_id: int) -> list[dict[str, Any]]:
    with ctx.session() as session:
        return list(operation_payload(get_operation_detail(session, operation_id), with_results=True)["results"])


def test_a_gate_that_passes_completes_the_sync(demo: AppContext, rancher_us: SimulatedRancher, exporter: Exporter,
                                               prometheus: str) -> None:
    set_ratio(exporter, prometheus, 0.0)
    _add_gate(demo, prometheus)
    events: list[ProgressEvent] = []
    operation = apply(demo, plan(demo, "frontend"), OPTIONS, progress=events.append)
    assert operation.status == "complete"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.1")
    for result in _results(demo, operation.id):
        assert [(m["gate"], m["values"], m["verdict"]) for m in result["measurements"]] == [
            ("error-rate", [0.0], "pass")] * 3
    assert any("gate error-rate 3/3: 0 ✓" in e.message for e in events if e.stage == "verifying")


def test_a_gate_that_fails_rolls_the_sync_back(demo: AppContext, rancher_us: SimulatedRancher, exporter: Exporter,
                                               prometheus: str) -> None:
    set_ratio(exporter, prometheus, 0.2)
    _add_gate(demo, prometheus)
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "rolled_back"
    for cluster in (EAST, WEST):  # put back on the cluster
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
    results = _results(demo, operation.id)
    failed = [r for r in results if r["status"] == "failed"]
    assert failed, results
    for result in failed:
        assert "verification failed: gate error-rate: 1 of 1 measurements failed" in result["error"]
        assert [(m["values"], m["verdict"]) for m in result["measurements"]] == [([0.2], "fail")]
    with demo.session() as session:
        assert session.query(OutboxMessage).filter_by(event="verification.failed").count() == 0  # no subscriber


@pytest.mark.parametrize(("inconclusive", "status"), [("fail", "rolled_back"), ("pass", "complete")])
def test_an_inconclusive_gate_counts_as_the_gate_says(demo: AppContext, rancher_us: SimulatedRancher,
                                                      prometheus: str, inconclusive: str, status: str) -> None:
    _add_gate(demo, prometheus, query='max(no_such_metric{namespace="{namespace}"})', inconclusive=inconclusive)
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == status
    measured = [m for r in _results(demo, operation.id) for m in r["measurements"]]
    assert measured and {m["verdict"] for m in measured} == {"inconclusive"}
    assert "empty result" in measured[0]["detail"]


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_a_crash_loop_during_the_soak_rolls_the_sync_back(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        gates.set_soak(session, ADMIN, "Prod", soak="4s")
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "rolled_back"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
    failed = [r for r in _results(demo, operation.id) if r["status"] == "failed"]
    assert failed and all("restarted" in r["error"] for r in failed)
    soak = [m for r in failed for m in r["measurements"] if m["gate"] == "soak"]
    assert soak and soak[0]["verdict"] == "fail" and soak[0]["values"][0] >= 1


def test_a_steady_version_holds_its_soak(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        gates.set_soak(session, ADMIN, "Prod", soak="2s")
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "complete"
    soak = [m for r in _results(demo, operation.id) for m in r["measurements"]]
    assert [(m["gate"], m["values"], m["verdict"]) for m in soak] == [("soak", [0], "pass")] * 2


def _instance_id(ctx: AppContext, name: str) -> int:
    from ranchersync.catalogue import instances

    with ctx.session() as session:
        return next(i.id for i in instances.list_instances(session) if i.name == name)


@pytest.mark.parametrize(("ratio", "verdict"), [(0.0, "pass"), (0.2, "fail")])
def test_trying_a_gate_runs_its_query_once_and_gives_the_verdict(
        demo: AppContext, exporter: Exporter, prometheus: str, ratio: float, verdict: str) -> None:
    set_ratio(exporter, prometheus, ratio)
    _add_gate(demo, prometheus)
    with demo.session() as session:
        gate_id = gates.list_gates(session, "Prod")[0][0].id
    lines: list[str] = []
    found = trial.try_gate(demo, ADMIN, gate_id, _instance_id(demo, "shop-east"), "frontend", say=lines.append)
    assert found.query == 'max(app_error_ratio{namespace="shop-prod",service="frontend"})'
    assert (found.values, found.verdict) == ((ratio,), verdict)
    assert lines[0].startswith("Querying 127.0.0.1:") and lines[-1].startswith(verdict)
    with demo.session() as session:  # a trial is a read: nothing measured, nothing audited
        assert not session.scalars(select(Measurement)).all()


def test_trying_a_gate_on_a_service_without_series_is_inconclusive_with_why(
        demo: AppContext, prometheus: str) -> None:
    _add_gate(demo, prometheus)
    with demo.session() as session:
        gate_id = gates.list_gates(session, "Prod")[0][0].id
    found = trial.try_gate(demo, ADMIN, gate_id, _instance_id(demo, "shop-east"), "no-such-service")
    assert found.verdict == "inconclusive" and "empty result" in found.detail and found.values == ()


def test_a_viewer_may_not_try_a_gate(demo: AppContext, prometheus: str) -> None:
    _add_gate(demo, prometheus)
    with demo.session() as session:
        gate_id = gates.list_gates(session, "Prod")[0][0].id
    with pytest.raises(PermissionDenied):
        trial.try_gate(demo, Actor("v@example.com", "viewer", "cli"), gate_id, _instance_id(demo, "shop-east"),
                       "frontend")


@pytest.mark.parametrize("override", ["own gate", "disabled"])
def test_a_services_override_decides_its_verification(demo: AppContext, rancher_us: SimulatedRancher,
                                                     exporter: Exporter, prometheus: str, override: str) -> None:
    set_ratio(exporter, prometheus, 0.2)
    _add_gate(demo, prometheus)  # result < 0.05: fails at 20 % for every service but one
    with demo.session() as session:
        if override == "own gate":
            gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
                name="error-rate", prometheus_url=prometheus, query=QUERY, success="result < 0.5",
                interval_seconds=0.3, count=2, service="frontend"))
        else:
            gates.disable_gate(session, ADMIN, "Prod", "error-rate", "frontend")
    operation = apply(demo, plan(demo, "frontend"), OPTIONS)
    assert operation.status == "complete"
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.1")
    measured = [m for r in _results(demo, operation.id) for m in r["measurements"]]
    if override == "own gate":
        assert len(measured) == 4 and {m["detail"] for m in measured} == {"result < 0.5: 0.2"}
    else:
        assert measured == []


def test_queries_asked_together_give_each_its_own_answer(exporter: Exporter, prometheus: str) -> None:
    from ranchersync.verification.prometheus import DirectPrometheus, QueryFailed

    set_ratio(exporter, prometheus, 0.2)
    exporter.series = [("shop-prod", "frontend"), ("shop-prod", "cart")]
    try:
        queries = ['max(app_error_ratio{service="frontend"})', 'app_error_ratio{namespace="shop-prod"}',
                   'max(app_error_ratio{service="nothing"})', 'max(app_error_ratio{service="frontend"})']
        source = DirectPrometheus(prometheus)
        deadline = time.monotonic() + 20
        while len(source.query('app_error_ratio{namespace="shop-prod"}')) < 2:  # the new series scraped
            assert time.monotonic() < deadline
            time.sleep(0.2)
        together = source.query_many(queries)
        assert together[0] == together[3] == [0.2] and sorted(together[1]) == [0.2, 0.2]  # type: ignore[type-var]
        assert isinstance(together[2], QueryFailed) and "empty result" in str(together[2])
        # A sub-query that is no instant vector (a scalar) fails the batch in PromQL: each is asked alone then.
        mixed = source.query_many(['scalar(max(app_error_ratio{service="frontend"}))',
                                   'max(app_error_ratio{service="frontend"})', "max(no_such_metric)"])
        assert mixed[:2] == [[0.2], [0.2]] and isinstance(mixed[2], QueryFailed)
        source.close()
    finally:
        exporter.series = [("shop-prod", "frontend")]
