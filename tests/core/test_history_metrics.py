"""Delivery metrics: each definition checked on a hand-built history with exact expected numbers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.context import AppContext
from ranchersync.history import (
    DayCount,
    DaySuccess,
    FailureRate,
    Headline,
    HistoryFilter,
    StatusCount,
    compute_metrics,
    metrics_payload,
)
from ranchersync.models import Environment, SyncOperation
from ranchersync.reports.delivery import figures
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, get_operation, new_request_id, rollback_operation
from tests.builders import ADMIN
from tests.core.test_history import at, change, pipeline, record
from tests.core.test_sync import FAST, apply, plan

D1, D2 = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
HOUR, DAY = 3600.0, 86400.0


def env_id(session: Session, name: str) -> int:
    return session.execute(select(Environment.id).where(Environment.name == name)).scalar_one()


def test_daily_activity_and_success_rate(session: Session) -> None:
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    record(session, dev, stage, start=at(hours=0))
    record(session, dev, stage, start=at(hours=1))
    record(session, stage, prod, "failed", start=at(hours=2))
    record(session, stage, prod, "partial", start=at(days=1))
    record(session, stage, prod, "rolled_back", start=at(days=1, hours=1))
    record(session, dev, stage, "running", start=at(days=1, hours=2))
    record(session, prod, prod, kind="rollback", start=at(days=1, hours=3))

    metrics = compute_metrics(session)
    assert metrics.operations == 7
    assert metrics.daily == (
        StatusCount(D1, "complete", 2), StatusCount(D1, "failed", 1), StatusCount(D2, "complete", 1),
        StatusCount(D2, "partial", 1), StatusCount(D2, "rolled_back", 1), StatusCount(D2, "running", 1),
    )
    assert metrics.success_rate == (DaySuccess(D1, 3, 2), DaySuccess(D2, 3, 1))
    assert metrics.success_rate[0].rate == 2 / 3
    assert (metrics.since, metrics.until) == (D1, D2)  # the data's span when the filter has none

    syncs = compute_metrics(session, HistoryFilter(kind="sync"))
    assert syncs.operations == 6
    assert syncs.success_rate == (DaySuccess(D1, 3, 2), DaySuccess(D2, 2, 0))


def test_headline_success_rate_and_deploys_per_week(session: Session) -> None:
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    web = change("web", "reg/web:2")
    record(session, dev, stage, start=at(hours=0), changes=[web])  # a deployment into Stage
    record(session, dev, stage, start=at(hours=1), changes=[web])  # another
    record(session, stage, prod, start=at(days=1), changes=[web])  # one into Prod
    record(session, stage, prod, "failed", start=at(days=2), changes=[change("web", "reg/web:3", status="failed")])
    record(session, stage, prod, "running", start=at(days=3))  # not finished: left out of the rate
    record(session, prod, prod, kind="rollback", start=at(days=3, hours=1))  # a completed rollback

    headline = compute_metrics(session, HistoryFilter(since=at(hours=-9), until=at(days=14, hours=-9))).headline
    assert (headline.finished, headline.complete, headline.deployments, headline.period_days) == (5, 4, 3, 14)
    assert headline.success_rate == 0.8
    assert headline.deploys_per_week == 1.5  # 3 deployments over two weeks

    week = HistoryFilter(since=at(hours=-9), until=at(days=7, hours=-9), kind="sync")
    syncs = compute_metrics(session, week).headline
    assert (syncs.success_rate, syncs.deploys_per_week) == (0.75, 3.0)


def test_headline_without_data() -> None:
    assert Headline(0, 0, 0, None).success_rate is None
    assert Headline(0, 0, 0, None).deploys_per_week is None
    assert Headline(3, 1, 1, 3).deploys_per_week == 2.3


def test_duration_buckets(session: Session) -> None:
    envs = pipeline(session)
    for i, seconds in enumerate((5, 10, 59.5, 60, 61, 3600)):
        record(session, envs["Dev"], envs["Stage"], start=at(hours=i), seconds=seconds)
    record(session, envs["Dev"], envs["Prod"], "running", start=at(hours=9))

    durations = compute_metrics(session).durations
    assert [(b.label, b.count) for b in durations.buckets] == [
        ("< 10 s", 1), ("10–30 s", 1), ("30–60 s", 1), ("1–2 min", 2), ("2–5 min", 0), ("5–10 min", 0),
        ("10–30 min", 0), ("≥ 30 min", 1),
    ]
    assert (durations.count, durations.mean_seconds, durations.max_seconds) == (6, 632.583, 3600.0)


def test_deployment_frequency_counts_delivered_syncs_per_target(session: Session) -> None:
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    web = change("web", "reg/web:2")
    record(session, dev, stage, start=at(), changes=[web])
    record(session, dev, stage, "partial", start=at(hours=1), changes=[web, change("api", "reg/api:2",
                                                                                  status="failed")])
    record(session, dev, stage, "partial", start=at(days=1), changes=[  # nothing changed: not a deployment
        change("api", "reg/api:2", status="skipped", error="changed since the plan")])
    record(session, dev, stage, "failed", start=at(days=1, hours=1), changes=[change("api", "reg/api:2",
                                                                                    status="failed")])
    record(session, dev, stage, "rolled_back", start=at(days=2), changes=[  # undone by its automatic rollback
        change("api", "reg/api:2", status="failed"), change("web", "reg/web:2", status="rolled_back")])
    undone = record(session, dev, stage, "rolled_back", start=at(days=2, hours=1),
                    changes=[change("web", "reg/web:3", status="rolled_back")])
    record(session, stage, stage, kind="rollback", start=at(days=3), rollback_of=undone, changes=[web])
    record(session, dev, stage, "interrupted", start=at(days=3, hours=1), changes=[
        change("web", "reg/web:4", status="pending", applied=True)])
    record(session, dev, stage, start=at(days=9), changes=[web])
    record(session, stage, prod, start=at(days=1), changes=[web])

    metrics = compute_metrics(session, HistoryFilter(since=at(hours=-9), until=at(days=14, hours=-9)))
    stage_deploys, prod_deploys = metrics.deployments
    assert (stage_deploys.environment, stage_deploys.total, stage_deploys.average_per_week) == ("Stage", 4, 2.0)
    assert stage_deploys.per_day == (DayCount(D1, 2), DayCount(dt.date(2026, 3, 4), 1),
                                     DayCount(dt.date(2026, 3, 11), 1))
    assert stage_deploys.per_week == (DayCount(D1, 3), DayCount(dt.date(2026, 3, 9), 1))
    assert (prod_deploys.environment, prod_deploys.total, prod_deploys.per_week) == ("Prod", 1, (DayCount(D1, 1),))
    assert prod_deploys.average_per_week == 0.5
    assert (metrics.since, metrics.until) == (D1, dt.date(2026, 3, 15))


def test_change_failure_rate_with_a_rollback_window(session: Session) -> None:
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    web = change("web", "reg/web:2")
    record(session, stage, prod, start=at(days=0), changes=[web])
    soon = record(session, stage, prod, "rolled_back", start=at(days=1),
                  changes=[change("web", "reg/web:2", status="rolled_back")])
    record(session, prod, prod, kind="rollback", start=at(days=1, hours=2, minutes=1), rollback_of=soon,
           changes=[web])
    late = record(session, stage, prod, "rolled_back", start=at(days=2),
                  changes=[change("web", "reg/web:2", status="rolled_back")])
    record(session, prod, prod, kind="rollback", start=at(days=5, minutes=1), rollback_of=late, changes=[web])
    record(session, stage, prod, "partial", start=at(days=3), changes=[web, change("api", "reg/api:2",
                                                                                  status="failed")])
    record(session, stage, prod, "partial", start=at(days=4), changes=[  # a skip, not a failure
        web, change("api", "reg/api:2", status="skipped", error="changed since the plan")])
    record(session, stage, prod, "rolled_back", start=at(days=6), changes=[
        change("api", "reg/api:2", status="failed"), change("web", "reg/web:2", status="rolled_back")])
    record(session, stage, prod, "interrupted", start=at(days=7), changes=[
        change("web", "reg/web:2", status="pending", applied=True)])
    record(session, stage, prod, "failed", start=at(days=8), changes=[change("web", "reg/web:2", status="failed")])
    record(session, stage, prod, "running", start=at(days=9), changes=[change("web", "reg/web:2", status="pending")])
    record(session, dev, stage, start=at(), by="bob", changes=[web])
    record(session, dev, stage, "failed", start=at(days=1), by="bob", changes=[change("web", "reg/web:2",
                                                                                       status="failed")])

    metrics = compute_metrics(session)
    assert metrics.change_failure_rate == FailureRate(None, None, 10, 5)
    assert metrics.change_failure_rate.rate == 0.5
    assert metrics.change_failure_by_environment == (FailureRate(stage.id, "Stage", 2, 1),
                                                     FailureRate(prod.id, "Prod", 8, 4))
    assert compute_metrics(session, failure_window=dt.timedelta(days=4)).change_failure_rate.failed == 6
    assert compute_metrics(session, HistoryFilter(initiated_by="bob")).change_failure_rate == FailureRate(
        None, None, 2, 1)
    # A status filter would make rates meaningless: metrics ignore it.
    assert compute_metrics(session, HistoryFilter(status="failed")).change_failure_rate == FailureRate(
        None, None, 10, 5)
    # The environment is the target: Stage's figures leave out the syncs from Stage into Prod.
    assert compute_metrics(session, HistoryFilter(environment_id=stage.id)).change_failure_rate.syncs == 2


def test_a_rollback_a_person_decided_is_not_a_change_failure(session: Session) -> None:
    envs = pipeline(session)
    stage, prod = envs["Stage"], envs["Prod"]
    web = change("web", "reg/web:2")
    decided = record(session, stage, prod, "rolled_back", start=at(days=0),
                     changes=[change("web", "reg/web:2", status="rolled_back")])
    decided.rollback_reason = "decided"  # a complete sync its operator rolled back
    record(session, prod, prod, kind="rollback", start=at(hours=1), rollback_of=decided, changes=[web])
    failed = record(session, stage, prod, "rolled_back", start=at(days=1),
                    changes=[change("web", "reg/web:3", status="rolled_back")])
    failed.rollback_reason = "failed"  # rolled back because the change broke something (`rollback --failed`)
    record(session, prod, prod, kind="rollback", start=at(days=1, hours=1), rollback_of=failed, changes=[web])
    terminated = record(session, stage, prod, "rolled_back", start=at(days=2),
                        changes=[change("web", "reg/web:4", status="rolled_back")])
    terminated.rollback_reason = "decided"  # terminated mid-rollout, its own rollback undid it
    session.flush()
    metrics = compute_metrics(session)
    assert metrics.change_failure_rate == FailureRate(None, None, 3, 1)
    assert metrics.restore.incidents == 0  # no failed service: no incident to restore from


def build_incidents(session: Session) -> dict[str, int]:
    """Four incidents in Prod's two clusters (one still open), and failures that are not incidents."""
    envs = pipeline(session)
    dev, stage, prod = envs["Dev"], envs["Stage"], envs["Prod"]
    east = {"cluster": "c-east"}
    west = {"cluster": "c-west"}
    ops = {}
    ops["a"] = record(session, stage, prod, "failed", start=at(hours=1), changes=[
        change("web", "reg/web:2", status="failed", started=at(hours=1, seconds=10), **east)])
    ops["b"] = record(session, stage, prod, "failed", start=at(hours=2), changes=[
        change("web", "reg/web:2", status="failed", started=at(hours=2, seconds=5), **east)])
    # The same service succeeding in Stage restores nothing in Prod.
    ops["h"] = record(session, dev, stage, start=at(hours=3), changes=[change("web", "reg/web:2")])
    ops["c"] = record(session, stage, prod, "rolled_back", start=at(hours=4), seconds=120, changes=[
        change("web", "reg/web:2", status="rolled_back", **east),
        change("web", "reg/web:2", status="failed", started=at(hours=4, seconds=10), **west)])
    ops["d"] = record(session, stage, prod, "rolled_back", start=at(days=1), seconds=360, changes=[
        change("web", "reg/web:3", status="failed", started=at(days=1, seconds=10), **east)])
    ops["e"] = record(session, prod, prod, kind="rollback", rollback_of=ops["c"], start=at(days=1, hours=3),
                      changes=[change("web", "reg/web:1", **west)])
    ops["f"] = record(session, stage, prod, "failed", start=at(days=2), changes=[  # refused: changed nothing
        change("api", "reg/api:2", status="failed", applied=False, **east)])
    ops["g"] = record(session, stage, prod, "failed", start=at(days=2, hours=1), changes=[
        change("api", "reg/api:2", status="failed", **east)])
    return {name: op.id for name, op in ops.items()}


