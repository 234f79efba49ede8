"""Screenshots of the main screens for the README, from a real browser, in the light and the dark theme.

    python scripts/screenshots.py [--out docs/screenshots]

Starts the built-in demo (two simulated Rancher servers and a filled catalogue) on a temporary database, serves the
dashboard with `streamlit run`, and saves each screen at 1280×800 with Debian's Chromium: the Services screen also
as the Stage/Prod comparison with two services selected, and the review of their sync (cancelled: nothing is
applied). Then a sync and its rollback are run through the core, for the Sync history screen and its metrics, and
an operator's sync into Prod (which then needs one approval) becomes a request, for the Approvals screen and the
Audit log. Last, a sync and then its rollback are started as server-side jobs (as Apply starts them) and their live
pages taken while they run. The first-visit dialog is taken from a second, empty installation, and the sign-in
screen from a third one with RANCHERSYNC_AUTH=oidc (no provider is contacted before "Sign in" is clicked).
Everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ranchersync import jobs  # noqa: E402 - after the path set-up, so `python scripts/…` works anywhere
from ranchersync.access.identity import Actor  # noqa: E402
from ranchersync.approvals.promote import promote  # noqa: E402
from ranchersync.catalogue import environments  # noqa: E402
from ranchersync.context import AppContext  # noqa: E402
from ranchersync.kernel.config import Settings  # noqa: E402
from ranchersync.ops import demo  # noqa: E402
from ranchersync.sync import (  # noqa: E402
    Confirmation,
    SyncOptions,
    apply_plan,
    new_request_id,
    plan_environments,
    rollback_operation,
)
from tests.e2e.helpers import (  # noqa: E402
    AppServer,
    by_key,
    choose,
    chromium_available,
    click,
    launch_chromium,
    new_page,
    open_page,
    screenshot,
    wait_idle,
)
from tests.e2e.test_history import select_first_row  # noqa: E402
from tests.e2e.test_sync import review  # noqa: E402 - the same steps as the browser test of the sync

SCREENSHOTS = Actor("alex@example.com", "admin", "dashboard", name="Alex")
OPERATOR = Actor("olivia@example.com", "operator", "dashboard", name="Olivia")

# The demo's rollouts take 6 s; long enough to take a running operation's live page, in the live step, at 12.
LIVE_ROLLOUT_SECONDS = 12
SCREENS = ("Overview", "Sites", "Environments", "App instances", "Services")
THEMES = ("light", "dark")


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where to save the PNGs")
    parser.add_argument("--only", choices=("verification", "environment-dialog"), help="take only these screenshots")
    args = parser.parse_args(argv)
    if not chromium_available():
        print("error: Debian's chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsm-screenshots-") as tmp, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            if args.only is None:
                _first_visit(browser, Path(tmp) / "empty", args.out)
                _sign_in(browser, Path(tmp) / "signin", args.out)
                _demo(browser, Path(tmp) / "demo", args.out)
                _registry_review(browser, Path(tmp) / "registry", args.out)
            if args.only in (None, "verification"):
                verification_screens(browser, Path(tmp) / "verification", args.out)
            if args.only in (None, "environment-dialog"):
                environment_dialog_screens(browser, Path(tmp) / "environment-dialog", args.out)
        finally:
            browser.close()
    return 0


def _server(data_dir: Path) -> AppServer:
    return AppServer(f"sqlite:///{data_dir / 'ranchersync.db'}", Fernet.generate_key().decode(), data_dir)


def _first_visit(browser: Browser, data_dir: Path, out: Path) -> None:
    with _server(data_dir) as server:
        for theme in THEMES:
            page = new_page(browser, dark=theme == "dark")
            open_page(page, server.url)
            page.locator("[data-testid='stDialog']").wait_for()
            print(screenshot(page, out / f"first-visit-{theme}.png"))
            page.context.close()


def _sign_in(browser: Browser, data_dir: Path, out: Path) -> None:
    """The sign-in screen of RANCHERSYNC_AUTH=oidc; its secrets file lives in the temporary folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = data_dir / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
                       f'cookie_secret = "{Fernet.generate_key().decode()}"\nclient_id = "rancher-sync-manager"\n'
                       'client_secret = "unused"\n'
                       'server_metadata_url = "http://localhost:9400/.well-known/openid-configuration"\n')
    server = _server(data_dir)
    server.extra_env = {"RANCHERSYNC_AUTH": "oidc", "STREAMLIT_SECRETS_FILES": str(secrets)}
    with server:
        for theme in THEMES:
            page = new_page(browser, dark=theme == "dark")
            open_page(page, server.url)
            by_key(page, "sign_in").wait_for()
            print(screenshot(page, out / f"sign-in-{theme}.png"))
            page.context.close()


