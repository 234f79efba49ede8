"""`keys …`: the keys that encrypt the stored API tokens."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group
from ranchersync.cli.output import EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `keys` group (a command that needs no database passes database=False to add_command)."""
    group = add_group(commands, "keys", "the keys that encrypt stored API tokens")
    add_command(group, "rotate", cmd_keys_rotate, "re-encrypt every token under the newest key")


def cmd_keys_rotate(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync import sites

    with ctx.session() as session:
        count = sites.rotate_keys(session, ctx.cipher)
    emit(args, {"rotated": count}, text=f"Re-encrypted {count} token(s) under the newest key.")
    return EXIT_OK
