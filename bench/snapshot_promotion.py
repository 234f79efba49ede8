"""Benchmark: a release train — promote a snapshot of Stage's 100 services (over 4 clusters, 50 ms per request, 2 s
rollouts, verified) into Prod as one operation — beside a batch sync of the same services and a restore of Prod to
the snapshot kept before that sync.

Prints each wall time, the ideal (one wave of patches, then one rollout time) and the ratios. Target (issue 24):
the promotion within 1.5x of the ideal.

    .venv/bin/python -m bench.snapshot_promotion [--services 25] [--clusters 4] [--latency-ms 50] [--rollout-seconds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from bench.simulator_process import simulator_process
from bench.sync_promotion import BENCH, seed, world
from ranchersync.approvals.promote import Applied
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.snapshots import store
from ranchersync.sync import SyncOptions, SyncPlan, apply_plan, get_operation, new_request_id, plan_environments
from ranchersync.trains import trains


def outcome(ctx: AppContext, operation_id: int) -> tuple[str, int]:
    with ctx.session() as session:
        operation = get_operation(session, operation_id)
        return operation.status, len(operation.results)


def put(ctx: AppContext, plan: SyncPlan, options: SyncOptions) -> int:
    result = trains.put_in_place(ctx, BENCH, plan, request_id=new_request_id(), options=options)
    assert isinstance(result, Applied)
    return result.operation_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=25, help="services per cluster")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rollout-seconds", type=float, default=2)
    parser.add_argument("--poll-seconds", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    options = SyncOptions(poll_seconds=args.poll_seconds, concurrency=args.concurrency)
    sim_options = ("--latency-ms", str(args.latency_ms), "--rollout-seconds", str(args.rollout_seconds))
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, simulator_process(world(args.services, args.clusters),
                                                                 *sim_options) as rancher:
        ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed(ctx, rancher.url, rancher.token, args.clusters)

        started = time.perf_counter()
        with ctx.session() as session:
            store.create_snapshot(session, ctx.cipher, BENCH, environment="Stage", name="train")
        times["snapshot Stage (services + pods)"] = time.perf_counter() - started

        # 1. A batch sync of the same services (the baseline), which keeps Prod's snapshot before it.
        with ctx.session() as session:
            plan = plan_environments(session, ctx.cipher, "Stage", "Prod", default_target="all")
        started = time.perf_counter()
        batch = apply_plan(ctx, plan, actor=BENCH, request_id=new_request_id(), options=options)
        times["batch sync apply + verify"] = time.perf_counter() - started
        # 2. A restore of Prod to what ran before that sync: the same 100 services, back.
        with ctx.session() as session:
            before = store.snapshot_of_operation(session, batch)
            assert before is not None
            plan = trains.plan_restore(session, ctx.cipher, "Prod", before.name)
        started = time.perf_counter()
        restore = put(ctx, plan, options)
        times["restore apply + verify"] = time.perf_counter() - started
        # 3. The release train: Stage's snapshot into Prod, one operation.
        started = time.perf_counter()
        with ctx.session() as session:
            plan = trains.plan_snapshot_promotion(session, ctx.cipher, "train", "Prod")
        times["train plan (read Prod)"] = time.perf_counter() - started
        started = time.perf_counter()
        train = put(ctx, plan, options)
        times["train apply + verify"] = time.perf_counter() - started
        results = {name: outcome(ctx, op) for name, op in (("batch", batch), ("restore", restore), ("train", train))}
        ctx.engine.dispose()

    assert all(status == "complete" for status, _ in results.values()), results
    count = results["train"][1]
    ideal = 2 * args.latency_ms / 1000 + args.rollout_seconds
    print(f"release train: {count} services over {args.clusters} clusters, {args.latency_ms:.0f} ms per request, "
          f"{args.rollout_seconds:.0f} s rollouts, verify every {args.poll_seconds} s, concurrency {args.concurrency}")
    for name, seconds in times.items():
        print(f"{name:36s} {seconds:7.2f} s")
    print(f"{'ideal':36s} {ideal:7.2f} s   (one wave of patches, then the rollout)")
    train_time = times["train apply + verify"]
    print(f"train / ideal                        {train_time / ideal:7.2f}x   (target <= 1.5x)")
    print(f"train / batch sync                   {train_time / times['batch sync apply + verify']:7.2f}x")
    print(f"restore / ideal                      {times['restore apply + verify'] / ideal:7.2f}x")


if __name__ == "__main__":
    main()
