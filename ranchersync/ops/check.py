"""`python -m ranchersync check`, for cron or a Kubernetes CronJob: test every active site, record its health and
latency, warn of expiring tokens (14, 7 and 1 days before) and of sites that stop or start answering — each warning
once per state change, never twice — then deliver what is queued. Healthy means every active site answers and no
token is within a warning threshold."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select

from ranchersync import notify
from ranchersync.catalogue.sites import ClientFactory, test_site
from ranchersync.context import AppContext
from ranchersync.models import Site, SiteHealth, utcnow
from ranchersync.rancher import RancherClient

EXPIRY_THRESHOLDS_DAYS: Final = (14, 7, 1)  # largest first


@dataclass(frozen=True)
class SiteCheck:
    """One site's outcome."""

    site: str
    reachable: bool
    latency_ms: int | None
    token_expires_at: dt.datetime | None
    warning_days: int | None  # the threshold the token is within (14, 7, 1), or None
    message: str
    notified: tuple[str, ...]  # events queued by this run

    @property
    def healthy(self) -> bool:
        return self.reachable and self.warning_days is None

    def payload(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {"site": self.site, "reachable": self.reachable, "latencyMs": self.latency_ms,
                "tokenExpiresAt": self.token_expires_at.isoformat() if self.token_expires_at else None,
                "warningDays": self.warning_days, "healthy": self.healthy, "message": self.message,
                "notified": list(self.notified)}


@dataclass(frozen=True)
class CheckReport:
    """Every active site's outcome and what was delivered."""

    sites: tuple[SiteCheck, ...]
    delivered: notify.DeliveryReport

    @property
    def healthy(self) -> bool:
        return all(s.healthy for s in self.sites)


def due_threshold(expires_at: dt.datetime | None, now: dt.datetime) -> int | None:
    """The smallest warning threshold (in days) the token is within, or None when it is further away."""
    if expires_at is None:
        return None
    left = expires_at - now
    within = [days for days in EXPIRY_THRESHOLDS_DAYS if left <= dt.timedelta(days=days)]
    return min(within) if within else None


def run_check(
    ctx: AppContext, *, now: dt.datetime | None = None, factory: ClientFactory = RancherClient, deliver: bool = True
) -> CheckReport:
    """Check every active site (one transaction each: its health and the notifications it queues commit together)."""
    at = now or utcnow()
    with ctx.session() as session:
        site_ids = list(session.scalars(select(Site.id).where(Site.active.is_(True)).order_by(Site.name)))
    results = [_check_site(ctx, site_id, at, factory) for site_id in site_ids]
    from ranchersync.governance.quarantine import where_running

    where_running(ctx, factory)  # the exporter's ranchersync_quarantined_running (nothing asked without one)
    delivered = notify.deliver_pending(ctx) if deliver else notify.DeliveryReport(0, 0, 0)
    return CheckReport(tuple(results), delivered)


def _check_site(ctx: AppContext, site_id: int, now: dt.datetime, factory: ClientFactory) -> SiteCheck:
    with ctx.session() as session:
        outcome = test_site(session, ctx.cipher, site_id, factory)
        site = session.get_one(Site, site_id)
        health = session.get(SiteHealth, site_id)
        if health is None:
            health = SiteHealth(site_id=site_id)
            session.add(health)
        notified: list[str] = []
        base = {"site": site.name, "url": site.url}
        if health.reachable is not outcome.success and not (health.reachable is None and outcome.success):
            event = "site.recovered" if outcome.success else "site.unreachable"
            notify.site_event(session, event, {**base, "event": event, "error": "" if outcome.success else
                                               outcome.message}, site_id)
            notified.append(event)
        if health.reachable is not outcome.success:
            health.reachable, health.state_since = outcome.success, now
        health.checked_at = now
        health.latency_ms = site.last_latency_ms if outcome.success else None
        expires = site.token_expires_at if outcome.success else None
        due = due_threshold(expires, now)
        if expires is not None and health.expiry_warned_for != expires:  # a new token: its warnings start afresh
            health.expiry_warned_for, health.expiry_warned_days = expires, None
        if due is not None and (health.expiry_warned_days is None or due < health.expiry_warned_days):
            assert expires is not None
            left = expires - now
            when = "has expired" if left.total_seconds() <= 0 else f"expires in {_days(left)}"
            notify.site_event(session, "token.expiring", {**base, "event": "token.expiring", "days": due,
                                                          "expiresAt": expires.isoformat(),
                                                          "detail": f"The API token of {site.name} {when} "
                                                                    f"({expires:%Y-%m-%d %H:%M} UTC): replace it."},
                              site_id)
            health.expiry_warned_days = due
            notified.append("token.expiring")
        return SiteCheck(site.name, outcome.success, health.latency_ms, expires, due, outcome.message,
                         tuple(notified))


def _days(left: dt.timedelta) -> str:
    days = left.total_seconds() / 86400
    if days < 1:
        hours = max(1, round(left.total_seconds() / 3600))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''}"
