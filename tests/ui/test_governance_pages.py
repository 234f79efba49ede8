"""The Audit log screen (filters, table, CSV, the chain check) and the freeze controls on the Environments screen
(add, remove, stop-all, lift), with the frozen badges on the Overview, the Environments and the Services screens."""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.governance import freeze
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.security import checkpoint
from tests.ui.conftest import OpenApp, Seed, assert_ok
from ui.governance import audit_view

AUDIT = "pages/8_Audit_log.py"
ENVIRONMENTS = "pages/2_Environments.py"
ADMIN = Actor("alice@example.com", "admin", "cli")


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _add_windows(ctx: AppContext) -> None:
    with ctx.session() as session:
        freeze.add_window(session, ADMIN, environment="Prod", weekly="Fri 16:00-Mon 08:00", reason="weekend")
        freeze.add_window(session, ADMIN, environment="Stage", starts_at=dt.datetime.now(dt.UTC),
                          ends_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC), reason="=cmd|' /C calc'!A0")


def _table(at: AppTest) -> list[tuple[str, str]]:
    """(action, object) of the audit table's rows; empty when no table is shown."""
    frames = [d.value for d in at.dataframe if "Action" in d.value.columns]
    return [(row["Action"], row["Object"]) for _, row in frames[0].iterrows()] if frames else []


def _clean_log(ctx: AppContext) -> None:
    """Start from an empty audit log: seeding the catalogue was audited too, and these tests count freeze events."""
    with ctx.session() as session:
        session.execute(text("DELETE FROM audit_events"))
        session.execute(text("DELETE FROM audit_head"))


def _events(ctx: AppContext) -> list[tuple[str, str]]:
    with ctx.session() as session:
        return [(e.action, e.actor) for e in audit.list_events(session).items]


# ---- the audit log ------------------------------------------------------------------------------------------------


def test_the_audit_log_lists_events_newest_first_and_filters_them(open_app: OpenApp, seed: Seed,
                                                                  app_env: AppContext) -> None:
    seed()
    _clean_log(app_env)
    _add_windows(app_env)
    at = open_app(AUDIT)

    assert _table(at) == [("freeze.add", "freeze window #2 · Stage"), ("freeze.add", "freeze window #1 · Prod")]
    assert "2 events, newest first" in "\n".join(c.value for c in at.caption)

    at.text_input(key="audit_object").input("Prod").run()
    assert _table(at) == [("freeze.add", "freeze window #1 · Prod")]
    at.text_input(key="audit_object").input("nothing-like-this").run()
    assert_ok(at)
    assert _table(at) == [] and "No event matches" in at.info[0].value


def test_the_csv_export_is_the_filtered_log_with_formulas_defused(app_env: AppContext, seed: Seed,
                                                                 open_app: OpenApp) -> None:
    seed()
    _clean_log(app_env)
    _add_windows(app_env)
    open_app(AUDIT)  # the app's context is the one the export reads through
    rows = list(csv.DictReader(io.StringIO(audit_view.csv_text(audit.AuditFilter(object="Stage")))))
    assert [r["object_name"] for r in rows] == ["Stage"]
    assert "=cmd" in rows[0]["after"] and rows[0]["after"].startswith("{")
    with app_env.session() as session:  # an override's reason is the event's detail
        freeze.check_sync_allowed(session, ADMIN, "Stage", override_reason="=HYPERLINK(\"http://x\")")
    rows = list(csv.DictReader(io.StringIO(audit_view.csv_text(audit.AuditFilter(action="freeze.override")))))
    assert rows[0]["detail"] == "'=HYPERLINK(\"http://x\")"


def test_verify_chain_reports_intact_then_the_first_broken_link(open_app: OpenApp, seed: Seed,
                                                                app_env: AppContext) -> None:
    seed()
    _clean_log(app_env)
    _add_windows(app_env)
    at = open_app(AUDIT)
    at.button(key="audit_verify").click().run()
    assert "The audit chain is intact:** 2 events checked" in at.success[0].value
    shown = at.code[0].value  # the signed checkpoint to keep outside the database: it proves this head later
    with app_env.session() as session:
        [proof] = [checkpoint.check(session, app_env.cipher, c) for c in checkpoint.parse(shown)]
    assert proof.ok and proof.checkpoint.event_id == 2

    with app_env.session() as session:
        session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 1"))
    at.button(key="audit_verify").click().run()
    assert_ok(at)
    assert "broken at event #1" in at.error[0].value and "changed after it was written" in at.error[0].value


