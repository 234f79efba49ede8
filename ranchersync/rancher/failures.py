"""Turn Rancher's many error shapes, and network failures, into the typed errors of ``ranchersync.kernel.errors``.

Rancher answers errors in at least six shapes (rancher-api.md §1.4): its auth filter's ``{"type":"error",
"status":"401"}`` (status as a string), Norman's and Steve's ``{"type":"error","status":403,"code":...}``,
Kubernetes ``Status`` objects from the proxy, the cluster router's Go struct ``{"Code":{"Code":...},"Message":...}``,
plain text from the proxy, and empty bodies. Messages name the HTTP status, the method and the path, never a token.
Each classification also sets the error's title and hint (`EXPLAINED`): the one place that says what a failure means
for the user, so no screen or command has to guess it again from the message's words.
"""

from __future__ import annotations

import html
import json
import re
import ssl
from typing import Any, Final, TypedDict

import requests
from urllib3.exceptions import NameResolutionError, ReadTimeoutError

from ranchersync.kernel.errors import (
    ConflictError,
    MalformedResponse,
    RancherAPIError,
    RancherAuthError,
    RancherNotFound,
    RancherUnavailable,
)

_MAX_DETAIL: Final = 300
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HOSTNAME_MISMATCH: Final = 62  # OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH

# What each classified failure is called and what the user can do about it: (title, hint). The message (what
# happened, where) is built per failure; these are the words the dashboard and the CLI show with it.
EXPLAINED: Final[dict[str, tuple[str, str]]] = {
    "refused": (
        "Rancher cannot be reached",
        "Check the URL: nothing accepted the connection at that address and port. Is Rancher running there (https "
        "uses port 443 unless the URL names another)?",
    ),
    "dns": (
        "The host name is unknown",
        "Check the host name in the URL for a typo; an internal name may need the company's VPN or DNS.",
    ),
    "connect_timeout": (
        "Rancher did not answer in time",
        "Nothing answered the connection: check that this machine can reach that address (VPN, proxy, firewall), "
        "then try again.",
    ),
    "read_timeout": (
        "Rancher did not answer in time",
        "Rancher accepted the connection but did not answer: it or the cluster may be overloaded. Try again in a "
        "moment.",
    ),
    "untrusted": (
        "The TLS certificate is not trusted",
        "Upload the CA bundle that signed Rancher's certificate (Rancher shows it under Global Settings → "
        "cacerts), or, for a lab server only, choose to skip TLS verification.",
    ),
    "wrong_host": (
        "The certificate is not valid for this host name",
        "Use the host name the certificate was issued for: the one in Rancher's server-url setting.",
    ),
    "handshake": (
        "The TLS handshake failed",
        "Check that the URL points at Rancher's HTTPS port, and that no proxy intercepts the connection.",
    ),
    "dropped": (
        "The connection was dropped",
        "Something between this machine and Rancher closed the connection (a proxy, a load balancer, a restarting "
        "Rancher): try again.",
    ),
    "unsent": ("The request could not be sent", "Check the site's URL: it must be https://host or https://host:port."),
    "401": ("Rancher refused the token", RancherAuthError.default_hint),
    "401_cluster": (
        "Rancher refused the token",
        RancherAuthError.default_hint + " On a cluster's API Rancher also answers 401 when the token's user has no "
        "access to that cluster: add the user to it in Rancher (Cluster → Members).",
    ),
    "403": (
        "Permission denied",
        "The token works, but its user may not do this: use a token of a user whose role in that cluster or "
        "project allows it, or ask a Rancher administrator to grant it.",
    ),
    "404": (
        "Not found in Rancher",
        "It may have been removed or renamed in Rancher: check the app instance's cluster and namespace, then "
        "refresh.",
    ),
    "409": ("The object changed meanwhile", ConflictError.default_hint),
    "422": (
        "Rancher refused the request as invalid",
        "Rancher's validation names what is wrong in the details: correct it (often the source workload's image), "
        "then try again.",
    ),
    "422_csrf": (
        "Rancher's CSRF check refused the request",
        "Rancher treats a request with a browser's User-Agent ('Mozilla…') as a browser's: connect to Rancher "
        "directly, not through a proxy that rewrites the User-Agent.",
    ),
    "429": ("Rancher is limiting requests", "Too many requests in a short time: wait a moment, then try again."),
    "503": (
        "Rancher or the cluster is unavailable",
        "Rancher (or a proxy in front of it) answered but cannot serve this now: check that Rancher and the "
        "cluster are up in Rancher's own UI, then try again.",
    ),
    "cluster_unavailable": (
        "The cluster is unavailable",
        "Rancher answers, but this cluster is disconnected or not ready: check its state in Rancher's Cluster "
        "Management.",
    ),
    "redirect": (
        "Rancher redirected the request",
        "The site URL must be Rancher's own address (its server-url setting). Redirects are not followed, because "
        "the API token would go with them.",
    ),
}


class Words(TypedDict):
    """The title and hint of a classified failure, as keyword arguments of an error."""

    title: str
    hint: str


class _Where(TypedDict):
    status: int
    url: str


