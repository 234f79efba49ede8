"""`freeze …`: freeze windows per environment, and stop-all (incident mode) for every environment at once."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.governance.freeze import WindowView


def register(commands: Commands) -> None:
    """Add the `freeze` group."""
    group = add_group(commands, "freeze", "freeze windows: periods in which syncs into an environment are refused")
    p = add_command(group, "add", cmd_freeze_add, "add a one-off or weekly freeze window to an environment")
    p.add_argument("--env", required=True, help="name or id")
    p.add_argument("--from", dest="starts", metavar="T", help="a one-off window's start, e.g. 2026-12-24T16:00")
    p.add_argument("--to", dest="ends", metavar="T", help="its end")
    p.add_argument("--weekly", metavar="RULE", help='a weekly window, e.g. "Fri 16:00-Mon 08:00"')
    p.add_argument("--tz", default="UTC", metavar="ZONE",
                   help="the IANA time zone of the times (default UTC), e.g. Europe/Berlin; daylight saving is "
                        "followed: a weekly window keeps its wall-clock times")
    p.add_argument("--reason", required=True, help="shown to whoever is refused, kept in the audit log")
    p = add_command(group, "list", cmd_freeze_list, "freeze windows in force, and whether each is frozen now")
    p.add_argument("--env", help="one environment (stop-all included)")
    p = add_command(group, "remove", cmd_freeze_remove, "lift a freeze window")
    p.add_argument("window", type=int, metavar="ID", help="the window's id (see `freeze list`)")
    p = add_command(group, "stop-all", cmd_freeze_stop_all,
                    "incident mode: freeze every environment now, until `freeze lift-all`")
    p.add_argument("--reason", required=True)
    p = add_command(group, "lift-all", cmd_freeze_lift_all, "end incident mode (other windows stay)")
    p.add_argument("--reason", default="")


def _state(view: WindowView) -> str:
    from ranchersync.governance.freeze_schedule import local_text

    if view.active:
        return "frozen now, " + (f"reopens {local_text(view.reopens_at, view.timezone)}" if view.reopens_at
                                 else "until lifted")
    return f"next from {local_text(view.next_start, view.timezone)}" if view.next_start else "over"


def cmd_freeze_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import freeze
    from ranchersync.governance.freeze_schedule import parse_instant

    one_off = args.starts is not None or args.ends is not None
    if one_off == (args.weekly is not None):
        raise UsageError("give --from T --to T (a one-off window) or --weekly RULE, not both")
    if one_off and (args.starts is None or args.ends is None):
        raise UsageError("a one-off window needs both --from and --to")
    with ctx.session() as session:
        window = freeze.add_window(
            session, cli_actor(ctx), environment=args.env, reason=args.reason, weekly=args.weekly, timezone=args.tz,
            starts_at=parse_instant(args.starts, args.tz) if one_off else None,
            ends_at=parse_instant(args.ends, args.tz) if one_off else None,
        )
        view = freeze.window_view(session, window)
    emit(args, freeze.window_payload(view),
         text=f"Added freeze window #{view.id} to {view.environment}: {view.schedule}; {_state(view)}.")
    return EXIT_OK


def cmd_freeze_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import freeze

    with ctx.session() as session:
        views = freeze.list_windows(session, args.env)
    rows = [[v.id, v.environment, v.kind, v.schedule, _state(v), v.reason, v.created_by] for v in views]
    emit(args, [freeze.window_payload(v) for v in views], rows,
         ["ID", "ENVIRONMENT", "KIND", "SCHEDULE", "STATE", "REASON", "BY"])
    return EXIT_OK


def cmd_freeze_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import freeze

    with ctx.session() as session:
        window = freeze.remove_window(session, cli_actor(ctx), args.window)
        view = freeze.window_view(session, window)
    emit(args, freeze.window_payload(view), text=f"Lifted freeze window #{view.id} of {view.environment}.")
    return EXIT_OK


def cmd_freeze_stop_all(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import freeze

    with ctx.session() as session:
        window = freeze.stop_all(session, cli_actor(ctx), args.reason)
        view = freeze.window_view(session, window)
    emit(args, freeze.window_payload(view),
         text=f"Stop-all #{view.id}: every environment is frozen until `freeze lift-all`. Rollbacks stay allowed.")
    return EXIT_OK


def cmd_freeze_lift_all(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import freeze

    with ctx.session() as session:
        window = freeze.lift_all(session, cli_actor(ctx), args.reason)
        view = freeze.window_view(session, window)
    emit(args, freeze.window_payload(view), text=f"Lifted stop-all #{view.id}: syncs are allowed again, except "
                                                 "into environments inside a freeze window of their own.")
    return EXIT_OK
