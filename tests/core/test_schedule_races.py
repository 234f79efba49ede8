"""Races around approvals given ahead of a scheduled sync (issue 24), made deterministic with hooks: an approval that
lands while the scheduler fires is counted, or runs the request as its last approval, never lost; a scheduler that
dies between taking the approved request and opening its operation leaves it to fire again, once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from ranchersync.approvals import ahead
from ranchersync.approvals import requests as approval_requests
from ranchersync.context import AppContext
from ranchersync.models import ApprovalRequest, SyncOperation, utcnow
from ranchersync.simulator import SimulatedRancher
from ranchersync.trains import schedules
from tests.core.test_trains import (
    APPROVER,
    EAST,
    RELEASER,
    approval,
    runs_approved,
    schedule_ahead,
    scheduled,
)


def pause_once(original: Callable[..., Any], reached: threading.Event, go: threading.Event,
               only: Callable[..., bool]) -> Callable[..., Any]:
    """`original`, which the first call that `only` accepts enters only once `go` is set (after setting `reached`)."""
    taken = threading.Lock()

    def paused(*args: Any, **kwargs: Any) -> Any:
        if only(*args, **kwargs) and taken.acquire(blocking=False):
            reached.set()
            assert go.wait(60), "the test never let it go on"
        return original(*args, **kwargs)

    return paused


def test_the_last_approval_given_while_the_schedule_fires_is_counted_or_runs_it_never_lost(
    demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at, approvals=2)
    request_id = row.approval_request_id
    assert request_id is not None
    approval_requests.decide(demo, APPROVER, request_id, True)  # 1 of 2, ahead
    # The second approver's decision has read the request (its schedule still waiting) and is about to be
    # recorded when the scheduler fires and reads the count.
    reached, go = threading.Event(), threading.Event()
    monkeypatch.setattr(approval_requests, "_add_decision", pause_once(
        approval_requests._add_decision, reached, go, only=lambda _s, _r, actor, *_: actor == RELEASER))
    outcome: list[object] = []

    def second_approval() -> None:
        try:
            outcome.append(approval_requests.decide(demo, RELEASER, request_id, True))
        except Exception as error:  # a refusal is an acceptable end: recorded below
            outcome.append(error)

    approver = threading.Thread(target=second_approval)
    approver.start()
    assert reached.wait(30)
    assert schedules.run_due(demo, now=fire_at) == [row.id]
    go.set()
    approver.join(60)
    assert not approver.is_alive() and outcome

    request = approval(demo, request_id)
    given = sum(d.decision == "approve" for d in request.decisions)
    if isinstance(outcome[0], Exception):  # refused as too late: then it was not recorded either
        assert given == 1, f"refused ({outcome[0]}) but recorded"
    else:
        # Counted: with both approvals the request ran (by the scheduler or as its last approval).
        assert given == 2
        assert (request.status, request.operation_id is not None) == ("executed", True), \
            f"2 of 2 approvals and not run: {request.status} ({request.status_reason}); the schedule says " \
            f"{scheduled(demo, row.id).status}: {scheduled(demo, row.id).status_reason}"
        assert runs_approved(rancher_us, EAST)
        with demo.session() as session:
            assert len(session.scalars(select(SyncOperation)).all()) == 1


def test_an_approval_landing_while_the_scheduler_rechecks_is_counted_with_the_decision(
    demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at, approvals=2)
    request_id = row.approval_request_id
    assert request_id is not None
    approval_requests.decide(demo, APPROVER, request_id, True)
    # The scheduler has read the count (1 of 2) and re-reads Rancher when the second approval arrives.
    reached, go = threading.Event(), threading.Event()
    monkeypatch.setattr(ahead, "recheck", pause_once(ahead.recheck, reached, go, only=lambda *_: True))
    scheduler = threading.Thread(target=schedules.run_due, args=(demo,), kwargs={"now": fire_at})
    scheduler.start()
    assert reached.wait(30)
    decided = approval_requests.decide(demo, RELEASER, request_id, True)  # the last approval runs it
    go.set()
    scheduler.join(60)
    assert not scheduler.is_alive()
    assert decided.status == "executed" and decided.operation_id is not None
    fired = scheduled(demo, row.id)
    # The schedule records what became of it: the operation its last approval ran, never "refused".
    assert (fired.status, fired.operation_id) == ("executed", decided.operation_id), fired.status_reason
    with demo.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == 1
    assert runs_approved(rancher_us, EAST)


class Killed(BaseException):
    """The scheduler's process is killed here: nothing after it runs, not even its `finally` records."""


def test_a_scheduler_killed_between_taking_the_approved_request_and_opening_its_operation_fires_it_again_once(
    demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at)
    request_id = row.approval_request_id
    assert request_id is not None
    approval_requests.decide(demo, APPROVER, request_id, True)

    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(ahead, "_run", killed)
        patch.setattr(schedules, "_record", killed)  # a killed process records nothing
        with pytest.raises(Killed):
            schedules.run_due(demo, now=fire_at, worker="replica-dead")
    with demo.session() as session:
        assert session.get_one(ApprovalRequest, request_id).status == "approved"  # taken, never run
        assert session.scalars(select(SyncOperation)).all() == []
    assert scheduled(demo, row.id).status == "running"
    assert schedules.run_due(demo, now=fire_at + dt.timedelta(minutes=1)) == []  # claimed: not fired twice

    later = fire_at + dt.timedelta(seconds=schedules.RECLAIM_SECONDS + 60)
    assert schedules.run_due(demo, now=later, worker="replica-2") == [row.id]
    fired = scheduled(demo, row.id)
    assert (fired.status, fired.claimed_by) == ("executed", "replica-2"), fired.status_reason
    ran = approval(demo, request_id)
    assert (ran.status, ran.operation_id) == ("executed", fired.operation_id)
    assert runs_approved(rancher_us, EAST)
    assert schedules.run_due(demo, now=later + dt.timedelta(hours=1)) == []
    with demo.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == 1
