"""`envs …`: the environments (Dev, Stage, Prod…) in pipeline order."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, emit_removed

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `envs` group."""
    group = add_group(commands, "envs", "environments, in pipeline order")
    for name, handler in (("add", cmd_envs_add), ("update", cmd_envs_update)):
        p = add_command(group, name, handler, f"{name} an environment")
        if name == "add":
            p.add_argument("--name", required=True)
        else:
            p.add_argument("env", help="name or id")
            p.add_argument("--name")
        p.add_argument("--description")
        p.add_argument("--color", metavar="#RRGGBB")
        p.add_argument("--position", type=int, metavar="K", help="0 is the first stage of the pipeline")
        p.add_argument("--protected", action=argparse.BooleanOptionalAction, default=None if name == "update"
                       else False, help="changes need the environment's name typed back (--confirm-env)")
        p.add_argument("--pin-digests", action=argparse.BooleanOptionalAction, default=None,
                       help="a sync into it promotes repo:tag@sha256:… (the exact tested bits) unless the sync says "
                            "--no-pin-digests; until set, on while the environment is protected")
        if name == "update":
            p.add_argument("--approvals", type=int, metavar="N",
                           help="four-eyes: a sync into it needs N approvals by other people (0 to 5; 0: none)")
            p.add_argument("--soak", metavar="D", help="after a rollout, pods stay ready with no restarts this long "
                           "(e.g. 5m; 0: off), else the service fails and is rolled back")
            p.add_argument("--min-source-soak", metavar="D", help="a version enters only after running this long "
                           "in the source environment with its gates passed (e.g. 1h; 0: off)")
    add_command(group, "list", cmd_envs_list, "list environments in pipeline order")
    p = add_command(group, "remove", cmd_envs_remove, "remove an environment")
    p.add_argument("env", help="name or id")
    p.add_argument("--cascade", action="store_true", help="also remove its app instances")


def cmd_envs_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.catalogue.payloads import environment_payload

    with ctx.session() as session:
        env = environments.add_environment(session, actor=cli_actor(ctx), name=args.name,
                                           description=args.description or "", color=args.color,
                                           position=args.position, protected=args.protected,
                                           pin_digests=args.pin_digests)
        payload = environment_payload(env)
    emit(args, payload, text=f"Added environment '{payload['name']}' at position {payload['position']}.")
    return EXIT_OK


def cmd_envs_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.catalogue.payloads import environment_payload

    with ctx.session() as session:
        payload = [environment_payload(e) for e in environments.list_environments(session)]
    emit(args, payload, *environment_rows(payload))
    return EXIT_OK


def environment_rows(payload: Sequence[Mapping[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """`envs list` as a table, from the environments' payloads (the remote CLI's too)."""
    # A server from before the setting sends no pinDigests: blank, not a guess.
    rows = [[p["position"], p["id"], p["name"], p["color"], "yes" if p["protected"] else "no",
             _yes_no(p.get("pinDigests")), p["description"]] for p in payload]
    return rows, ["POS", "ID", "NAME", "COLOR", "PROTECTED", "PIN DIGESTS", "DESCRIPTION"]


def _yes_no(value: object) -> str:
    return "" if value is None else "yes" if value else "no"


def cmd_envs_update(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    from ranchersync.catalogue.payloads import environment_payload

    with ctx.session() as session:
        env = environments.update_environment(session, args.env, name=args.name, description=args.description,
                                              color=args.color, protected=args.protected, position=args.position,
                                              required_approvals=args.approvals, pin_digests=args.pin_digests,
                                              actor=cli_actor(ctx))
        payload: dict[str, Any] = dict(environment_payload(env))
        if args.soak is not None or args.min_source_soak is not None:
            from ranchersync.verification.gates import set_soak, soak_payload

            payload.update(soak_payload(set_soak(session, cli_actor(ctx), env.id, soak=args.soak,
                                                 min_source_soak=args.min_source_soak)))
    emit(args, payload, text=f"Updated environment '{payload['name']}'.")
    return EXIT_OK


def cmd_envs_remove(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.catalogue import environments
    with ctx.session() as session:
        removed = environments.remove_environment(session, args.env, cascade=args.cascade, actor=cli_actor(ctx))
    emit_removed(args, "environment", args.env, removed)
    return EXIT_OK
