"""Release trains (issue 24): snapshots, a snapshot promoted as one operation (all or nothing), a restore, locks with
a message, and scheduled syncs fired once by racing schedulers — against two simulated Rancher servers."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading

import pytest
from sqlalchemy import select

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.approvals import requests as approval_requests
from ranchersync.approvals.promote import Applied
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.governance import freeze, locks
from ranchersync.governance.four_eyes import RequestClosed
from ranchersync.kernel.errors import EnvironmentFrozen, RefusedByPolicy, ValidationError
from ranchersync.models import ApprovalRequest, AuditEvent, OutboxMessage, ScheduledRequest, SyncOperation, utcnow
from ranchersync.simulator import SimulatedRancher
from ranchersync.snapshots import entries, store
from ranchersync.sync import Confirmation, ConfirmationRequired, SyncOptions, get_operation, new_request_id
from ranchersync.trains import schedules, trains
from tests.builders import ADMIN, CliRun, cli_runner

EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
FAST = SyncOptions(timeout_seconds=30, poll_seconds=0.2)
RELEASER = Actor("rel@example.com", "admin", "cli")
REG = "registry.example.com:5000/shop"


def images(server: SimulatedRancher, cluster: str, kind: str, name: str) -> list[str]:
    obj = server.get_object(cluster, kind, "shop-prod", name)
    assert obj is not None
    return [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]]


def prod_images(server: SimulatedRancher) -> dict[tuple[str, str], list[str]]:
    """Every promotable Prod workload's images, per cluster."""
    found = {}
    for cluster in (EAST, WEST):
        for kind, name in (("Deployment", "frontend"), ("Deployment", "cart"), ("Deployment", "catalog"),
                           ("Deployment", "checkout"), ("StatefulSet", "redis")):
            found[(cluster, name)] = images(server, cluster, kind, name)
    return found


def snapshot(ctx: AppContext, env: str, name: str) -> store.SnapshotView:
    with ctx.session() as session:
        return store.create_snapshot(session, ctx.cipher, RELEASER, environment=env, name=name)


def put(ctx: AppContext, plan, confirm_env: str | None = None) -> SyncOperation:
    outcome = trains.put_in_place(ctx, RELEASER, plan, request_id=new_request_id(),
                                  confirmed=Confirmation(confirm_env=confirm_env), options=FAST)
    assert isinstance(outcome, Applied)
    with ctx.session() as session:
        return get_operation(session, outcome.operation_id)


def subscribe(ctx: AppContext, events: str) -> None:
    with ctx.session() as session:
        notify.add_subscription(session, ctx.cipher, ADMIN, environment="Prod", url="json://127.0.0.1:9/hook",
                                events=events)


def outbox(ctx: AppContext, event: str) -> list[OutboxMessage]:
    with ctx.session() as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.event == event)))
        session.expunge_all()
        return rows