def _demo(browser: Browser, data_dir: Path, out: Path) -> None:
    server = _server(data_dir)
    ctx = AppContext(Settings(server.database_url, (server.secret_key,), server.key_file, "screenshots"))
    try:
        ctx.upgrade_database()
        demo.ROLLOUT_SECONDS = LIVE_ROLLOUT_SECONDS
        print(demo.start_demo(ctx, progress=print))
        with server:
            for theme in THEMES:
                page = new_page(browser, dark=theme == "dark")
                for label in SCREENS:
                    open_page(page, server.page_url(label))
                    print(screenshot(page, out / f"{label.lower().replace(' ', '-')}-{theme}.png"))
                _sync_review(page, server, out, theme)
                page.context.close()
            _history(browser, server, ctx, out)
            _governance(browser, server, ctx, out)
            _live(browser, server, ctx, out)
            _trains(browser, server, ctx, out)
    finally:
        demo.stop_demo(ctx)
        ctx.engine.dispose()


def _sync_review(page: Page, server: AppServer, out: Path, theme: str) -> None:
    review(page, server)  # compare Stage and Prod, select frontend and ledger, open the review
    by_key(page, "sync_cancel").scroll_into_view_if_needed()
    print(screenshot(page, out / f"sync-review-{theme}.png"))
    click(page, "sync_cancel")
    print(screenshot(page, out / f"services-compare-{theme}.png"))
    # The same comparison with what the pods run: a re-pushed tag and pods that disagree get a note.
    by_key(page, "cmp_digests").locator("label").click()
    wait_idle(page, timeout=60_000)
    print(screenshot(page, out / f"services-digests-{theme}.png"))


def _history(browser: Browser, server: AppServer, ctx: AppContext, out: Path) -> None:
    """A sync of frontend from Stage to Prod and its rollback (through the core), then the Sync history screen."""
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    synced = apply_plan(ctx, plan, actor=SCREENSHOTS, request_id=new_request_id(),
                        confirmed=Confirmation(confirm_env="Prod"))
    rollback_operation(ctx, synced, actor=SCREENSHOTS, request_id=new_request_id(), confirm_env="Prod")
    for theme in THEMES:
        page = new_page(browser, dark=theme == "dark")
        open_page(page, server.page_url("Sync history"))
        select_first_row(page)
        print(screenshot(page, out / f"sync-history-{theme}.png"))
        page.get_by_role("tab", name="Metrics").click()
        wait_idle(page)
        print(screenshot(page, out / f"sync-history-metrics-{theme}.png"))
        page.context.close()


def _governance(browser: Browser, server: AppServer, ctx: AppContext, out: Path) -> None:
    """Prod needs one approval; an operator's sync of ledger becomes a request: the Approvals screen and the Audit
    log (the demo's set-up, the sync, the rollback, the request), in both themes."""
    with ctx.session() as session:
        environments.update_environment(session, "Prod", actor=SCREENSHOTS, required_approvals=1)
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["ledger"])
    print(promote(ctx, OPERATOR, plan, request_id=new_request_id(), confirmed=Confirmation(confirm_env="Prod")))
    for theme in THEMES:
        page = new_page(browser, dark=theme == "dark")
        open_page(page, f"{server.url}/Approvals")
        print(screenshot(page, out / f"approvals-{theme}.png"))
        open_page(page, f"{server.url}/Audit_log")
        print(screenshot(page, out / f"audit-log-{theme}.png"))
        page.context.close()


