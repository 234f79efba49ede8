"""`exporter`: Prometheus metrics read from the database, served over HTTP until stopped."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ranchersync.cli.common import Commands, UsageError, add_command
from ranchersync.cli.output import EXIT_OK, note

if TYPE_CHECKING:
    from ranchersync.context import AppContext
    from ranchersync.security.crypto import TokenCipher


def register(commands: Commands) -> None:
    """Add `exporter` and `collect`."""
    register_collect(commands)
    p = add_command(commands, "exporter", cmd_exporter,
                    "serve Prometheus metrics read from the database (every replica's operations count)",
                    database=False, json=False)
    p.add_argument("--port", type=int, default=9108, help="TCP port (default 9108)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; a container passes 0.0.0.0)")
    p.add_argument("--cache-seconds", type=float, default=5.0,
                   help="answer scrapes from the last reading for this long (default 5)")
    p.add_argument("--site-stale-seconds", type=float, default=3600.0,
                   help="a site whose last successful test is older counts as down (default 3600)")


def register_collect(commands: Commands) -> None:
    """Add `collect`."""
    p = add_command(commands, "collect", cmd_collect,
                    "keep the live inventory current from Kubernetes watches (one collector runs at a time)",
                    json=False)
    p.add_argument("--once", action="store_true", help="list every watched cluster once, store it and exit")
    p.add_argument("--alive-file", type=Path, metavar="PATH",
                   help="touch PATH on every turn of the loop (stand-by or active), for a liveness probe")


def cmd_collect(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.collector.run import Collector

    collector = Collector(ctx, alive_file=args.alive_file)
    if args.once:
        note(f"{collector.once()} workload(s) changed in the stored inventory")
        return EXIT_OK
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    note(f"Collector {collector.holder}: standing by for the lease, then watching (Ctrl+C stops)")
    collector.run(stop)
    return EXIT_OK


def cmd_exporter(ctx: AppContext, args: argparse.Namespace) -> int:
    from ranchersync.ops.exporter import serve
    from ranchersync.storage import db

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.cache_seconds < 0 or args.site_stale_seconds <= 0:
        raise UsageError("--cache-seconds must not be negative and --site-stale-seconds must be positive")
    if not db.is_current(ctx.engine):  # read-only: it never migrates; say so, and serve what can be read
        note("the database schema is not up to date: run `python -m ranchersync db upgrade`")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    note(f"Serving metrics on http://{args.host}:{args.port}/metrics (Ctrl+C stops)")
    serve(ctx.engine, args.host, args.port, cache_seconds=args.cache_seconds,
          site_stale_seconds=args.site_stale_seconds, stop=stop, cipher=_signing_cipher(ctx))
    return EXIT_OK


def _signing_cipher(ctx: AppContext) -> TokenCipher | None:
    """The keys that sign the audit checkpoint metric, when this process was given them (the exporter never makes
    a key file of its own)."""
    from ranchersync.kernel.errors import RancherSyncError

    if not ctx.settings.secret_keys and not ctx.settings.key_file.exists():
        note("no encryption key given: the audit checkpoint metric is not served")
        return None
    try:
        return ctx.cipher
    except RancherSyncError as error:
        note(f"the audit checkpoint metric is not served: {error}")
        return None
