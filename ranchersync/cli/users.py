"""`users …`: who signed in, their roles and where each comes from; assign or clear a role (admin)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `users` group."""
    group = add_group(commands, "users", "people, their roles and where each role comes from")
    add_command(group, "list", cmd_users_list, "list everyone who signed in or was assigned a role")
    p = add_command(group, "set-role", cmd_users_set_role,
                    "assign a role (viewer, operator, releaser, admin), or clear it with `none` (admin only)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("role", metavar="ROLE", help="viewer, operator, releaser, admin, or none to clear")


def cmd_users_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.kernel.humanize import ago
    from ranchersync.models import utcnow
    from ranchersync.people import directory as people

    with ctx.session() as session:
        found = people.list_people(session, ctx.settings.role_policy)
    now = utcnow()
    rows = [[p.email, p.name, p.role, p.source, p.assigned_by or "", ago(p.last_seen_at, now)] for p in found]
    emit(args, [people.person_payload(p) for p in found], rows,
         ["EMAIL", "NAME", "ROLE", "FROM", "ASSIGNED BY", "LAST SEEN"])
    return EXIT_OK


def cmd_users_set_role(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.people import directory as people
    role = None if args.role.strip().lower() in ("none", "clear", "") else args.role
    actor = cli_actor(ctx)
    with ctx.session() as session:
        user = people.set_role(session, actor, args.email, role)
        payload = {"email": user.email, "role": user.role, "assignedBy": user.assigned_by}
    text = (f"{payload['email']} is now {payload['role']} (assigned by {actor.email})." if payload["role"]
            else f"{payload['email']}'s assignment is cleared: their groups and the defaults decide their role.")
    emit(args, payload, text=text)
    return EXIT_OK