def audit_actions(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# ---- snapshots --------------------------------------------------------------------------------------------------


def test_a_snapshot_records_every_service_with_its_digests_and_is_never_replaced(demo: AppContext) -> None:
    view = snapshot(demo, "Stage", "stage-rel-1")
    names = {(e.kind, e.name) for e in view.entries}
    assert {("Deployment", "frontend"), ("StatefulSet", "redis"), ("DaemonSet", "log-agent"),
            ("CronJob", "nightly-report")} <= names
    frontend = next(e for e in view.entries if e.name == "frontend")
    assert [(c.name, c.image) for c in frontend.containers] == [("web", f"{REG}/frontend:3.8.1")]
    assert frontend.containers[0].digest.startswith("sha256:")  # what its pods run, not only the tag
    assert view.created_by == RELEASER.email and view.kind == "manual"
    with pytest.raises(ValidationError, match="exists already"):
        snapshot(demo, "Stage", "stage-rel-1")
    with pytest.raises(ValidationError, match="automatic"):
        snapshot(demo, "Stage", "before-op-1")
    with demo.session() as session:
        assert [v.name for v in store.list_snapshots(session, "Stage")] == ["stage-rel-1"]
        assert store.list_snapshots(session, "Prod") == []
        assert "snapshot.create" in [a for a, in session.execute(select(AuditEvent.action))]


def test_snapshots_compare_with_each_other_and_with_an_environment_now(demo: AppContext) -> None:
    stage, prod = snapshot(demo, "Stage", "s1"), snapshot(demo, "Prod", "p1")
    rows = {(r.name, r.container): r for r in entries.diff(stage.entries, prod.entries)}
    assert rows[("frontend", "web")].state == "changed"
    assert rows[("frontend", "web")].right == (f"{REG}/frontend:3.8.0",)
    assert rows[("cart", "cart")].right == (f"{REG}/cart:1.4.1", f"{REG}/cart:1.4.2")  # east and west disagree
    search = rows[("search", "search")]  # the same tag, pushed again after Stage pulled it: another digest
    assert search.left == search.right and search.left_digests != search.right_digests
    assert search.state == "changed"
    assert rows[("log-agent", "fluent-bit")].state == "same"
    with demo.session() as session:
        _, now = store.diff_with_environment(session, demo.cipher, "s1", "Stage")
    assert {r.state for r in now} == {"same"}


# ---- a snapshot promoted as one operation ------------------------------------------------------------------------


@pytest.mark.parametrize("rancher_us", [r"checkout:4\.0\.3"], indirect=True)
def test_a_train_of_five_services_where_one_fails_puts_all_five_back_in_one_operation(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    snapshot(demo, "Stage", "train-1")
    before = prod_images(rancher_us)
    with demo.session() as session:
        plan = trains.plan_snapshot_promotion(session, demo.cipher, "train-1", "Prod")
    assert sorted({i.name for i in plan.to_apply}) == ["cart", "catalog", "checkout", "frontend", "redis"]
    assert "snapshot train-1" in plan.to_markdown()
    operation = put(demo, plan)
    assert operation.status == "rolled_back"
    assert prod_images(rancher_us) == before  # all five back on their previous images, on both clusters
    checkout = [r for r in operation.results if r.service == "checkout"]
    assert checkout and all(r.status == "failed" and "rolled back" in (r.error or "") for r in checkout)
    others = [r for r in operation.results if r.service != "checkout" and r.status != "skipped"]
    assert others and {r.status for r in others} <= {"rolled_back", "failed"}
    with demo.session() as session:
        operations = session.scalars(select(SyncOperation)).all()
        assert [(o.id, o.kind) for o in operations] == [(operation.id, "sync")]  # one operation, its results
        assert any("snapshot train-1 → Prod" in e.detail for e in session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == str(operation.id))))
        before_snapshot = store.snapshot_of_operation(session, operation.id)
    assert before_snapshot is not None and before_snapshot.kind == "automatic"
    kept = {(e.instance, e.name): e.containers[0].image for e in before_snapshot.entries}
    assert kept[("shop-east", "frontend")] == f"{REG}/frontend:3.8.0"  # what ran before: one look away


