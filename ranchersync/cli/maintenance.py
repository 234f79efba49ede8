"""`db …` and `demo`: the database's schema, its backup and restore, and a demo on simulated Rancher servers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, note

if TYPE_CHECKING:
    from ranchersync.access.identity import Actor
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add `demo` and the `db` group."""
    p = add_command(commands, "demo", cmd_demo, "start two simulated Rancher servers and fill the catalogue")
    p.add_argument("--stop", action="store_true", help="stop the demo servers")
    p.add_argument("--dashboard-port", type=int, default=8501, metavar="PORT",
                   help="the dashboard's port, for the address printed (make demo passes PORT)")
    group = add_group(commands, "db", "the database")
    add_command(group, "upgrade", cmd_db_upgrade, "apply database migrations", database=False)
    p = add_command(group, "backup", cmd_db_backup, "write a consistent copy of the database to a new file "
                    "(SQLite: online backup; PostgreSQL: pg_dump --format=custom)", database=False)
    p.add_argument("--to", required=True, metavar="FILE", help="the backup file to create (never overwritten)")
    p = add_command(group, "restore", cmd_db_restore, "replace the database's content with a backup made by "
                    "`db backup` (an older backup is upgraded afterwards)", database=False)
    p.add_argument("--from", dest="source", required=True, metavar="FILE", help="the backup file")
    p.add_argument("--force", action="store_true", help="replace a database that holds data")


def cmd_demo(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.ops import demo
    actor = cli_actor(ctx)  # an admin only, audited in their name (the demo's own changes are the demo's)
    if args.stop:
        count = demo.stop_demo(ctx, actor=actor)
        emit(args, {"stopped": count}, text=f"Stopped {count} simulated Rancher server(s).")
        return EXIT_OK
    summary = demo.start_demo(ctx, progress=note, actor=actor)
    emit(args, {"sites": summary.sites, "environments": summary.environments, "appInstances": summary.instances},
         text=f"Demo ready: {summary.sites} sites, {summary.environments} environments, "
              f"{summary.instances} app instances, a few weeks of history. The dashboard: "
              f"http://localhost:{args.dashboard_port} "
              "(`make demo` starts it, Ctrl-C stops it and the simulated servers; otherwise `make run`, then "
              "`demo --stop`).")
    return EXIT_OK


def cmd_db_upgrade(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.storage import db

    ctx.upgrade_database()
    role = ctx.settings.db_app_role
    if role:  # run as the owner: the app's role gets its rights, append-only on the audit log
        db.grant_app_role(ctx.engine, role)
    emit(args, {"upgraded": True, "appRole": role or None},
         text="Database is up to date." + (f" The role {role} may use it; the audit log is append-only for it."
                                           if role else ""))
    return EXIT_OK


def cmd_db_backup(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.ops.backup import backup

    info = backup(ctx.engine, Path(args.to))
    emit(args, {"path": str(info.path), "database": info.database, "revision": info.revision},
         text=f"Backed up the {info.database} database (schema {info.revision}) to {info.path}. Keep the secret "
              "key with it: the tokens in it open only with that key.")
    return EXIT_OK


def cmd_db_restore(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.ops.backup import restore

    info = restore(ctx.engine, Path(args.source), force=args.force, actor=_restorer(ctx))
    upgraded = " and brought its schema up to date" if info.upgraded else ""
    emit(args, {"path": str(info.path), "database": info.database, "revision": info.revision,
                "upgraded": info.upgraded},
         text=f"Restored {info.path} (schema {info.revision}){upgraded}. It needs the secret key it was made with.")
    return EXIT_OK


def _restorer(ctx: AppContext) -> Actor | None:
    """Who restores: the CLI's actor with its role, or None while the database has no schema yet (nothing to
    replace, so nothing to guard)."""
    from sqlalchemy import inspect

    from ranchersync.cli.common import cli_actor

    if "users" not in inspect(ctx.engine).get_table_names():
        return None
    return cli_actor(ctx)
