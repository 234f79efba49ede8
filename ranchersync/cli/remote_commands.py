"""Which command goes where with `RANCHERSYNC_SERVER` set: the core twins (remote.py) and each topic's
(remote_images.py, remote_verification.py, remote_trains.py), put together here so no topic module and remote.py
import each other round a cycle."""

from __future__ import annotations

import argparse
import os

from ranchersync.cli import remote_images, remote_trains, remote_verification
from ranchersync.cli.common import UsageError
from ranchersync.cli.remote import REMOTE, SERVER_VARIABLE, TOKEN_VARIABLE, Api, NotRemote, Remote

__all__ = ["handlers", "run"]


def handlers() -> dict[str, Remote]:
    """Every command the API covers: a topic's twin keyed "module.name" wins over a core one keyed by name."""
    return {**REMOTE, **remote_images.REMOTE, **remote_verification.REMOTE, **remote_trains.REMOTE}


def run(args: argparse.Namespace) -> int:
    """Run a parsed command through the API; the exit status the local command would give."""
    known = handlers()
    name = getattr(args.handler, "__name__", "")
    qualified = f"{str(getattr(args.handler, '__module__', '')).rsplit('.', 1)[-1]}.{name}"
    handler = known.get(qualified) or known.get(name)
    if handler is None:
        raise NotRemote(f"`{_command(args)}` is not available through {SERVER_VARIABLE}; run it where the database is")
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise UsageError(f"{SERVER_VARIABLE} is set but {TOKEN_VARIABLE} is not: the API needs a token "
                         "(`tokens create` by an admin)")
    with Api(os.environ[SERVER_VARIABLE].strip(), token) as api:
        return handler(api, args)


def _command(args: argparse.Namespace) -> str:
    name = str(getattr(args.handler, "__name__", "")).removeprefix("cmd_").replace("_", " ")
    return name or "this command"
