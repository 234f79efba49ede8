"""`quarantine …`: declare a digest bad everywhere (refused in every plan, flagged where it runs), list, lift."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_OK, emit, format_table

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.governance.quarantine import QuarantineListPayload, QuarantinePayload


def register(commands: Commands) -> None:
    """Add the `quarantine` group."""
    group = add_group(commands, "quarantine", "image digests refused in every plan on every site")
    p = add_command(group, "add", cmd_add, "quarantine IMAGE@sha256:… (releaser or admin; audited, notified)")
    p.add_argument("image", metavar="IMAGE@DIGEST")
    p.add_argument("--reason", required=True, help="printed to whoever is refused")
    p = add_command(group, "list", cmd_list, "the quarantined digests and where each runs now")
    p.add_argument("--lifted", action="store_true", help="include lifted quarantines")
    p.add_argument("--no-running", action="store_true", help="do not ask Rancher where they run")
    p = add_command(group, "lift", cmd_lift, "lift a quarantine (audited, with a reason)")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True)


def added_text(payload: QuarantinePayload) -> str:
    return f"Quarantine #{payload['id']}: {payload['image']} is refused in every plan."


def quarantines_text(payload: Sequence[QuarantineListPayload]) -> str:
    if not payload:
        return "No image is quarantined."
    return format_table(
        ["ID", "IMAGE", "REASON", "BY", "LIFTED", "RUNS IN"],
        [[str(p["id"]), p["image"], p["reason"], p["addedBy"], p["liftedAt"] or "",
          ", ".join(f"{r['environment']}/{r['appInstance']}/{r['service']}" for r in p["running"])]
         for p in payload])


def lifted_text(payload: QuarantinePayload) -> str:
    return f"Quarantine #{payload['id']} lifted: {payload['image']} may be promoted again."


def cmd_add(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import notify
    from ranchersync.governance import quarantine

    with ctx.session() as session:
        found = quarantine.add(session, args.image, reason=args.reason, actor=cli_actor(ctx))
    notify.deliver_soon(ctx)
    emit(args, found.payload(), text=added_text(found.payload()))
    return EXIT_OK


def cmd_list(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import quarantine

    payload = quarantine.list_with_sightings(ctx, include_lifted=args.lifted, running=not args.no_running)
    emit(args, payload, text=quarantines_text(payload))
    return EXIT_OK


def cmd_lift(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.governance import quarantine

    with ctx.session() as session:
        found = quarantine.lift(session, args.id, reason=args.reason, actor=cli_actor(ctx))
    emit(args, found.payload(), text=lifted_text(found.payload()))
    return EXIT_OK
