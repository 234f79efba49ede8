"""`schedules …` and `scheduler`: syncs and snapshot promotions to run later, and what fires them."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli import values
from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, say

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `schedules` group and `scheduler`."""
    group = add_group(commands, "schedules", "scheduled syncs and snapshot promotions")
    p = add_command(group, "list", cmd_list, "scheduled requests: the waiting ones first, then what they became")
    p.add_argument("--pending", action="store_true", help="only those still waiting")
    p = add_command(group, "cancel", cmd_cancel, "cancel a request that has not fired")
    p.add_argument("request", type=int, metavar="ID")
    p = add_command(commands, "scheduler", cmd_scheduler,
                    "fire the scheduled requests that are due (a CronJob with --once, or a loop)")
    p.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    p.add_argument("--interval", type=values.seconds(3600), default=30, metavar="S",
                   help="seconds between two looks in a loop (default 30)")


def schedule_from_cli(ctx: AppContext, args: argparse.Namespace, *, target: str, source: str | None = None,
                      services: list[str] | None = None, snapshot: str | None = None, mode: str = "full",
                      default_target: Any = None) -> int:
    """`sync … --at` and `snapshots promote … --at`: store the request; it is planned and checked when it fires."""
    from ranchersync import sync
    from ranchersync.governance.freeze_schedule import parse_instant
    from ranchersync.trains import schedules

    check_schedulable(args)
    fire_at = parse_instant(args.at, args.tz)
    what = schedules.Schedule(
        target=target, fire_at=fire_at, timezone=args.tz, source=source, services=tuple(services or ()),
        snapshot=snapshot, mode=mode, default_target=default_target, confirm_env=args.confirm_env,
        options=sync.SyncOptions(verify=not args.no_wait, timeout_seconds=args.timeout,
                                 auto_rollback=not getattr(args, "no_rollback", False)),
    )
    row = schedules.schedule_with_approvals(ctx, cli_actor(ctx), what)
    payload = schedules.schedule_payload(row)
    emit(args, payload, text=scheduled_text(payload))
    return EXIT_OK


def check_schedulable(args: argparse.Namespace) -> None:
    """Refuse --at with --dry-run (the local and the remote command alike)."""
    if getattr(args, "dry_run", False):
        raise UsageError("--dry-run shows a plan now; --at plans when it fires: use one or the other")


def scheduled_text(payload: Mapping[str, Any]) -> str:
    """What `sync … --at` and `snapshots promote … --at` say (from the payload: local and remote print the same)."""
    approval = payload.get("approvalRequestId")
    return (f"Scheduled request #{payload['id']} ({payload['description']}) fires {payload['fireAtLocal']}; it is "
            "planned and checked (freezes, locks, approvals) then. `schedules list` follows it."
            + (f" Approval request #{approval} can be approved before it fires." if approval else ""))


def schedule_rows(payloads: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`schedules list`: its rows and headers."""
    rows = [[p["id"], p["description"], p["fireAtLocal"], p["status"], p["statusReason"], p["requestedBy"]]
            for p in payloads]
    return rows, ["ID", "WHAT", "FIRES", "STATUS", "REASON", "BY"]


def cancelled_text(payload: Mapping[str, Any]) -> str:
    """What `schedules cancel` says."""
    return f"Cancelled scheduled request #{payload['id']}."


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.trains import schedules

    with ctx.session() as session:
        payloads = [schedules.schedule_payload(r) for r in schedules.list_schedules(session, pending=args.pending)]
    emit(args, payloads, *schedule_rows(payloads))
    return EXIT_OK


def cmd_cancel(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.trains import schedules

    with ctx.session() as session:
        payload = schedules.schedule_payload(schedules.cancel(session, cli_actor(ctx), args.request))
    emit(args, payload, text=cancelled_text(payload))
    return EXIT_OK


def cmd_scheduler(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.models import ScheduledRequest
    from ranchersync.trains import schedules

    while True:
        fired = schedules.run_due(ctx)
        with ctx.session() as session:
            rows = [session.get_one(ScheduledRequest, i) for i in fired]
            payloads = [schedules.schedule_payload(r) for r in rows]
            lines = [f"#{r.id} {schedules.describe(r)}: {r.status} ({r.status_reason})" for r in rows]
        if args.json:
            emit(args, payloads)
        for line in [] if args.json else lines or (["Nothing is due."] if args.once else []):
            say(line)
        if args.once:
            return EXIT_OK
        time.sleep(args.interval)