def test_time_to_restore_per_incident(session: Session) -> None:
    ops = build_incidents(session)
    restore = compute_metrics(session).restore
    assert [(i.service, i.cluster_id, i.failed_operation_id, i.restored_by_operation_id, i.seconds)
            for i in restore.items] == [
        ("api", "c-east", ops["g"], None, None),  # still open
        ("web", "c-east", ops["d"], ops["d"], 350.0),  # its own automatic rollback
        ("web", "c-west", ops["c"], ops["e"], 23 * HOUR - 10 + 60),  # a rollback operation
        ("web", "c-east", ops["a"], ops["c"], 3 * HOUR - 10 + 120),  # two failures, then a success
    ]
    assert restore.items[3].failed_at == at(hours=1, seconds=10)
    assert restore.items[3].restored_at == at(hours=4, seconds=120)
    assert (restore.incidents, restore.open) == (4, 1)
    assert restore.median_seconds == 3 * HOUR + 110
    assert restore.mean_seconds == round((350 + 82850 + 10910) / 3, 3)


def test_time_to_restore_filters_and_list_limit(session: Session) -> None:
    build_incidents(session)
    since_day_two = compute_metrics(session, HistoryFilter(since=at(days=1))).restore
    assert (since_day_two.incidents, since_day_two.open, since_day_two.median_seconds) == (2, 1, 350.0)
    api = compute_metrics(session, HistoryFilter(service="api")).restore
    assert (api.incidents, api.open, api.median_seconds, api.mean_seconds) == (1, 1, None, None)
    assert compute_metrics(session, HistoryFilter(environment_id=env_id(session, "Stage"))).restore.incidents == 0
    limited = compute_metrics(session, list_limit=1).restore
    assert (len(limited.items), limited.incidents, limited.median_seconds) == (1, 4, 3 * HOUR + 110)


