"""Four-eyes approvals against two simulated Rancher servers: a sync into an environment that needs approvals becomes
a request bound to the exact plan; another releaser's last approval re-checks it and runs it, or finds it stale."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.approvals import requests as approvals
from ranchersync.approvals.promote import Applied, Requested, promote
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.governance.four_eyes import NeedsApprovalRequest, RequestClosed, approvals_needed
from ranchersync.history import get_operation_detail, operation_payload
from ranchersync.kernel.errors import PermissionDenied, ValidationError
from ranchersync.models import ApprovalRequest, AuditEvent, Environment, SyncOperation, utcnow
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SyncOptions, SyncPlan, apply_plan, new_request_id, plan_environments
from tests.builders import ADMIN

EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
STAGE = "c-m-4hs9wz2t"
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
FRONTEND = ("Deployment", "frontend")
OLD, NEW = "registry.example.com:5000/shop/frontend:3.8.0", "registry.example.com:5000/shop/frontend:3.8.1"

ALICE = Actor("alice@example.com", "operator", "cli")
BOB = Actor("bob@example.com", "releaser", "dashboard")
CAROL = Actor("carol@example.com", "releaser", "cli")
OSCAR = Actor("oscar@example.com", "operator", "dashboard")


def needs(ctx: AppContext, count: int, *, protected: bool = False) -> None:
    with ctx.session() as session:
        environments.update_environment(session, "Prod", required_approvals=count, protected=protected, actor=ADMIN)


def frontend_plan(ctx: AppContext) -> SyncPlan:
    with ctx.session() as session:
        return plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={FRONTEND: "all"})


def request(ctx: AppContext, actor: Actor = ALICE, confirm_env: str | None = None) -> int:
    """Sync frontend Stage → Prod as `actor`; the target needs approvals, so this must only create a request."""
    outcome = promote(ctx, actor, frontend_plan(ctx), request_id=new_request_id(), options=FAST,
                      confirmed=Confirmation(confirm_env=confirm_env))
    assert isinstance(outcome, Requested), outcome
    assert f"request #{outcome.request_id} waits" in outcome.message
    with ctx.session() as session:  # nothing ran: only the request
        assert session.scalars(select(SyncOperation)).all() == []
    return outcome.request_id


def prod_image(server: SimulatedRancher, cluster: str) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    return obj["spec"]["template"]["spec"]["containers"][0]["image"]


def audit_actions(ctx: AppContext) -> list[tuple[str, str]]:
    with ctx.session() as session:
        return [(e.action, e.actor) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                if e.action.startswith("approval.")]


def test_a_request_runs_when_another_releaser_approves(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    needs(demo, 1)
    request_id = request(demo)
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []  # nothing applied
        stored = approvals.get_request(session, request_id)
        east = next(t for t in stored.binding["targets"] if t["appInstance"] == "shop-east")
        live = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
        assert live is not None and east["resourceVersion"] == live["metadata"]["resourceVersion"]
        assert east["containers"][0]["previous"] == OLD and east["containers"][0]["new"] == NEW
        assert east["containers"][0]["digests"][0].startswith("sha256:")
        bound = east["containers"][0]["digests"][0]
        assert stored.status == "pending" and stored.required == 1 and stored.requested_by == ALICE.email
        assert stored.expires_at - stored.requested_at == dt.timedelta(hours=24)
    assert prod_image(rancher_us, EAST) == OLD

    decided = approvals.decide(demo, BOB, request_id, True, "looks good")
    assert decided.status == "executed" and decided.operation_id is not None
    # The approved bits, not whatever the tag names at pull time (issue 18 item 13): tag@the bound digest.
    assert prod_image(rancher_us, EAST) == f"{NEW}@{bound}" and prod_image(rancher_us, WEST) == f"{NEW}@{bound}"
    with demo.session() as session:
        payload = operation_payload(get_operation_detail(session, decided.operation_id), with_results=True)
    assert payload["status"] == "complete"
    assert payload["initiatedBy"] == ALICE.email and payload["approvedBy"] == [BOB.email]
    assert audit_actions(demo) == [("approval.requested", ALICE.email), ("approval.approved", BOB.email),
                                   ("approval.executed", BOB.email)]
    with pytest.raises(RequestClosed, match="executed"):  # it ran once; it cannot run again
        approvals.decide(demo, CAROL, request_id, True)


def test_the_requester_never_approves_their_own_request(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    needs(demo, 1)
    request_id = request(demo, actor=Actor("alice@example.com", "releaser", "cli"))
    with pytest.raises(PermissionDenied, match="requester can never approve"):
        approvals.decide(demo, Actor("Alice@Example.com", "admin", "dashboard"), request_id, True)
    with pytest.raises(PermissionDenied, match="only a releaser or higher"):
        approvals.decide(demo, OSCAR, request_id, True)
    with pytest.raises(ValidationError, match="comment is required"):
        approvals.decide(demo, BOB, request_id, False, "  ")
    with demo.session() as session:
        assert approvals.get_request(session, request_id).status == "pending"
        assert approvals.get_request(session, request_id).decisions == []
    assert prod_image(rancher_us, EAST) == OLD


def test_two_approvals_needed_the_first_keeps_it_pending(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    needs(demo, 2)
    request_id = request(demo)
    first = approvals.decide(demo, BOB, request_id, True, "ok from me")
    assert first.status == "pending" and [d.actor for d in first.decisions] == [BOB.email]
    assert prod_image(rancher_us, EAST) == OLD
    with pytest.raises(PermissionDenied, match="already decided"):
        approvals.decide(demo, BOB, request_id, True)
    second = approvals.decide(demo, CAROL, request_id, True)
    assert second.status == "executed"
    assert prod_image(rancher_us, EAST).startswith(f"{NEW}@sha256:")  # the approved digest (issue 18 item 13)
    with demo.session() as session:
        payload = operation_payload(get_operation_detail(session, second.operation_id or 0))
    assert payload["approvedBy"] == [BOB.email, CAROL.email]


def test_a_target_changed_after_the_request_makes_it_stale(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    needs(demo, 1)
    request_id = request(demo)
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    before = obj["metadata"]["resourceVersion"]
    obj["metadata"].setdefault("labels", {})["team"] = "night-shift"  # not even the image: any change counts
    after = rancher_us.set_object(EAST, obj)["metadata"]["resourceVersion"]
    decided = approvals.decide(demo, BOB, request_id, True)
    assert decided.status == "stale" and decided.operation_id is None
    assert decided.status_reason == (f"frontend in shop-east changed since the request (resourceVersion {before} → "
                                      f"{after})")
    assert prod_image(rancher_us, EAST) == OLD and prod_image(rancher_us, WEST) == OLD  # nothing applied anywhere
    assert audit_actions(demo)[-1] == ("approval.stale", BOB.email)


def test_a_repushed_source_tag_makes_it_stale(demo: AppContext, rancher: SimulatedRancher,
                                              rancher_us: SimulatedRancher) -> None:
    needs(demo, 1)
    request_id = request(demo)
    digest = rancher.repush_image(NEW)
    decided = approvals.decide(demo, BOB, request_id, True)
    assert decided.status == "stale"
    assert decided.status_reason == f"frontend: {NEW} now points at {digest}"
    assert prod_image(rancher_us, EAST) == OLD


def test_a_source_that_became_unhealthy_makes_it_stale(demo: AppContext, rancher: SimulatedRancher,
                                                       rancher_us: SimulatedRancher) -> None:
    needs(demo, 1)
    request_id = request(demo)
    cart = rancher.get_object(STAGE, "Deployment", "shop-stage", "cart")
    assert cart is not None
    cart["status"].update(availableReplicas=0, readyReplicas=0)
    rancher.set_object(STAGE, cart)
    decided = approvals.decide(demo, BOB, request_id, True)
    assert decided.status == "stale" and decided.status_reason == "Stage is unhealthy: cart failed"
    assert prod_image(rancher_us, EAST) == OLD


def test_a_freeze_that_started_since_the_request_makes_it_stale(demo: AppContext,
                                                                rancher_us: SimulatedRancher) -> None:
    from ranchersync.governance import freeze

    needs(demo, 1)
    request_id = request(demo)
    with demo.session() as session:
        freeze.add_window(session, ADMIN, environment="Prod", reason="incident review",
                          starts_at=utcnow() - dt.timedelta(minutes=1), ends_at=utcnow() + dt.timedelta(hours=2))
    decided = approvals.decide(demo, BOB, request_id, True)
    assert decided.status == "stale" and decided.operation_id is None
    # Named up front by the re-check, not found by a failed run ("could not run: …").
    assert decided.status_reason.startswith("Prod is frozen") and "incident review" in decided.status_reason
    assert prod_image(rancher_us, EAST) == OLD


def test_a_rejection_closes_the_request(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    needs(demo, 2)
    request_id = request(demo)
    rejected = approvals.decide(demo, BOB, request_id, False, "not during the sale")
    assert rejected.status == "rejected" and rejected.status_reason == f"rejected by {BOB.email}: not during the sale"
    with pytest.raises(RequestClosed, match="rejected"):
        approvals.decide(demo, CAROL, request_id, True)
    assert prod_image(rancher_us, EAST) == OLD


def test_requests_expire(demo: AppContext) -> None:
    needs(demo, 1)
    request_id = request(demo)
    with demo.session() as session:
        assert approvals.expire_requests(session, utcnow() + dt.timedelta(hours=23)) == []
        assert approvals.expire_requests(session, utcnow() + dt.timedelta(hours=24, minutes=1)) == [request_id]
        expired = approvals.get_request(session, request_id)
        assert expired.status == "expired" and "with 0 of 1 approval" in expired.status_reason
    with pytest.raises(RequestClosed, match="expired"):
        approvals.decide(demo, BOB, request_id, True)
    assert ("approval.expired", "system") in audit_actions(demo)


def test_an_operator_requests_where_a_releaser_syncs(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    """A protected environment without required approvals: operators request, releasers sync directly."""
    needs(demo, 0, protected=True)
    request_id = request(demo, actor=OSCAR, confirm_env="Prod")
    with demo.session() as session:
        assert approvals.get_request(session, request_id).required == 1
    operation_id = apply_plan(demo, frontend_plan(demo), request_id=new_request_id(),
                              options=FAST, actor=BOB, confirmed=Confirmation(confirm_env="Prod"))
    with demo.session() as session:
        assert session.get_one(SyncOperation, operation_id).status == "complete"
    decided = approvals.decide(demo, CAROL, request_id, True)  # the targets moved meanwhile: Bob's sync
    assert decided.status == "stale" and "changed since the request" in decided.status_reason


@pytest.mark.parametrize(("required", "protected", "role", "needed"), [
    (0, False, "operator", 0),
    (0, True, "operator", 1),
    (0, True, "releaser", 0),
    (2, False, "admin", 2),
    (3, True, "operator", 3),
])
def test_approvals_needed(required: int, protected: bool, role: str, needed: int) -> None:
    env = Environment(name="Prod", required_approvals=required, protected=protected)
    assert approvals_needed(env, Actor("someone", role, "cli")) == needed  # type: ignore[arg-type]


def test_an_unapproved_request_cannot_be_run_by_naming_it(demo: AppContext) -> None:
    needs(demo, 1)
    request_id = request(demo)
    with pytest.raises(RequestClosed, match="not an approved request"):
        apply_plan(demo, frontend_plan(demo), actor=Actor("mallory", "admin", "cli"), request_id=new_request_id(),
                   options=FAST, confirmed=Confirmation(approval=request_id))
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []


@pytest.mark.parametrize("value", [-1, 6])
def test_required_approvals_are_zero_to_five(demo: AppContext, value: int) -> None:
    with pytest.raises(ValidationError, match="0 \\(none\\) to 5"), demo.session() as session:
        environments.update_environment(session, "Prod", required_approvals=value, actor=ADMIN)
    with demo.session() as session:
        assert environments.get_environment(session, "Prod").required_approvals == 0
        assert session.scalars(select(ApprovalRequest)).all() == []


def test_a_source_already_unhealthy_when_requested_does_not_block(demo: AppContext, rancher: SimulatedRancher,
                                                                  rancher_us: SimulatedRancher) -> None:
    """Only a source that *became* unhealthy after the request lapses it: the requester saw the rest."""
    needs(demo, 1)
    cart = rancher.get_object(STAGE, "Deployment", "shop-stage", "cart")
    assert cart is not None
    cart["status"].update(availableReplicas=0, readyReplicas=0)
    rancher.set_object(STAGE, cart)
    request_id = request(demo)
    assert approvals.decide(demo, BOB, request_id, True).status == "executed"
    assert prod_image(rancher_us, EAST).startswith(f"{NEW}@sha256:")  # the approved digest (issue 18 item 13)


def test_the_apply_use_case_never_skips_the_four_eyes(demo: AppContext) -> None:
    """Called directly (not through promote), a sync that needs approvals is refused and nothing runs."""
    needs(demo, 1)
    with pytest.raises(NeedsApprovalRequest) as refused:
        apply_plan(demo, frontend_plan(demo), actor=BOB, request_id=new_request_id(), options=FAST)
    assert refused.value.exit_code == 3 and "needs 1 approval by someone else" in str(refused.value)
    with demo.session() as session:
        assert session.scalars(select(SyncOperation)).all() == []
        assert session.scalars(select(ApprovalRequest)).all() == []


def test_promote_applies_at_once_where_no_approval_is_needed(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    outcome = promote(demo, BOB, frontend_plan(demo), request_id=new_request_id(), options=FAST)
    assert isinstance(outcome, Applied)
    with demo.session() as session:
        assert get_operation_detail(session, outcome.operation_id).status == "complete"
        assert session.scalars(select(ApprovalRequest)).all() == []
