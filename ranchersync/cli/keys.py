"""`keys …`: the keys that encrypt the stored API tokens."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, add_command, add_group, cli_actor
from ranchersync.cli.output import EXIT_FAILED, EXIT_OK, emit

if TYPE_CHECKING:
    from ranchersync.context import AppContext


def register(commands: Commands) -> None:
    """Add the `keys` group (a command that needs no database passes database=False to add_command)."""
    group = add_group(commands, "keys",
                      "the keys that encrypt stored Rancher and registry secrets (API tokens are hashed: not covered)")
    add_command(group, "rotate", cmd_keys_rotate, "re-encrypt every token under the newest key, then verify")
    add_command(group, "generate", cmd_keys_generate, "print a new key", database=False)
    add_command(group, "check", cmd_keys_check, "check that every stored secret decrypts with the configured keys")


def cmd_keys_rotate(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.security import keys
    with ctx.session() as session:
        # refuses (exit 2) when the first key is not new, (exit 3) below admin
        count = keys.rotate_keys(session, ctx.cipher, actor=cli_actor(ctx))
    emit(args, {"rotated": count, "verified": True},
         text=f"Re-encrypted {count} token(s) under the newest key and checked that it alone opens them all: "
              "the older keys can now be removed.")
    return EXIT_OK


def cmd_keys_generate(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.security import keys
    key = keys.generate_key()
    emit(args, {"key": key}, text=key)  # stdout holds only the key, for KEY=$(python -m ranchersync keys generate)
    if not args.json:
        print("Put it first (RANCHERSYNC_SECRET_KEY=new,old or the key file's first line), keep the current key "
              "after it, then run `keys rotate`.", file=sys.stderr)
    return EXIT_OK


def cmd_keys_check(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.security import keys
    cipher = keys.configured_cipher(ctx.settings)  # as configured: a wrong key is reported, not refused
    with ctx.session() as session:
        report = keys.check_keys(session, cipher)
    payload = {"ok": report.ok, "checked": report.checked, "unreadableSites": list(report.unreadable_sites),
               "checkValue": report.check_value, "underOlderKeys": report.under_older_keys,
               "unreadableRegistries": list(report.unreadable_registries)}
    lines = [f"{report.checked} stored secret(s) checked with {cipher.key_count} key(s)."]
    if report.unreadable_sites:
        lines.append(f"Not readable with these keys: the token of site(s) {', '.join(report.unreadable_sites)}.")
    if report.unreadable_registries:
        lines.append(f"Not readable with these keys: the password of registry(ies) "
                     f"{', '.join(report.unreadable_registries)}.")
    if report.check_value == "unreadable":
        lines.append("The database's key check value does not open: these are not the keys its data was "
                     "encrypted with.")
    if report.under_older_keys and report.ok:
        lines.append(f"{report.under_older_keys} secret(s) are still under an older key: run `keys rotate`.")
    if report.ok:
        lines.append("Every stored secret decrypts.")
    emit(args, payload, text="\n".join(lines))
    return EXIT_OK if report.ok else EXIT_FAILED
