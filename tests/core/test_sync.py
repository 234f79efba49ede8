"""Applying, verifying, recording and rolling back syncs against two simulated Rancher servers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.history import get_operation_detail
from ranchersync.kernel.errors import ValidationError
from ranchersync.models import SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import (
    Confirmation,
    ProgressEvent,
    SyncBusy,
    SyncOptions,
    SyncPlan,
    apply_plan,
    get_operation,
    new_request_id,
    plan_environments,
    progress_line,
    records,
    rollback_operation,
)
from ranchersync.sync.execute import ANNOTATION_OPERATION
from tests.builders import ADMIN

EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
FRONTEND = ("Deployment", "frontend")


def plan(ctx: AppContext, *services: str, source: str = "Stage", target: str = "Prod", **kwargs) -> SyncPlan:
    with ctx.session() as session:
        return plan_environments(session, ctx.cipher, source, target, services=list(services) or None,
                                 targets={FRONTEND: "all", ("Deployment", "checkout"): "all"}, **kwargs)


def apply(ctx: AppContext, the_plan: SyncPlan, options: SyncOptions = FAST, confirm_env: str | None = None,
          **kwargs) -> SyncOperation:
    operation_id = apply_plan(ctx, the_plan,
                              actor=Actor("tester", "admin", "cli"), request_id=new_request_id(), options=options,
                              confirmed=Confirmation(confirm_env=confirm_env), **kwargs)
    with ctx.session() as session:
        return get_operation(session, operation_id)


def image(server: SimulatedRancher, cluster: str, name: str, container: str | None = None) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", name)
    assert obj is not None
    containers = obj["spec"]["template"]["spec"]["containers"]
    return next(c["image"] for c in containers if container in (None, c["name"]))


def test_promote_to_every_target_instance_verify_and_record(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    assert [(i.target_label, [(c.current, c.new) for c in i.changes]) for i in the_plan.to_apply] == [
        (name, [("registry.example.com:5000/shop/frontend:3.8.0", "registry.example.com:5000/shop/frontend:3.8.1")])
        for name in ("shop-east", "shop-west")
    ]
    operation = apply(demo, the_plan)
    assert operation.status == "complete" and operation.kind == "sync"
    assert [(r.service, r.status, r.previous_image, r.new_image) for r in operation.results] == [
        ("frontend", "success", "registry.example.com:5000/shop/frontend:3.8.0",
         "registry.example.com:5000/shop/frontend:3.8.1")] * 2
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend") == "registry.example.com:5000/shop/frontend:3.8.1"
        obj = rancher_us.get_object(cluster, "Deployment", "shop-prod", "frontend")
        assert obj is not None and obj["metadata"]["annotations"][ANNOTATION_OPERATION] == str(operation.id)
        status = obj["status"]
        assert status["availableReplicas"] == status["updatedReplicas"] == obj["spec"]["replicas"]
    assert operation.started_at is not None and operation.finished_at is not None


def test_everything_that_differs_skips_what_cannot_change(demo: AppContext) -> None:
    the_plan = plan(demo, default_target="all")
    by_name = {(i.name, i.target_label): i for i in the_plan.items}
    assert by_name[("catalog", "shop-east")].skip_reason == "workload paused"
    assert by_name[("frontend", "shop-west")].will_change
    assert all(i.skip_reason != "already equal" for i in the_plan.items)
    assert "| `frontend` | Deployment | `shop-east` | `web` |" in the_plan.to_markdown()


def test_a_protected_environment_needs_its_name_typed(demo: AppContext) -> None:
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    the_plan = plan(demo, "frontend")
    with pytest.raises(ValidationError, match="Prod is protected"):
        apply(demo, the_plan)
    with pytest.raises(ValidationError, match="protected"):
        apply(demo, the_plan, confirm_env="prod")
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []
    assert apply(demo, the_plan, confirm_env="Prod").status == "complete"


def test_a_workload_changed_after_the_plan_is_not_overwritten(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/frontend:3.8.0-hotfix"
    rancher_us.set_object(EAST, obj)
    operation = apply(demo, the_plan)
    east, west = operation.results
    assert east.status == "skipped" and "changed since the plan" in (east.error or "")
    assert "3.8.0-hotfix" in (east.error or "")
    assert west.status == "success"
    assert operation.status == "partial"
    assert image(rancher_us, EAST, "frontend").endswith("3.8.0-hotfix")


def test_a_change_after_the_plan_that_leaves_the_spec_alone_does_not_stop_the_sync(
        demo: AppContext, rancher_us: SimulatedRancher) -> None:
    """A rollout going on writes the workload's status, a controller its labels: its resourceVersion moves, its
    generation does not. The PATCH conditioned on the plan's version meets a 409; reading again shows the spec
    that was reviewed, so it is sent again on the new version rather than skipped."""
    the_plan = plan(demo, "frontend")
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    planned = obj["metadata"]["resourceVersion"]
    obj["metadata"].setdefault("labels", {})["team"] = "checkout-squad"
    changed = rancher_us.set_object(EAST, obj)
    assert changed["metadata"]["resourceVersion"] != planned
    assert changed["metadata"]["generation"] == obj["metadata"]["generation"]
    operation = apply(demo, the_plan)
    assert [r.status for r in operation.results] == ["success", "success"], [r.error for r in operation.results]
    assert image(rancher_us, EAST, "frontend").endswith(":3.8.1")
    assert rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")["metadata"]["labels"]["team"] == \
        "checkout-squad"


def test_another_spec_edit_after_the_plan_is_not_overwritten(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["spec"]["replicas"] = obj["spec"].get("replicas", 1) + 2  # not a container: still not what was reviewed
    rancher_us.set_object(EAST, obj)
    operation = apply(demo, the_plan)
    east, west = operation.results
    assert east.status == "skipped" and "another field was edited" in (east.error or ""), east.error
    assert west.status == "success" and image(rancher_us, EAST, "frontend").endswith(":3.8.0")


def test_a_workload_deleted_after_the_plan_is_reported(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    assert rancher_us.delete_object(WEST, "Deployment", "shop-prod", "frontend")
    operation = apply(demo, the_plan)
    assert [r.status for r in operation.results] == ["success", "skipped"]
    assert "deleted since the plan" in (operation.results[1].error or "")
    assert operation.status == "partial"


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_a_rollout_that_never_becomes_ready_is_rolled_back(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend", "checkout")
    events: list[ProgressEvent] = []
    operation = apply(demo, the_plan, SyncOptions(timeout_seconds=30, poll_seconds=0.2), progress=events.append)
    assert operation.status == "rolled_back"
    # The core names the automatic rollback: no listener has to guess it from the order of the events.
    east_checkout = [e.stage for e in events if (e.service, e.target) == ("checkout", "shop-east")]
    assert east_checkout == ["planned", "applying", "applied", "verifying", "success",
                             "rolling_back", "rolling_back", "rolling_back", "rolled_back"]
    east_frontend = [e for e in events if (e.service, e.target) == ("frontend", "shop-east")]
    assert [e.stage for e in east_frontend][-5:] == ["failed", "rolling_back", "rolling_back", "rolling_back",
                                                     "rolled_back"]
    assert "progress deadline" in east_frontend[-5].note
    assert events[-1] == ProgressEvent(0, "", "", "done", "rolled_back", operation_id=operation.id)
    assert [progress_line(e) for e in events if e.stage == "rolled_back"][0] is not None
    statuses = {(r.service, r.status) for r in operation.results}
    assert statuses == {("frontend", "failed"), ("checkout", "rolled_back")}
    failed = next(r for r in operation.results if r.service == "frontend")
    assert "progress deadline" in (failed.error or "") and "rolled back" in (failed.error or "")
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("frontend:3.8.0")
        assert image(rancher_us, cluster, "checkout").endswith("checkout:4.0.2")


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_without_auto_rollback_the_failure_stays_and_is_recorded(demo: AppContext, rancher_us) -> None:
    options = SyncOptions(timeout_seconds=30, poll_seconds=0.2, auto_rollback=False)
    operation = apply(demo, plan(demo, "frontend", "checkout"), options)
    assert operation.status == "partial"
    assert {(r.service, r.status) for r in operation.results} == {("frontend", "failed"), ("checkout", "success")}
    assert image(rancher_us, EAST, "frontend").endswith("3.8.1")


def test_a_rollout_past_its_timeout_fails(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"), SyncOptions(timeout_seconds=0.3, poll_seconds=0.1))
    assert operation.status == "rolled_back"
    assert all("not finished after" in (r.error or "") for r in operation.results)


def test_a_server_error_on_a_patch_is_read_back_and_sent_again(demo: AppContext, rancher_us: SimulatedRancher
                                                                 ) -> None:
    the_plan = plan(demo, "frontend")
    path = rf"/k8s/clusters/{WEST}/apis/apps/v1/namespaces/shop-prod/deployments/frontend$"
    rancher_us.fail_next(path, status=500, method="PATCH")
    operation = apply(demo, the_plan)
    assert operation.status == "complete" and [r.status for r in operation.results] == ["success", "success"]
    assert image(rancher_us, WEST, "frontend").endswith("3.8.1")
    # The failed PATCH was read back (not applied), then sent once more: two in all, never blind.
    assert len([p for m, p in rancher_us.requests_seen() if m == "PATCH" and WEST in p]) == 2


def test_a_patch_whose_answer_was_lost_is_not_sent_twice(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    path = rf"/k8s/clusters/{WEST}/apis/apps/v1/namespaces/shop-prod/deployments/frontend$"
    rancher_us.fail_next(path, status=504, method="PATCH", after=True)  # applied, then the answer is lost
    before = rancher_us.get_object(WEST, "Deployment", "shop-prod", "frontend")
    assert before is not None
    operation = apply(demo, the_plan)
    assert operation.status == "complete" and all(r.applied for r in operation.results)
    west_patches = [p for m, p in rancher_us.requests_seen() if m == "PATCH" and WEST in p]
    assert len(west_patches) == 1  # the read-back showed the change: never applied twice
    after = rancher_us.get_object(WEST, "Deployment", "shop-prod", "frontend")
    assert after is not None and after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_a_server_error_on_every_try_fails_that_service(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    rancher_us.fail_next(rf"/k8s/clusters/{WEST}/apis/apps/v1/namespaces/shop-prod/deployments/frontend$",
                         status=500, method="PATCH", count=4)
    operation = apply(demo, the_plan)
    east, west = operation.results
    assert west.status == "failed" and "500" in (west.error or "") and "4 tries" in (west.error or "")
    assert east.status == "rolled_back" and operation.status == "rolled_back"
    assert image(rancher_us, EAST, "frontend").endswith("3.8.0")
    assert image(rancher_us, WEST, "frontend").endswith("3.8.0")


def test_a_token_revoked_mid_sync_fails_cleanly(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "frontend")
    record = rancher_us.tokens.get(rancher_us.token.split(":")[0])
    assert record is not None
    record.enabled = False  # an admin disables the API key in Rancher between the plan and the confirmation
    operation = apply(demo, the_plan)
    assert operation.status == "failed"
    secret = rancher_us.token.split(":")[1]
    assert all(r.status == "failed" and "401" in (r.error or "") and secret not in (r.error or "")
               for r in operation.results)
    assert image(rancher_us, EAST, "frontend").endswith("3.8.0")


def test_the_same_confirmation_never_applies_twice(demo: AppContext) -> None:
    the_plan = plan(demo, "frontend")
    request = new_request_id()
    apply_plan(demo, the_plan, actor=Actor("t", "admin", "cli"), request_id=request, options=FAST)
    with pytest.raises(SyncBusy, match="already applied") as busy:
        apply_plan(demo, the_plan, actor=Actor("t", "admin", "cli"), request_id=request, options=FAST)
    assert busy.value.reason == "already_applied" and busy.value.operation_id is not None


def test_two_syncs_racing_for_one_target_do_not_interleave(demo: AppContext) -> None:
    plans = [plan(demo, "frontend"), plan(demo, "checkout")]
    outcomes: list[object] = []
    gate = threading.Barrier(2)

    def run(p: SyncPlan) -> None:
        gate.wait()
        try:
            outcomes.append(apply(demo, p).status)
        except SyncBusy as busy:
            outcomes.append(busy)

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    busy = [o for o in outcomes if isinstance(o, SyncBusy)]
    assert len(busy) == 1 and "is changing Prod right now" in str(busy[0])
    assert isinstance(busy[0], SyncBusy) and busy[0].reason == "target_busy"
    assert [o for o in outcomes if not isinstance(o, SyncBusy)] == ["complete"]


def test_a_finished_sync_can_be_rolled_back_later(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    operation = apply(demo, plan(demo, "frontend"))
    rollback_id = rollback_operation(demo, operation.id,
                                     actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
                                     options=FAST)
    with demo.session() as session:
        rollback = get_operation(session, rollback_id)
        original = get_operation(session, operation.id)
        assert (rollback.kind, rollback.status, rollback.rollback_of_id) == ("rollback", "complete", operation.id)
        assert [(r.previous_image, r.new_image) for r in rollback.results] == [
            ("registry.example.com:5000/shop/frontend:3.8.1", "registry.example.com:5000/shop/frontend:3.8.0")] * 2
        assert original.status == "rolled_back"
        assert {r.status for r in original.results} == {"rolled_back"}
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend").endswith("3.8.0")
    with pytest.raises(ValidationError, match="already rolled back"):
        rollback_operation(demo, operation.id,
                           actor=Actor("t", "admin", "cli"), request_id=new_request_id(), options=FAST)


def test_the_report_after_a_sync_is_the_history_detail(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    events: list[ProgressEvent] = []
    operation = apply(demo, plan(demo, "frontend"), progress=events.append)
    assert events[-1].stage == "done" and events[-1].operation_id == operation.id
    with demo.session() as session:
        report = get_operation_detail(session, operation.id)
    assert (report.ok, report.updated, report.source_environment, report.target_environment) == (
        True, 2, "Stage", "Prod")
    assert [(r.service, r.target_label, r.status, r.previous_tag, r.new_tag) for r in report.results] == [
        ("frontend", "shop-east", "success", "3.8.0", "3.8.1"), ("frontend", "shop-west", "success", "3.8.0", "3.8.1")]


def test_a_reader_never_sees_a_rollback_complete_and_its_original_not_rolled_back(
    demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch
) -> None:
    operation = apply(demo, plan(demo, "frontend"))
    seen: list[tuple[str, str, set[str]]] = []
    close = records.close_operation

    def close_then_read(ctx: AppContext, operation_id: int, status: str, *args: object, **kwargs: object) -> None:
        close(ctx, operation_id, status, *args, **kwargs)  # type: ignore[arg-type]
        if operation_id != operation.id:  # the rollback's record just committed: what does another reader see?
            with demo.session() as session:
                original = get_operation(session, operation.id)
                seen.append((status, original.status, {r.status for r in original.results}))

    monkeypatch.setattr(records, "close_operation", close_then_read)
    rollback_operation(demo, operation.id, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
                       options=FAST)
    assert seen == [("complete", "rolled_back", {"rolled_back"})]
