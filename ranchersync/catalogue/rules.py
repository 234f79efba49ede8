"""Rules about the catalogue that the dashboard and the CLI both need: which namespaces are the system's, the
default sync target, when a token warning starts, and whether a site counts as unreachable. Pure functions."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from ranchersync.kernel.humanize import ago
from ranchersync.rancher.types import TOKEN_WARNING_DAYS

TokenLevel = Literal["ok", "warning", "expired", "never", "unknown"]
SiteHealth = Literal["deactivated", "unreachable", "not tested", "connected"]

_SYSTEM_NAMESPACE_PREFIXES = ("kube-", "cattle-", "fleet-", "rancher-", "calico-", "tigera-", "ingress-nginx")
_SYSTEM_NAMESPACES = frozenset({"default", "local", "kube-system", "kube-public", "kube-node-lease"})


def is_system_namespace(name: str) -> bool:
    """Whether a namespace belongs to Kubernetes or Rancher rather than to an application."""
    return name in _SYSTEM_NAMESPACES or name.startswith(_SYSTEM_NAMESPACE_PREFIXES)


def namespaces_for_picking(names: Iterable[str]) -> list[str]:
    """Application namespaces first, by name; then the system ones, which are rarely what a user wants."""
    return sorted(names, key=lambda n: (is_system_namespace(n), n))


def next_in_pipeline(ids: Sequence[int], source: int) -> int | None:
    """The default sync target: the environment after `source` in pipeline order (`ids`), else the one before."""
    if source not in ids or len(ids) < 2:
        return None
    index = ids.index(source)
    return ids[index + 1] if index + 1 < len(ids) else ids[index - 1]


@dataclass(frozen=True)
class TokenState:
    """How close an API token is to its expiry, as a level and a sentence."""

    level: TokenLevel
    text: str

    @property
    def needs_attention(self) -> bool:
        """Expiring within TOKEN_WARNING_DAYS, or expired."""
        return self.level in ("warning", "expired")


def token_state(
    expires_at: dt.datetime | None, now: dt.datetime, *, tested: bool, tz: dt.tzinfo = dt.UTC
) -> TokenState:
    """A token's expiry: a warning from TOKEN_WARNING_DAYS days before, an error once expired.

    `tested` tells apart a token that never expires (a successful test found no expiry) from one whose expiry is
    not known yet (never tested, or replaced since the last test).
    """
    if expires_at is None:
        return TokenState("never", "never expires") if tested else TokenState("unknown", "expiry unknown: test it")
    left = expires_at - now
    if left.total_seconds() <= 0:
        return TokenState("expired", f"expired {ago(expires_at, now)}")
    if left <= dt.timedelta(days=TOKEN_WARNING_DAYS):
        if left < dt.timedelta(days=1):
            soon = f"in {max(math.ceil(left.total_seconds() / 3600), 1)} h"
        else:
            soon = f"in {math.ceil(left.total_seconds() / 86400)} days"
        return TokenState("warning", f"expires {soon}")
    return TokenState("ok", f"valid until {expires_at.astimezone(tz):%Y-%m-%d}")


class SiteLike(Protocol):
    """What the health rule reads of a site: the stored model and the dashboard's rows both have it."""

    @property
    def active(self) -> bool: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_contact_at(self) -> dt.datetime | None: ...


def site_health(site: SiteLike) -> SiteHealth:
    """A site's health from its last test: deactivated, unreachable (the last test failed), not tested, connected."""
    if not site.active:
        return "deactivated"
    if site.last_error:
        return "unreachable"
    if site.last_contact_at is None:
        return "not tested"
    return "connected"


S = TypeVar("S", bound=SiteLike)


def unreachable_sites(sites: Iterable[S]) -> list[S]:
    """The active sites whose last test failed."""
    return [s for s in sites if site_health(s) == "unreachable"]
