"""`notify …` (subscriptions to notifications) and `check` (site health and token expiry, for cron)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit, say

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `notify` group and `check`."""
    group = add_group(commands, "notify", "notifications through Apprise (Slack, Teams, webhooks, mail…)")
    p = add_command(group, "add", cmd_notify_add, "subscribe an Apprise URL to events of an environment")
    p.add_argument("--env", required=True, metavar="E", help="an environment's name or id, or 'all'")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--url-env", metavar="VAR", help="read the Apprise URL from this environment variable")
    source.add_argument("--url-stdin", action="store_true", help="read the Apprise URL from standard input")
    p.add_argument("--events", required=True, metavar="EVENTS",
                   help="comma-separated: sync.succeeded, sync.failed, sync.rolled_back, verification.failed, "
                        "approval.requested, approval.decided, freeze.override, freeze.stop_all, token.expiring, "
                        "site.unreachable, site.recovered")
    add_command(group, "list", cmd_notify_list, "list subscriptions (URLs masked) and their last delivery")
    p = add_command(group, "test", cmd_notify_test, "send a test message to one subscription now")
    p.add_argument("id", type=int, metavar="ID")
    p = add_command(group, "remove", cmd_notify_remove, "remove a subscription and its unsent messages")
    p.add_argument("id", type=int, metavar="ID")
    add_command(commands, "check", cmd_check,
                "test every site (health, latency, token expiry), send due notifications; exit 1 if unhealthy")


def _read_url(args: argparse.Namespace) -> str:
    if args.url_env:
        value = os.environ.get(args.url_env, "")
        if not value.strip():
            raise UsageError(f"environment variable {args.url_env} is empty or not set")
        return value.strip()
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Apprise URL (not shown): ").strip()
    return sys.stdin.readline().strip()


def cmd_notify_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import notify

    url = _read_url(args)
    with ctx.session() as session:
        sub = notify.add_subscription(session, ctx.cipher, cli_actor(ctx), environment=args.env, url=url,
                                      events=args.events)
        sub_id, masked, events = sub.id, sub.url_masked, list(sub.events)
    emit(args, {"id": sub_id, "url": masked, "events": events},
         text=f"Subscribed #{sub_id} ({masked}) to {', '.join(events)}. Try it: notify test {sub_id}")
    return EXIT_OK


def cmd_notify_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import notify

    with ctx.session() as session:
        views = notify.list_subscriptions(session)
    emit(args, [v.payload() for v in views],
         rows=[(v.id, v.environment, ", ".join(v.events), v.url, v.last_status or "never sent",
                (v.last_error or "")[:80], v.waiting) for v in views],
         headers=["ID", "ENVIRONMENT", "EVENTS", "URL", "LAST", "LAST ERROR", "WAITING"])
    return EXIT_OK


def cmd_notify_test(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import notify
    from ranchersync.models import NotificationSubscription

    with ctx.session() as session:
        notify.send_test(session, cli_actor(ctx), args.id)
    notify.deliver_pending(ctx)
    with ctx.session() as session:
        sub = notify.get_subscription(session, args.id)
        ok, error, masked = sub.last_status == "ok", sub.last_error, sub.url_masked
        assert isinstance(sub, NotificationSubscription)
    emit(args, {"id": args.id, "url": masked, "sent": ok, "error": error},
         text=f"Test sent to {masked}." if ok else f"Test to {masked} failed: {error} (retried later)")
    return EXIT_OK if ok else EXIT_FAILED


def cmd_notify_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import notify

    with ctx.session() as session:
        masked = notify.remove_subscription(session, cli_actor(ctx), args.id).url_masked
    emit(args, {"removed": args.id, "url": masked}, text=f"Removed subscription #{args.id} ({masked}).")
    return EXIT_OK


def cmd_check(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.ops.check import run_check

    report = run_check(ctx)
    if args.json:
        emit(args, {"healthy": report.healthy, "sites": [s.payload() for s in report.sites],
                    "delivered": {"sent": report.delivered.sent, "failed": report.delivered.failed}})
    else:
        for site in report.sites:
            state = "ok" if site.healthy else "UNHEALTHY"
            latency = f" {site.latency_ms} ms" if site.latency_ms is not None else ""
            expiry = f", token within {site.warning_days} day(s) of expiry" if site.warning_days else ""
            say(f"{state:9} {site.site}{latency}{expiry}" + ("" if site.reachable else f": {site.message}"))
        if not report.sites:
            say("No active site to check.")
        say(f"Notifications: {report.delivered.sent} sent, {report.delivered.failed} to retry.")
    return EXIT_OK if report.healthy else EXIT_FAILED