def _live(browser: Browser, server: AppServer, ctx: AppContext, out: Path) -> None:
    """A running operation's live page (pods ready, the rollout and its conditions, elapsed against the timeout,
    Terminate): a sync of frontend into Prod in the light theme, then its rollback in the dark one, each started as
    a server-side job the way Apply starts it, and taken while it runs."""
    with ctx.session() as session:
        environments.update_environment(session, "Prod", actor=SCREENSHOTS, required_approvals=0)
        plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    options = SyncOptions(timeout_seconds=300, poll_seconds=0.5)
    started = jobs.start_sync(ctx, SCREENSHOTS, plan, request_id=new_request_id(),
                              confirmed=Confirmation(confirm_env="Prod"), options=options)
    assert isinstance(started, jobs.Started), started
    _live_page(browser, server, started, out / "sync-live-light.png", dark=False)
    back = jobs.start_rollback(ctx, SCREENSHOTS, started.operation_id, request_id=new_request_id(),
                               confirm_env="Prod", options=options)
    _live_page(browser, server, back, out / "sync-live-dark.png", dark=True)


def _live_page(browser: Browser, server: AppServer, started: jobs.Started, path: Path, *, dark: bool) -> None:
    page = new_page(browser, dark=dark)
    open_page(page, f"{server.page_url('Sync history')}?operation={started.operation_id}")
    by_key(page, "live_operation").wait_for()
    page.wait_for_timeout(1500)  # a second tick of the panel, and the page scrolled to the operation
    print(screenshot(page, path))
    page.context.close()
    started.wait(120)


def _registry_review(browser: Browser, data_dir: Path, out: Path) -> None:
    """The review with its registry preflight (digests, the changelog and its compare link, Pin digests) and the
    Quarantine screen (a quarantined digest and where it runs), both themes: on Stage → Prod whose images live in a
    real registry, Debian's docker-registry started on 127.0.0.1 with the test images pushed to it."""
    import shutil

    from ranchersync.governance import quarantine
    from tests.builders import ADMIN
    from tests.core.registry_fixtures import running_registries
    from tests.e2e.registry_world import registry_shop
    from tests.e2e.test_review_changelog import open_review

    if shutil.which("docker-registry") is None:
        print("skipped the registry screens: Debian's docker-registry is not installed", file=sys.stderr)
        return
    (data_dir / "registry").mkdir(parents=True)
    server = _server(data_dir)
    ctx = AppContext(Settings(server.database_url, (server.secret_key,), server.key_file, "screenshots"))
    try:
        ctx.upgrade_database()
        with running_registries(data_dir / "registry") as registries, registry_shop(ctx, registries), server:
            for theme in THEMES:
                page = new_page(browser, dark=theme == "dark")
                open_review(page, server, ctx)
                print(screenshot(page, out / f"sync-review-changelog-{theme}.png"))
                page.context.close()
            with ctx.session() as session:
                quarantine.add(session, f"{registries.anonymous}/shop/web@{registries.images['shop/web:2.4.0']}",
                               reason="CVE-2026-0001 in libfoo: rebuild on the patched base image", actor=ADMIN)
            for theme in THEMES:
                page = new_page(browser, dark=theme == "dark")
                open_page(page, server.page_url("Quarantine"))
                by_key(page, "quarantine_1").wait_for()
                wait_idle(page)
                print(screenshot(page, out / f"quarantine-{theme}.png"))
                page.context.close()
    finally:
        ctx.engine.dispose()


