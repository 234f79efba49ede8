"""`locks …`: lock an environment or one service of it with a message; syncs into it are refused (exit 3)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `locks` group."""
    group = add_group(commands, "locks", "locks with a message: hold an environment or a service still")
    p = add_command(group, "add", cmd_add, "lock an environment, or one service of it")
    p.add_argument("--env", required=True, help="name or id")
    p.add_argument("--service", help="one service (its name); without it, the whole environment")
    p.add_argument("--message", required=True, help='why, e.g. "DB migration running — do not promote"')
    p = add_command(group, "list", cmd_list, "locks in force")
    p.add_argument("--env", help="one environment")
    p = add_command(group, "remove", cmd_remove, "remove a lock")
    p.add_argument("lock", type=int, metavar="ID", help="the lock's id (see `locks list`)")


def added_text(payload: Mapping[str, Any]) -> str:
    """What `locks add` says (from the payload: the local and the remote command print the same)."""
    from ranchersync.governance.locks import LockView

    return f"Lock #{payload['id']}: {LockView.of_payload(payload).sentence}."


def removed_text(payload: Mapping[str, Any]) -> str:
    """What `locks remove` says."""
    from ranchersync.governance.locks import LockView

    return f"Removed lock #{payload['id']} of {LockView.of_payload(payload).scope}."


def lock_rows(payloads: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`locks list`: its rows and headers."""
    rows = [[p["id"], p["environment"], p["service"] or "(all)", p["message"], p["createdBy"],
             str(p["createdAt"] or "")[:16].replace("T", " ")] for p in payloads]
    return rows, ["ID", "ENVIRONMENT", "SERVICE", "MESSAGE", "BY", "AT (UTC)"]


def cmd_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import locks

    with ctx.session() as session:
        view = locks.add_lock(session, cli_actor(ctx), environment=args.env, service=args.service,
                              message=args.message)
    payload = locks.lock_payload(view)
    emit(args, payload, text=added_text(payload))
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import locks

    with ctx.session() as session:
        views = locks.list_locks(session, args.env)
    payloads = [locks.lock_payload(v) for v in views]
    emit(args, payloads, *lock_rows(payloads))
    return EXIT_OK


def cmd_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import locks

    with ctx.session() as session:
        view = locks.remove_lock(session, cli_actor(ctx), args.lock)
    payload = locks.lock_payload(view)
    emit(args, payload, text=removed_text(payload))
    return EXIT_OK
