"""First arrivals of versions (what the lead time reads): written as a sync records its results, withdrawn by its
own automatic rollback, kept by a later rollback operation, and filled from existing history by migration 0006."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ranchersync.context import AppContext
from ranchersync.history import HistoryFilter, dora
from ranchersync.models import Environment, SyncResult, VersionArrival, VersionJourney
from ranchersync.simulator import SimulatedRancher
from ranchersync.storage import db
from ranchersync.sync import SyncOptions, new_request_id, rollback_operation
from ranchersync.sync.records import Opening, PlannedResult, close_operation, open_operation, update_result
from tests.builders import ADMIN
from tests.core.test_history_metrics import build_journeys
from tests.core.test_sync import FAST, apply, plan


def arrivals(ctx: AppContext) -> list[tuple[Any, ...]]:
    with ctx.session() as session:
        return [tuple(row) for row in session.execute(
            select(Environment.name, VersionArrival.service, VersionArrival.image, VersionArrival.operation_id,
                   VersionArrival.result_id, VersionArrival.arrived_at)
            .join(Environment, Environment.id == VersionArrival.environment_id)
            .order_by(VersionArrival.service, VersionArrival.image, Environment.position))]


def journeys(ctx: AppContext) -> list[tuple[Any, ...]]:
    with ctx.session() as session:
        return [tuple(row) for row in session.execute(
            select(VersionJourney.from_environment_id, VersionJourney.to_environment_id, VersionJourney.service,
                   VersionJourney.image, VersionJourney.from_at, VersionJourney.to_at, VersionJourney.seconds)
            .order_by(VersionJourney.service, VersionJourney.image, VersionJourney.from_environment_id,
                      VersionJourney.to_environment_id))]


def open_sync(ctx: AppContext, source: str, target: str, image: str, instances: int = 1) -> tuple[int, list[int]]:
    """A running sync of `web` into `target` (one result per app instance), as the sync engine opens it."""
    with ctx.session() as session:
        ids = {e.name: e.id for e in session.scalars(select(Environment))}
    planned = [PlannedResult("web", "Deployment", None, None, "eu", f"c-{n}", "shop", (
        {"name": "app", "init": False, "previous": "reg/web:1.0", "new": image},)) for n in range(instances)]
    return open_operation(ctx, Opening(kind="sync", mode="full", source=(ids[source], source),
                                       target=(ids[target], target), initiated_by="tester",
                                       request_id=new_request_id(), planned=planned), actor=ADMIN)


def finished_at(ctx: AppContext, result_id: int) -> dt.datetime:
    with ctx.session() as session:
        found = session.get_one(SyncResult, result_id).finished_at
    assert found is not None
    return found


def three_environments(session: Session) -> None:
    session.add_all(Environment(name=name, position=i) for i, name in enumerate(("Dev", "Stage", "Prod")))


def test_recording_results_writes_first_arrivals_and_journeys(ctx: AppContext) -> None:
    with ctx.session() as session:
        three_environments(session)
    stage_op, (stage_result,) = open_sync(ctx, "Dev", "Stage", "reg/web:1.1")
    update_result(ctx, stage_result, applied=True)
    assert arrivals(ctx) == []  # applied is not delivered: the rollout is not verified yet
    update_result(ctx, stage_result, status="success")
    close_operation(ctx, stage_op, "complete")
    prod_op, (prod_result,) = open_sync(ctx, "Stage", "Prod", "reg/web:1.1")
    update_result(ctx, prod_result, status="success")
    close_operation(ctx, prod_op, "complete")
    again_op, (again_result,) = open_sync(ctx, "Stage", "Prod", "reg/web:1.1")  # the same version once more
    update_result(ctx, again_result, status="success")  # a second writer: ignored, not an error

    found = arrivals(ctx)
    assert [(env, op, result) for env, _, _, op, result, _ in found] == [
        ("Stage", stage_op, stage_result), ("Prod", prod_op, prod_result)]
    assert found[1][5] == finished_at(ctx, prod_result)
    stage_at, prod_at = finished_at(ctx, stage_result), finished_at(ctx, prod_result)
    [(_, _, service, image, from_at, to_at, seconds)] = journeys(ctx)
    assert (service, image, from_at, to_at) == ("web", "reg/web:1.1", stage_at, prod_at)
    assert abs(seconds - (prod_at - stage_at).total_seconds()) < 0.002
    with ctx.session() as session:
        lead = dora.lead_times(session, HistoryFilter(), 10)
    assert [(p.from_environment, p.to_environment, p.versions) for p in lead.pairs] == [("Stage", "Prod", 1)]
    assert again_op != prod_op


def test_an_automatic_rollback_withdraws_the_arrival_and_the_next_result_takes_its_place(ctx: AppContext) -> None:
    with ctx.session() as session:
        three_environments(session)
    stage_op, (stage_result,) = open_sync(ctx, "Dev", "Stage", "reg/web:1.2")
    update_result(ctx, stage_result, status="success")
    close_operation(ctx, stage_op, "complete")
    _, (east, west) = open_sync(ctx, "Stage", "Prod", "reg/web:1.2", instances=2)
    update_result(ctx, east, status="success")
    update_result(ctx, west, status="success")
    assert [r[4] for r in arrivals(ctx)] == [stage_result, east]

    update_result(ctx, east, status="rolled_back")  # undone by the operation's own rollback (west's failed)
    assert [r[4] for r in arrivals(ctx)] == [stage_result, west]
    assert [j[5] for j in journeys(ctx)] == [finished_at(ctx, west)]
    update_result(ctx, west, status="rolled_back")
    assert [r[4] for r in arrivals(ctx)] == [stage_result] and journeys(ctx) == []


def test_a_real_sync_records_the_arrival_and_a_later_rollback_keeps_it(demo: AppContext,
                                                                       rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"))
    first = min(operation.results, key=lambda r: (r.finished_at, r.id))
    expected = [("Prod", "frontend", "registry.example.com:5000/shop/frontend:3.8.1", operation.id, first.id,
                 first.finished_at)]
    assert arrivals(demo) == expected
    rollback_operation(demo, operation.id, actor=ADMIN, request_id=new_request_id(), options=FAST)
    assert arrivals(demo) == expected  # it did run in Prod: the lead time still counts it


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)  # frontend never becomes ready
def test_a_real_sync_undone_by_its_own_rollback_records_no_arrival(demo: AppContext,
                                                                     rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend", "checkout"), SyncOptions(timeout_seconds=30, poll_seconds=0.2))
    assert operation.status == "rolled_back"
    assert arrivals(demo) == []


def test_the_migration_backfills_first_arrivals_and_journeys_from_existing_history(ctx: AppContext) -> None:
    with ctx.session() as session:
        build_journeys(session)  # written as the sync would have (tests.core.test_history.record)
    recorded, recorded_journeys = arrivals(ctx), journeys(ctx)
    with ctx.session() as session:
        lead = dora.lead_times(session, HistoryFilter(), 100)
    assert len(recorded) > 10 and len(recorded_journeys) > 5

    db.downgrade(ctx.engine, "0006")  # a database from before first arrivals were kept, its history intact
    assert "version_arrivals" not in inspect(ctx.engine).get_table_names()
    db.upgrade(ctx.engine)
    assert arrivals(ctx) == recorded
    assert journeys(ctx) == recorded_journeys
    with ctx.session() as session:
        assert dora.lead_times(session, HistoryFilter(), 100) == lead


def test_the_earliest_result_is_the_arrival_whichever_commits_first(ctx: AppContext) -> None:
    # Two app instances' results of one sync finish a millisecond apart and race to commit their arrival.
    from ranchersync.history.arrivals import record_arrival

    with ctx.session() as session:
        three_environments(session)
    _, (east, west) = open_sync(ctx, "Stage", "Prod", "reg/web:1.2", instances=2)
    early = dt.datetime(2026, 11, 30, 12, 0, 0, 1000, tzinfo=dt.UTC)
    with ctx.session() as session:
        for result_id, at in ((east, early + dt.timedelta(milliseconds=2)), (west, early)):
            result = session.get_one(SyncResult, result_id)
            result.status, result.finished_at = "success", at
        session.flush()
        record_arrival(session, session.get_one(SyncResult, east))  # the later one commits first
        record_arrival(session, session.get_one(SyncResult, west))
    assert [(r[4], r[5]) for r in arrivals(ctx)] == [(west, early)]