def build_journeys(session: Session) -> None:
    """Versions promoted QA → Stage → Prod, with re-deployments, failures, a hotfix and a later rollback."""
    envs = pipeline(session, "Dev", "QA", "Stage", "Prod")
    dev, qa, stage = envs["Dev"], envs["QA"], envs["Stage"]

    def sync(target: str, image: str, start: dt.datetime, status: str = "success",
             op_status: str = "complete") -> SyncOperation:
        service = image.split("/")[1].split(":")[0]
        source = {"QA": dev, "Stage": qa, "Prod": stage}[target]
        return record(session, source, envs[target], op_status, start=start, seconds=0,
                      changes=[change(service, image, status=status)])

    sync("QA", "reg/web:1.1", at(hours=1))
    sync("Stage", "reg/web:1.1", at(days=1, hours=1))
    sync("Prod", "reg/web:1.1", at(days=3, hours=1))
    sync("QA", "reg/web:1.2", at(days=2, hours=1))
    sync("Stage", "reg/web:1.2", at(days=2, hours=7))
    sync("Stage", "reg/web:1.2", at(days=3, hours=-1))  # deployed again: the first arrival counts
    sync("Prod", "reg/web:1.2", at(days=4, hours=1))
    sync("QA", "reg/api:2.0", at(days=1, hours=1))
    sync("Stage", "reg/api:2.0", at(days=2), "failed", "failed")
    sync("Stage", "reg/api:2.0", at(days=3), "rolled_back", "rolled_back")  # undone by its own rollback
    sync("Stage", "reg/api:2.0", at(days=5, hours=1))
    sync("Prod", "reg/api:2.1", at(days=1, hours=3))  # a hotfix: Prod first, Stage later
    sync("Stage", "reg/api:2.1", at(days=2, hours=3))
    sync("QA", "reg/web:1.3", at(days=5, hours=1))
    later_undone = sync("Stage", "reg/web:1.3", at(days=6, hours=1), "rolled_back", "rolled_back")
    record(session, stage, stage, kind="rollback", rollback_of=later_undone, start=at(days=7))


