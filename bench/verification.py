"""Benchmark: what verification adds to a promotion. 100 services (25 per cluster over 4 clusters) promoted from
Stage to Prod, Prod with 2 gates each measured 3 times 1 s apart, against a real Prometheus (Debian's) on loopback
scraping the tests' exporter (one error-ratio series per service), the simulated Rancher in its own process.

The same promotion runs twice, in fresh worlds: without gates, then with them; the difference is what verification
added. Printed against the ideal (count × interval: every gate of every service measured at once) and the serial
estimate (services × gates × count × interval), with the Prometheus query requests the gated run made (read from
Prometheus's own /metrics). Target (issue 23): ≈ count × interval.

    .venv/bin/python -m bench.verification [--services 25] [--clusters 4] [--count 3] [--interval 1]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from bench.simulator_process import simulator_process
from bench.sync_promotion import BENCH, seed, world
from bench.worlds import cluster_ids
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import Measurement
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments
from ranchersync.verification import gates
from tests.core.prometheus_fixtures import Exporter, running_prometheus

GATES = (("error-rate", 'max(app_error_ratio{namespace="{namespace}",service="{service}"})', "result < 0.05"),
         ("errors-any-pod", 'sum(app_error_ratio{namespace="{namespace}",service="{service}"})', "result < 0.1"))


def query_requests(prometheus: str) -> float:
    """How many instant queries Prometheus has answered (its own counter)."""
    with urllib.request.urlopen(f"{prometheus}/metrics", timeout=5) as answer:  # noqa: S310 (loopback)
        text = answer.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(
        r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query"[^}]*\} (\S+)$', text, re.MULTILINE))


def promote(args: argparse.Namespace, prometheus: str | None) -> tuple[float, int, str, int, float]:
    """One promotion in a fresh world (with Prod's gates when `prometheus` is given): its apply time, the services,
    how it ended, the measurements recorded, and the verification phase's length as its measurements date it (from
    one interval before the first to the last)."""
    options = ("--latency-ms", str(args.latency_ms), "--rollout-seconds", str(args.rollout_seconds))
    with tempfile.TemporaryDirectory() as tmp, simulator_process(world(args.services, args.clusters),
                                                                 *options) as rancher:
        ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        seed(ctx, rancher.url, rancher.token, args.clusters)
        with ctx.session() as session:
            for name, query, success in GATES if prometheus else ():
                gates.add_gate(session, BENCH, "Prod", gates.GateSpec(
                    name=name, prometheus_url=prometheus, query=query, success=success,
                    interval_seconds=args.interval, count=args.count))
            plan = plan_environments(session, ctx.cipher, "Stage", "Prod", default_target="all")
        started = time.perf_counter()
        operation_id = apply_plan(ctx, plan, actor=BENCH, request_id=new_request_id(),
                                  options=SyncOptions(poll_seconds=args.poll_seconds, concurrency=args.concurrency))
        took = time.perf_counter() - started
        with ctx.session() as session:
            operation = get_operation(session, operation_id)
            count, status = len(operation.results), operation.status
            times = sorted(at for (at,) in session.query(Measurement.at))
        ctx.engine.dispose()
    phase = (times[-1] - times[0]).total_seconds() + args.interval if times else 0.0
    return took, count, status, len(times), phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=25, help="services per cluster")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--count", type=int, default=3, help="measurements per gate")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between measurements")
    parser.add_argument("--latency-ms", type=float, default=5)
    parser.add_argument("--rollout-seconds", type=float, default=0.5)
    parser.add_argument("--poll-seconds", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16, help="the sync's default")
    args = parser.parse_args()

    exporter = Exporter()
    exporter.series = [(f"prod-{n}", f"svc-{s:02d}") for n, _ in enumerate(cluster_ids(args.clusters))
                       for s in range(args.services)]
    try:
        with tempfile.TemporaryDirectory() as tmp, running_prometheus(exporter, Path(tmp)) as prometheus:
            promote(args, None)  # a warm-up: the first promotion of a process pays for its imports
            plain, services, plain_status, _, _ = promote(args, None)
            before = query_requests(prometheus)
            gated, _, gated_status, measured, phase = promote(args, prometheus)
            requests = query_requests(prometheus) - before
    finally:
        exporter.server.shutdown()
        exporter.server.server_close()

    assert plain_status == gated_status == "complete", (plain_status, gated_status)
    expected = services * len(GATES) * args.count
    assert measured == expected, (measured, expected)
    added = gated - plain
    ideal = args.count * args.interval
    serial = services * len(GATES) * args.count * args.interval
    print(f"verification: {services} services × {len(GATES)} gates × {args.count} measurements, "
          f"{args.interval:g} s apart, real Prometheus on loopback; sync concurrency {args.concurrency}")
    print(f"promotion without gates         {plain:7.2f} s")
    print(f"promotion with gates            {gated:7.2f} s   ({measured} measurements recorded)")
    print(f"verification added              {added:7.2f} s")
    print(f"verification phase              {phase:7.2f} s   (its measurements' times: first - interval → last)")
    print(f"ideal (count × interval)        {ideal:7.2f} s")
    print(f"serial (services×gates×count×i) {serial:7.2f} s")
    print(f"Prometheus query requests       {requests:7.0f}     ({measured} measurements: "
          f"{measured / max(requests, 1):.1f} per request)")
    print(f"speed-up vs serial              {serial / max(added, 1e-9):7.1f}x")
    print(f"phase / ideal                   {phase / ideal:7.2f}x")
    print(f"added / ideal                   {added / ideal:7.2f}x   (target ≈ 1x)")


if __name__ == "__main__":
    main()
