"""Sign-in for real: a real OpenID Connect provider (`oidc-provider-mock`, started here on localhost), the app with
RANCHERSYNC_AUTH=oidc, and Chromium. Three people sign in in three browser contexts at once and each sees their
role's screens; then four eyes across two signed-in people: an operator asks for a sync into an environment that
needs one approval, a releaser approves it in another context, it runs on the simulated Rancher, and the history
names both. The time of a sign-in (Authorize clicked → the user shown) is measured and printed.

Streamlit reads `[auth]` from its secrets; the file is written to a temporary folder and handed over with
`--secrets.files` (STREAMLIT_SECRETS_FILES), so the checkout's own `.streamlit/secrets.toml` is never touched. One
host name everywhere (`localhost`): the state cookie set before the provider's page must come back to the same host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, BrowserContext, Page, expect

from ranchersync import history
from ranchersync.approvals import requests as approvals
from ranchersync.catalogue import environments
from ranchersync.models import ApprovalRequest, SyncOperation
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.e2e.helpers import VIEWPORT, AppServer, by_key, click, free_port, open_page, screenshot, wait_idle
from tests.e2e.test_sync import select_rows
from tests.e2e.world import seed_showcase

pytestmark = pytest.mark.browser

USERS = {  # sub → (groups, the role RANCHERSYNC_ROLE_MAP gives them)
    "vera@example.com": (["rsm-viewers"], "viewer"),
    "otto@example.com": (["rsm-ops"], "operator"),
    "rita@example.com": (["rsm-releasers"], "releaser"),
    "ada@example.com": (["rsm-admins"], "admin"),
}
ROLE_MAP = {"rsm-viewers": "viewer", "rsm-ops": "operator", "rsm-releasers": "releaser", "rsm-admins": "admin"}
SIGN_IN_TIMES: list[float] = []


class LocalhostServer(AppServer):
    """The app served as http://localhost:PORT (the host the OIDC redirect and its state cookie use)."""

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    """oidc-provider-mock on 127.0.0.1 with the four users predefined (their groups in the ID token)."""
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for sub, (groups, _) in USERS.items():
        command += ["--user-claims", json.dumps({"sub": sub, "email": sub, "email_verified": True,
                                                 "name": sub.split("@")[0].title(), "groups": groups})]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("oidc-provider-mock did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def server(idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalhostServer]:
    """One app for the module, signed in through `idp`, on the showcase catalogue with Stage needing 1 approval."""
    folder = tmp_path_factory.mktemp("signin")
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        f'cookie_secret = "{Fernet.generate_key().decode()}"\n'
        'client_id = "rancher-sync-manager"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{idp}/.well-known/openid-configuration"\n'
    )
    app = LocalhostServer(
        database_url=f"sqlite:///{folder / 'app.db'}", secret_key=Fernet.generate_key().decode(),
        data_dir=folder / "server", port=port,
        extra_env={"RANCHERSYNC_AUTH": "oidc", "RANCHERSYNC_ROLE_MAP": json.dumps(ROLE_MAP),
                   "STREAMLIT_SECRETS_FILES": str(secrets)},
    )
    simulator = SimulatedRancher(_world(), rollout_seconds=1).start()
    ctx = app.context()
    try:
        ctx.upgrade_database()
        seed_showcase(ctx, simulator)
        with ctx.session() as session:
            environments.update_environment(session, "Stage", actor=ADMIN, required_approvals=1)
        app.start()
        yield app
    finally:
        app.stop()
        simulator.stop()
        ctx.engine.dispose()


def _world():  # type: ignore[no-untyped-def]
    from tests.e2e.world import e2e_world

    return e2e_world()


def sign_in(browser: Browser, server: AppServer, idp: str, sub: str) -> Page:
    """A new browser context, signed in as `sub` through the provider's page; the time it takes is recorded."""
    context: BrowserContext = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(20_000)
    open_page(page, server.url)
    expect(by_key(page, "sign_in")).to_be_visible()
    by_key(page, "sign_in").locator("button").click()
    page.wait_for_url(f"{idp}/oauth2/authorize**")
    page.get_by_placeholder("sub").fill(sub)
    started = time.monotonic()
    page.get_by_role("button", name="Authorize", exact=True).click()
    shown = f"{sub} · role: {USERS[sub][1]}"  # plain text: it reads (and copies) exactly as written
    expect(by_key(page, "signed_in_user")).to_contain_text(shown, timeout=20_000)
    SIGN_IN_TIMES.append(time.monotonic() - started)
    wait_idle(page)
    return page


