"""What the command groups share: how a command is declared, the usage error, and reading secrets safely.

Command modules import only this, `output` and the standard library at the top; the core modules a command needs
(the Rancher client, the sync engine, Alembic, the simulator…) are imported inside its handler, so building the
parser — which every call does — stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ranchersync.kernel.errors import BadInput

if TYPE_CHECKING:
    from ranchersync.access.identity import Actor
    from ranchersync.context import AppContext

Handler = Callable[["AppContext", argparse.Namespace], int]
Commands = Any  # argparse's private _SubParsersAction: what `add_subparsers()` returns


class UsageError(BadInput):
    """The command line itself is wrong."""

    kind = "usage"
    default_title = "The command line is incomplete"


def add_command(
    commands: Commands, name: str, handler: Handler, help_text: str, *, database: bool = True, json: bool = True
) -> argparse.ArgumentParser:
    """Declare one command. `database`: it needs the database migrated first; `json`: it takes --json."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=_sentence(help_text))
    parser.set_defaults(handler=handler, database=database)
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON (the API's payload shapes)")
    else:
        parser.set_defaults(json=False)
    return parser


def add_group(commands: Commands, name: str, help_text: str) -> Commands:
    """Declare a command group (`sites`, `envs`…) and return where its commands go."""
    group: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=_sentence(help_text))
    group.set_defaults(group_parser=group)  # `python -m ranchersync sites` alone shows the group's help
    return group.add_subparsers(title="commands", metavar="ACTION")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def token_options(parser: argparse.ArgumentParser) -> None:
    """--token-env VAR | --token-stdin: a token never travels as an argument (shell history, `ps`)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--token-env", metavar="VAR", help="read the API token from this environment variable")
    source.add_argument("--token-stdin", action="store_true", help="read the API token from standard input")


def read_token(args: argparse.Namespace, required: bool) -> str | None:
    """The token from --token-env VAR or standard input, never from an argument (shell history)."""
    if getattr(args, "token_env", None):
        value = os.environ.get(args.token_env)
        if not value:
            raise UsageError(f"environment variable {args.token_env} is empty or not set")
        return value
    if getattr(args, "token_stdin", False):
        if sys.stdin.isatty():  # typed or pasted at a terminal: never echoed onto the screen (or a recording)
            import getpass

            return getpass.getpass("Rancher API token (not shown): ").strip()
        return sys.stdin.readline().strip()
    if required:
        raise UsageError("give the token with --token-env VAR or --token-stdin")
    return None


def read_ca(args: argparse.Namespace) -> str | None:
    """The CA bundle file's text, if --ca-file was given."""
    if not getattr(args, "ca_file", None):
        return None
    try:
        return Path(args.ca_file).read_text()
    except OSError as error:
        raise UsageError(f"cannot read the CA file {args.ca_file}: {error.strerror}") from None


def cli_actor(ctx: AppContext) -> Actor:
    """Who acts on the command line: RANCHERSYNC_USER (else the OS user) with the role assigned to it (People page,
    `users set-role`), else admin — the CLI is the audited break-glass channel (DESIGN.md, "Identity and roles")."""
    from ranchersync.people.directory import cli_identity

    with ctx.session() as session:
        return cli_identity(session, ctx.settings)