def _trains(browser: Browser, server: AppServer, ctx: AppContext, out: Path) -> None:
    """Release trains (issue 24): a snapshot of Stage compared with Prod now on the Snapshots screen; then its
    promotion into Prod scheduled by an operator for next Monday 06:00 Berlin time (Prod needs one approval again,
    so its approval request is made now) on the Approvals screen, approvable before it fires."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from ranchersync.snapshots import store
    from ranchersync.trains import schedules

    with ctx.session() as session:
        environments.update_environment(session, "Prod", actor=SCREENSHOTS, required_approvals=1)
        store.create_snapshot(session, ctx.cipher, SCREENSHOTS, environment="Stage", name="rel-2026-12")
    berlin = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("Europe/Berlin"))
    monday = (berlin + dt.timedelta(days=7 - berlin.weekday())).replace(hour=6, minute=0, second=0, microsecond=0)
    print(schedules.schedule_with_approvals(ctx, OPERATOR, schedules.Schedule(
        target="Prod", snapshot="rel-2026-12", fire_at=monday, timezone="Europe/Berlin", confirm_env="Prod")).id)
    for theme in THEMES:
        page = new_page(browser, dark=theme == "dark")
        open_page(page, f"{server.url}/Snapshots")
        choose(page, "snap_pick", "rel-2026-12")
        page.get_by_role("tab", name="Compare").click()
        wait_idle(page)
        click(page, "snap_cmp_go")
        by_key(page, "snap_pick").evaluate("e => e.scrollIntoView({block: 'start'})")  # the comparison below it
        page.wait_for_timeout(300)
        print(screenshot(page, out / f"snapshots-{theme}.png"))
        open_page(page, server.page_url("Approvals"))
        page.locator("[class*='st-key-scheduled_']").first.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(300)
        print(screenshot(page, out / f"approvals-scheduled-{theme}.png"))
        page.context.close()


# ---- verification (issue 23): gates on the Environments screen, and a sync whose gate fails ----------------------


def verification_screens(browser: Browser, data_dir: Path, out: Path) -> None:
    """The Verification section (an error-rate and a p95-latency gate on Prod, a soak, a minimum source soak on
    Stage), "Try it now" on a gate, then a sync of web into Prod whose error-rate gate fails against a real
    Prometheus (Debian's) scraping the tests' exporter at 20 % errors: its live progress and its history detail.
    Its own small installation (the showcase world), so it runs alone too: `--only verification`."""
    from ranchersync.simulator import SimulatedRancher
    from ranchersync.verification import gates
    from tests.core.prometheus_fixtures import Exporter, running_prometheus, set_ratio
    from tests.e2e.world import e2e_world, seed_showcase

    exporter = Exporter()
    exporter.series = [("shop-prod", "web"), ("shop-prod", "api")]
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with running_prometheus(exporter, data_dir) as prometheus, \
                SimulatedRancher(e2e_world(), rollout_seconds=1) as rancher:
            server = _server(data_dir)
            ctx = server.context()
            ctx.upgrade_database()
            seed_showcase(ctx, rancher)
            with ctx.session() as session:
                for name, query, success in VERIFICATION_GATES:
                    gates.add_gate(session, SCREENSHOTS, "Prod", gates.GateSpec(
                        name=name, prometheus_url=prometheus, query=query, success=success, interval_seconds=2,
                        count=5, failure_limit=3))
                gates.set_soak(session, SCREENSHOTS, "Prod", soak="10s")
                gates.set_soak(session, SCREENSHOTS, "Stage", soak="30s", min_source_soak="1h")
                gates.disable_gate(session, SCREENSHOTS, "Prod", "p95-latency", "batch")
                prod = environments.get_environment(session, "Prod").id
                gate_id = gates.list_gates(session, "Prod")[0][0].id
            with server:
                for theme in THEMES:
                    page = new_page(browser, dark=theme == "dark")
                    _open_slowly(page, server.page_url("Environments"))
                    by_key(page, f"verify_env_{prod}").scroll_into_view_if_needed()
                    print(screenshot(page, out / f"verification-{theme}.png"))
                    by_key(page, f"gate_try_{gate_id}").locator("button").first.click()
                    service = by_key(page, "gate_try_service").locator("input").first
                    service.fill("web")
                    service.press("Enter")
                    wait_idle(page, timeout=60_000)
                    by_key(page, "gate_try_run").locator("button").first.click()
                    by_key(page, "gate_try_result").wait_for(timeout=60_000)
                    print(screenshot(page, out / f"verification-try-{theme}.png"))
                    page.context.close()
                page = new_page(browser)  # disabling a gate for one service: the confirmation
                _open_slowly(page, server.page_url("Environments"))
                by_key(page, f"gate_disable_{gate_id}").locator("button").first.click()
                service = by_key(page, "gate_disable_service").locator("input").first
                service.fill("api")
                service.press("Enter")
                wait_idle(page, timeout=60_000)
                print(screenshot(page, out / "verification-disable-light.png"))
                page.context.close()
                set_ratio(exporter, prometheus, 0.2)
                with ctx.session() as session:
                    plan = plan_environments(session, ctx.cipher, "Stage", "Prod", services=["web"])
                started = jobs.start_sync(ctx, SCREENSHOTS, plan, request_id=new_request_id(),
                                          confirmed=Confirmation(confirm_env="Prod"),
                                          options=SyncOptions(timeout_seconds=120, poll_seconds=0.5))
                assert isinstance(started, jobs.Started), started
                page = new_page(browser)
                _open_slowly(page, f"{server.page_url('Sync history')}?operation={started.operation_id}")
                by_key(page, "live_measurements").wait_for(timeout=30_000)
                page.wait_for_timeout(2500)  # a second measurement in (the gate fails at its fourth)
                print(screenshot(page, out / "verification-sync-live-light.png"))
                page.context.close()
                started.wait(120)
                for theme in THEMES:
                    page = new_page(browser, dark=theme == "dark")
                    _open_slowly(page, f"{server.page_url('Sync history')}?operation={started.operation_id}")
                    by_key(page, "hist_measurements").scroll_into_view_if_needed()
                    print(screenshot(page, out / f"verification-history-{theme}.png"))
                    page.context.close()
            ctx.engine.dispose()
    finally:
        exporter.server.shutdown()
        exporter.server.server_close()


def _open_slowly(page: Page, url: str) -> None:
    """open_page with a minute's patience for each wait: on a busy machine a page can take longer than 20 s."""
    page.goto(url, timeout=60_000)
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=60_000)
    wait_idle(page, timeout=60_000)


