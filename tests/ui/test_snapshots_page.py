"""The Snapshots screen against two simulated Rancher servers: take a snapshot, compare it with an environment now
and with another snapshot, promote it to a protected environment (typed name, one operation), restore an
environment to one of its own."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync import jobs
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Applied
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.people import preferences
from ranchersync.simulator import SimulatedRancher
from ranchersync.snapshots import store
from ranchersync.sync import Confirmation, SyncOptions, new_request_id
from ranchersync.trains import schedules, trains
from tests.builders import ADMIN
from tests.ui.conftest import ROOT, assert_no_token, assert_ok, rendered_text
from tests.ui.fakes import shown
from tests.ui.test_sync_dialog import env_id, newest
from ui.shell import user_preferences

PAGE = "pages/13_Snapshots.py"
EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
REG = "registry.example.com:5000/shop"
RELEASER = Actor("rel@example.com", "admin", "cli")
FAST = SyncOptions(timeout_seconds=30, poll_seconds=0.2)


@pytest.fixture
def shop(app_env: AppContext, demo: AppContext) -> AppContext:
    """The demo catalogue (Dev, Stage on the EU server; Prod on both US clusters) with Prod protected."""
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    return demo


def take(ctx: AppContext, env: str, name: str) -> None:
    with ctx.session() as session:
        store.create_snapshot(session, ctx.cipher, RELEASER, environment=env, name=name)


def open_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def image(server: SimulatedRancher, cluster: str, name: str) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", name)
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def test_a_snapshot_is_taken_listed_and_shows_its_services(shop: AppContext, rancher: SimulatedRancher) -> None:
    at = open_page()
    assert "No snapshot yet" in rendered_text(at)
    at.selectbox(key="snap_create_env").set_value(env_id(shop, "Stage"))
    at.text_input(key="snap_create_name").input("rel-1")
    at.button(key="FormSubmitter:snap_create-Take snapshot").click().run()
    assert_ok(at)
    assert any("Snapshot rel-1 of Stage taken" in shown(t.value) for t in at.toast)
    listed = frame(at, "Taken by")
    assert list(listed[["Snapshot", "Environment", "Kind"]].itertuples(index=False, name=None)) == [
        ("rel-1", "Stage", "manual")]
    services = frame(at, "Digest")
    frontend = services[services["Service"] == "frontend"]
    assert list(frontend["Image"]) == [f"{REG}/frontend:3.8.1"]
    assert all(d.startswith("sha256:") for d in frontend["Digest"])
    assert_no_token(at, rancher.token)


def test_a_snapshot_compares_with_an_environment_now_and_with_another_snapshot(shop: AppContext) -> None:
    take(shop, "Stage", "stage-1")
    take(shop, "Prod", "prod-1")
    at = open_page()
    at.selectbox(key="snap_pick").set_value("stage-1").run()
    at.selectbox(key="snap_cmp_env").set_value(env_id(shop, "Prod"))
    at.button(key="snap_cmp_go").click().run()
    assert_ok(at)
    table = frame(at, "State")
    row = table[table["Service"] == "frontend"].iloc[0]
    assert (row["stage-1"], row["Prod now"], row["State"]) == (f"{REG}/frontend:3.8.1", f"{REG}/frontend:3.8.0",
                                                               "differs")
    at.segmented_control(key="snap_cmp_kind").set_value("snapshot").run()
    at.selectbox(key="snap_cmp_other").set_value(shop_snapshot_id(shop, "prod-1"))
    at.button(key="snap_cmp_go").click().run()
    assert_ok(at)
    table = frame(at, "State")
    assert "prod-1" in table.columns and "frontend" in set(table["Service"])


def shop_snapshot_id(ctx: AppContext, name: str) -> int:
    with ctx.session() as session:
        return store.get_snapshot(session, name).id


def test_a_snapshot_is_promoted_to_a_protected_environment_as_one_operation(
    shop: AppContext, rancher_us: SimulatedRancher
) -> None:
    take(shop, "Stage", "rel-2")
    at = open_page()
    at.selectbox(key="snap_target").set_value(env_id(shop, "Prod")).run()
    at.button(key="snap_review").click().run()
    assert_ok(at)
    assert at.get("dialog"), "the review is open"
    plan = frame(at, "Snapshot image")
    frontend = plan[plan["Service"] == "frontend"]
    assert set(frontend["Target app instance"]) == {"shop-east", "shop-west"}
    assert set(frontend["Snapshot image"]) == {f"{REG}/frontend:3.8.1"}
    apply = at.button(key="train_apply")
    assert apply.disabled, "a protected target needs its name typed"
    at.text_input(key="train_confirm").input("Prod").run()
    assert not at.button(key="train_apply").disabled
    at.button(key="train_apply").click().run()
    operation_id = newest(shop)
    assert operation_id, "one operation was opened"
    assert jobs.wait_for_operation(shop, operation_id, timeout=60) == "complete"
    assert image(rancher_us, EAST, "frontend") == f"{REG}/frontend:3.8.1"
    assert image(rancher_us, WEST, "frontend") == f"{REG}/frontend:3.8.1"
    with shop.session() as session:
        assert store.snapshot_of_operation(session, operation_id) is not None  # "what ran before" kept


def test_an_environment_is_restored_to_its_own_snapshot(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    take(shop, "Prod", "prod-good")
    take(shop, "Stage", "stage-now")
    with shop.session() as session:  # Prod's frontend moves on to Stage's (through the core)
        forward = trains.plan_snapshot_promotion(session, shop.cipher, "stage-now", "Prod")
    forward = replace(forward, items=tuple(i for i in forward.items if i.name == "frontend"))
    outcome = trains.put_in_place(shop, RELEASER, forward, request_id=new_request_id(),
                                  confirmed=Confirmation(confirm_env="Prod"), options=FAST)
    assert isinstance(outcome, Applied)
    assert image(rancher_us, EAST, "frontend") == f"{REG}/frontend:3.8.1"
    at = open_page()
    at.selectbox(key="snap_pick").set_value("prod-good").run()
    assert at.selectbox(key="snap_target").value != env_id(shop, "Prod")  # a promotion is offered first
    at.selectbox(key="snap_target").set_value(env_id(shop, "Prod")).run()
    assert at.button(key="snap_review").label == "Review the restore"
    at.button(key="snap_review").click().run()
    assert_ok(at)
    plan = frame(at, "Snapshot image")
    assert list(plan[["Service", "Target app instance", "Current image", "Snapshot image"]].itertuples(
        index=False, name=None)) == [("frontend", name, f"{REG}/frontend:3.8.1", f"{REG}/frontend:3.8.0")
                                     for name in ("shop-east", "shop-west")]
    at.text_input(key="train_confirm").input("Prod").run()
    at.button(key="train_apply").click().run()
    assert jobs.wait_for_operation(shop, newest(shop), timeout=60) == "complete"
    assert image(rancher_us, EAST, "frontend") == f"{REG}/frontend:3.8.0"
    assert image(rancher_us, WEST, "frontend") == f"{REG}/frontend:3.8.0"


def test_a_promotion_is_scheduled_at_a_time_of_the_viewers_time_zone(shop: AppContext) -> None:
    take(shop, "Stage", "rel-3")
    with shop.session() as session:  # the viewer (the app's user) reads and gives times in Tokyo (Settings)
        actor = Actor(shop.settings.user, "admin")
        current = preferences.get_preferences(session, actor.email)
        preferences.save_preferences(session, actor,
                                     preferences.Preferences(**{**current.__dict__, "timezone": "Asia/Tokyo"}))
    user_preferences.for_user.clear()
    at = open_page()
    at.selectbox(key="snap_target").set_value(env_id(shop, "Prod")).run()
    at.date_input(key="snap_at_date").set_value(dt.date(2031, 3, 4))
    at.time_input(key="snap_at_time").set_value(dt.time(14, 0))
    at.text_input(key="snap_at_confirm").input("Prod")
    at.button(key="FormSubmitter:snap_schedule-Schedule").click().run()
    assert_ok(at)
    assert any("fires 2031-03-04 14:00 Asia/Tokyo" in shown(t.value) for t in at.toast)
    with shop.session() as session:
        [row] = schedules.list_schedules(session)
        assert (row.kind, row.target_environment_name, row.status) == ("snapshot", "Prod", "scheduled")
        assert row.fire_at == dt.datetime(2031, 3, 4, 5, 0, tzinfo=dt.UTC)  # 14:00 in Tokyo
        assert row.timezone == "Asia/Tokyo"
