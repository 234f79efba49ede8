"""Preferences change what the screens show (time zone, date format, rows per page, compare mode), and the
Notifications screen shows Apprise URLs masked; the Settings page says when e-mail is not configured and never shows
the mail URL; the Display page works for a signed-in viewer."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.errors import ValidationError
from ranchersync.notify import mask_url
from ranchersync.people import preferences
from tests.core.test_history import change, record
from tests.ui.conftest import ROOT, OpenApp, Seed, assert_ok, rendered_text, state_text
from tests.ui.test_history_page import envs_by_name, rows
from ui.shell import theme, user_preferences

PAGE = "pages/5_Sync_history.py"
START = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def save(ctx: AppContext, **changes: object) -> None:
    with ctx.session() as session:
        actor = Actor(ctx.settings.user, "admin")
        current = preferences.get_preferences(session, actor.email)
        preferences.save_preferences(session, actor, preferences.Preferences(**{**current.__dict__, **changes}))
    user_preferences.for_user.clear()  # as the Settings page does when it saves


def test_time_zone_date_format_and_rows_per_page_change_the_history(open_app: OpenApp, ctx: AppContext,
                                                                    seed: Seed) -> None:
    seed()
    with ctx.session() as session:
        e = envs_by_name(session)
        for i in range(12):
            record(session, e["Dev"], e["Stage"], start=START + dt.timedelta(minutes=i),
                   changes=[change("web", f"r/web:{i}")])
    at = open_app(PAGE)
    assert len(rows(at)) == 12 and rows(at)["Started"].iloc[-1] == "2026-11-20 09:30 UTC"

    save(ctx, timezone="Asia/Tokyo", date_format="european", rows_per_page=10)
    at = open_app(PAGE)
    assert len(rows(at)) == 10, "ten rows per page"
    assert rows(at)["Started"].iloc[-1] == "20.11.2026 18:32 JST"
    assert any("1–10 of 12 operations" in c.value and "Asia/Tokyo" in c.value for c in at.caption)


def test_the_settings_page_saves_and_every_screen_uses_it(open_app: OpenApp, ctx: AppContext, seed: Seed) -> None:
    ids = seed()
    at = open_app("pages/11_Settings.py")
    at.selectbox(key="prefs_tz").set_value("America/New_York")
    at.selectbox(key="prefs_rows").set_value(50)
    at.selectbox(key="prefs_env").set_value(ids["Prod"])
    at.button(key="prefs_save").click().run()
    assert_ok(at)
    with ctx.session() as session:
        stored = preferences.get_preferences(session, ctx.settings.user)
    assert (stored.timezone, stored.rows_per_page, stored.default_environment_id) == (
        "America/New_York", 50, ids["Prod"])
    fresh = open_app("pages/3_App_instances.py")  # a new browser session starts in the default environment
    assert fresh.selectbox(key="sidebar_environment").value == ids["Prod"]
    assert any("America/New_York" in c.value for c in open_app("pages/11_Settings.py").caption)


def test_the_notifications_page_shows_urls_masked(open_app: OpenApp, ctx: AppContext, seed: Seed) -> None:
    seed()
    secret_url = "json://bot:pa55w0rd-x@hooks.example.com/s3cr3t-path-T0KEN?token=k3y"
    with ctx.session() as session:
        notify.add_subscription(session, ctx.cipher, Actor("root", "admin"), environment="Prod", url=secret_url,
                                events="sync.failed")
    at = open_app("pages/10_Notifications.py")
    table = at.dataframe[0].value
    assert table["Sent to"].tolist() == [mask_url(secret_url)]
    text = rendered_text(at) + state_text(at)
    for secret in ("pa55w0rd", "s3cr3t-path", "k3y", secret_url):
        assert secret not in text


def test_the_settings_page_says_when_e_mail_is_not_configured_and_never_shows_the_mail_url(
        open_app: OpenApp, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    seed()
    monkeypatch.delenv("RANCHERSYNC_MAIL_URL", raising=False)
    at = open_app("pages/11_Settings.py")
    assert any("E-mail is not configured" in c.value and "RANCHERSYNC_MAIL_URL" in c.value for c in at.caption)
    monkeypatch.setenv("RANCHERSYNC_MAIL_URL", "mailto://rsm-bot:m41l-pa55w0rd@smtp.example.com?from=rsm@example.com")
    at = open_app("pages/11_Settings.py")
    assert not any("E-mail is not configured" in c.value for c in at.caption)
    for secret in ("m41l-pa55w0rd", "rsm-bot", "smtp.example.com"):
        assert secret not in rendered_text(at) and secret not in state_text(at)


def test_the_display_page_works_for_a_signed_in_viewer(app_env: AppContext, seed: Seed,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANCHERSYNC_AUTH", "oidc")
    seed()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "v@example.com", "email_verified": True, "groups": []}
    at.run()
    at.switch_page("pages/6_Display.py").run()
    assert_ok(at)
    assert [t.value for t in at.title] == ["Delivery pipeline"]
    assert "v@example.com · role: viewer" in [t.value for t in at.sidebar.text]
    links = [link.label for link in at.sidebar.get("page_link")]  # type: ignore[attr-defined]
    assert "Display" in links and "People" not in links, "no admin page for a viewer"
    assert not at.main.button and not at.get("dialog"), "no controls on the wall screen, no admin welcome"


def test_the_display_page_shows_an_html_name_as_text(app_env: AppContext, seed: Seed) -> None:
    seed(env_names=("Dev", "<img src=//127.0.0.2/p>"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/6_Display.py").run()
    assert_ok(at)
    headings = [h.proto.body for h in at.get("html")]  # type: ignore[attr-defined]
    assert any("<h3 style=\"margin:0\">&lt;img src=//127.0.0.2/p&gt;</h3>" in h for h in headings), headings
    assert not any("<img" in h for h in headings), "no image tag reaches the page: it would fetch from the network"


def test_the_theme_is_a_setting_applied_on_every_page(open_app: OpenApp, ctx: AppContext, seed: Seed) -> None:
    seed()
    untouched = [h.proto.body for h in open_app("pages/4_Services.py").get("html") if "stActiveTheme" in h.proto.body]
    assert len(untouched) == 1 and "const wanted = null," in untouched[0], "no choice: the browser's own theme"
    at = open_app("pages/11_Settings.py")
    at.segmented_control(key="prefs_theme").set_value("dark")
    at.button(key="prefs_save").click().run()
    assert_ok(at)
    with ctx.session() as session:
        assert preferences.get_preferences(session, ctx.settings.user).theme == "dark"
    for page in ("pages/5_Sync_history.py", "pages/4_Services.py", None):
        scripts = [h.proto.body for h in open_app(page).get("html") if "stActiveTheme" in h.proto.body]
        assert len(scripts) == 1 and '"\\"Dark\\""' in scripts[0], page
        assert '"Sync_history"' in scripts[0] and '"Settings"' in scripts[0], "stored for every page's address"
    with pytest.raises(ValidationError, match="theme"):
        save(ctx, theme="purple")


def test_page_addresses() -> None:
    assert [theme.url_name(p) for p in ("app.py", "pages/5_Sync_history.py", "pages/11_Settings.py")] == [
        "", "Sync_history", "Settings"]
