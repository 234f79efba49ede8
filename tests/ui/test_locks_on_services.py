"""Locks with a message on the Services screen and the Overview, against two simulated Rancher servers: a lock is
added and removed from the Services screen (confirmed), shown in the table, the comparison and the Overview, and a
locked service refuses a sync from the dashboard with its message."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ranchersync.context import AppContext
from ranchersync.governance import locks
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.ui.conftest import ROOT, assert_ok, rendered_text
from tests.ui.fakes import shown
from tests.ui.test_sync_dialog import env_id, image, operations, review, shop  # noqa: F401 (the fixture)

PAGE = "pages/4_Services.py"
EAST = "c-m-7rb2kx9q"
MESSAGE = "DB migration running — do not promote"


def services_of(ctx: AppContext, env: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    at.segmented_control(key="svc_view").set_value("table").run()
    at.segmented_control(key="svc_env").set_value(env_id(ctx, env)).run()
    assert_ok(at)
    return at


def held(ctx: AppContext) -> list[tuple[str, str | None, str]]:
    with ctx.session() as session:
        return [(v.environment, v.service, v.message) for v in locks.list_locks(session)]


def test_a_lock_is_added_shown_in_the_table_and_removed_from_the_services_screen(shop: AppContext) -> None:  # noqa: F811
    at = services_of(shop, "Prod")
    assert "Nothing in Prod is locked" in rendered_text(at)
    at.button(key="lock_add_open").click().run()
    assert at.get("dialog")
    at.selectbox(key="lock_service").set_value("frontend")
    assert at.button(key="lock_confirm").disabled, "a lock needs its message"
    at.text_input(key="lock_message").input(MESSAGE).run()
    at.button(key="lock_confirm").click().run()
    assert_ok(at)
    assert not at.get("dialog")
    assert held(shop) == [("Prod", "frontend", MESSAGE)]
    table = next(d.value for d in at.dataframe if "Lock" in d.value.columns)
    locked = dict(zip(table["Service"], table["Lock"], strict=True))
    assert locked["frontend"] == f"🔒 {MESSAGE} (tester)" and locked["cart"] == ""
    text = rendered_text(at)
    assert MESSAGE in text and "lock #1" in text and "tester" in text
    at.button(key="lock_remove_1").click().run()
    assert at.get("dialog")
    at.button(key="unlock_confirm").click().run()
    assert_ok(at)
    assert held(shop) == []
    assert not any("Lock" in d.value.columns for d in at.dataframe)


def test_a_locked_service_refuses_a_sync_with_its_message(shop: AppContext,  # noqa: F811
                                                         rancher_us: SimulatedRancher) -> None:
    with shop.session() as session:
        locks.add_lock(session, ADMIN, environment="Prod", service="frontend", message=MESSAGE)
    at = review(shop, "frontend")
    table = next(d.value for d in at.dataframe if "Locks" in d.value.columns)
    assert table.loc["Deployment/frontend", "Locks"] == f"🔒 Prod: {MESSAGE}"  # the comparison shows it
    at.text_input(key="sync_confirm").input("Prod").run()
    at.button(key="sync_apply").click().run()
    errors = [shown(e.value) for e in at.error]
    assert any("The target is locked" in e and MESSAGE in e for e in errors), errors
    assert image(rancher_us, EAST, "frontend").endswith(":3.8.0") and operations(shop) == 0


def test_the_overview_shows_a_locked_environment(shop: AppContext) -> None:  # noqa: F811
    with shop.session() as session:
        locks.add_lock(session, ADMIN, environment="Prod", message="release freeze for the audit")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert_ok(at)
    text = rendered_text(at)
    assert ":orange-badge[:material/lock: Locked]" in text
    assert "everything\\\\: release freeze for the audit" in text  # the caption, its colon escaped
