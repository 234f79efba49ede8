"""The HTTP API served by the dashboard's own server (issue 21): `streamlit run serve.py` mounts /api/v1, and a sync
started through it runs in the server's job workers while a browser session keeps using the Services page — the
page answers during the rollout, and the sync ends on its own after the caller stopped waiting."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Browser, expect

from ranchersync.people import tokens
from tests.builders import ADMIN
from tests.e2e.helpers import AppServer, new_page, open_page, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture
def server(demo_app: AppServer) -> tuple[AppServer, str]:
    """The dashboard on the demo, and a releaser token."""
    ctx = demo_app.context()
    with ctx.session() as session:
        secret = tokens.create_token(session, ADMIN, name="pipeline", role="releaser").secret
    ctx.engine.dispose()
    return demo_app, secret


def test_a_sync_through_the_mounted_api_while_the_services_page_keeps_answering(
        server: tuple[AppServer, str], browser: Browser) -> None:
    app, secret = server
    api = f"{app.url}/api/v1"
    bearer = {"Authorization": f"Bearer {secret}"}
    assert requests.get(f"{api}/healthz", timeout=10).json()["status"] == "ok"
    page = new_page(browser)
    open_page(page, app.page_url("Services"))
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()

    started = requests.post(f"{api}/syncs", headers=bearer, timeout=30, json={
        "from": "Stage", "to": "Prod", "services": ["frontend"], "targetInstance": "all",
        "confirmEnvironment": "Prod", "wait": False})
    assert started.status_code == 202, started.text
    operation = started.json()
    assert operation["status"] in ("pending", "running") and operation["initiatedBy"] == "token:pipeline"

    # While it rolls out, the page still answers: a rerun draws the table again.
    page.reload()
    wait_idle(page)
    expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()

    # The steps stream through Streamlit's server as they happen (nothing buffers them until the end): the first
    # event arrives while the operation still runs.
    stream = requests.get(f"{api}/operations/{operation['id']}/events", headers=bearer, stream=True, timeout=90)
    blocks = stream.iter_lines(decode_unicode=True, delimiter="\n\n")
    first = next(block for block in blocks if "event:" in block)
    assert "event: operation" in first
    now = requests.get(f"{api}/operations/{operation['id']}", headers=bearer, timeout=10).json()
    assert now["status"] in ("pending", "running"), now
    rest = [block for block in blocks if "event:" in block]
    assert "event: end" in rest[-1] and sum("event: result" in b for b in rest) >= 2
    done = requests.get(f"{api}/operations/{operation['id']}", headers=bearer, timeout=10).json()
    assert done["status"] == "complete", done
    assert {r["status"] for r in done["results"]} == {"success"} and len(done["results"]) == 2
