"""Turn Rancher's many error shapes, and network failures, into the typed errors of ``ranchersync.errors``.

Rancher answers errors in at least six shapes (rancher-api.md §1.4): its auth filter's ``{"type":"error",
"status":"401"}`` (status as a string), Norman's and Steve's ``{"type":"error","status":403,"code":...}``,
Kubernetes ``Status`` objects from the proxy, the cluster router's Go struct ``{"Code":{"Code":...},"Message":...}``,
plain text from the proxy, and empty bodies. Messages name the HTTP status, the method and the path, never a token.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Final

import requests
from urllib3.exceptions import ReadTimeoutError

from ranchersync.errors import (
    ConflictError,
    MalformedResponse,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    RancherUnavailable,
)

CA_HINT: Final = "certificate not trusted — upload the Rancher CA bundle or choose skip verification"
_MAX_DETAIL: Final = 300
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def error_detail(body: Any) -> tuple[str, str]:
    """Return (message, reason code) from any known JSON error shape; empty strings when there is none."""
    if not isinstance(body, dict):
        return "", ""
    if body.get("kind") == "Status":  # Kubernetes, through the /k8s/clusters proxy
        return _text(body.get("message")), _text(body.get("reason"))
    code = body.get("Code")
    if isinstance(code, dict):  # Go struct httperror.APIError without JSON tags (cluster router)
        return _text(body.get("Message")), _text(code.get("Code"))
    if body.get("type") == "error" or "message" in body:  # Rancher auth filter, Norman, Steve
        return _text(body.get("message")), _text(body.get("code"))
    return "", ""


def from_response(resp: requests.Response, method: str, path: str, url: str) -> RancherAPIError:
    """Build the typed error for a non-2xx answer."""
    status = resp.status_code
    where = f"HTTP {status} on {method} {path}"
    body, raw = _parse_body(resp)
    message, reason = error_detail(body)
    if not message and raw:
        message = _describe_non_json(resp, raw)
    suffix = f": {message}" if message else ""

    if reason == "ClusterUnavailable":
        return RancherUnavailable(
            f"The cluster is unavailable through Rancher ({where}){suffix}", status=status, url=url
        )
    if status == 401:
        detail = suffix or ": no details from Rancher"
        # Rancher's proxy also answers a bare 401 when the user may not use that downstream cluster (§1.4).
        cluster = ", or its user has no access to this cluster" if path.startswith("/k8s/clusters/") else ""
        return RancherAuthError(
            f"Rancher refused the API token ({where}){detail}. The token is wrong, expired or disabled, "
            f"or it is scoped to another cluster{cluster}.",
            status=status,
            url=url,
        )
    if status == 403:
        return RancherAuthError(
            f"Permission denied: the token's user may not do this ({where}){suffix}", status=status, url=url
        )
    if status == 404:
        return RancherNotFound(f"Not found ({where}){suffix}", status=status, url=url)
    if status == 409:
        return ConflictError(
            f"Conflict ({where}){suffix}. The object changed since it was read: re-read it and plan again.",
            status=status,
            url=url,
        )
    if status in (502, 503, 504):
        return RancherUnavailable(f"Rancher or the cluster is unavailable ({where}){suffix}", status=status, url=url)
    if 300 <= status < 400:
        location = resp.headers.get("Location", "")
        target = f" to {location.split('?', 1)[0]}" if location else ""
        return MalformedResponse(
            f"Rancher redirected {method} {path}{target} (HTTP {status}): use the address it redirects to as the "
            "site URL.",
            status=status,
            url=url,
        )
    if body is None and raw and _looks_like_html(resp, raw):
        return MalformedResponse(
            f"Rancher answered an HTML page instead of JSON ({where}){suffix}; "
            "a proxy or login page may be in the way.",
            status=status,
            url=url,
        )
    return RancherAPIError(f"Rancher reported an error ({where}){suffix}", status=status, url=url)


def malformed(resp: requests.Response, method: str, path: str, url: str, expected: str = "JSON") -> MalformedResponse:
    """Build the error for a 2xx answer whose body is not what we expected."""
    where = f"HTTP {resp.status_code} on {method} {path}"
    raw = resp.text.strip() if resp.content else ""
    if not raw:
        what = "an empty body"
    elif _looks_like_html(resp, raw):
        what = f"an HTML page ({_describe_non_json(resp, raw)})"
    else:
        what = f"unexpected content ({_describe_non_json(resp, raw)})"
    return MalformedResponse(
        f"Rancher answered {what} instead of {expected} ({where}). Is the URL the Rancher server itself, "
        "without a proxy or login page in the way?",
        status=resp.status_code,
        url=url,
    )


def from_exception(exc: requests.RequestException, method: str, path: str, url: str, host: str) -> RancherAPIError:
    """Build the typed error for a request that got no HTTP answer."""
    chain = _chain(exc)
    reason = " | ".join(str(e) for e in chain)  # matched against
    innermost = str(chain[-1])  # shown: the outer layers only repeat the pool and the retry count
    if isinstance(exc, requests.exceptions.SSLError):
        if "mismatch" in reason.lower() or "doesn't match" in reason.lower():
            msg = (
                f"Cannot connect to {host}: the TLS certificate is not valid for this host name — use the name "
                f"the certificate was issued for, or choose skip verification ({method} {path})."
            )
        elif "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason.lower():
            msg = f"Cannot connect to {host}: {CA_HINT} ({method} {path})."
        else:
            msg = f"Cannot connect to {host}: the TLS handshake failed ({method} {path}): {_clip(innermost)}"
        return RancherUnavailable(msg, url=url)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RancherUnavailable(f"Timed out connecting to {host} ({method} {path}).", url=url)
    # After its last retry urllib3 reports a read timeout as MaxRetryError, which requests turns into a plain
    # ConnectionError: look for the timeout anywhere in the chain.
    if isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(e, ReadTimeoutError) for e in chain):
        return RancherUnavailable(f"Rancher at {host} did not answer in time ({method} {path}).", url=url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        lowered = reason.lower()
        if "name or service not known" in lowered or "nodename nor servname" in lowered or "resolve" in lowered:
            what = "the host name could not be resolved"
        elif "refused" in lowered:
            what = "the connection was refused"
        elif "reset" in lowered or "aborted" in lowered or "disconnected" in lowered:
            what = "the connection was dropped"
        else:
            what = f"the connection failed ({_clip(innermost)})"
        return RancherUnavailable(f"Cannot reach Rancher at {host}: {what} ({method} {path}).", url=url)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return RancherUnavailable(
            f"The connection to {host} broke while reading the answer ({method} {path}).", url=url
        )
    # Anything else is a local problem (bad URL, bad header); keep the class name, not the text, which may quote values.
    return RancherAPIError(f"The request to {host} could not be sent ({method} {path}): {type(exc).__name__}.", url=url)


def _parse_body(resp: requests.Response) -> tuple[Any, str]:
    raw = resp.text.strip() if resp.content else ""
    if not raw:
        return None, ""
    try:
        return json.loads(raw), raw
    except ValueError:
        return None, raw


def _looks_like_html(resp: requests.Response, raw: str) -> bool:
    return "html" in resp.headers.get("Content-Type", "").lower() or raw.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    )


def _describe_non_json(resp: requests.Response, raw: str) -> str:
    if _looks_like_html(resp, raw):
        match = _TITLE.search(raw)
        title = html.unescape(match.group(1)).strip() if match else ""
        return _clip(title) if title else "an HTML page"
    return _clip(raw.splitlines()[0] if raw else "")


def _chain(exc: BaseException) -> list[BaseException]:
    # requests wraps urllib3's MaxRetryError, which wraps the real cause; walk down to it for a precise message.
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8:
        seen.append(current)
        nxt = getattr(current, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nxt
    return seen


def _text(value: Any) -> str:
    return _clip(str(value)) if value not in (None, "") else ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
