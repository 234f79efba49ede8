"""Operations as server-side jobs, in a real browser (issue 20, item 2): Apply returns at once on the sync's live
page and the sync completes while the user is elsewhere; Terminate mid-rollout rolls back what changed and is
recorded so; a source that is not healthy is refused (Apply disabled, with the reason) and a releaser's override with
a reason goes through. One app and one simulated Rancher for the module (Dev → Stage → Prod, Prod protected); each
test promotes its own service from Stage (1.4.2) into Prod (1.4.1)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from ranchersync import jobs
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.models import AuditEvent, SyncOperation
from ranchersync.simulator import SimulatedRancher
from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, wait_idle
from tests.e2e.world import e2e_world, seed_showcase

pytestmark = pytest.mark.browser

PROD, STAGE = "c-m-prd01", "c-m-prd01"  # both on the prod-east cluster (shop-stage and shop-prod)


@dataclass(frozen=True)
class Shop:
    app: AppServer
    ctx: AppContext
    rancher: SimulatedRancher

    def image(self, namespace: str, name: str) -> str:
        obj = self.rancher.get_object(PROD, "Deployment", namespace, name)
        assert obj is not None
        return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])

    def operation(self, operation_id: int) -> SyncOperation:
        with self.ctx.session() as session:
            found = session.get_one(SyncOperation, operation_id)
            session.expunge(found)
            return found

    def wait_for_image(self, namespace: str, name: str, image: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.image(namespace, name) != image:
            assert time.monotonic() < deadline, f"{name} never went to {image}"
            time.sleep(0.1)

    def set_rollout(self, seconds: float) -> None:
        """How long the simulator's rollouts take from now on (its settings are frozen: replaced whole)."""
        self.rancher.settings = dataclasses.replace(self.rancher.settings, rollout_seconds=seconds)
        for cluster in self.rancher.clusters.values():
            cluster.settings = self.rancher.settings


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A simulated Rancher of the module's own (its rollouts are slowed down here) and the app on a fresh database."""
    home = tmp_path_factory.mktemp("operations")
    with SimulatedRancher(e2e_world(), rollout_seconds=1) as rancher:
        app = AppServer(database_url=f"sqlite:///{home / 'app.db'}", secret_key=Fernet.generate_key().decode(),
                        data_dir=home / "server")
        ctx = app.context()
        ctx.upgrade_database()
        seed_showcase(ctx, rancher)
        with app:
            yield Shop(app, ctx, rancher)
        ctx.engine.dispose()


def review(page: Page, shop: Shop, service: str) -> None:
    """Services, Stage: select one service, open the review of its sync into Prod (protected: typed)."""
    with shop.ctx.session() as session:
        stage_id = environments.get_environment(session, "Stage").id
    open_page(page, shop.app.page_url("Services"))
    by_key(page, "svc_env").get_by_role("radio", name="Stage").click()
    wait_idle(page)
    fill(page, f"svc_search_{stage_id}", service)
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's tick box, under a 35 px header
    wait_idle(page)
    expect(by_key(page, "svc_sync")).to_contain_text(f"Sync 1 service ({service})")
    click(page, "svc_review")
    expect(page.locator("[data-testid='stDialog']")).to_contain_text("will change in Prod")
    fill(page, "sync_confirm", "Prod")


def apply(page: Page) -> int:
    """Click Apply: the dialog closes at once on the live page of the sync (its id, from the address)."""
    by_key(page, "sync_apply").locator("button").click()
    page.wait_for_url(re.compile(r"/Sync_history\?operation=\d+$"))
    expect(page.locator("[data-testid='stDialog']")).to_have_count(0)
    return int(page.url.rsplit("=", 1)[1])


