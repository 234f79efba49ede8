"""The delivery report opens offline in Chromium and draws its charts; the drift report, the Display and the
Settings screens on a demo with history (screenshots for the README in docs/screenshots)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect
from sqlalchemy import select

from ranchersync.context import AppContext
from ranchersync.models import Environment, utcnow
from ranchersync.ops.demo_history import fill_history
from ranchersync.reports import write_delivery_report
from tests.core.test_history import change, record
from tests.e2e.conftest import ARTIFACTS, Serve
from tests.e2e.helpers import ROOT, by_key, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser
# `make screenshots` refreshes the README's pictures from this test; a plain test run keeps them as artifacts, so
# running the suite never changes the repository.
DOCS = ROOT / "docs" / "screenshots" if os.environ.get("RANCHERSYNC_UPDATE_DOCS") == "1" else ARTIFACTS


@pytest.fixture
def with_history(demo: AppContext) -> AppContext:
    with demo.session() as session:
        assert fill_history(session, utcnow()) > 5
    return demo


def test_the_delivery_report_opens_offline_and_shows_its_charts(
    with_history: AppContext, browser: Browser, tmp_path: Path
) -> None:
    out = tmp_path / "delivery.html"
    until = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    with with_history.session() as session:
        write_delivery_report(session, until - dt.timedelta(days=35), until, out)
    page = new_page(browser)
    blocked: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.context.route("**/*", offline)
    page.goto(out.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg")
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 5
    # Every chart drew its axes and its data (bars or a line), not an empty frame.
    page.wait_for_function("""n => [...document.querySelectorAll('.js-plotly-plot')].filter(
        c => c.querySelector('.xtick') && c.querySelector('.trace')).length >= n""", arg=charts.count())
    assert page.locator(".js-plotly-plot .bars path, .js-plotly-plot .scatterlayer path").count() > 10
    assert blocked == [], f"the report asked the network for {blocked}"
    assert "Operations (" in page.inner_text("body")
    screenshot(page, DOCS / "delivery-report-light.png")
    page.context.close()


def test_drift_report_display_and_settings_screens(
    with_history: AppContext, browser: Browser, serve: Serve
) -> None:
    database = Path(with_history.settings.database_url.removeprefix("sqlite:///"))
    server = serve(database=database, secret_key=with_history.settings.secret_keys[0])
    page = new_page(browser)

    open_page(page, f"{server.url}/Services")
    by_key(page, "drift_show").locator("label").first.click()
    wait_idle(page)
    drift = by_key(page, "drift_report").locator("[data-testid='stDataFrame']")
    drift.wait_for()
    drift.scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(300)
    screenshot(page, DOCS / "drift-report-light.png")

    open_page(page, f"{server.url}/Display?embed=true")
    page.wait_for_selector("[data-testid='stMetricValue']")
    assert page.locator("[data-testid='stSidebar']").count() == 0 or not page.locator(
        "[data-testid='stSidebar']").is_visible()
    assert page.get_by_text("Waiting for promotion").count() >= 2
    screenshot(page, DOCS / "display-light.png")

    # With the sidebar, at 1280 px, today's widest figure ("100 %") is shown whole, not cut to "1…".
    today = utcnow() - dt.timedelta(minutes=5)
    with with_history.session() as session:
        envs = {e.name: e for e in session.scalars(select(Environment))}
        for n in range(3):
            record(session, envs["Stage"], envs["Prod"], start=today + dt.timedelta(seconds=n), seconds=1,
                   changes=[change("web", f"reg/web:{n}")])
    open_page(page, f"{server.url}/Display")
    today_figures = by_key(page, "wall_today").locator("[data-testid='stMetricValue']")
    # The wall redraws its figures every 10 s (and reads the history's stamp at most every 3 s).
    expect(today_figures.nth(1)).to_have_text("100 %", timeout=30_000)
    for n in range(today_figures.count()):
        shown, needed = today_figures.nth(n).evaluate(
            "e => { const t = e.querySelector('div') || e; return [t.clientWidth, t.scrollWidth]; }")
        assert needed <= shown, f"{today_figures.nth(n).inner_text()!r} needs {needed} px, has {shown}"

    open_page(page, f"{server.url}/Settings")
    assert by_key(page, "prefs_rows").count() == 1
    screenshot(page, DOCS / "settings-light.png")
    page.context.close()