def explained(key: str) -> Words:
    """The title and hint of a classified failure (a key of `EXPLAINED`)."""
    title, hint = EXPLAINED[key]
    return {"title": title, "hint": hint}


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
    about: _Where = {"status": status, "url": url}

    if reason == "ClusterUnavailable":
        return RancherUnavailable(
            f"The cluster is unavailable through Rancher ({where}){suffix}", **about, **explained("cluster_unavailable")
        )
    if status == 401:
        detail = suffix or ": no details from Rancher"
        # Rancher's proxy also answers a bare 401 when the user may not use that downstream cluster (§1.4).
        key = "401_cluster" if path.startswith("/k8s/clusters/") else "401"
        return RancherAuthError(f"Rancher refused the API token ({where}){detail}.", **about, **explained(key))
    if status == 403:
        return RancherAuthError(
            f"Permission denied: the token's user may not do this ({where}){suffix}", **about, **explained("403")
        )
    if status == 404:
        return RancherNotFound(f"Not found ({where}){suffix}", **about, **explained("404"))
    if status == 409:
        return ConflictError(f"Conflict ({where}){suffix}", **about, **explained("409"))
    if status == 422:
        key = "422_csrf" if reason == "InvalidCSRFToken" else "422"
        return RancherAPIError(f"Rancher refused the request as invalid ({where}){suffix}", **about, **explained(key))
    if status == 429:
        wait = _retry_after(resp, body)
        title, hint = EXPLAINED["429"]
        if wait:
            hint = f"{hint} Rancher asks to wait {wait} s."
        return RancherAPIError(f"Rancher is limiting requests ({where}){suffix}", **about, title=title, hint=hint)
    if status in (502, 503, 504):
        return RancherUnavailable(f"Rancher or the cluster is unavailable ({where}){suffix}", **about,
                                  **explained("503"))
    if 300 <= status < 400:
        location = resp.headers.get("Location", "")
        target = f" to {location.split('?', 1)[0]}" if location else ""
        return MalformedResponse(
            f"Rancher redirected {method} {path}{target} (HTTP {status}); the redirect was not followed.",
            **about,
            **explained("redirect"),
        )
    if body is None and raw and _looks_like_html(resp, raw):
        return MalformedResponse(
            f"Rancher answered an HTML page instead of JSON ({where}){suffix}; "
            "a proxy or login page may be in the way.",
            **about,
        )
    return RancherAPIError(f"Rancher reported an error ({where}){suffix}", **about)


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
    reason = " | ".join(str(e) for e in chain)  # the libraries' own words, matched where no type tells
    lowered = reason.lower()
    innermost = str(chain[-1])  # shown: the outer layers only repeat the pool and the retry count
    at = f"({method} {path})"
    if isinstance(exc, requests.exceptions.SSLError):
        verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
        if (getattr(verify, "verify_code", None) == _HOSTNAME_MISMATCH) or "mismatch" in lowered \
                or "doesn't match" in lowered:
            msg, key = f"Cannot connect to {host}: the TLS certificate is not valid for this host name {at}.", \
                "wrong_host"
        elif verify is not None or "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
            msg, key = f"Cannot connect to {host}: certificate not trusted {at}.", "untrusted"
        else:
            msg, key = f"Cannot connect to {host}: the TLS handshake failed {at}: {_clip(innermost)}", "handshake"
        return RancherUnavailable(msg, url=url, **explained(key))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RancherUnavailable(f"Timed out connecting to {host} {at}.", url=url, **explained("connect_timeout"))
    # After its last retry urllib3 reports a read timeout as MaxRetryError, which requests turns into a plain
    # ConnectionError: look for the timeout anywhere in the chain.
    if isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(e, ReadTimeoutError) for e in chain):
        return RancherUnavailable(f"Rancher at {host} did not answer in time {at}.", url=url,
                                  **explained("read_timeout"))
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(isinstance(e, NameResolutionError) for e in chain) or "name or service not known" in lowered \
                or "nodename nor servname" in lowered or "resolve" in lowered:
            what, key = "the host name could not be resolved", "dns"
        elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in lowered:
            what, key = "the connection was refused", "refused"
        elif "reset" in lowered or "aborted" in lowered or "disconnected" in lowered:
            what, key = "the connection was dropped", "dropped"
        else:
            return RancherUnavailable(
                f"Cannot reach Rancher at {host}: the connection failed ({_clip(innermost)}) {at}.", url=url
            )
        return RancherUnavailable(f"Cannot reach Rancher at {host}: {what} {at}.", url=url, **explained(key))
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return RancherUnavailable(
            f"The connection to {host} broke while reading the answer {at}.", url=url, **explained("dropped")
        )
    # Anything else is a local problem (bad URL, bad header); keep the class name, not the text, which may quote values.
    return RancherAPIError(
        f"The request to {host} could not be sent {at}: {type(exc).__name__}.", url=url, **explained("unsent")
    )


def _retry_after(resp: requests.Response, body: Any) -> str:
    header = resp.headers.get("Retry-After", "").strip()
    if header.isdecimal():
        return header
    details = body.get("details") if isinstance(body, dict) else None
    seconds = details.get("retryAfterSeconds") if isinstance(details, dict) else None
    return str(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0 else ""


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
