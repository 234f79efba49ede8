"""A sync through the HTTP API, on the dashboard's own server, while a browser session has the Services page open:
the page keeps answering (its reruns come back while the rollout is still running), and the API's call ends with
the finished operation (issue 21)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.people import tokens
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.e2e.conftest import Serve
from tests.e2e.helpers import by_key, fill, new_page, open_page, screenshot, wait_idle
from tests.e2e.world import e2e_world, seed_showcase

pytestmark = pytest.mark.browser

ROLLOUT_SECONDS = 20  # long enough that the page's reruns below all happen while the sync waits for its rollouts


@pytest.fixture
def slow_rancher() -> Iterator[SimulatedRancher]:
    with SimulatedRancher(e2e_world(), rollout_seconds=ROLLOUT_SECONDS) as simulator:
        yield simulator


def caption(page: Page, text: str) -> None:
    expect(page.locator("[data-testid='stCaptionContainer']", has_text=text).first).to_be_visible()


def test_the_services_page_keeps_answering_while_a_sync_runs_through_the_api(
    browser: Browser, slow_rancher: SimulatedRancher, serve: Serve, artifacts: Path, tmp_path: Path
) -> None:
    database, key = tmp_path / "api-sync.db", Fernet.generate_key().decode()
    ctx = AppContext(Settings(f"sqlite:///{database}", (key,), tmp_path / "secret.key", "e2e"))
    ctx.upgrade_database()
    seed_showcase(ctx, slow_rancher)
    with ctx.session() as session:
        secret = tokens.create_token(session, ADMIN, name="pipeline", role="releaser", expires_days=1).secret
    ctx.engine.dispose()
    server = serve(database, key)
    api, auth = f"{server.url}/api/v1", {"Authorization": f"Bearer {secret}"}

    page = new_page(browser)
    open_page(page, server.page_url("Services"))
    caption(page, "4 services")

    answer: dict[str, Any] = {}

    def pipeline() -> None:  # waits for the finished operation, as a pipeline's step does
        try:
            reply = requests.post(f"{api}/syncs", headers=auth, timeout=300,
                                  json={"from": "Stage", "to": "Prod", "allDifferent": True,
                                        "confirmEnvironment": "Prod", "wait": True})
            answer.update(status=reply.status_code, body=reply.json())
        except requests.RequestException as error:
            answer.update(status=None, error=repr(error))

    caller = threading.Thread(target=pipeline)
    caller.start()
    running = _running_operation(api, auth)

    # While it runs: the page reruns on each action and answers with what it shows.
    fill(page, "svc_search_" + _env_id(page), "api")
    caption(page, "2 of 4 services")
    by_key(page, "svc_view").get_by_role("radio").nth(1).click()
    wait_idle(page)
    caption(page, "differ between")
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    screenshot(page, artifacts / "services-during-api-sync.png")
    still = requests.get(f"{api}/operations/{running}", headers=auth, timeout=30).json()
    assert still["status"] == "running", "the page's answers came after the sync: nothing shows they overlapped"

    caller.join(timeout=240)
    assert not caller.is_alive()
    assert answer["status"] == 200, (answer, server.log()[-3000:])
    assert (answer["body"]["id"], answer["body"]["status"]) == (running, "complete")
    assert answer["body"]["initiatedBy"] == "token:pipeline"
    assert {r["serviceId"] for r in answer["body"]["results"]} == {"web", "api"}
    assert secret not in page.content()
    page.context.close()


def _running_operation(api: str, auth: dict[str, str]) -> int:
    """The id of the operation the API started, once it runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = requests.get(f"{api}/history", params={"status": "running"}, headers=auth, timeout=30).json()
        if found:
            return int(found[0]["id"])
        time.sleep(0.2)
    raise AssertionError("the sync did not start within 60 s")


def _env_id(page: Page) -> str:
    """The id in the Services table's search box key (svc_search_<environment id>)."""
    box = page.locator("[class*='st-key-svc_search_']").first
    classes = box.get_attribute("class") or ""
    return next(c for c in classes.split() if c.startswith("st-key-svc_search_")).removeprefix("st-key-svc_search_")
