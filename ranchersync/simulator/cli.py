"""`simulate`: serve one simulated Rancher server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .server import SimulatedRancher
from .world import DEMO_WORLD_NAMES, World, WorldError, load_demo_world, load_world

# A token on the command line lands in shell history and `ps`; scripts can hand it over in the environment instead.
TOKEN_ENV = "RANCHERSYNC_SIMULATOR_TOKEN"


def build_parser(prog: str = "simulate") -> argparse.ArgumentParser:
    """The `simulate` command line."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a simulated Rancher server until interrupted.")
    parser.add_argument("--world", metavar="FILE",
                        help=f"world file (YAML or JSON); default: the built-in demo world "
                             f"({' or '.join(DEMO_WORLD_NAMES)} may be named instead of a file)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV) or None,
                        help=f"admin token name:secret to accept; default: ${TOKEN_ENV}, else a generated one")
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="N")
    parser.add_argument("--error-rate", type=float, default=0.0, metavar="P",
                        help="fraction of authenticated requests answered with a 500 (half the failed writes "
                             "are applied first: their answer is lost)")
    parser.add_argument("--rollout-seconds", type=float, default=5.0, metavar="S")
    parser.add_argument("--fail-images", metavar="REGEX", help="images matching this never become ready")
    parser.add_argument("--crash-images", metavar="REGEX",
                        help="images matching this start, then crash and restart every --crash-seconds")
    parser.add_argument("--crash-seconds", type=float, default=2.0, metavar="S")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS from a freshly made CA")
    parser.add_argument("--seed", type=int, help="seed for --error-rate, for reproducible runs")
    parser.add_argument("--bookmark-seconds", type=float, default=60.0, metavar="S",
                        help="how often a watch that allows bookmarks gets one (default 60)")
    parser.add_argument("--compaction-seconds", type=float, default=300.0, metavar="S",
                        help="compact history this often: older watch resourceVersions get 410 Gone (default 300)")
    parser.add_argument("--drop-watches-every", type=float, metavar="S",
                        help="cut every open watch connection this often, as a flaky proxy would")
    return parser


def _world(value: str | None) -> World:
    if value is None:
        return load_demo_world()
    if value in DEMO_WORLD_NAMES and not Path(value).exists():
        return load_demo_world(value)
    return load_world(value)


def main(argv: Sequence[str] | None = None, *, prog: str = "simulate") -> int:
    """Run `simulate`; prints RANCHER_URL, RANCHER_TOKEN (and RANCHER_CA_FILE) first. Returns the exit status."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not 0.0 <= args.error_rate <= 1.0:
        parser.error("--error-rate is a fraction between 0 and 1")
    if args.token is not None and ":" not in args.token:
        parser.error("--token has the form name:secret, e.g. token-abcde:…")
    try:
        world = _world(args.world)
        simulator = SimulatedRancher(world, host=args.host, port=args.port, token=args.token,
                                     latency_ms=args.latency_ms, error_rate=args.error_rate,
                                     rollout_seconds=args.rollout_seconds, fail_images=args.fail_images,
                                     tls=args.tls, seed=args.seed, bookmark_seconds=args.bookmark_seconds,
                                     compaction_seconds=args.compaction_seconds,
                                     drop_watches_every=args.drop_watches_every, crash_images=args.crash_images,
                                     crash_seconds=args.crash_seconds)
        simulator.start()
    except (WorldError, OSError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"RANCHER_URL={simulator.url}")
        print(f"RANCHER_TOKEN={simulator.token}")
        if simulator.ca_file is not None:
            print(f"RANCHER_CA_FILE={simulator.ca_file}")
        print(f"# serving {world.name}: clusters {', '.join(c.id for c in world.clusters)}; Ctrl-C stops", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