def test_apply_returns_at_once_and_the_sync_completes_elsewhere(browser: Browser, shop: Shop) -> None:
    shop.set_rollout(12)  # long enough to go elsewhere before it ends
    page = new_page(browser)
    try:
        review(page, shop, "web")
        operation_id = apply(page)
        expect(by_key(page, "live_operation")).to_contain_text("Running")
        # Another page, at once: the sync is not the page's script, nothing waits for it.
        page.get_by_role("link", name="Audit log").click()
        page.wait_for_url(re.compile(r"/Audit_log$"))
        wait_idle(page)
        assert shop.operation(operation_id).status == "running", "the page returned before the rollout ended"
        assert jobs.wait_for_operation(shop.ctx, operation_id, timeout=60) == "complete"
        assert shop.image("shop-prod", "web") == "registry.example.com/shop/web:1.4.2"

        # The next page the user opens says so, and the history lists it complete.
        page.get_by_role("link", name="Sync history").first.click()
        expect(page.locator("[data-testid='stToast']", has_text=f"Sync #{operation_id} complete: 1 workload "
                                                                 "updated in Prod.")).to_be_visible()
        expect(page.locator("[data-testid='stCaptionContainer']", has_text=re.compile(
            rf" of {operation_id} operations?, newest first"))).to_be_visible()
        open_page(page, f"{shop.app.page_url('Sync history')}?operation={operation_id}")
        expect(by_key(page, "hist_detail")).to_contain_text("complete")
    finally:
        shop.set_rollout(1)
        page.context.close()


def test_terminate_mid_rollout_rolls_back_and_is_recorded(browser: Browser, shop: Shop) -> None:
    shop.set_rollout(60)  # it would wait a minute: Terminate stops it well before
    page = new_page(browser)
    try:
        review(page, shop, "api")
        operation_id = apply(page)
        live = by_key(page, "live_operation")
        expect(live).to_contain_text("Running")
        assert shop.image("shop-prod", "api") == "registry.example.com/shop/api:1.4.2", "rolling out"
        by_key(live, "terminate").locator("button").click()
        # The worker stops waiting and patches the previous image back: quick, the old pods are all still there (so
        # the panel's "stopping" may never be drawn). Should it roll out anew, it need not take a minute either.
        shop.wait_for_image("shop-prod", "api", "registry.example.com/shop/api:1.4.1")
        shop.set_rollout(1)
        assert jobs.wait_for_operation(shop.ctx, operation_id, timeout=60) == "rolled_back"

        # The live panel turns into the record: rolled back, and why.
        expect(live).to_have_count(0, timeout=20_000)
        expect(by_key(page, "hist_detail")).to_contain_text("rolled back")
        expect(by_key(page, "hist_detail")).to_contain_text("terminated by e2e: every change was rolled back")
        terminated = shop.operation(operation_id)
        assert (terminated.terminate_requested, terminated.terminated_by, terminated.rollback_reason) == (
            True, "e2e", "decided")
        assert shop.image("shop-prod", "api") == "registry.example.com/shop/api:1.4.1", "what changed is back"
        with shop.ctx.session() as session:
            actions = set(session.scalars(select(AuditEvent.action).where(
                AuditEvent.object_type == "operation", AuditEvent.object_id == str(operation_id))))
        assert "sync.terminate" in actions
    finally:
        shop.set_rollout(1)
        page.context.close()


def test_an_unhealthy_source_is_refused_unless_overridden_with_a_reason(browser: Browser, shop: Shop) -> None:
    api = shop.rancher.get_object(STAGE, "Deployment", "shop-stage", "api")
    assert api is not None
    api["spec"]["paused"] = True  # someone paused Stage's rollout of api
    shop.rancher.set_object(STAGE, api)
    page = new_page(browser)
    try:
        review(page, shop, "api")
        dialog = page.locator("[data-testid='stDialog']")
        expect(dialog).to_contain_text("The source is not healthy: this sync is refused.")
        expect(dialog).to_contain_text("api in Stage (shop-stage) is paused")
        wait_idle(page)
        apply_button = by_key(page, "sync_apply").locator("button").first
        expect(apply_button).to_be_disabled()

        fill(page, "sync_override_reason", "INC-7: Stage paused for a load test; 1.4.2 verified")
        operation_id = apply(page)
        assert jobs.wait_for_operation(shop.ctx, operation_id, timeout=60) == "complete"
        assert shop.image("shop-prod", "api") == "registry.example.com/shop/api:1.4.2"
        with shop.ctx.session() as session:
            override = session.scalars(select(AuditEvent).where(AuditEvent.action == "policy.override")).one()
            assert "INC-7: Stage paused for a load test" in str(override.detail)
    finally:
        api["spec"]["paused"] = False
        shop.rancher.set_object(STAGE, api)
        page.context.close()