def test_a_restore_puts_an_environment_back_and_a_protected_one_needs_its_name(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    snapshot(demo, "Prod", "prod-good")
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    snapshot(demo, "Stage", "stage-now")
    with demo.session() as session:
        forward = trains.plan_snapshot_promotion(session, demo.cipher, "stage-now", "Prod")
    forward = type(forward)(forward.source, forward.target, forward.mode,
                            tuple(i for i in forward.items if i.name == "frontend"), snapshot=forward.snapshot)
    assert put(demo, forward, confirm_env="Prod").status == "complete"
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.1"]
    with demo.session() as session:
        plan = trains.plan_restore(session, demo.cipher, "Prod", "prod-good")
        with pytest.raises(ValidationError, match="not of Stage|own snapshot"):
            trains.plan_restore(session, demo.cipher, "Stage", "prod-good")
    assert [(i.name, i.target_label) for i in plan.to_apply] == [("frontend", "shop-east"),
                                                                  ("frontend", "shop-west")]
    with pytest.raises(ConfirmationRequired):
        put(demo, plan)
    operation = put(demo, plan, confirm_env="Prod")
    assert operation.status == "complete"
    for cluster in (EAST, WEST):
        assert images(rancher_us, cluster, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]


# ---- locks ------------------------------------------------------------------------------------------------------


MESSAGE = "DB migration running — do not promote"


def test_a_lock_refuses_a_sync_with_its_message_is_audited_and_notified(demo: AppContext) -> None:
    subscribe(demo, "lock.added")
    with demo.session() as session:
        lock = locks.add_lock(session, RELEASER, environment="Prod", service="frontend", message=MESSAGE)
        locks.add_lock(session, RELEASER, environment="Stage", message="Stage is being rebuilt")
    snapshot(demo, "Stage", "s")
    with demo.session() as session:
        plan = trains.plan_snapshot_promotion(session, demo.cipher, "s", "Prod")
    with pytest.raises(locks.EnvironmentLocked, match=MESSAGE) as refused:
        put(demo, plan)
    assert refused.value.exit_code == 3 and f"lock #{lock.id}" in str(refused.value)
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []  # refused before anything was opened
        locks.remove_lock(session, RELEASER, lock.id)
        assert [v.scope for v in locks.list_locks(session)] == ["Stage"]
    assert put(demo, plan).status == "complete"  # the lock removed, the train goes
    assert audit_actions(demo).count("lock.add") == 2 and audit_actions(demo).count("lock.remove") == 1
    [message] = [m for m in outbox(demo, "lock.added") if "frontend" in m.payload.get("detail", "")]
    assert message.payload["reason"] == MESSAGE and message.payload["actor"] == RELEASER.email


def test_a_lock_on_another_service_does_not_hold_this_one(demo: AppContext) -> None:
    with demo.session() as session:
        locks.add_lock(session, RELEASER, environment="Prod", service="cart", message="cart: load test")
        blocking = locks.blocking_locks(session, "Prod", {"frontend"})
        assert blocking == []
        assert [v.service for v in locks.blocking_locks(session, "Prod", {"cart", "frontend"})] == ["cart"]
        with pytest.raises(ValidationError):
            locks.add_lock(session, RELEASER, environment="Prod", message="  ")
        with pytest.raises(RefusedByPolicy):
            locks.add_lock(session, Actor("v@example.com", "viewer"), environment="Prod", message="no")


@pytest.fixture
def cli(demo: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    return functools.partial(cli_runner(demo, monkeypatch, capsys), "ops-lead")


def test_the_cli_refuses_a_locked_sync_with_exit_3_and_the_message(cli) -> None:
    status, out, err = cli("locks", "add", "--env", "Prod", "--service", "frontend", "--message", MESSAGE)
    assert status == 0, err
    status, out, err = cli("locks", "list", "--json")
    assert status == 0 and MESSAGE in out
    status, _, err = cli("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance",
                         "all", "--yes")
    assert status == 3 and MESSAGE in err and "locked" in err


# ---- scheduled requests -----------------------------------------------------------------------------------------


def schedule_frontend(ctx: AppContext, fire_at: dt.datetime) -> int:
    with ctx.session() as session:
        row = schedules.schedule(session, RELEASER, schedules.Schedule(
            target="Prod", source="Stage", services=("frontend",), default_target="all", fire_at=fire_at,
            timezone="Europe/Berlin", options=FAST))
        return row.id


def scheduled(ctx: AppContext, request_id: int) -> ScheduledRequest:
    with ctx.session() as session:
        row = session.get_one(ScheduledRequest, request_id)
        session.expunge(row)
        return row


def test_a_scheduled_sync_fires_once_with_two_schedulers_running(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    subscribe(demo, "schedule.fired")
    fire_at = utcnow() + dt.timedelta(hours=1)
    request_id = schedule_frontend(demo, fire_at)
    assert schedules.run_due(demo, now=fire_at - dt.timedelta(minutes=1)) == []  # not due yet
    assert scheduled(demo, request_id).status == "scheduled"
    fired: list[list[int]] = []
    start = threading.Barrier(2)

    def scheduler(name: str) -> None:
        start.wait()
        fired.append(schedules.run_due(demo, now=fire_at + dt.timedelta(seconds=5), worker=name))

    threads = [threading.Thread(target=scheduler, args=(f"replica-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(fired) == [[], [request_id]]  # one scheduler claimed it, the other found it taken
    row = scheduled(demo, request_id)
    assert row.status == "executed" and row.operation_id is not None and row.claimed_by in ("replica-1", "replica-2")
    with demo.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == 1
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.1"]
    [message] = outbox(demo, "schedule.fired")
    assert message.payload["status"] == "executed" and message.payload["operationId"] == row.operation_id
    assert schedules.run_due(demo, now=fire_at + dt.timedelta(hours=1)) == []  # never again


def test_a_freeze_that_started_after_scheduling_refuses_it_at_fire_time(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=1)
    request_id = schedule_frontend(demo, fire_at)
    with demo.session() as session:
        freeze.add_window(session, ADMIN, environment="Prod", reason="Black Friday", starts_at=utcnow(),
                          ends_at=utcnow() + dt.timedelta(hours=3))
    assert schedules.run_due(demo, now=fire_at) == [request_id]
    row = scheduled(demo, request_id)
    assert row.status == "refused" and "Black Friday" in row.status_reason and row.operation_id is None
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []
        listed = schedules.list_schedules(session)
        assert [(r.id, r.status) for r in listed] == [(request_id, "refused")]
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]
    assert issubclass(EnvironmentFrozen, RefusedByPolicy)


def test_a_request_whose_scheduler_died_after_claiming_it_fires_again_later_and_once(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=1)
    request_id = schedule_frontend(demo, fire_at)
    # A scheduler claims it and is killed before the sync starts: the request stays `running`, nothing ran.
    assert schedules._claim(demo, request_id, "replica-dead", fire_at)
    assert schedules.run_due(demo, now=fire_at + dt.timedelta(minutes=1)) == []  # claimed: not fired twice
    assert scheduled(demo, request_id).status == "running"
    later = fire_at + dt.timedelta(seconds=schedules.RECLAIM_SECONDS + 60)
    assert schedules.run_due(demo, now=later, worker="replica-2") == [request_id]
    row = scheduled(demo, request_id)
    assert (row.status, row.claimed_by) == ("executed", "replica-2")
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.1"]
    assert schedules.run_due(demo, now=later + dt.timedelta(hours=1)) == []
    with demo.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == 1


def test_a_request_whose_scheduler_died_during_its_sync_takes_the_operations_outcome(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=1)
    request_id = schedule_frontend(demo, fire_at)
    assert schedules.run_due(demo, now=fire_at) == [request_id]
    operation_id = scheduled(demo, request_id).operation_id
    with demo.session() as session:  # as if the scheduler had died before recording the outcome
        row = session.get_one(ScheduledRequest, request_id)
        row.status, row.operation_id = "running", None
    assert schedules.run_due(demo, now=fire_at + dt.timedelta(seconds=schedules.RECLAIM_SECONDS + 60)) == []
    row = scheduled(demo, request_id)
    assert (row.status, row.operation_id) == ("executed", operation_id), "never fired again"
    assert "its scheduler stopped" in row.status_reason


def test_a_schedule_is_refused_in_the_past_and_cancelled_once(demo: AppContext) -> None:
    with pytest.raises(ValidationError, match="past"):
        schedule_frontend(demo, utcnow() - dt.timedelta(minutes=1))
    request_id = schedule_frontend(demo, utcnow() + dt.timedelta(days=1))
    with demo.session() as session:
        assert schedules.cancel(session, RELEASER, request_id).status == "cancelled"
        with pytest.raises(ValidationError, match="cancelled"):
            schedules.cancel(session, RELEASER, request_id)
    assert schedules.run_due(demo, now=utcnow() + dt.timedelta(days=2)) == []


def test_the_cli_schedules_lists_and_runs_the_scheduler(cli, demo: AppContext) -> None:
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    status, out, err = cli("sync", "--from", "Stage", "--to", "Prod", "--service", "frontend", "--target-instance",
                           "all", "--at", at, "--yes")
    assert status == 0 and "Scheduled request #1" in out, err
    status, out, _ = cli("schedules", "list", "--json")
    assert status == 0 and '"status": "scheduled"' in out
    status, out, _ = cli("scheduler", "--once")
    assert status == 0 and "Nothing is due" in out
    status, out, _ = cli("schedules", "cancel", "1")
    assert status == 0


def test_the_comparison_shows_who_holds_what(cli) -> None:
    status, _, err = cli("locks", "add", "--env", "Prod", "--service", "frontend", "--message", MESSAGE)
    assert status == 0, err
    status, out, _ = cli("services", "compare", "--env", "Stage", "--env", "Prod", "--json")
    assert status == 0
    payload = json.loads(out)
    assert [(lock["environment"], lock["service"], lock["message"]) for lock in payload["locks"]] == [
        ("Prod", "frontend", MESSAGE)]
    status, out, _ = cli("services", "compare", "--env", "Stage", "--env", "Prod")
    [line] = [row for row in out.splitlines() if " frontend " in f" {row} "]
    assert f"locked in Prod: {MESSAGE}" in line
    assert not any("locked in" in row for row in out.splitlines() if " cart " in f" {row} ")


# ---- approvals given before a scheduled sync fires --------------------------------------------------------------

OPERATOR = Actor("alice@example.com", "operator", "cli")
APPROVER = Actor("bob@example.com", "releaser", "dashboard")


def schedule_ahead(ctx: AppContext, fire_at: dt.datetime, *, approvals: int = 1) -> ScheduledRequest:
    """An operator schedules frontend Stage → Prod, where Prod needs `approvals` by someone else."""
    with ctx.session() as session:
        environments.update_environment(session, "Prod", required_approvals=approvals, actor=ADMIN)
    row = schedules.schedule_with_approvals(ctx, OPERATOR, schedules.Schedule(
        target="Prod", source="Stage", services=("frontend",), default_target="all", fire_at=fire_at,
        timezone="Europe/Berlin", options=FAST))
    assert row.status == "scheduled" and row.approval_request_id is not None
    return row


def runs_approved(server: SimulatedRancher, cluster: str) -> bool:
    """Whether Prod's frontend runs 3.8.1, pinned to the digest the approval was bound to."""
    return images(server, cluster, "Deployment", "frontend")[0].startswith(f"{REG}/frontend:3.8.1@sha256:")


def approval(ctx: AppContext, request_id: int) -> ApprovalRequest:
    with ctx.session() as session:
        request = approval_requests.get_request(session, request_id)
        session.expunge_all()
        return request


def test_a_scheduled_sync_is_approved_before_it_fires_and_runs_then_on_that_approval(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    subscribe(demo, "schedule.fired")
    fire_at = utcnow() + dt.timedelta(days=3)
    row = schedule_ahead(demo, fire_at)
    request_id = row.approval_request_id
    assert request_id is not None
    pending = approval(demo, request_id)  # on the Approvals screen now, open until after it fires
    assert pending.status == "pending" and pending.expires_at > fire_at
    decided = approval_requests.decide(demo, APPROVER, request_id, True, "fine for Tuesday")
    assert decided.status == "pending" and decided.operation_id is None  # the approval waits for the fire time
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]
    with pytest.raises(RequestClosed, match="runs when its schedule fires"):
        approval_requests.decide(demo, RELEASER, request_id, True)
    assert schedules.run_due(demo, now=fire_at) == [row.id]
    fired = scheduled(demo, row.id)
    assert fired.status == "executed" and fired.operation_id is not None
    assert fired.approval_request_id == request_id
    ran = approval(demo, request_id)
    assert (ran.status, ran.operation_id) == ("executed", fired.operation_id)
    assert runs_approved(rancher_us, EAST)
    assert runs_approved(rancher_us, WEST)
    with demo.session() as session:
        operation = get_operation(session, fired.operation_id)
        assert operation.initiated_by == OPERATOR.email
    [message] = outbox(demo, "schedule.fired")
    assert message.payload["status"] == "executed" and message.payload["operationId"] == fired.operation_id


def test_a_plan_that_changed_before_it_fired_needs_the_approvals_again(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    subscribe(demo, "schedule.fired")
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at)
    first = row.approval_request_id
    assert first is not None
    approval_requests.decide(demo, APPROVER, first, True)
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["metadata"].setdefault("labels", {})["team"] = "night-shift"  # the target moved after the approval
    rancher_us.set_object(EAST, obj)
    assert schedules.run_due(demo, now=fire_at) == [row.id]
    fired = scheduled(demo, row.id)
    assert fired.status == "requested" and fired.operation_id is None
    assert fired.approval_request_id not in (None, first)
    assert "the plan changed before it fired" in fired.status_reason and "frontend in shop-east changed" in \
        fired.status_reason
    stale = approval(demo, first)
    assert stale.status == "stale" and "changed since the request" in stale.status_reason
    again = approval(demo, fired.approval_request_id)
    assert again.status == "pending" and again.decisions == []  # the approvals are needed again
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]
    [message] = outbox(demo, "schedule.fired")
    assert message.payload["status"] == "requested" and "plan changed" in message.payload["reason"]
    # The new request runs as any request does: on its last approval.
    ran = approval_requests.decide(demo, APPROVER, fired.approval_request_id, True)
    assert ran.status == "executed"
    assert runs_approved(rancher_us, EAST)


def test_a_scheduled_request_not_yet_approved_when_it_fires_runs_on_its_last_approval(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at, approvals=2)
    request_id = row.approval_request_id
    assert request_id is not None
    approval_requests.decide(demo, APPROVER, request_id, True)
    assert schedules.run_due(demo, now=fire_at) == [row.id]
    fired = scheduled(demo, row.id)
    assert (fired.status, fired.approval_request_id) == ("requested", request_id)
    assert "has 1 of 2 approvals" in fired.status_reason
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]
    assert approval_requests.decide(demo, RELEASER, request_id, True).status == "executed"
    assert runs_approved(rancher_us, EAST)


def test_cancelling_a_scheduled_request_closes_its_approval_request(demo: AppContext) -> None:
    row = schedule_ahead(demo, utcnow() + dt.timedelta(hours=2))
    assert row.approval_request_id is not None
    with demo.session() as session:
        schedules.cancel(session, OPERATOR, row.id)
    closed = approval(demo, row.approval_request_id)
    assert closed.status == "stale" and f"scheduled request #{row.id} was cancelled" in closed.status_reason
    with pytest.raises(RequestClosed):
        approval_requests.decide(demo, APPROVER, row.approval_request_id, True)


def test_a_scheduled_request_approved_ahead_is_refused_by_a_freeze_that_started_since(
    demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = utcnow() + dt.timedelta(hours=2)
    row = schedule_ahead(demo, fire_at)
    assert row.approval_request_id is not None
    approval_requests.decide(demo, APPROVER, row.approval_request_id, True)
    with demo.session() as session:
        freeze.add_window(session, ADMIN, environment="Prod", reason="Black Friday", starts_at=utcnow(),
                          ends_at=fire_at + dt.timedelta(hours=3))
    assert schedules.run_due(demo, now=fire_at) == [row.id]
    fired = scheduled(demo, row.id)
    assert fired.status == "refused" and "Black Friday" in fired.status_reason and fired.operation_id is None
    closed = approval(demo, row.approval_request_id)
    assert closed.status == "stale" and "refused when it fired" in closed.status_reason
    assert images(rancher_us, EAST, "Deployment", "frontend") == [f"{REG}/frontend:3.8.0"]
