"""Chaos benchmark (issue 19): repeated syncs of several services under combined faults — a Rancher answering a
share of its requests with a 500 (half the failed writes applied first: their answer is lost), latency spikes, and
one long database outage (the SQLite file locked by another process) in the middle — against a clean run.

Prints the completion rate (syncs that ended `complete`), the consistency rate (syncs whose record agrees with the
cluster, service by service: must be 100 %) and the extra time against the clean run.

    .venv/bin/python -m bench.chaos [--syncs 20] [--services 5] [--error-rate 0.2] [--outage-seconds 20]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.models import AppInstance, Environment, Site, SyncOperation
from ranchersync.simulator import SimulatedRancher, parse_world
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments

BENCH = Actor("bench@example.com", "admin", "cli")
CLUSTER = "c-m-chaos001"


def world(services: int) -> Any:
    def deployment(name: str, namespace: str) -> dict[str, Any]:
        image = f"registry.example.com:5000/chaos/{name}:1.0.0"
        return {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}

    return parse_world({"name": "chaos", "clusters": [{"id": CLUSTER, "name": "chaos", "objects": [
        deployment(f"svc-{s:02d}", namespace) for namespace in ("stage", "prod") for s in range(services)]}]})


def seed(ctx: AppContext, url: str, token: str) -> None:
    with ctx.session() as session:
        site = Site(name="chaos", url=url, token_encrypted=ctx.cipher.encrypt(token))
        stage, prod = Environment(name="Stage", position=0), Environment(name="Prod", position=1)
        session.add_all([site, stage, prod])
        session.flush()
        session.add(AppInstance(name="stage", site_id=site.id, cluster_id=CLUSTER, namespace="stage",
                                environment_id=stage.id))
        session.add(AppInstance(name="prod", site_id=site.id, cluster_id=CLUSTER, namespace="prod",
                                environment_id=prod.id))


def bump_stage(sim: SimulatedRancher, services: int, version: int) -> None:
    """A new version in Stage, written straight into the simulated cluster (no request, no fault)."""
    for s in range(services):
        obj = sim.get_object(CLUSTER, "Deployment", "stage", f"svc-{s:02d}")
        assert obj is not None
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = f"registry.example.com:5000/chaos/svc-{s:02d}:" \
                                                                     f"1.{version}.0"
        sim.set_object(CLUSTER, obj)


def agrees(sim: SimulatedRancher, operation: SyncOperation) -> bool:
    """Whether each result's status tells what the cluster runs (success: the new image, otherwise the previous)."""
    for result in operation.results:
        if result.status == "skipped" or not result.containers:
            continue
        obj = sim.get_object(CLUSTER, "Deployment", "prod", result.service)
        running = obj["spec"]["template"]["spec"]["containers"][0]["image"] if obj else None
        if running != (result.new_image if result.status == "success" else result.previous_image):
            return False
    return True


def lock_database(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    script = ("import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN EXCLUSIVE')\ntime.sleep(float(sys.argv[2]))\nc.execute('COMMIT')\n")
    return subprocess.Popen([sys.executable, "-c", script, str(path), str(seconds)])


def run(args: argparse.Namespace, chaos: bool) -> dict[str, float]:
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp, SimulatedRancher(world(args.services), latency_ms=5,
                                                                rollout_seconds=args.rollout_seconds) as sim:
        db = Path(tmp) / "chaos.db"
        ctx = AppContext(Settings(f"sqlite:///{db}", (Fernet.generate_key().decode(),), Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed(ctx, sim.url, sim.token)
        if chaos:
            sim.error_rate = args.error_rate
            sim._random = random.Random(args.seed)  # the same dice every run

            def spikes() -> None:  # every 3 s, half a second at 400 ms per request
                while not stop.wait(2.5):
                    sim.latency_ms = 400
                    stop.wait(0.5)
                    sim.latency_ms = 5

            threading.Thread(target=spikes, daemon=True).start()
        completed = consistent = 0
        seen = 0  # the newest operation id before this sync
        lock: subprocess.Popen[bytes] | None = None
        started = time.perf_counter()
        for n in range(args.syncs):
            bump_stage(sim, args.services, n + 1)
            if chaos and n == args.syncs // 2:
                lock = lock_database(db, args.outage_seconds)  # the database goes away during this sync
            operation_id = None
            try:
                with ctx.session() as session:
                    plan = plan_environments(session, ctx.cipher, "Stage", "Prod", default_target="all")
                operation_id = apply_plan(ctx, plan, actor=BENCH, request_id=new_request_id(),
                                          options=SyncOptions(poll_seconds=0.2, timeout_seconds=60))
            except RancherSyncError as error:
                print(f"  sync {n + 1}: {type(error).__name__}: {str(error)[:160]}")
            if lock is not None and n == args.syncs // 2:
                lock.wait()
            with ctx.session() as session:
                newest = session.scalar(select(func.max(SyncOperation.id))) or 0
                if newest == seen:
                    consistent += 1  # no operation was opened (the plan failed): nothing could disagree
                    continue
                seen = newest
                operation = get_operation(session, operation_id or newest)
                completed += operation.status == "complete"
                if agrees(sim, operation):
                    consistent += 1
                else:
                    print(f"  sync {n + 1}: record and cluster disagree ({operation.status}: {operation.error})")
        elapsed = time.perf_counter() - started
        stop.set()
        ctx.engine.dispose()
    return {"completed": completed, "consistent": consistent, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--syncs", type=int, default=20)
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--error-rate", type=float, default=0.2)
    parser.add_argument("--outage-seconds", type=float, default=20)
    parser.add_argument("--rollout-seconds", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    clean = run(args, chaos=False)
    chaos = run(args, chaos=True)
    print(f"chaos: {args.syncs} syncs of {args.services} services; {args.error_rate:.0%} 500s (half the failed writes "
          f"applied first), 400 ms latency spikes, one {args.outage_seconds:g} s database outage")
    for name, figures in (("clean", clean), ("chaos", chaos)):
        print(f"{name:6} completion {figures['completed'] / args.syncs:6.1%}   consistency "
              f"{figures['consistent'] / args.syncs:6.1%}   {figures['seconds']:7.1f} s")
    extra = chaos["seconds"] - clean["seconds"]
    print(f"extra time under chaos {extra:7.1f} s ({chaos['seconds'] / clean['seconds']:.2f}x the clean run; "
          f"the outage alone is {args.outage_seconds:g} s)")


if __name__ == "__main__":
    main()
