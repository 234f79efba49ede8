"""Benchmark: promote 100 services from Stage to Prod across 4 clusters, rollouts verified, at 50 ms per request
and 2 s per simulated rollout.

Prints the wall time, the serial estimate (each service patched and verified one after the other) and the
ideal (one wave of patches, then the rollout time), with their ratios. Target (issue 5): within 2x of the ideal.

    .venv/bin/python -m bench.sync_promotion [--services 25] [--clusters 4] [--latency-ms 50] [--rollout-seconds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench.simulator_process import simulator_process
from bench.worlds import cluster_ids
from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments

BENCH = Actor("bench@example.com", "admin", "cli")


def world(services: int, clusters: int) -> dict[str, Any]:
    """Each cluster holds a stage and a prod namespace with the same `services` Deployments, stage one version up."""
    def deployment(name: str, namespace: str, version: str) -> dict[str, Any]:
        image = f"registry.example.com:5000/bench/{name}:{version}"
        return {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}

    return {"name": "bench", "clusters": [
        {"id": cid, "name": f"bench-{n}", "systemNamespaces": False, "objects": [
            deployment(f"svc-{s:02d}", namespace, version)
            for namespace, version in ((f"stage-{n}", "2.0.0"), (f"prod-{n}", "1.0.0")) for s in range(services)
        ]}
        for n, cid in enumerate(cluster_ids(clusters))
    ]}


def seed(ctx: AppContext, url: str, token: str, clusters: int) -> None:
    """Stage and Prod, each with one app instance per cluster."""
    with ctx.session() as session:
        site = Site(name="bench", url=url, token_encrypted=ctx.cipher.encrypt(token))
        stage, prod = Environment(name="Stage", position=0), Environment(name="Prod", position=1)
        session.add_all([site, stage, prod])
        session.flush()
        for n, cid in enumerate(cluster_ids(clusters)):
            session.add(AppInstance(name=f"stage-{n}", site_id=site.id, cluster_id=cid, namespace=f"stage-{n}",
                                    environment_id=stage.id))
            session.add(AppInstance(name=f"prod-{n}", site_id=site.id, cluster_id=cid, namespace=f"prod-{n}",
                                    environment_id=prod.id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=25, help="services per cluster")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rollout-seconds", type=float, default=2)
    parser.add_argument("--poll-seconds", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    options = ("--latency-ms", str(args.latency_ms), "--rollout-seconds", str(args.rollout_seconds))
    with tempfile.TemporaryDirectory() as tmp, simulator_process(world(args.services, args.clusters),
                                                                 *options) as rancher:
        ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed(ctx, rancher.url, rancher.token, args.clusters)
        started = time.perf_counter()
        with ctx.session() as session:
            plan = plan_environments(session, ctx.cipher, "Stage", "Prod", default_target="all")
        planned = time.perf_counter()
        operation_id = apply_plan(ctx, plan, actor=BENCH, request_id=new_request_id(),
                                  options=SyncOptions(poll_seconds=args.poll_seconds, concurrency=args.concurrency))
        done = time.perf_counter()
        with ctx.session() as session:
            operation = get_operation(session, operation_id)
            statuses = sorted({r.status for r in operation.results})
            count, status = len(operation.results), operation.status
        ctx.engine.dispose()

    assert status == "complete" and statuses == ["success"], (status, statuses)
    latency = args.latency_ms / 1000
    requests_per_service = 2  # the PATCH (client reads before it patches), then at least one verification read
    serial = count * (requests_per_service * latency + args.rollout_seconds)
    ideal = requests_per_service * latency + args.rollout_seconds
    apply_time = done - planned
    print(f"promotion: {count} services over {args.clusters} clusters, {args.latency_ms:.0f} ms per request, "
          f"{args.rollout_seconds:.0f} s rollouts, verify every {args.poll_seconds} s, concurrency {args.concurrency}")
    print(f"plan (read both environments)   {planned - started:7.2f} s")
    print(f"apply + verify                  {apply_time:7.2f} s")
    print(f"serial estimate                 {serial:7.2f} s   (one service after the other)")
    print(f"ideal                           {ideal:7.2f} s   (one wave of patches, then the rollout)")
    print(f"speed-up vs serial              {serial / apply_time:7.1f}x")
    print(f"apply / ideal                   {apply_time / ideal:7.2f}x   (target <= 2x)")


if __name__ == "__main__":
    main()
