"""`tokens …`: API tokens for pipelines (admin): create one (its secret printed once), list them, revoke one."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, note

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `tokens` group."""
    group = add_group(commands, "tokens", "API tokens for pipelines: a role, optionally some environments, expiring")
    p = add_command(group, "create", cmd_create,
                    "create a token (admin only); its secret is printed once and never stored")
    p.add_argument("--name", required=True, help="a short name: the token acts as token:NAME")
    p.add_argument("--role", required=True, help="viewer, operator, releaser or admin")
    p.add_argument("--env", action="append", default=[], metavar="E",
                   help="limit what the token may change to this environment (repeatable); default: every one")
    p.add_argument("--expires-days", type=int, metavar="D", help="the token expires after D days; default: never")
    add_command(group, "list", cmd_list, "every token: role, environments, last use, expiry, revocation")
    p = add_command(group, "revoke", cmd_revoke, "revoke a token at once (admin only)")
    p.add_argument("name", metavar="NAME")


def cmd_create(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.people import tokens

    with ctx.session() as session:
        issued = tokens.create_token(session, cli_actor(ctx), name=args.name, role=args.role,
                                     environments=args.env, expires_days=args.expires_days)
    payload = {"secret": issued.secret, "token": tokens.summary_payload(issued.summary)}
    if not args.json:
        note(f"Token '{issued.summary.name}' ({issued.summary.role}) created: its secret follows, shown this once. "
             "Store it in your CI's secrets now.")
    emit(args, payload, text=issued.secret)
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.kernel.humanize import ago
    from ranchersync.models import utcnow
    from ranchersync.people import tokens

    with ctx.session() as session:
        found = tokens.list_tokens(session)
    now = utcnow()
    rows = [[t.name, t.role, ", ".join(t.environments) if t.environments is not None else "(all)", t.state(now),
             t.created_by, f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never", ago(t.last_used_at, now)]
            for t in found]
    emit(args, [tokens.summary_payload(t, now) for t in found], rows,
         ["NAME", "ROLE", "ENVIRONMENTS", "STATE", "CREATED BY", "EXPIRES (UTC)", "LAST USED"])
    return EXIT_OK


def cmd_revoke(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.people import tokens

    with ctx.session() as session:
        summary = tokens.revoke_token(session, cli_actor(ctx), args.name)
    emit(args, tokens.summary_payload(summary), text=f"Revoked the token '{summary.name}': it is refused from now on.")
    return EXIT_OK
