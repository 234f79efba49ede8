"""Frame protection for real (issue 18, item 14): `streamlit run serve.py` answers with X-Frame-Options: DENY and
CSP frame-ancestors 'none' on the page, its static files and its endpoints, and Chromium refuses to show the
dashboard inside another site's frame."""

from __future__ import annotations

import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.conftest import Serve
from tests.e2e.helpers import AppServer, free_port

pytestmark = pytest.mark.browser


@pytest.fixture
def app(serve: Serve) -> AppServer:
    return serve()


def _headers(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return {k.lower(): v for k, v in answer.headers.items()}


@pytest.mark.parametrize("path", ["/", "/Services", "/_stcore/health", "/_stcore/host-config"])
def test_every_answer_forbids_framing(app: AppServer, path: str) -> None:
    headers = _headers(app.url + path)
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def framing_site(app: AppServer) -> Iterator[str]:
    """Another origin (another port) whose page frames the dashboard, as a clickjacking page would."""
    page = f'<html><body><iframe id="victim" src="{app.url}/" width="800" height="600"></iframe></body></html>'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server's name)
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_does_not_show_the_dashboard_in_another_sites_frame(
        browser: Browser, app: AppServer, framing_site: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(framing_site, wait_until="load")  # a page's load waits for its frames, a refused one included
        frame = next(f for f in page.frames if f is not page.main_frame)
        assert frame.url.startswith("chrome-error://"), frame.url
        assert frame.locator("[data-testid='stApp']").count() == 0, "the dashboard rendered inside the frame"
    finally:
        context.close()