def test_three_people_signed_in_at_once_each_see_their_role(
        browser: Browser, server: LocalhostServer, idp: str, artifacts: Path) -> None:
    signed_out = browser.new_context(viewport=VIEWPORT).new_page()
    open_page(signed_out, server.url)
    expect(by_key(signed_out, "sign_in_screen")).to_contain_text("Sign in with your organisation's account")
    screenshot(signed_out, artifacts / "signin-screen.png")
    signed_out.context.close()

    pages = {sub: sign_in(browser, server, idp, sub) for sub in ("vera@example.com", "rita@example.com",
                                                                 "ada@example.com")}
    for sub, page in pages.items():  # all three still signed in, each with their own role
        page.reload()
        wait_idle(page)
        expect(by_key(page, "signed_in_user")).to_contain_text(f"role: {USERS[sub][1]}")
    vera, rita, ada = pages.values()

    # The viewer: no People link, catalogue changes disabled, no sync button on the comparison.
    expect(vera.get_by_role("link", name="People")).to_have_count(0)
    open_page(vera, server.page_url("Sites"))
    expect(by_key(vera, "site_add").locator("button").first).to_be_disabled()
    open_page(vera, server.page_url("Services"))
    by_key(vera, "svc_view").get_by_role("radio").nth(1).click()
    wait_idle(vera)
    select_rows(vera, [0])
    expect(by_key(vera, "cmp_review")).to_have_count(0)
    expect(by_key(vera, "cmp_sync")).to_contain_text("is a viewer")
    # The releaser: the Approvals page, no People link; the admin: the People page with everyone signed in.
    expect(rita.get_by_role("link", name="People")).to_have_count(0)
    open_page(ada, f"{server.url}/People")
    table = ada.locator("[data-testid='stDataFrame']").first
    expect(table).to_be_visible()
    screenshot(ada, artifacts / "signin-people.png")
    ctx = server.context()
    try:
        with ctx.session() as session:
            from ranchersync.people import directory as people
            found = {p.email: (p.role, p.source) for p in people.list_people(session, ctx.settings.role_policy)}
    finally:
        ctx.engine.dispose()
    assert found == {"vera@example.com": ("viewer", "default"), "rita@example.com": ("releaser", "groups at sign-in"),
                     "ada@example.com": ("admin", "groups at sign-in")}
    for page in pages.values():
        page.context.close()


def test_four_eyes_across_two_signed_in_people(
        browser: Browser, server: LocalhostServer, idp: str, artifacts: Path) -> None:
    otto = sign_in(browser, server, idp, "otto@example.com")
    rita = sign_in(browser, server, idp, "rita@example.com")
    # Otto (operator) asks for Dev → Stage; Stage needs one approval, so the review turns into a request.
    open_page(otto, server.page_url("Services"))
    by_key(otto, "svc_view").get_by_role("radio").nth(1).click()
    wait_idle(otto)
    by_key(otto, "cmp_envs").get_by_role("button", name="Remove Prod").first.click()
    wait_idle(otto)
    select_rows(otto, [0])
    click(otto, "cmp_review")
    dialog = otto.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("approval request")
    by_key(otto, "sync_apply").locator("button").click()
    wait_idle(otto)
    expect(otto.locator("[data-testid='stToast']")).to_contain_text("Approval request #")
    ctx = server.context()
    try:
        with ctx.session() as session:
            request = approvals.list_requests(session, pending=True)[0]
            request_id, asked_by = request.id, request.requested_by
        assert asked_by == "otto@example.com"
        # Rita (releaser) approves in her own context; her approval is the last one, so the sync runs.
        open_page(rita, f"{server.url}/Approvals")
        click(rita, f"approve_{request_id}")
        by_key(rita, "decide_confirm").locator("button").click()
        wait_idle(rita, timeout=60_000)
        screenshot(rita, artifacts / "signin-approved.png")
        with ctx.session() as session:
            operation_id = session.get_one(ApprovalRequest, request_id).operation_id
            assert operation_id is not None
            assert session.get_one(SyncOperation, operation_id).status == "complete"
            payload = history.operation_payload(history.get_operation_detail(session, operation_id))
        assert payload["initiatedBy"] == "otto@example.com" and payload["approvedBy"] == ["rita@example.com"]
        open_page(rita, server.page_url("Sync history"))
        expect(rita.locator("[data-testid='stMain']")).to_contain_text("otto@example.com")
    finally:
        ctx.engine.dispose()
        otto.context.close()
        rita.context.close()
    print(f"\nsign-in (Authorize clicked → user shown): {', '.join(f'{t:.2f} s' for t in SIGN_IN_TIMES)}; "
          f"median {sorted(SIGN_IN_TIMES)[len(SIGN_IN_TIMES) // 2]:.2f} s")