# ---- the freeze controls ------------------------------------------------------------------------------------------


def test_an_admin_adds_a_weekly_window_and_prod_shows_frozen_or_its_next_start(open_app: OpenApp, seed: Seed,
                                                                              app_env: AppContext) -> None:
    seed()
    _clean_log(app_env)
    at = open_app(ENVIRONMENTS)
    at.text_input(key="freeze_tz").input("Europe/Berlin")
    at.text_input(key="freeze_weekly").input("Mon 00:00-Mon 00:00")  # refused: empty
    at.text_input(key="freeze_reason").input("weekend change freeze")
    at.button(key="freeze_add_go").click().run()
    assert_ok(at)
    assert "same time" in at.error[0].value
    assert _events(app_env) == []

    at.text_input(key="freeze_weekly").input("Fri 16:00-Mon 08:00").run()
    at.button(key="freeze_add_go").click().run()
    assert_ok(at)
    schedule = "weekly Fri 16:00-Mon 08:00 (Europe/Berlin)"
    assert at.toast[0].value == escape_markdown(f"Freeze window #1 added to Prod: {schedule}.")
    assert escape_markdown(schedule) in _markdown(at)
    assert _events(app_env) == [("freeze.add", "tester")]

    at.button(key="freeze_remove_1").click().run()
    assert_ok(at)
    assert _events(app_env)[0] == ("freeze.remove", "tester")
    assert not at.get("button") or all(b.key != "freeze_remove_1" for b in at.button)


def test_stop_all_freezes_every_environment_with_badges_everywhere_until_lifted(open_app: OpenApp, seed: Seed,
                                                                              app_env: AppContext) -> None:
    seed()
    _clean_log(app_env)
    at = open_app(ENVIRONMENTS)
    at.button(key="freeze_stop_all_go").click().run()
    assert "give a reason" in at.error[0].value  # nothing without a reason

    at.text_input(key="freeze_all_reason").input("INC-42 database failover")
    at.button(key="freeze_stop_all_go").click().run()
    assert_ok(at)
    assert "Stop-all is in force" in at.error[0].value and "INC-42 database failover" in at.error[0].value
    badge = ":blue-badge[:material/ac_unit: Frozen · until lifted]"
    assert _markdown(at).count(badge) == 3  # one per environment card

    overview = open_app()  # the pipeline cards: a short badge, and until when below it
    assert _markdown(overview).count(":blue-badge[:material/ac_unit: Frozen]") == 3
    assert [c.value for c in overview.caption].count("until lifted") == 3
    services = open_app("pages/4_Services.py")
    assert _markdown(services).count(badge) == 3

    at.text_input(key="freeze_all_reason").input("failover done")
    at.button(key="freeze_lift_all_go").click().run()
    assert_ok(at)
    assert badge not in _markdown(at)
    assert [a for a, _ in _events(app_env)] == ["freeze.lift_all", "freeze.stop_all"]


def test_a_one_off_window_badge_says_when_it_reopens(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    seed()
    _clean_log(app_env)
    with app_env.session() as session:
        freeze.add_window(session, ADMIN, environment="Prod", starts_at=dt.datetime.now(dt.UTC),
                          ends_at=dt.datetime(2099, 1, 1, 7, tzinfo=dt.UTC), reason="holidays")
    at = open_app()
    assert ":blue-badge[:material/ac_unit: Frozen]" in _markdown(at)
    assert escape_markdown("reopens 2099-01-01 07:00 UTC") in [c.value for c in at.caption]
    at = open_app(ENVIRONMENTS)
    assert ":blue-badge[:material/ac_unit: Frozen · reopens 2099-01-01 07:00 UTC]" in _markdown(at)
