"""The sync's trail under load: result writes of many threads share commits (each writer still returns only once
its change is committed), and results recorded together write their arrivals and journeys as one-by-one would."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bench.sync_promotion import BENCH, seed, world
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import SyncResult
from ranchersync.simulator import SimulatedRancher
from ranchersync.simulator.world import parse_world
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments, records
from tests.core.test_arrivals import arrivals, finished_at, journeys, open_sync, three_environments


def commits(ctx: AppContext) -> list[int]:
    """A list that grows by one at each commit on the context's engine."""
    seen: list[int] = []
    event.listen(ctx.engine, "commit", lambda _connection: seen.append(1))
    return seen


def applied(ctx: AppContext, result_id: int) -> bool:
    with ctx.session() as session:
        return bool(session.get_one(SyncResult, result_id).applied)


def test_result_writes_arriving_during_a_commit_share_the_next_one_and_return_committed(ctx: AppContext) -> None:
    with ctx.session() as session:
        three_environments(session)
    _, result_ids = open_sync(ctx, "Stage", "Prod", "reg/web:2.0", instances=12)
    first, others = result_ids[0], result_ids[1:]
    group = records._group(ctx)

    def slow_first(session: Session) -> None:
        # The first transaction is still open while every other writer arrives: they queue for the next one.
        deadline = time.monotonic() + 30
        while len(group.queue) < len(others) and time.monotonic() < deadline:
            time.sleep(0.01)
        records._update_result(session, first, {"applied": True})

    counted = commits(ctx)
    seen_committed: dict[int, bool] = {}

    def writer(result_id: int) -> None:
        records.update_result(ctx, result_id, applied=True)
        seen_committed[result_id] = applied(ctx, result_id)  # another session reads it at once: it is there

    leader = threading.Thread(target=records.write_together, args=(ctx, slow_first))
    leader.start()
    while not group.writing:
        time.sleep(0.005)
    threads = [threading.Thread(target=writer, args=(rid,)) for rid in others]
    for thread in threads:
        thread.start()
    for thread in [leader, *threads]:
        thread.join(60)
    writes = len(counted) - len(others)  # each writer's own read-back commits once too
    assert writes == 2, f"{writes} transactions for {len(result_ids)} writes"
    assert seen_committed == {rid: True for rid in others}
    assert applied(ctx, first)


def test_a_change_that_fails_in_a_shared_commit_fails_only_its_writer(ctx: AppContext) -> None:
    with ctx.session() as session:
        three_environments(session)
    _, (one, two) = open_sync(ctx, "Stage", "Prod", "reg/web:2.1", instances=2)
    group = records._group(ctx)
    failures: list[BaseException] = []

    def slow_first(session: Session) -> None:
        deadline = time.monotonic() + 30
        while len(group.queue) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        records._update_result(session, one, {"applied": True})

    def broken(_session: Session) -> Any:
        raise ValueError("a bug in one change")

    def failing() -> None:
        try:
            records.write_together(ctx, broken)
        except ValueError as error:
            failures.append(error)

    leader = threading.Thread(target=records.write_together, args=(ctx, slow_first))
    leader.start()
    while not group.writing:
        time.sleep(0.005)
    threads = [threading.Thread(target=failing), threading.Thread(target=records.update_result, args=(ctx, two),
                                                                   kwargs={"applied": True})]
    for thread in threads:
        thread.start()
    for thread in [leader, *threads]:
        thread.join(60)
    assert [str(f) for f in failures] == ["a bug in one change"]
    assert applied(ctx, one) and applied(ctx, two)
    assert not group.writing and group.queue == []


@pytest.mark.parametrize("together", [True, False])
def test_results_recorded_together_write_the_arrivals_and_journeys_one_by_one_would(
    ctx: AppContext, together: bool
) -> None:
    with ctx.session() as session:
        three_environments(session)
    _, (stage,) = open_sync(ctx, "Dev", "Stage", "reg/web:3.0")
    _, prod = open_sync(ctx, "Stage", "Prod", "reg/web:3.0", instances=3)
    changes: list[tuple[int, dict[str, Any]]] = [(rid, {"status": "success"}) for rid in (stage, *prod)]
    if together:
        records.update_results(ctx, changes)
    else:
        for rid, fields in changes:
            records.update_result(ctx, rid, **fields)
    firsts = {rid: finished_at(ctx, rid) for rid in (stage, *prod)}
    earliest_prod = min(prod, key=lambda rid: (firsts[rid], rid))
    assert [(env, result, at) for env, _, _, _, result, at in arrivals(ctx)] == [
        ("Stage", stage, firsts[stage]), ("Prod", earliest_prod, firsts[earliest_prod])]
    # One journey Stage → Prod, though both its ends were recorded in the same statement.
    assert [(j[4], j[5]) for j in journeys(ctx)] == [(firsts[stage], firsts[earliest_prod])]
    with ctx.session() as session:
        assert {r.status for r in session.scalars(select(SyncResult))} == {"success"}


def test_a_sync_watches_a_namespace_s_rollouts_with_one_list_per_round_and_records_their_digests(
    tmp_path: Path,
) -> None:
    """Six services of one namespace: their rollouts are read by listing the namespace's Deployments each round
    (not by a GET of each, each round), and the digests their pods run by one list of the namespace's pods."""
    ctx = AppContext(Settings(f"sqlite:///{tmp_path / 'watch.db'}", (Fernet.generate_key().decode(),),
                              tmp_path / "key", "tester"))
    ctx.upgrade_database()
    services = 6
    with SimulatedRancher(parse_world(world(services, 1)), rollout_seconds=1) as server:
        seed(ctx, server.url, server.token, 1)
        with ctx.session() as session:
            plan = plan_environments(session, ctx.cipher, "Stage", "Prod", default_target="all")
        before = len(server.requests_seen())
        operation_id = apply_plan(ctx, plan, actor=BENCH, request_id=new_request_id(),
                                  options=SyncOptions(poll_seconds=0.2, timeout_seconds=30))
        answered = server.requests_seen()[before:]
    # After the last PATCH (each PATCH reads its workload first): what watched the rollouts.
    last_patch = max(i for i, (method, _) in enumerate(answered) if method == "PATCH")
    seen = [path.split("?")[0] for method, path in answered[last_patch:] if method == "GET"]
    ctx.engine.dispose()
    with ctx.session() as session:
        operation = get_operation(session, operation_id)
        assert operation.status == "complete"
        assert [(r.status, bool(r.verified_digests)) for r in operation.results] == [("success", True)] * services
    prod = "/apis/apps/v1/namespaces/prod-0/deployments"
    reads = [p for p in seen if p.split(prod, 1)[-1].startswith("/")]
    lists = [p for p in seen if p.endswith(prod)]
    pods = [p for p in seen if p.endswith("/api/v1/namespaces/prod-0/pods")]
    # A rollout of 1 s checked every 0.2 s: a GET per service and round would be about 30 (a round that watches
    # fewer than LIST_FROM of them reads each: the first ones to land, alone for a moment).
    assert len(reads) < 2 * services and lists, "\n".join(seen)
    assert 1 <= len(pods) < services, "\n".join(seen)
