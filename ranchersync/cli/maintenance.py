"""`db …` and `demo`: the database's schema, and a demo on simulated Rancher servers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group
from ranchersync.cli.output import EXIT_OK, emit, note

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add `demo` and the `db` group."""
    p = add_command(commands, "demo", cmd_demo, "start two simulated Rancher servers and fill the catalogue")
    p.add_argument("--stop", action="store_true", help="stop the demo servers")
    group = add_group(commands, "db", "the database")
    add_command(group, "upgrade", cmd_db_upgrade, "apply database migrations", database=False)


def cmd_demo(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import demo

    if args.stop:
        count = demo.stop_demo(ctx)
        emit(args, {"stopped": count}, text=f"Stopped {count} simulated Rancher server(s).")
        return EXIT_OK
    summary = demo.start_demo(ctx, progress=note)
    emit(args, {"sites": summary.sites, "environments": summary.environments, "appInstances": summary.instances},
         text=f"Demo ready: {summary.sites} sites, {summary.environments} environments, "
              f"{summary.instances} app instances, a few weeks of history. The dashboard: http://localhost:8501 "
              "(`make demo` starts it; otherwise `make run`).")
    return EXIT_OK


def cmd_db_upgrade(ctx: AppContext, args: argparse.Namespace) -> int:
    ctx.upgrade_database()
    emit(args, {"upgraded": True}, text="Database is up to date.")
    return EXIT_OK
