"""Benchmark: `python -m ranchersync services list --env E --json > /dev/null` end to end, as a pipeline runs it,
against the serial script a pipeline would otherwise use — side by side, on the same simulated Rancher.

The environment is bench/inventory_listing.py's: 100 app instances × 20 workloads over 4 clusters, 50 ms per
request, the simulator in its own process. The CLI is timed as a subprocess (wall clock: interpreter start-up,
imports, the database, the listing, the JSON); so is the serial script: a plain Python loop with `requests` that
lists each namespace's workloads kind by kind, one request after the other. Target (issue "Fidelity and speed"
item 2): the CLI >= 20x the serial script.

    .venv/bin/python -m bench.cli_listing [--instances 100] [--workloads 20] [--latency-ms 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from bench.inventory_listing import seed_catalogue
from bench.simulator_process import simulator_process
from bench.worlds import big_world_data, cluster_ids, namespaces
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings

ROOT = Path(__file__).resolve().parents[1]
TARGET = 20.0

# What a pipeline would write by hand: one GET per namespace and kind, in a row, counting the workloads.
SERIAL_SCRIPT = """\
import json, sys, requests
url, token, clusters, namespaces = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
apis = {"deployments": "apis/apps/v1", "statefulsets": "apis/apps/v1", "daemonsets": "apis/apps/v1",
        "cronjobs": "apis/batch/v1"}
session = requests.Session()
session.headers["Authorization"] = "Bearer " + token
found = []
for i, ns in enumerate(namespaces):
    cluster = clusters[i % len(clusters)]
    for plural, api in apis.items():
        reply = session.get(f"{url}/k8s/clusters/{cluster}/{api}/namespaces/{ns}/{plural}", timeout=30)
        reply.raise_for_status()
        for item in reply.json()["items"]:
            found.append({"namespace": ns, "kind": plural, "name": item["metadata"]["name"], "spec": item["spec"]})
json.dump(found, sys.stdout)
print(len(found), file=sys.stderr)
"""


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall-clock seconds of one subprocess, stdout to /dev/null; returns its stderr (which must be clean)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--workloads", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    world = big_world_data(args.instances, args.workloads, args.clusters)
    expected = args.instances * args.workloads
    with tempfile.TemporaryDirectory() as tmp, simulator_process(world, "--latency-ms", str(args.latency_ms)) as sim:
        key = Fernet.generate_key().decode()
        database = f"sqlite:///{Path(tmp) / 'cli.db'}"
        ctx = AppContext(Settings(database, (key,), Path(tmp) / "key", "bench"))
        ctx.upgrade_database()  # the CLI then finds its schema current, as on any day but an upgrade's
        seed_catalogue(ctx, sim.url, sim.token, args.instances, args.clusters)
        ctx.engine.dispose()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RANCHERSYNC_DATABASE_URL": database,
               "RANCHERSYNC_SECRET_KEY": key, "RANCHERSYNC_USER": "bench"}
        cli = [sys.executable, "-m", "ranchersync", "services", "list", "--env", "Bench", "--json"]
        serial = [sys.executable, "-c", SERIAL_SCRIPT, sim.url, sim.token, ",".join(cluster_ids(args.clusters)),
                  ",".join(namespaces(args.instances))]
        run_timed(cli, env)  # warm-up: the page cache, .pyc files
        cli_runs, serial_runs = [], []
        for _ in range(args.runs):  # interleaved, so that a busy moment of the machine hits both
            seconds, _ = run_timed(cli, env)
            cli_runs.append(seconds)
            seconds, count = run_timed(serial, env)
            serial_runs.append(seconds)
            assert int(count.strip()) == expected, count
        startup = min(run_timed([sys.executable, "-m", "ranchersync", "--help"], env)[0] for _ in range(3))

    cli_s, serial_s = statistics.median(cli_runs), statistics.median(serial_runs)
    ratio = serial_s / cli_s
    print(f"environment: {args.instances} app instances x {args.workloads} workloads over {args.clusters} clusters, "
          f"{args.latency_ms:.0f} ms per request, {expected} services; median of {args.runs} runs, wall clock")
    print(f"{'':44}{'seconds':>9}   runs")
    print(f"{'serial script (requests, one list at a time)':44}{serial_s:9.3f}   "
          + " ".join(f"{s:.2f}" for s in serial_runs))
    print(f"{'services list --env E --json > /dev/null':44}{cli_s:9.3f}   " + " ".join(f"{s:.2f}" for s in cli_runs))
    print(f"{'  of which start-up (ranchersync --help)':44}{startup:9.3f}")
    print(f"end to end: CLI {ratio:.1f}x the serial script (target >= {TARGET:.0f}x: "
          f"{'ok' if ratio >= TARGET else 'not reached'})")


if __name__ == "__main__":
    main()
