"""Benchmark: list one environment of 100 app instances × 20 workloads over 4 clusters, 50 ms per request.

Runs the naive serial loop and the inventory side by side against the same simulated Rancher and prints both,
their ratio, the ideal (requests × latency ÷ concurrency) and the inventory's ratio to it.
Targets (issue 4): at least 20× faster than serial, within 1.5× of the ideal.

    .venv/bin/python -m bench.inventory_listing [--instances 100] [--workloads 20] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from bench.simulator_process import simulator_process
from bench.worlds import big_world_data, cluster_ids, namespaces
from ranchersync import inventory
from ranchersync.config import Settings
from ranchersync.context import AppContext
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.rancher import WORKLOAD_KINDS, RancherClient


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
    with RancherClient(url, token) as client:
        for i, ns in enumerate(namespaces(instances)):
            for kind in WORKLOAD_KINDS:
                count += len(client.list_workloads(ids[i % clusters], ns, kinds=(kind,)))
    return count


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
    with tempfile.TemporaryDirectory() as tmp, simulator_process(world, *latency) as rancher:
        ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed_catalogue(ctx, rancher.url, rancher.token, args.instances, args.clusters)
        requests_needed = args.instances * len(WORKLOAD_KINDS)

        start = time.perf_counter()
        serial_count = serial_listing(rancher.url, rancher.token, args.instances, args.clusters)
        serial = time.perf_counter() - start

        start = time.perf_counter()
        with ctx.session() as session:
            result = inventory.list_services(session, ctx.cipher, "Bench", concurrency=args.concurrency)
        parallel = time.perf_counter() - start
        ctx.engine.dispose()

    assert not result.failures, result.failures
    assert len(result.services) == serial_count == args.instances * args.workloads
    ideal = requests_needed * args.latency_ms / 1000 / args.concurrency
    print(f"environment: {args.instances} app instances x {args.workloads} workloads over {args.clusters} clusters, "
          f"{args.latency_ms:.0f} ms per request, {requests_needed} list requests, {len(result.services)} services")
    print(f"serial loop      {serial:8.3f} s")
    print(f"inventory        {parallel:8.3f} s   (concurrency {args.concurrency})")
    print(f"ideal            {ideal:8.3f} s   (requests x latency / concurrency)")
    print(f"speed-up vs serial   {serial / parallel:6.1f}x   (target >= 20x)")
    print(f"inventory / ideal    {parallel / ideal:6.2f}x   (target <= 1.5x)")


if __name__ == "__main__":
    main()
