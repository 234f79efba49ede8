"""Benchmark: requests per second the simulated Rancher serves, with no injected latency.

Eight client threads, each with its own keep-alive session, hit one path for a fixed time: first `/ping` (the
smallest answer: routing and HTTP overhead), then a DeploymentList of the demo world's shop-dev namespace (auth,
the store, JSON of five workloads). Prints requests/second and latency percentiles for each. By default the server
runs in this process, sharing the interpreter lock with the clients; `--process` gives it a process of its own.

    .venv/bin/python -m bench.simulator_rps [--seconds 2.5] [--clients 8] [--tls | --process]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from importlib import resources

import requests
import yaml

from bench.simulator_process import simulator_process
from ranchersync.simulator import SimulatedRancher

LIST_PATH = "/k8s/clusters/c-m-8x2kq4vd/apis/apps/v1/namespaces/shop-dev/deployments"


def hammer(url: str, token: str, verify: str | bool, path: str, clients: int,
           seconds: float) -> tuple[int, list[float], int]:
    """Requests done, their latencies (s), and failures, over `seconds` with `clients` threads."""
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients

    def client(index: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = session.get(url + path, verify=verify, timeout=10)
                latencies[index].append(time.perf_counter() - started)
                failures[index] += answer.status_code != 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [x for per_client in latencies for x in per_client]
    return len(flat), flat, sum(failures)


def measure(url: str, token: str, verify: str | bool, clients: int, seconds: float, where: str) -> None:
    """Hammer both paths and print one line each."""
    print(f"simulator {url} ({where}), {clients} clients, {seconds:.1f} s per path, no injected latency")
    for label, path in (("GET /ping", "/ping"), ("GET DeploymentList (5 items)", LIST_PATH)):
        count, latencies, failures = hammer(url, token, verify, path, clients, seconds)
        quantiles = statistics.quantiles(latencies, n=100)
        print(f"{label:30} {count / seconds:8.0f} req/s   p50 {quantiles[49] * 1000:5.1f} ms   "
              f"p95 {quantiles[94] * 1000:5.1f} ms   failures {failures}")


def main() -> None:
    """Run both measurements against an in-process or a separate-process simulator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.5, help="per measurement (two are made)")
    parser.add_argument("--clients", type=int, default=8)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tls", action="store_true", help="HTTPS, server in this process")
    mode.add_argument("--process", action="store_true", help="plain HTTP, server in a process of its own")
    args = parser.parse_args()
    if args.process:
        demo = resources.files("ranchersync.simulator").joinpath("worlds", "rancher-eu.yaml").read_text()
        with simulator_process(yaml.safe_load(demo)) as running:
            measure(running.url, running.token, True, args.clients, args.seconds, "own process")
        return
    with SimulatedRancher(tls=args.tls) as sim:
        verify = str(sim.ca_file) if sim.ca_file else True
        measure(sim.url, sim.token, verify, args.clients, args.seconds, "in process")


if __name__ == "__main__":
    main()