VERIFICATION_GATES = (
    ("error-rate", 'max(app_error_ratio{namespace="{namespace}",service="{service}"})', "result < 0.05"),
    ("p95-latency", 'max(app_latency_p95_seconds{namespace="{namespace}",service="{service}"})', "result < 0.3"),
)


def environment_dialog_screens(browser: Browser, data_dir: Path, out: Path) -> None:
    """The Edit dialog of an unprotected Stage set to pin digests, and of a protected Prod whose pinning nobody set
    (its own installation with no Rancher: the dialog reads only the database), `--only environment-dialog`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = _server(data_dir)
    ctx = server.context()
    ctx.upgrade_database()
    with ctx.session() as session:
        from ranchersync.catalogue import sites

        # A site (never contacted here), so the first-visit dialog stays closed.
        sites.add_site(session, ctx.cipher, name="rancher-eu", actor=SCREENSHOTS, connection=sites.make_connection(
            "https://rancher.example.com", "token-abcde:" + "b" * 54))
        for name, description in (("Dev", "Integration"), ("Stage", "Pre-production"), ("Prod", "Customers")):
            environments.add_environment(session, actor=SCREENSHOTS, name=name, description=description,
                                         protected=name == "Prod")
        environments.update_environment(session, "Stage", actor=SCREENSHOTS, pin_digests=True)
        stage = environments.get_environment(session, "Stage").id
        prod = environments.get_environment(session, "Prod").id
    try:
        with server:
            for theme in THEMES:
                page = new_page(browser, dark=theme == "dark")
                _open_slowly(page, server.page_url("Environments"))
                click(page, f"env_edit_{stage}")
                page.locator("[data-testid='stDialog']").wait_for()
                wait_idle(page, timeout=60_000)
                print(screenshot(page, out / f"environment-edit-{theme}.png"))
                if theme == "light":  # Prod, protected, its pinning never set: it follows the protection
                    click(page, "edit_env_cancel")
                    click(page, f"env_edit_{prod}")
                    page.locator("[data-testid='stDialog']").wait_for()
                    wait_idle(page, timeout=60_000)
                    print(screenshot(page, out / "environment-edit-protected-light.png"))
                page.context.close()
    finally:
        ctx.engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
