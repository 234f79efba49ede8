"""Benchmark: requests per second the simulated Rancher serves, with no injected latency.

Eight client threads, each with its own keep-alive session, hit one path for a fixed time: first `/ping` (the
smallest answer: routing and HTTP overhead), then a DeploymentList of the demo world's shop-dev namespace (auth,
the store, JSON of five workloads). Prints requests/second and latency percentiles for each.

    .venv/bin/python -m bench.simulator_rps [--seconds 2.5] [--clients 8] [--tls]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import requests

from ranchersync.simulator import SimulatedRancher

LIST_PATH = "/k8s/clusters/c-m-8x2kq4vd/apis/apps/v1/namespaces/shop-dev/deployments"


def hammer(sim: SimulatedRancher, path: str, clients: int, seconds: float) -> tuple[int, list[float], int]:
    """Requests done, their latencies (s), and failures, over `seconds` with `clients` threads."""
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    verify = str(sim.ca_file) if sim.ca_file else True

    def client(index: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {sim.token}"
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = session.get(sim.url + path, verify=verify, timeout=10)
                latencies[index].append(time.perf_counter() - started)
                failures[index] += answer.status_code != 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [x for per_client in latencies for x in per_client]
    return len(flat), flat, sum(failures)


def main() -> None:
    """Run both measurements and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.5, help="per measurement (two are made)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    with SimulatedRancher(tls=args.tls) as sim:
        print(f"simulator {sim.url}, {args.clients} clients, {args.seconds:.1f} s per path, no injected latency")
        for label, path in (("GET /ping", "/ping"), ("GET DeploymentList (5 items)", LIST_PATH)):
            count, latencies, failures = hammer(sim, path, args.clients, args.seconds)
            quantiles = statistics.quantiles(latencies, n=100)
            print(f"{label:30} {count / args.seconds:8.0f} req/s   p50 {quantiles[49] * 1000:5.1f} ms   "
                  f"p95 {quantiles[94] * 1000:5.1f} ms   failures {failures}")


if __name__ == "__main__":
    main()
