"""Proxy mode for real (issue 18, item 1): identity headers are believed only from RANCHERSYNC_TRUSTED_PROXIES.

The dashboard runs with RANCHERSYNC_AUTH=proxy and RANCHERSYNC_TRUSTED_PROXIES=127.0.0.2/32. A small reverse proxy
written here (aiohttp, HTTP and websockets) listens on 127.0.0.1 and opens its connections to the dashboard FROM
127.0.0.2, like oauth2-proxy it overwrites the identity headers. Both ways in come from loopback; only the source
address tells them apart (all of 127.0.0.0/8 is this machine).

- Chromium straight to the dashboard's port with forged `X-Forwarded-Email`/`X-Forwarded-Groups` (and an
  `X-Forwarded-For` naming the proxy): refused, the page says why and shows nothing of the app.
- Chromium through the proxy: signed in as the proxy's user, with the role of its groups.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect

from tests.e2e.helpers import VIEWPORT, AppServer, free_port, open_page

pytestmark = pytest.mark.browser

PROXY_SOURCE = "127.0.0.2"
ROLE_MAP = {"rsm-admins": "admin", "rsm-viewers": "viewer"}
FORGED = {"X-Forwarded-Email": "mallory@evil.example", "X-Forwarded-Groups": "rsm-admins",
          "X-Forwarded-For": PROXY_SOURCE}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length", "content-encoding"}


class IdentityProxy:
    """A reverse proxy on 127.0.0.1 that signs everyone in as `email` (groups `groups`), like oauth2-proxy after a
    sign-in: it drops whatever identity headers the browser sent and sets its own; upstream connections leave from
    127.0.0.2."""

    def __init__(self, upstream: str, email: str, groups: str) -> None:
        self.upstream, self.email, self.groups = upstream, email, groups
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _headers(self, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in HOP_BY_HOP and not k.lower().startswith(("x-forwarded-", "sec-websocket-"))}
        headers.update({"X-Forwarded-Email": self.email, "X-Forwarded-Groups": self.groups,
                        "X-Forwarded-For": request.remote or ""})
        return headers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        target = self.upstream + request.rel_url.raw_path_qs
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, target)
        async with self._session.request(request.method, target, headers=self._headers(request),
                                         data=await request.read(), allow_redirects=False,
                                         auto_decompress=False) as answer:
            body = await answer.read()
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            if "Content-Encoding" in answer.headers:
                headers["Content-Encoding"] = answer.headers["Content-Encoding"]
            return web.Response(status=answer.status, headers=headers, body=body)

    async def _websocket(self, request: web.Request, target: str) -> web.StreamResponse:
        assert self._session is not None
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        async with self._session.ws_connect(target.replace("http", "ws", 1), headers=self._headers(request),
                                            protocols=protocols, max_msg_size=0) as upstream:
            browser = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                            max_msg_size=0)
            await browser.prepare(request)

            async def relay(source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
                            sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse) -> None:
                async for message in source:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        await sink.send_str(message.data)
                    else:
                        break
                await sink.close()

            await asyncio.gather(relay(browser, upstream), relay(upstream, browser), return_exceptions=True)
            return browser

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            # The proxy's own address as the dashboard sees it: every upstream connection leaves from 127.0.0.2.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(PROXY_SOURCE, 0)))
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> IdentityProxy:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, IdentityProxy]]:
    """The dashboard in proxy mode trusting 127.0.0.2 only, and the proxy in front of it."""
    folder: Path = tmp_path_factory.mktemp("proxy")
    app = AppServer(database_url=f"sqlite:///{folder / 'app.db'}", secret_key=Fernet.generate_key().decode(),
                    data_dir=folder / "server",
                    extra_env={"RANCHERSYNC_AUTH": "proxy", "RANCHERSYNC_TRUSTED_PROXIES": f"{PROXY_SOURCE}/32",
                               "RANCHERSYNC_ROLE_MAP": json.dumps(ROLE_MAP)})
    ctx = app.context()
    ctx.upgrade_database()
    ctx.engine.dispose()
    with app, IdentityProxy(app.url, "ada@example.com", "staff,rsm-admins") as proxy:
        yield app, proxy


def test_forged_identity_headers_straight_to_the_port_are_refused(
        browser: Browser, proxied: tuple[AppServer, IdentityProxy]) -> None:
    app, _ = proxied
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=FORGED)
    try:
        page = context.new_page()
        open_page(page, app.url)
        refusal = page.get_by_text("Identity headers are believed only from the proxy")
        expect(refusal).to_be_visible()
        expect(page.get_by_text("the connection comes from 127.0.0.1, which is not a trusted proxy")).to_be_visible()
        assert page.locator("[data-testid='stSidebarNav'], [data-testid='stPageLink']").count() == 0
        assert page.get_by_text("mallory@evil.example").count() == 0
    finally:
        context.close()


def test_the_same_through_the_trusted_proxy_is_signed_in(
        browser: Browser, proxied: tuple[AppServer, IdentityProxy]) -> None:
    app, proxy = proxied
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=FORGED)  # the proxy overwrites them
    try:
        page = context.new_page()
        open_page(page, proxy.url)
        user = page.locator(".st-key-signed_in_user")
        expect(user).to_contain_text("ada@example.com")
        expect(user).to_contain_text("role: admin")
        assert page.get_by_text("mallory@evil.example").count() == 0
    finally:
        context.close()