def test_lead_time_between_environments(session: Session) -> None:
    build_journeys(session)
    lead = compute_metrics(session).lead_times
    assert [(p.from_environment, p.to_environment, p.versions, p.median_seconds, p.mean_seconds)
            for p in lead.pairs] == [
        ("QA", "Stage", 4, DAY, 135000.0),
        ("QA", "Prod", 2, 2.5 * DAY, 2.5 * DAY),
        ("Stage", "Prod", 2, 162000.0, 162000.0),
    ]
    assert [(t.service, t.image, t.from_environment, t.to_environment, t.seconds) for t in lead.items] == [
        ("web", "reg/web:1.3", "QA", "Stage", DAY),
        ("api", "reg/api:2.0", "QA", "Stage", 4 * DAY),
        ("web", "reg/web:1.2", "QA", "Prod", 2 * DAY),
        ("web", "reg/web:1.2", "Stage", "Prod", DAY + 18 * HOUR),
        ("web", "reg/web:1.1", "QA", "Prod", 3 * DAY),
        ("web", "reg/web:1.1", "Stage", "Prod", 2 * DAY),
        ("web", "reg/web:1.2", "QA", "Stage", 6 * HOUR),
        ("web", "reg/web:1.1", "QA", "Stage", DAY),
    ]
    assert lead.items[0].to_at == at(days=6, hours=1)


