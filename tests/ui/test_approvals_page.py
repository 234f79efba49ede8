"""The Approvals page and the four-eyes hunks of other screens, against two simulated Rancher servers: a pending
request shows its bound diff; another person approves it and the sync runs; the requester cannot decide; a
rejection needs a comment; the sync review turns into a request; the Environments page sets the approvals."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from ranchersync.access.identity import Actor
from ranchersync.approvals import requests as approvals
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.models import ApprovalRequest, ScheduledRequest, SyncOperation
from ranchersync.people import preferences
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, plan_environments
from ranchersync.trains import schedules
from tests.builders import ADMIN
from tests.ui.conftest import ROOT, assert_no_token, assert_ok
from tests.ui.fakes import shown
from tests.ui.test_sync_dialog import review
from ui.shell import user_preferences

PAGE = "pages/7_Approvals.py"
EAST = "c-m-7rb2kx9q"
FRONTEND = "registry.example.com:5000/shop/frontend"
ALICE = Actor("alice@example.com", "operator", "cli")


@pytest.fixture
def shop(app_env: AppContext, demo: AppContext) -> AppContext:
    """The demo catalogue with Prod needing one approval."""
    with demo.session() as session:
        environments.update_environment(session, "Prod", required_approvals=1, actor=ADMIN)
    return demo


def ask(ctx: AppContext, actor: Actor = ALICE) -> int:
    """A request to promote frontend Stage → Prod, as `actor`."""
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    return approvals.request_sync(ctx, actor, plan, options=SyncOptions(timeout_seconds=20, poll_seconds=0.2)).id


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def image(server: SimulatedRancher) -> str:
    obj = server.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def operations(ctx: AppContext) -> int:
    with ctx.session() as session:
        return int(session.scalar(select(func.count()).select_from(SyncOperation)) or 0)


def frame(at: AppTest, column: str):
    """The first dataframe with this column (AppTest's dataframes carry no key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def text(at: AppTest) -> str:
    return shown("\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                           + [i.value for i in at.info]))


def test_a_pending_request_shows_its_diff_and_another_person_approves_it(
    shop: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher
) -> None:
    request_id = ask(shop)
    at = open_page()
    assert "Waiting for a decision (1)" in at.subheader[0].value
    assert f"#{request_id} · Stage → Prod" in text(at)
    # The asker as a code span: nothing escaped, no invisible word joiner, so it copies as it reads (item 17).
    assert any(c.value.startswith("Asked by `alice@example.com` at ") for c in at.caption)
    diff = frame(at, "Source digest")
    assert list(diff[["Service", "Target app instance", "Previous image", "New image"]].itertuples(
        index=False, name=None)) == [("frontend", name, f"{FRONTEND}:3.8.0", f"{FRONTEND}:3.8.1")
                                     for name in ("shop-east", "shop-west")]
    assert all(d.startswith("sha256:") for d in diff["Source digest"])
    assert not at.button(key=f"approve_{request_id}").disabled

    at.button(key=f"approve_{request_id}").click().run()
    assert at.get("dialog") and at.button(key="decide_confirm").label == "Approve and run"
    at.text_area(key="decide_comment").input("checked with the team").run()
    at.button(key="decide_confirm").click().run()
    assert_ok(at)
    assert not at.get("dialog")
    assert any(f"Request #{request_id} approved" in shown(s.value) for s in at.toast)
    assert image(rancher_us).startswith(f"{FRONTEND}:3.8.1@sha256:")  # the digest the approval bound (issue 18.13)
    decided = frame(at, "Decided by")
    assert list(decided[["#", "Status", "Asked by", "Decided by"]].itertuples(index=False, name=None)) == [
        (request_id, "executed", "alice@example.com", "tester")]
    assert_no_token(at, rancher.token)
    assert_no_token(at, rancher_us.token)


def test_the_requester_cannot_decide_their_own_request(shop: AppContext) -> None:
    request_id = ask(shop, Actor("tester", "releaser", "dashboard"))  # the app's user (RANCHERSYNC_USER)
    at = open_page()
    assert at.button(key=f"approve_{request_id}").disabled and at.button(key=f"reject_{request_id}").disabled


def test_a_rejection_needs_a_comment(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    request_id = ask(shop)
    at = open_page()
    at.button(key=f"reject_{request_id}").click().run()
    assert at.button(key="decide_confirm").label == "Reject" and at.button(key="decide_confirm").disabled
    at.text_area(key="decide_comment").input("not during the sale").run()
    at.button(key="decide_confirm").click().run()
    assert_ok(at)
    assert "No sync waits for approval" in text(at)
    with shop.session() as session:
        stored = approvals.get_request(session, request_id)
        assert stored.status == "rejected" and stored.status_reason == "rejected by tester: not during the sale"
    assert image(rancher_us) == f"{FRONTEND}:3.8.0" and operations(shop) == 0


def test_a_stale_request_is_reported_and_nothing_runs(shop: AppContext, rancher: SimulatedRancher,
                                                      rancher_us: SimulatedRancher) -> None:
    request_id = ask(shop)
    digest = rancher.repush_image(f"{FRONTEND}:3.8.1")
    at = open_page()
    at.button(key=f"approve_{request_id}").click().run()
    at.button(key="decide_confirm").click().run()
    assert_ok(at)
    assert any(f"now points at {digest}" in shown(w.value) for w in at.warning)
    assert image(rancher_us) == f"{FRONTEND}:3.8.0" and operations(shop) == 0


def test_the_sync_review_creates_a_request_instead_of_applying(shop: AppContext, rancher_us: SimulatedRancher
                                                                ) -> None:
    at = review(shop, "frontend")
    assert any("This will create an approval request (1 approval needed)" in i.value for i in at.info)
    assert at.button(key="sync_apply").label == "Request approval for 2 changes"
    at.button(key="sync_apply").click().run()
    assert_ok(at)
    assert not at.get("dialog")
    with shop.session() as session:
        [stored] = session.scalars(select(ApprovalRequest)).all()
    assert stored.status == "pending" and stored.requested_by == "tester" and stored.required == 1
    assert any(f"Approval request #{stored.id} created" in shown(s.value) for s in at.toast)
    assert image(rancher_us) == f"{FRONTEND}:3.8.0" and operations(shop) == 0


def test_the_environments_page_sets_the_approvals(open_app, seed, ctx: AppContext) -> None:
    ids = seed()
    at = open_app("pages/2_Environments.py")
    at.button(key=f"env_edit_{ids['Prod']}").click().run()
    at.number_input(key=f"edit_env_{ids['Prod']}_approvals").set_value(2).run()
    at.button(key="edit_env_save").click().run()
    assert_ok(at)
    with ctx.session() as session:
        assert environments.get_environment(session, "Prod").required_approvals == 2
    assert ":violet-badge[:material/approval: 2 approvals]" in [m.value for m in at.markdown]


# ---- scheduled requests (issue 24): approvable before they fire, shown in the viewer's time zone ---------------


def schedule_frontend(ctx: AppContext, fire_at: dt.datetime) -> int:
    """Alice schedules frontend Stage → Prod at `fire_at` (UTC); Prod needs an approval, so a request is made now."""
    row = schedules.schedule_with_approvals(ctx, ALICE, schedules.Schedule(
        target="Prod", source="Stage", services=("frontend",), default_target="all", fire_at=fire_at,
        timezone="Europe/Berlin", options=SyncOptions(timeout_seconds=20, poll_seconds=0.2)))
    assert row.approval_request_id is not None
    return row.id


def in_tokyo(ctx: AppContext) -> None:
    """The viewer (the app's user) reads times in Tokyo (Settings)."""
    with ctx.session() as session:
        actor = Actor(ctx.settings.user, "admin")
        current = preferences.get_preferences(session, actor.email)
        preferences.save_preferences(session, actor,
                                     preferences.Preferences(**{**current.__dict__, "timezone": "Asia/Tokyo"}))
    user_preferences.for_user.clear()


def test_a_scheduled_request_shows_its_fire_time_and_is_approved_before_it_fires(
    shop: AppContext, rancher_us: SimulatedRancher
) -> None:
    fire_at = dt.datetime(2031, 3, 4, 5, 0, tzinfo=dt.UTC)
    schedule_id = schedule_frontend(shop, fire_at)
    in_tokyo(shop)
    at = open_page()
    request_id = scheduled_request(shop, schedule_id)
    card = text(at)
    assert f"#{request_id} · Stage → Prod" in card
    assert "Scheduled" in card and "2031-03-04 14:00 JST" in card  # 05:00 UTC in the viewer's zone
    assert any(shown(m.value).startswith(f":material/schedule: **#{schedule_id} · Stage → Prod: frontend** · fires "
                                  "**2031-03-04 14:00 JST**") for m in at.markdown)
    at.button(key=f"approve_{request_id}").click().run()
    assert at.button(key="decide_confirm").label == "Approve", "it runs when it fires, not now"
    at.button(key="decide_confirm").click().run()
    assert_ok(at)
    assert any("runs when its schedule fires" in shown(t.value) for t in at.toast)
    assert image(rancher_us) == f"{FRONTEND}:3.8.0" and operations(shop) == 0
    assert schedules.run_due(shop, now=fire_at) == [schedule_id]
    assert image(rancher_us).startswith(f"{FRONTEND}:3.8.1@sha256:") and operations(shop) == 1


def scheduled_request(ctx: AppContext, schedule_id: int) -> int:
    with ctx.session() as session:
        request_id = session.get_one(ScheduledRequest, schedule_id).approval_request_id
    assert request_id is not None
    return request_id


def test_a_scheduled_request_is_cancelled_from_the_approvals_page(shop: AppContext) -> None:
    schedule_id = schedule_frontend(shop, dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    request_id = scheduled_request(shop, schedule_id)
    at = open_page()
    at.button(key=f"scheduled_cancel_{schedule_id}").click().run()
    assert at.get("dialog")
    at.button(key="scheduled_cancel_confirm").click().run()
    assert_ok(at)
    with shop.session() as session:
        assert session.get_one(ScheduledRequest, schedule_id).status == "cancelled"
        assert approvals.get_request(session, request_id).status == "stale"
    assert "No sync waits for approval" in text(at)
    fired = frame(at, "Scheduled by")
    assert list(fired[["#", "Status"]].itertuples(index=False, name=None)) == [(schedule_id, "cancelled")]
