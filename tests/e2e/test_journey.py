"""A newcomer's first minutes in a real browser: add the first site and test it, build the pipeline, add an app
instance through the pickers fed by a simulated Rancher."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ranchersync.catalogue import instances
from ranchersync.simulator import SimulatedRancher
from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, by_key, choose, click, fill, new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser


def _go(page: Page, label: str) -> None:
    page.locator("[data-testid='stSidebar'] a", has_text=label).first.click()
    wait_idle(page)
    expect(page.locator("h1").first).to_have_text(label)


def _key_suffix(page: Page, prefix: str) -> str:
    classes = page.locator(f"[class*='st-key-{prefix}']").first.get_attribute("class") or ""
    return next(c for c in classes.split() if c.startswith(f"st-key-{prefix}"))[len(f"st-key-{prefix}"):]


def expect_toast(page: Page, text: str) -> None:
    # Several toasts can be on screen at once (an earlier one may still be fading): wait for the one we expect.
    expect(page.locator("[data-testid='stToast']").filter(has_text=text).first).to_be_visible()


def _stored_instances(server: AppServer) -> list[tuple[str, str, str, str, str]]:
    ctx = server.context()
    try:
        with ctx.session() as session:
            return [
                (i.name, i.environment.name, i.site.name, i.cluster_id, i.namespace)
                for i in instances.list_instances(session)
            ]
    finally:
        ctx.engine.dispose()


def test_first_site_then_environments_then_an_app_instance(
    browser: Browser, simulated_rancher: SimulatedRancher, serve: Serve, artifacts: Path
) -> None:
    server = serve()
    page = new_page(browser)
    open_page(page, server.url)

    # First visit: the dialog opens by itself.
    dialog = page.locator("[data-testid='stDialog']")
    expect(dialog).to_contain_text("Welcome to Rancher Sync Manager")
    fill(page, "welcome_name", "rancher-east")
    fill(page, "welcome_url", simulated_rancher.url)
    fill(page, "welcome_token", "token-wrong:nottherightsecret")
    click(page, "welcome_save")
    expect(dialog).to_contain_text("Rancher refused the token")
    screenshot(page, artifacts / "journey-1-wrong-token.png")

    fill(page, "welcome_token", simulated_rancher.token)
    click(page, "welcome_save")
    expect_toast(page, "Site 'rancher-east' added: signed in as Default Admin")
    expect(dialog).to_have_count(0)
    assert simulated_rancher.token.split(":")[1] not in page.content()

    # The site answers a connection test from its page.
    _go(page, "Sites")
    card = page.locator("[class*='st-key-site_card_']")
    expect(card).to_contain_text("rancher-east")
    expect(card).to_contain_text("connected")
    card.locator("[class*='st-key-site_test_'] button").click()
    wait_idle(page)
    expect_toast(page, "Connection to 'rancher-east' works")
    screenshot(page, artifacts / "journey-2-sites.png")

    # The pipeline, Prod protected.
    _go(page, "Environments")
    for name in ("Dev", "Stage", "Prod"):
        click(page, "env_add")
        fill(page, "add_env_name", name)
        if name == "Prod":
            by_key(page, "add_env_protected").locator("label").click()
            wait_idle(page)
        click(page, "add_env_save")
        expect_toast(page, f"Environment '{name}' added.")
    chips = page.locator("[data-testid='stMain'] .rsm-chip")
    expect(chips.first).to_have_text("Dev · 0")
    expect(page.locator("[data-testid='stMain']")).to_contain_text("protected")
    screenshot(page, artifacts / "journey-3-environments.png")

    # An app instance through the pickers: site → cluster → namespace, all read from Rancher.
    _go(page, "App instances")
    click(page, "inst_add")
    choose(page, "add_inst_env", "Stage")
    site_id = _key_suffix(page, "add_inst_cluster_")  # the pickers' keys carry the site (and cluster) id
    choose(page, f"add_inst_cluster_{site_id}", "prod-east (c-m-prd01)")
    choose(page, f"add_inst_ns_{site_id}_c-m-prd01", "shop-stage")
    screenshot(page, artifacts / "journey-4-pickers.png")
    click(page, "add_inst_save")
    expect_toast(page, "App instance 'shop-stage' added (prod-east/shop-stage in Stage).")

    expect(page.locator("h3", has_text="Stage: 1 app instance")).to_be_visible()
    expect(page.locator("[data-testid='stDataFrame']")).to_be_visible()  # a canvas: its cells are not in the DOM
    assert _stored_instances(server) == [("shop-stage", "Stage", "rancher-east", "c-m-prd01", "shop-stage")]
    screenshot(page, artifacts / "journey-5-app-instances.png")
    assert simulated_rancher.token.split(":")[1] not in page.content()
    page.context.close()
