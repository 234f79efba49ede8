"""Security headers on every HTTP answer of the dashboard (issue 18 item 14), as plain ASGI middleware.

Streamlit 1.67 has no option for response headers; `st.App(..., middleware=[...])` (serve.py) wraps its own
application, so the middleware sees every HTTP answer: pages, static files, health, auth routes. Websocket frames
carry no headers. A reverse proxy may add the same headers (deploy/kubernetes/base/ingress.yaml): twice is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No other site may frame the dashboard (clickjacking: a hidden frame over "Approve"). X-Frame-Options for older
# browsers, CSP frame-ancestors for the others; nosniff so an uploaded or served file is never run as another type.
SECURITY_HEADERS: Final = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to each HTTP response that does not already set them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
