"""Rancher API tokens: the format, the accepted header forms, expiry and cluster scope."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.cookies import CookieError, SimpleCookie

from .objects import SAFE_ALPHABET, utc_now

# rancher/wrangler randomtoken: 54 characters of the same alphabet Kubernetes uses for safe names.
SECRET_LENGTH = 54
_CLUSTER_PATH = re.compile(r"^/(?:k8s/clusters|v3/clusters|v3/cluster)/([^/?]+)")


def generate_token() -> str:
    """A token as Rancher hands it out: `token-xxxxx:<54 characters>`."""
    name = "token-" + "".join(secrets.choice(SAFE_ALPHABET) for _ in range(5))
    return f"{name}:{''.join(secrets.choice(SAFE_ALPHABET) for _ in range(SECRET_LENGTH))}"


@dataclass
class TokenRecord:
    """One API key: its name (the access key), its secret, its owner and its limits."""

    name: str
    secret: str = field(repr=False)
    user_id: str
    cluster_id: str | None = None
    expires_at: datetime | None = None
    enabled: bool = True
    derived: bool = True
    description: str = ""
    created: datetime = field(default_factory=utc_now)

    @property
    def expired(self) -> bool:
        """True once the expiry has passed."""
        return self.expires_at is not None and utc_now() >= self.expires_at

    @property
    def ttl_ms(self) -> int:
        """The lifetime in milliseconds as Rancher reports it; 0 means it never expires."""
        if self.expires_at is None:
            return 0
        return max(0, int((self.expires_at - self.created).total_seconds() * 1000))


def cluster_in_path(path: str) -> str | None:
    """The cluster id Rancher's cluster router reads from a path, for scoped-token checks."""
    match = _CLUSTER_PATH.match(path)
    return match.group(1) if match else None


def presented_token(headers: Mapping[str, str]) -> str | None:
    """The `name:secret` a request carries: Bearer or Basic Authorization, else the `R_SESS` cookie."""
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        if scheme.lower() == "basic":
            value = value.strip()
            try:
                # Rancher decodes with Go's base64.URLEncoding; padding is restored for lenient clients.
                return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
        return None
    cookie_header = headers.get("Cookie")
    if cookie_header:
        try:
            cookie = SimpleCookie(cookie_header)
        except CookieError:
            return None
        if "R_SESS" in cookie:
            return cookie["R_SESS"].value
    return None


class TokenRegistry:
    """The tokens one server accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenRecord] = {}

    def add(self, token: str, *, user_id: str, cluster_id: str | None = None, expires_at: datetime | None = None,
            enabled: bool = True, description: str = "") -> TokenRecord:
        """Accept a `name:secret` token from now on."""
        name, colon, secret = token.partition(":")
        if not colon or not name or not secret:
            raise ValueError("a Rancher token has the form name:secret, e.g. token-abcde:…")
        record = TokenRecord(name, secret, user_id, cluster_id, expires_at, enabled, description=description)
        with self._lock:
            self._tokens[name] = record
        return record

    def get(self, name: str) -> TokenRecord | None:
        """A token by name (the part before the colon)."""
        with self._lock:
            return self._tokens.get(name)

    def of_user(self, user_id: str) -> list[TokenRecord]:
        """All tokens of one user, by name."""
        with self._lock:
            return sorted((t for t in self._tokens.values() if t.user_id == user_id), key=lambda t: t.name)

    def authenticate(self, headers: Mapping[str, str], path: str) -> TokenRecord | None:
        """The token of a request if it is valid, enabled, unexpired and in scope for the path; else None."""
        presented = presented_token(headers)
        if not presented:
            return None
        name, _, secret = presented.partition(":")
        record = self.get(name)
        if record is None or not secret or not hmac.compare_digest(record.secret, secret):
            return None
        if not record.enabled or record.expired:
            return None
        if record.cluster_id is not None and cluster_in_path(path) != record.cluster_id:
            return None
        return record
