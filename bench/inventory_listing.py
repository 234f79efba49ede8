"""Benchmark: list one environment of 100 app instances × 20 workloads over 4 clusters, 50 ms per request.

Runs the naive serial loop and both listing strategies of the inventory against the same simulated Rancher and
prints them side by side with the requests each made: per namespace (one list per app instance and kind) and
cluster-wide (one paged list per cluster and kind where a cluster holds several app instances, the default).
The ideal is one round trip per cluster and kind, plus transfer: the latency once (all lists run at the same time)
plus the time the same cluster-wide listing takes against a second simulator that answers without latency.
Targets (issue "Fidelity and speed"): >= 60x the serial loop, within 2x of that ideal.

    .venv/bin/python -m bench.inventory_listing [--instances 100] [--workloads 20] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench.simulator_process import simulator_process
from bench.worlds import big_world_data, cluster_ids, namespaces
from ranchersync.context import AppContext
from ranchersync.inventory import listing
from ranchersync.inventory import reading as inventory
from ranchersync.kernel.config import Settings
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.rancher import WORKLOAD_KINDS, RancherClient


class CountingClient(RancherClient):
    """A RancherClient that counts the HTTP requests it sends (one counter for every client)."""

    requests = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        send = self._http.request

        def counted(method: str, path: str, **options: Any) -> Any:
            CountingClient.requests += 1  # a lost increment between threads would show as a wrong count
            return send(method, path, **options)

        self._http.request = counted  # type: ignore[method-assign]


def seed_catalogue(ctx: AppContext, url: str, token: str, instances: int, clusters: int) -> None:
    """One site, one environment, one app instance per namespace (written directly: this is not what we time)."""
    with ctx.session() as session:
        site = Site(name="bench", url=url, token_encrypted=ctx.cipher.encrypt(token))
        env = Environment(name="Bench")
        session.add_all([site, env])
        session.flush()
        ids = cluster_ids(clusters)
        session.add_all(
            AppInstance(name=ns, site_id=site.id, cluster_id=ids[i % clusters], cluster_name=ids[i % clusters],
                        namespace=ns, environment_id=env.id)
            for i, ns in enumerate(namespaces(instances))
        )


def serial_listing(url: str, token: str, instances: int, clusters: int) -> int:
    """The naive loop: one client, one request after the other; returns the number of workloads."""
    ids = cluster_ids(clusters)
    count = 0
    with CountingClient(url, token) as client:
        for i, ns in enumerate(namespaces(instances)):
            for kind in WORKLOAD_KINDS:
                count += len(client.list_workloads(ids[i % clusters], ns, kinds=(kind,)))
    return count


def timed_listing(ctx: AppContext, strategy: listing.ListingStrategy, concurrency: int) -> tuple[float, int, int]:
    """(seconds, requests, services) of one listing of the environment with this strategy."""
    listing.forget_listing_scopes()
    CountingClient.requests = 0
    start = time.perf_counter()
    with ctx.session() as session:
        refs = inventory.instance_refs(session, [1])
        connections = inventory.site_connections(session, ctx.cipher, {r.site_id for r in refs})
    services, failures = inventory.fetch_services(refs, connections, concurrency=concurrency, factory=CountingClient,
                                                  strategy=strategy)
    seconds = time.perf_counter() - start
    assert not failures, failures
    return seconds, CountingClient.requests, len(services)


def bench_context(tmp: str, name: str, url: str, token: str, instances: int, clusters: int) -> AppContext:
    ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / f'{name}.db'}", (Fernet.generate_key().decode(),),
                              Path(tmp) / f"{name}.key", "bench"))
    ctx.upgrade_database()
    seed_catalogue(ctx, url, token, instances, clusters)
    return ctx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--workloads", type=int, default=20)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=inventory.DEFAULT_CONCURRENCY)
    args = parser.parse_args()

    world = big_world_data(args.instances, args.workloads, args.clusters)
    latency = ("--latency-ms", str(args.latency_ms))
    with tempfile.TemporaryDirectory() as tmp:
        with simulator_process(world, "--latency-ms", "0") as fast:
            ctx = bench_context(tmp, "transfer", fast.url, fast.token, args.instances, args.clusters)
            timed_listing(ctx, "auto", args.concurrency)  # warm-up: connections, imports
            transfer = min(timed_listing(ctx, "auto", args.concurrency)[0] for _ in range(3))
            ctx.engine.dispose()
        with simulator_process(world, *latency) as rancher:
            ctx = bench_context(tmp, "bench", rancher.url, rancher.token, args.instances, args.clusters)
            CountingClient.requests = 0
            start = time.perf_counter()
            serial_count = serial_listing(rancher.url, rancher.token, args.instances, args.clusters)
            serial = time.perf_counter() - start
            serial_requests = CountingClient.requests
            per_ns, per_ns_requests, per_ns_count = timed_listing(ctx, "namespace", args.concurrency)
            wide, wide_requests, wide_count = timed_listing(ctx, "auto", args.concurrency)
            ctx.engine.dispose()

    expected = args.instances * args.workloads
    assert serial_count == per_ns_count == wide_count == expected, (serial_count, per_ns_count, wide_count)
    lists = args.clusters * len(WORKLOAD_KINDS)
    ideal = math.ceil(lists / args.concurrency) * args.latency_ms / 1000 + transfer
    print(f"environment: {args.instances} app instances x {args.workloads} workloads over {args.clusters} clusters, "
          f"{args.latency_ms:.0f} ms per request, {expected} services")
    print(f"{'':24}{'seconds':>9}{'requests':>10}{'vs serial':>11}")
    print(f"{'serial loop':24}{serial:9.3f}{serial_requests:10d}{1:10.1f}x")
    print(f"{'per namespace':24}{per_ns:9.3f}{per_ns_requests:10d}{serial / per_ns:10.1f}x")
    print(f"{'cluster-wide (default)':24}{wide:9.3f}{wide_requests:10d}{serial / wide:10.1f}x   (target >= 60x)")
    print(f"ideal: one round trip per cluster and kind ({lists} lists) + transfer {transfer:.3f} s = {ideal:.3f} s")
    print(f"cluster-wide / ideal    {wide / ideal:6.2f}x   (target <= 2x)")


if __name__ == "__main__":
    main()
