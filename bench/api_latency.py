"""Benchmark: the HTTP API's latency for what a pipeline calls — `POST /syncs` as a dry run (the plan) and
`GET /compare` — with 1 and 20 clients calling at once, beside the CLI end to end on the same work.

The world is bench/sync_promotion.py's (Stage and Prod, one app instance each per cluster, every service one
version apart) behind a simulated Rancher in its own process at `--latency-ms` per request. The API runs as a pipeline
meets it: `python -m ranchersync api` in its own process, a token made by an admin. Each client is a thread with its
own `requests` session calling in a loop for `--calls` calls; latency is per call (p50, p95), throughput over the
whole wave. The CLI is timed as a subprocess (wall clock: start-up, imports, the database, the work, the JSON),
locally (`sync --dry-run --json`, `services compare --json`) and as the remote CLI through the same API server.

    .venv/bin/python -m bench.api_latency [--services 25] [--clusters 4] [--latency-ms 50] [--calls 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from bench.cli_listing import run_timed
from bench.simulator_process import simulator_process
from bench.sync_promotion import BENCH, seed, world
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.people import tokens

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_process(env: dict[str, str]) -> Iterator[str]:
    """`python -m ranchersync api` on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    # Its log goes to a file: a pipe nobody reads fills up after a few hundred calls and stops the server mid-write.
    log = tempfile.NamedTemporaryFile(prefix="api-", suffix=".log")  # noqa: SIM115 - closed in `finally`
    process = subprocess.Popen([sys.executable, "-m", "ranchersync", "api", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API server exited: {Path(log.name).read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/v1/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the API server did not answer its health check in 60 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wave(call: Callable[[requests.Session], None], clients: int, calls: int) -> tuple[list[float], float]:
    """`clients` threads each making `calls` calls one after the other: every call's latency, and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start_line = threading.Barrier(clients)

    def client() -> None:
        with requests.Session() as session:
            start_line.wait()
            for _ in range(calls):
                began = time.perf_counter()
                try:
                    call(session)
                except BaseException as error:  # noqa: BLE001 - reported after the wave
                    errors.append(error)
                    return
                with lock:
                    latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")
    return latencies, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=25, help="per app instance")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--calls", type=int, default=20, help="calls per client in each wave")
    parser.add_argument("--runs", type=int, default=3, help="CLI runs (median)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, simulator_process(world(args.services, args.clusters),
                                                               "--latency-ms", str(args.latency_ms)) as sim:
        key = Fernet.generate_key().decode()
        database = f"sqlite:///{Path(tmp) / 'api.db'}"
        ctx = AppContext(Settings(database, (key,), Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed(ctx, sim.url, sim.token, args.clusters)
        with ctx.session() as session:
            secret = tokens.create_token(session, BENCH, name="bench", role="admin", expires_days=1).secret
        ctx.engine.dispose()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RANCHERSYNC_DATABASE_URL": database,
               "RANCHERSYNC_SECRET_KEY": key, "RANCHERSYNC_USER": "bench", "RANCHERSYNC_API_RATE": "1000000",
               "RANCHERSYNC_API_BURST": "100000"}
        with api_process(env) as url:
            auth = {"Authorization": f"Bearer {secret}"}
            plan_body = {"from": "Stage", "to": "Prod", "allDifferent": True, "dryRun": True,
                         "targetInstance": "all"}
            expected = args.services * args.clusters

            def dry_run(session: requests.Session) -> None:
                answer = session.post(f"{url}/api/v1/syncs", json=plan_body, headers=auth, timeout=120)
                answer.raise_for_status()
                assert len(answer.json()["serviceIds"]) == args.services, answer.text[:300]

            def compare(session: requests.Session) -> None:
                answer = session.get(f"{url}/api/v1/compare", params=[("env", "Stage"), ("env", "Prod")],
                                     headers=auth, timeout=120)
                answer.raise_for_status()
                assert len(answer.json()["services"]) == args.services, answer.text[:300]

            with requests.Session() as warm:  # the server's first call makes its context and checks the schema
                dry_run(warm)
                compare(warm)
            api_rows = []
            for label, call in (("POST /syncs (dry run)", dry_run), ("GET /compare", compare)):
                for clients in CONCURRENCY:
                    latencies, wall = wave(call, clients, args.calls)
                    api_rows.append((label, clients, percentile(latencies, 0.5), percentile(latencies, 0.95),
                                     len(latencies) / wall))

            local = [sys.executable, "-m", "ranchersync"]
            cli_work = {
                "POST /syncs (dry run)": ["sync", "--from", "Stage", "--to", "Prod", "--all-different",
                                          "--target-instance", "all", "--dry-run", "--json"],
                "GET /compare": ["services", "compare", "--env", "Stage", "--env", "Prod", "--json"],
            }
            remote_env = {**env, "RANCHERSYNC_SERVER": url, "RANCHERSYNC_API_TOKEN": secret}
            del remote_env["RANCHERSYNC_DATABASE_URL"], remote_env["RANCHERSYNC_SECRET_KEY"]
            cli_rows = []
            for label, argv in cli_work.items():
                run_timed(local + argv, env)  # warm-up: the page cache, .pyc files
                runs_local, runs_remote = [], []
                for _ in range(args.runs):  # interleaved, so that a busy moment of the machine hits both
                    runs_local.append(run_timed(local + argv, env)[0])
                    runs_remote.append(run_timed(local + argv, remote_env)[0])
                cli_rows.append((label, statistics.median(runs_local), statistics.median(runs_remote)))

    print(f"world: Stage and Prod, {args.services} services x {args.clusters} clusters each ({expected} planned "
          f"changes), {args.latency_ms:.0f} ms per Rancher request; {args.calls} calls per client per wave")
    print(f"{'call':24}{'clients':>8}{'p50 ms':>10}{'p95 ms':>10}{'calls/s':>10}")
    for label, clients, p50, p95, rate in api_rows:
        print(f"{label:24}{clients:>8}{p50 * 1000:10.0f}{p95 * 1000:10.0f}{rate:10.1f}")
    print(f"{'CLI end to end (median of ' + str(args.runs) + ')':32}{'local s':>10}{'remote s':>10}")
    for label, local_s, remote_s in cli_rows:
        print(f"{label:32}{local_s:10.2f}{remote_s:10.2f}")
    for (label, local_s, remote_s) in cli_rows:
        one, twenty = (next(r for r in api_rows if r[0] == label and r[1] == c) for c in CONCURRENCY)
        print(f"{label}: API p50 at 1 client {one[2] * 1000:.0f} ms = {local_s / one[2]:.1f}x faster than the local "
              f"CLI end to end ({local_s:.2f} s); at 20 clients p50 {twenty[2] / one[2]:.1f}x, p95 "
              f"{twenty[3] / one[3]:.1f}x the 1-client figures; remote CLI {remote_s / local_s:.2f}x the local CLI")


if __name__ == "__main__":
    main()
