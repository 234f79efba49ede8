"""Promotion policy `--min-source-soak`: a version enters the target only after it has run in the source that long,
with the source's gates passed; refused (exit 3) with the time left, overridden by a releaser with a reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import select

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Applied, promote
from ranchersync.context import AppContext
from ranchersync.kernel.errors import PermissionDenied
from ranchersync.models import Measurement, VersionArrival, utcnow
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SourceNotSoaked, new_request_id, soak_shortfalls
from ranchersync.verification import gates
from tests.builders import cli_runner
from tests.core.test_source_health import FAST, OPERATOR, RELEASER, operations
from tests.core.test_sync import EAST, image, plan

ADMIN = Actor("ada@example.com", "admin", "cli")


def minimum(ctx: AppContext, env: str, text: str) -> None:
    with ctx.session() as session:
        gates.set_soak(session, ADMIN, env, min_source_soak=text)


def shortfalls(ctx: AppContext, *services: str, later: float = 0) -> list[str]:
    the_plan = plan(ctx, *services)
    with ctx.session() as session:
        return [s.sentence for s in soak_shortfalls(session, the_plan, utcnow() + dt.timedelta(seconds=later))]


def test_a_version_that_completed_its_rollout_moments_ago_is_refused_with_the_time_left(
        demo: AppContext, rancher_us: SimulatedRancher) -> None:
    minimum(demo, "Prod", "1h")
    with pytest.raises(SourceNotSoaked) as refused:
        promote(demo, OPERATOR, plan(demo, "frontend"), request_id=new_request_id(), options=FAST)
    assert refused.value.exit_code == 3
    assert "frontend has run in Stage for " in str(refused.value) and " of 1 h (" in str(refused.value)
    assert operations(demo) == 0
    assert image(rancher_us, EAST, "frontend").endswith("frontend:3.8.0"), "nothing changed on the cluster"
    # The clock is the rollout's completion in Stage: an hour later the same version may go.
    assert shortfalls(demo, "frontend", later=3600 + 60) == []
    minimum(demo, "Prod", "0")
    assert shortfalls(demo, "frontend") == [], "no minimum, no policy"


def test_a_version_that_arrived_by_a_sync_counts_from_its_arrival_and_needs_the_gates_passed(
        demo: AppContext) -> None:
    minimum(demo, "Prod", "30m")
    with demo.session() as session:  # a gate whose unreachable Prometheus counts as a pass: measured, not failed
        gates.add_gate(session, ADMIN, "Stage", gates.GateSpec(
            name="errors", prometheus_url="http://127.0.0.1:9", query="sum(rate(x[1m]))", success="result < 0.05",
            interval_seconds=0.1, count=1, inconclusive="pass"))
    assert shortfalls(demo, "frontend", later=3600) == [
        "frontend has not passed the gates of Stage (it did not arrive there by a verified sync, or a gate failed)"]

    # A sync of ours brings Dev's version into Stage, verified by Stage's gate.
    promoted = promote(demo, ADMIN, plan(demo, "frontend", source="Dev", target="Stage"),
                       request_id=new_request_id(), options=FAST)
    assert isinstance(promoted, Applied)
    with demo.session() as session:
        arrival = session.scalars(select(VersionArrival).where(VersionArrival.service == "frontend")).one()
        assert arrival.operation_id == promoted.operation_id
        assert session.scalars(select(Measurement.verdict).where(Measurement.result_id == arrival.result_id)).all()
    assert shortfalls(demo, "frontend")[0].startswith("frontend has run in Stage for ")
    assert shortfalls(demo, "frontend", later=30 * 60 + 60) == []


def test_an_operator_may_not_override_it_a_releaser_may_with_a_reason(demo: AppContext,
                                                                      rancher_us: SimulatedRancher) -> None:
    minimum(demo, "Prod", "1h")
    with pytest.raises(PermissionDenied):
        promote(demo, OPERATOR, plan(demo, "frontend"), request_id=new_request_id(), options=FAST,
                confirmed=Confirmation(override_policy="hotfix for INC-7"))
    outcome = promote(demo, RELEASER, plan(demo, "frontend"), request_id=new_request_id(),
                      options=dataclasses.replace(FAST), confirmed=Confirmation(override_policy="hotfix for INC-7"))
    assert isinstance(outcome, Applied)
    assert image(rancher_us, EAST, "frontend").endswith("frontend:3.8.1")
    with demo.session() as session:
        [event] = audit.list_events(session, audit.AuditFilter(action="policy.override")).items
    assert (event.actor, event.detail, event.after["policy"]) == ("rita@example.com", "hotfix for INC-7",
                                                                   "min_source_soak")


def test_the_cli_refuses_with_exit_3_and_says_how_long_is_left(demo: AppContext, monkeypatch, capsys) -> None:
    cli = cli_runner(demo, monkeypatch, capsys)
    status, out, _ = cli("ada@example.com", "envs", "update", "Prod", "--min-source-soak", "2h", "--json")
    assert status == 0 and json.loads(out)["minSourceSoakSeconds"] == 7200
    status, _, err = cli("ada@example.com", "sync", "--from", "Stage", "--to", "Prod", "--service", "frontend",
                         "--target-instance", "all", "--confirm-env", "Prod", "--yes")
    assert status == 3, err
    assert "frontend has run in Stage for " in err and "of 2 h" in err and "left" in err
    assert "--override-policy" in err


def test_the_comparison_says_per_cell_when_a_version_may_be_promoted(demo: AppContext, monkeypatch, capsys) -> None:
    minimum(demo, "Prod", "1h")
    cli = cli_runner(demo, monkeypatch, capsys)
    status, out, err = cli("ada@example.com", "services", "compare", "--env", "Stage", "--env", "Prod", "--json")
    assert status == 0, err
    frontend = next(r for r in json.loads(out)["services"] if r["name"] == "frontend")
    stage = frontend["environments"]["Stage"]["promotion"]
    # Stage's frontend completed its rollout moments ago (the simulator's NewReplicaSetAvailable): the same clock as
    # the policy's refusal above, so the cell says how long is left.
    assert stage["target"] == "Prod" and stage["minimumSeconds"] == 3600 and not stage["ready"]
    assert 0 < stage["leftSeconds"] <= 3600 and stage["text"].startswith("ready to promote in ")
    assert frontend["environments"]["Prod"]["promotion"] is None, "nothing after Prod asks for a minimum"
    status, out, _ = cli("ada@example.com", "services", "compare", "--env", "Stage", "--env", "Prod")
    assert "Stage → Prod: ready to promote in " in out

    with demo.session() as session:  # an hour later, gated: ran, and whether the gates passed
        gates.add_gate(session, ADMIN, "Stage", gates.GateSpec(
            name="errors", prometheus_url="http://127.0.0.1:9", query="sum(rate(x[1m]))", success="result < 0.05"))
    from ranchersync.inventory import compare
    from ranchersync.sync import promotion_readiness

    with demo.session() as session:
        comparison = compare.compare_environments(session, demo.cipher, ["Stage", "Prod"])
        later = promotion_readiness(session, comparison, utcnow() + dt.timedelta(hours=2))
    found = later[("Deployment", "frontend", "Stage")]
    assert found.left_seconds == 0 and found.gated and not found.gates_passed and not found.ready
    assert found.text.startswith("ran 2 h") and found.text.endswith(", gates not passed")
    # The policy agrees: the same version is refused for its gates, not for its time.
    assert shortfalls(demo, "frontend", later=2 * 3600) == [
        "frontend has not passed the gates of Stage (it did not arrive there by a verified sync, or a gate failed)"]
