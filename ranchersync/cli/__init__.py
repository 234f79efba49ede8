"""`python -m ranchersync …`: the dashboard's use-cases for pipelines and terminals, a thin layer like the pages.

One module per command group declares its parser beside its handlers (`register(commands)`); `output` prints
everything, errors included. Building the parser imports no core module beyond `errors` and `textsafe`: a command
imports what it needs when it runs, so `envs list` does not pay for Alembic, the Rancher client or the simulator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError

from ranchersync.cli import (
    approvals,
    audit,
    envs,
    freeze,
    gates,
    history,
    instances,
    keys,
    locks,
    maintenance,
    notify,
    ops,
    quarantine,
    registries,
    report,
    schedules,
    services,
    sites,
    snapshots,
    sync,
    tokens,
    users,
)
from ranchersync.cli.output import report_error, warn
from ranchersync.kernel.errors import BadInput, OperationFailed, RancherSyncError, RefusedByPolicy

if TYPE_CHECKING:
    from ranchersync.context import AppContext

__all__ = ["build_parser", "main"]

# In the order --help lists them.
GROUPS = (sites, envs, instances, services, sync, snapshots, approvals, freeze, locks, schedules, gates, history,
          audit, users, tokens, notify, report, registries, quarantine, maintenance, keys, ops)

DESCRIPTION = """\
Rancher Sync Manager: promote workload versions between environments on Rancher.

Register Rancher servers (sites), define environments (Dev, Stage, Prod…) in pipeline order, map the namespaces
of your clusters to them (app instances), see which version runs where, and promote image versions from one
environment to the next: planned, confirmed, verified, recorded, and with the way back kept. The same use-cases
as the dashboard (`make run`), on the same database."""

EPILOG = f"""\
examples:
  RANCHER_TOKEN=token-xxxxx:secret python -m ranchersync sites add --name eu --url https://rancher.example.com \\
      --token-env RANCHER_TOKEN
  python -m ranchersync services compare --env Stage --env Prod --only-differences
  python -m ranchersync sync --from Stage --to Prod --service web --dry-run
  python -m ranchersync history --env Prod

`python -m ranchersync COMMAND --help` describes a command. --json prints the API's payloads, never a token.
Tokens are read from an environment variable (--token-env VAR) or standard input, never from an argument.

exit status:
  0  done (also a sync with nothing to do: every selected service already runs the source's images)
  {OperationFailed.exit_code}  the operation failed: Rancher refused or could not be reached, an app instance could not
     be read, a sync failed, was rolled back, or had every selected service skipped (the reasons are printed)
  {BadInput.exit_code}  bad input or usage
  {RefusedByPolicy.exit_code}  not done because of a policy or a state: permission denied, the target environment is
     frozen, the sync waits for approvals (the request id is printed), or another operation holds the target

configuration: RANCHERSYNC_DATABASE_URL, RANCHERSYNC_SECRET_KEY, RANCHERSYNC_USER (who acts; its assigned role,
else admin), RANCHERSYNC_AUTH and the role variables for the dashboard (see README.md). With RANCHERSYNC_SERVER
(the server's address) and RANCHERSYNC_API_TOKEN, the commands the HTTP API covers go to that server instead
(envs list, services list|compare, sync, rollback, terminate, history, history show, approvals)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status (0 done, 1 failed, 2 bad input or usage, 3 refused by policy)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["simulate"]:  # the simulator has its own parser and serves until stopped
        from ranchersync.simulator.cli import main as simulate

        return simulate(args_list[1:])
    from ranchersync.kernel.logs import setup_logging

    setup_logging(quiet_text=True)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not hasattr(args, "handler"):  # a group without its action, or nothing at all
        getattr(args, "group_parser", parser).print_help(sys.stderr)
        return BadInput.exit_code
    try:
        from ranchersync.cli import remote, remote_commands

        if remote.configured():  # a pipeline: the server's API, neither the database nor the key
            return remote_commands.run(args)
        from ranchersync.context import AppContext

        ctx = AppContext.from_env()
        if args.database:
            _prepare(ctx)
        try:
            return int(args.handler(ctx, args))
        finally:
            if args.database:  # commands without the database queue nothing
                _send_notifications(ctx)
            if "engine" in vars(ctx):  # made (cached_property): close its pooled connections, not left to the GC
                ctx.engine.dispose()
    except RancherSyncError as error:
        return report_error(error)
    except (OperationalError, InterfaceError) as error:  # outside a unit of work: migrations, the keys at start
        from ranchersync.storage.db import database_error

        return report_error(database_error(error))


def _send_notifications(ctx: AppContext) -> None:
    """A command that queued notifications (a sync, an approval, a freeze) sends them before the process ends."""
    notify = sys.modules.get("ranchersync.notify")
    if notify is not None:
        notify.deliver_soon(ctx)
        notify.settle(ctx)


def _prepare(ctx: AppContext) -> None:
    """Bring the schema up to date (a fresh machine's first command must not fail on a missing table) and say which
    operations were interrupted by a killed process."""
    from sqlalchemy import select

    from ranchersync.models import ACTIVE_OPERATION_STATUSES, SyncOperation
    from ranchersync.storage import db

    db.upgrade_if_needed(ctx.engine)
    with ctx.session() as session:
        active = session.scalar(
            select(SyncOperation.id).where(SyncOperation.status.in_(ACTIVE_OPERATION_STATUSES)).limit(1)
        )
    if active is None:  # nothing can have been interrupted: spare loading the sync engine
        return
    from ranchersync.sync import mark_interrupted

    with ctx.session() as session:
        for operation_id in mark_interrupted(session):
            warn(f"operation #{operation_id} was interrupted: roll it back or resume it")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (DESIGN.md, "Command line")."""
    parser = argparse.ArgumentParser(
        prog="python -m ranchersync", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    commands.add_parser("simulate", help="serve a simulated Rancher (see `simulate --help`)", add_help=False)
    commands.add_parser("api", help="serve the HTTP API for pipelines (see `api --help`)", add_help=False)
    return parser