def test_lead_time_filters(session: Session) -> None:
    build_journeys(session)
    into_prod = compute_metrics(session, HistoryFilter(environment_id=env_id(session, "Prod"))).lead_times
    assert [(p.from_environment, p.versions) for p in into_prod.pairs] == [("QA", 2), ("Stage", 2)]
    recent = compute_metrics(session, HistoryFilter(since=at(days=4))).lead_times
    assert [(p.from_environment, p.to_environment, p.versions, p.median_seconds) for p in recent.pairs] == [
        ("QA", "Stage", 2, 2.5 * DAY), ("QA", "Prod", 1, 2 * DAY), ("Stage", "Prod", 1, DAY + 18 * HOUR),
    ]
    api = compute_metrics(session, HistoryFilter(service="api"), list_limit=0).lead_times
    assert ([(p.versions, p.median_seconds) for p in api.pairs], api.items) == ([(1, 4 * DAY)], ())


def test_empty_history(session: Session) -> None:
    metrics = compute_metrics(session)
    assert (metrics.operations, metrics.daily, metrics.deployments, metrics.since) == (0, (), (), None)
    assert (metrics.change_failure_rate.rate, metrics.durations.mean_seconds) == (None, None)
    assert (metrics.restore.incidents, metrics.restore.median_seconds, metrics.lead_times.pairs) == (0, None, ())


