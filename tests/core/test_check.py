"""`check`: each token-expiry threshold warned once across repeated runs, unreachable/recovered once per state
change, the exit status saying whether every site is healthy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.catalogue import sites
from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.models import OutboxMessage, SiteHealth, utcnow
from ranchersync.ops.check import due_threshold, run_check
from ranchersync.simulator import SimulatedRancher
from tests.conftest import closed_port_url

ADMIN = Actor("alice@example.com", "admin", "cli")


def queued(ctx: AppContext) -> list[tuple[str, dict]]:
    with ctx.session() as session:
        return [(m.event, m.payload) for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


@pytest.fixture
def expiring(ctx: AppContext, rancher: SimulatedRancher) -> dt.datetime:
    """A site whose token the simulated Rancher reports as expiring in ten days, and a subscription to warnings."""
    expires = (utcnow() + dt.timedelta(days=10)).replace(microsecond=0)
    token = rancher.add_token(expires_at=expires, description="expiring")
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, actor=ADMIN, name="eu",
                       connection=sites.make_connection(rancher.url, token))
        notify.add_subscription(session, ctx.cipher, ADMIN, environment=None, url="json://127.0.0.1:9/never",
                                events="token.expiring,site.unreachable,site.recovered")
    return expires


def test_one_expiry_warning_per_threshold_across_repeated_runs(ctx: AppContext, expiring: dt.datetime) -> None:
    now = utcnow()
    first = run_check(ctx, now=now, deliver=False)
    assert not first.healthy and first.sites[0].warning_days == 14 and first.sites[0].notified == ("token.expiring",)
    run_check(ctx, now=now + dt.timedelta(hours=1), deliver=False)  # the same threshold: nothing new
    run_check(ctx, now=now + dt.timedelta(days=4), deliver=False)  # 6 days left: the 7-day warning
    run_check(ctx, now=now + dt.timedelta(days=5), deliver=False)
    run_check(ctx, now=now + dt.timedelta(days=9, hours=12), deliver=False)  # 12 h left: the 1-day warning
    run_check(ctx, now=now + dt.timedelta(days=9, hours=13), deliver=False)
    warnings = [payload for event, payload in queued(ctx) if event == "token.expiring"]
    assert [w["days"] for w in warnings] == [14, 7, 1]
    assert "expires in 12 hours" in warnings[2]["detail"] and "replace it" in warnings[2]["detail"]
    with ctx.session() as session:
        health = session.scalars(select(SiteHealth)).one()
    assert health.reachable and health.latency_ms is not None and health.expiry_warned_days == 1


def test_unreachable_and_recovered_once_per_state_change(ctx: AppContext, rancher: SimulatedRancher) -> None:
    with ctx.session() as session:
        site = sites.add_site(session, ctx.cipher, actor=ADMIN, name="eu",
                              connection=sites.make_connection(rancher.url, rancher.token))
        notify.add_subscription(session, ctx.cipher, ADMIN, environment=None, url="json://127.0.0.1:9/never",
                                events="site.unreachable,site.recovered")
        site_id = site.id
    assert run_check(ctx, deliver=False).healthy
    with ctx.session() as session:
        sites.update_site(session, ctx.cipher, site_id, sites.SiteChange(url=closed_port_url(), token=rancher.token),
                          actor=ADMIN)
    assert not run_check(ctx, deliver=False).healthy
    run_check(ctx, deliver=False)
    with ctx.session() as session:
        sites.update_site(session, ctx.cipher, site_id, sites.SiteChange(url=rancher.url, token=rancher.token),
                          actor=ADMIN)
    run_check(ctx, deliver=False)
    run_check(ctx, deliver=False)
    assert [event for event, _ in queued(ctx)] == ["site.unreachable", "site.recovered"]


def test_thresholds() -> None:
    now = utcnow()
    assert due_threshold(None, now) is None
    assert due_threshold(now + dt.timedelta(days=15), now) is None
    assert due_threshold(now + dt.timedelta(days=14), now) == 14
    assert due_threshold(now + dt.timedelta(days=3), now) == 7
    assert due_threshold(now - dt.timedelta(days=1), now) == 1


def test_the_cli_exit_status_says_whether_everything_is_healthy(
    ctx: AppContext, rancher: SimulatedRancher, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ctx.settings.secret_keys[0])
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, actor=ADMIN, name="eu",
                       connection=sites.make_connection(rancher.url, rancher.token))
    assert main(["check"]) == 0
    assert "eu" in capsys.readouterr().out
    with ctx.session() as session:
        sites.update_site(session, ctx.cipher, "eu", sites.SiteChange(url=closed_port_url(), token=rancher.token),
                          actor=ADMIN)
    assert main(["check", "--json"]) == 1
    assert '"reachable": false' in capsys.readouterr().out


def test_a_site_event_reaches_the_environments_with_an_app_instance_on_that_site(demo: AppContext) -> None:
    from ranchersync.models import NotificationSubscription, Site

    subscriptions = {}
    with demo.session() as session:
        for env in ("Prod", "Dev", None):
            subscriptions[env] = notify.add_subscription(session, demo.cipher, ADMIN, environment=env,
                                                         url=f"json://127.0.0.1:9/{env}",
                                                         events="site.unreachable").id
        session.scalars(select(Site).where(Site.name == "us")).one().url = closed_port_url()  # Prod lives there
    assert not run_check(demo, deliver=False).healthy
    with demo.session() as session:
        reached = {session.get_one(NotificationSubscription, m.subscription_id).id
                   for m in session.scalars(select(OutboxMessage).where(OutboxMessage.event == "site.unreachable"))}
    assert reached == {subscriptions["Prod"], subscriptions[None]}  # Dev has nothing on "us"