def test_metrics_payload(session: Session) -> None:
    ops = build_incidents(session)
    payload = metrics_payload(compute_metrics(session, HistoryFilter(until=at(days=3, hours=-9))))
    json.dumps(payload)
    assert set(payload) == {"since", "until", "failureWindowSeconds", "operations", "daily", "successRate",
                            "durations", "deploymentFrequency", "changeFailureRate", "timeToRestore", "leadTime",
                            "headline"}
    assert (payload["since"], payload["until"], payload["failureWindowSeconds"]) == ("2026-03-02", "2026-03-04",
                                                                                     86400.0)
    prod = env_id(session, "Prod")
    assert payload["changeFailureRate"]["byEnvironment"][1] == {
        "environmentId": prod, "environment": "Prod", "syncs": 6, "failed": 6, "rate": 1.0}
    assert payload["timeToRestore"]["items"][1] == {
        "serviceId": "web", "workloadType": "Deployment", "environmentId": prod, "environment": "Prod",
        "siteName": "eu", "cluster": "c-east", "namespace": "shop-prod", "failedAt": "2026-03-03T09:00:10Z",
        "restoredAt": "2026-03-03T09:06:00Z", "seconds": 350.0, "failedOperationId": ops["d"],
        "restoredByOperationId": ops["d"],
    }
    # web:2 reached Stage at 12:01 and Prod (in operation c, rolled back later by hand) at 13:02.
    assert payload["leadTime"] == {
        "pairs": [{"fromEnvironmentId": env_id(session, "Stage"), "fromEnvironment": "Stage",
                   "toEnvironmentId": prod, "toEnvironment": "Prod", "versions": 1, "medianSeconds": 3660.0,
                   "meanSeconds": 3660.0}],
        "items": [{"serviceId": "web", "image": "reg/web:2", "imageTag": "2", "fromEnvironment": "Stage",
                   "toEnvironment": "Prod", "fromAt": "2026-03-02T12:01:00Z", "toAt": "2026-03-02T13:02:00Z",
                   "seconds": 3660.0}],
    }


# --- the rollback's reason, recorded by the real use-cases on the simulated Rancher --------------------------------

def _failures(ctx: AppContext) -> FailureRate:
    with ctx.session() as session:
        return compute_metrics(session).change_failure_rate


def test_an_operators_rollback_of_a_complete_sync_is_no_change_failure(demo: AppContext,
                                                                        rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"))
    assert operation.status == "complete"
    before = _failures(demo)
    assert (before.syncs, before.failed) == (1, 0)

    rollback_operation(demo, operation.id, actor=ADMIN, request_id=new_request_id(), options=FAST)

    with demo.session() as session:
        assert get_operation(session, operation.id).rollback_reason == "decided"
    assert _failures(demo) == before, "a person's decision to undo a good sync is not a failure"


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)  # frontend never becomes ready
def test_a_rollback_after_a_failed_rollout_check_is_a_change_failure(demo: AppContext,
                                                                      rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"), SyncOptions(timeout_seconds=3, poll_seconds=0.2))
    assert operation.status == "rolled_back" and operation.rollback_reason == "failed"
    failures = _failures(demo)
    assert (failures.syncs, failures.failed) == (1, 1)


def test_a_rollback_marked_failed_counts_even_after_a_complete_sync(demo: AppContext,
                                                                     rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"))
    rollback_operation(demo, operation.id, actor=ADMIN, request_id=new_request_id(), options=FAST, failed=True)
    with demo.session() as session:
        assert get_operation(session, operation.id).rollback_reason == "failed"
    failures = _failures(demo)
    assert (failures.syncs, failures.failed) == (1, 1)  # a check after the sync found it broken: `rollback --failed`


def test_lead_times_of_days_read_in_days_in_the_delivery_report(session: Session) -> None:
    build_journeys(session)
    metrics = compute_metrics(session)
    lead = next(f for f in figures(metrics) if "lead time" in f.layout.title.text)
    assert lead.layout.title.text == "Median lead time between environments (days)"
    assert list(lead.data[0].y) == [1.0, 2.5, 1.9] and list(lead.data[0].text) == ["1 day", "2 days 12 h",
                                                                                   "1 day 21 h"]


def test_a_day_without_syncs_is_a_gap_in_the_success_line(session: Session) -> None:
    envs = pipeline(session)
    record(session, envs["Dev"], envs["Stage"], start=at(days=0))
    record(session, envs["Dev"], envs["Stage"], "failed", start=at(days=3))
    metrics = compute_metrics(session)
    days = metrics.success_by_day()
    assert [(d.day - days[0].day).days for d in days] == [0, 1, 2, 3]
    assert [d.rate for d in days] == [1.0, None, None, 0.0]
    line = next(f for f in figures(metrics) if "Success rate" in f.layout.title.text).data[0]
    assert list(line.y) == [100.0, None, None, 0.0] and line.connectgaps is False
