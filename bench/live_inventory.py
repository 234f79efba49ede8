"""Benchmark: the live inventory (the collector's watches) against today's cached listing, side by side in one run.

A simulated Rancher in its own process serves two environments (Stage, Prod) of 100 app instances × 20 workloads
each over 4 clusters, answering after 50 ms. Measured, on the server side (the data a Services view waits for
before it draws; the drawing itself is `bench.services_page`):

- a Services view of one environment (2,000 services) and a comparison of both (2,000 × 2): p50/p95 and the
  requests each view sends to Rancher, counted by the simulator (`/_simulator/stats`); "read" is the core's read
  (and comparison), "+ table" adds what the page builds from it before it draws (the services DataFrame of
  ui/services/services_tables.py, the comparison table of ui/shell/comparison_table.py). "Cached listing" is what a
  view costs whenever the 30 s cache of a server process is cold (every expiry, Refresh click, new replica, CLI
  call); "collector" is every view while a `python -m ranchersync collect` process keeps the stored inventory fresh.
- staleness: from the answer to an image PATCH until a reader of the database sees the new image, p50/p95.
- Rancher requests per hour while 20 dashboards stay open and poll the change counter every 2 s (re-reading the
  inventory when it moves): measured over a window, with the collector's watches the only traffic.

Goals (issue 25): < 100 ms p95 for 2,000 services with 0 Rancher requests per view; staleness ≤ 1 s p95;
watches only, independent of the number of viewers.

    .venv/bin/python -m bench.live_inventory [--instances 100] [--workloads 20] [--clusters 4] [--latency-ms 50]
                                             [--views 30] [--changes 20] [--viewers 20] [--window 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench.simulator_process import RunningSimulator, simulator_process
from bench.worlds import big_world_data, cluster_ids, namespaces
from ranchersync.collector import lease
from ranchersync.context import AppContext
from ranchersync.inventory import compare, listing, stored
from ranchersync.inventory import reading as inventory
from ranchersync.kernel.config import Settings
from ranchersync.models import AppInstance, Environment, Site
from ranchersync.rancher import RancherClient
from ranchersync.rancher.patch import ImageChange
from ui.services.services_tables import services_frame
from ui.shell.comparison_table import comparison_table

ENVIRONMENTS = ("Stage", "Prod")
WATCH_RENEWAL_SECONDS = 240  # the collector's timeoutSeconds: each watch is one request per this


def world(instances: int, workloads: int, clusters: int) -> dict[str, Any]:
    """Both environments' namespaces `<env>-app-NNN` over the same clusters, the same services in each."""
    merged: dict[str, dict[str, Any]] = {}
    for env in ENVIRONMENTS:
        for cluster in big_world_data(instances, workloads, clusters)["clusters"]:
            target = merged.setdefault(cluster["id"], {**cluster, "objects": []})
            for obj in cluster["objects"]:
                obj["metadata"]["namespace"] = f"{env.lower()}-{obj['metadata']['namespace']}"
                target["objects"].append(obj)
    return {"name": "bench", "clusters": list(merged.values())}


def seed(ctx: AppContext, url: str, token: str, instances: int, clusters: int) -> list[Environment]:
    """One site, the environments, one app instance per namespace (written directly: this is not what we time)."""
    with ctx.session() as session:
        site = Site(name="bench", url=url, token_encrypted=ctx.cipher.encrypt(token), rancher_user="admin")
        session.add(site)
        ids = cluster_ids(clusters)
        envs = []
        for position, name in enumerate(ENVIRONMENTS):
            env = Environment(name=name, position=position)
            session.add(env)
            session.flush()
            session.add_all(
                AppInstance(name=f"{name.lower()}-{ns}", site_id=site.id, cluster_id=ids[i % clusters],
                            cluster_name=ids[i % clusters], namespace=f"{name.lower()}-{ns}", environment_id=env.id)
                for i, ns in enumerate(namespaces(instances)))
            envs.append(env)
        session.flush()
        session.expunge_all()
        return envs


class Rancher:
    """What reached the simulated Rancher, by verb (its `/_simulator/stats`)."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.http = httpx.Client(base_url=sim.url, headers={"Authorization": f"Bearer {sim.token}"}, timeout=10)

    def counts(self) -> dict[str, int]:
        return dict(self.http.get("/_simulator/stats").raise_for_status().json()["requests"])

    @staticmethod
    def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        return {verb: after.get(verb, 0) - before.get(verb, 0) for verb in after}


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) of the samples (the 95th by the nearest rank)."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]


# read p50, p95 (s); Rancher requests a view; + table p50, p95; CPU seconds of this process a view (read, + table)
Timing = tuple[float, float, float, float, float, float, float]


def views(ctx: AppContext, envs: list[Environment], runs: int, rancher: Rancher, expect: str) -> dict[str, Timing]:
    """Per view: the core's read p50/p95, the Rancher requests (lists and gets) it sent, and p50/p95 of the read
    with the table the page builds from it."""
    refs = [inventory.EnvironmentRef(e.id, e.name, e.color, e.position) for e in envs]

    def services(table: bool) -> None:
        with ctx.session() as session:
            found = inventory.list_inventories(session, ctx.cipher, envs[:1])
        assert found[envs[0].id].source == expect and not found[envs[0].id].failures, found[envs[0].id].stale
        if table:
            services_frame(found[envs[0].id].services, dt.UTC)

    def comparison(table: bool) -> None:
        with ctx.session() as session:
            found = inventory.list_inventories(session, ctx.cipher, envs)
        assert all(i.source == expect for i in found.values())
        compared = compare.compare(refs, found)
        if table:
            comparison_table(compared, found)

    measured = {}
    for name, view in (("Services", services), ("comparison", comparison)):
        if expect == "watch":  # a process's first view parses every stored row; later ones only rows rewritten since
            start = time.perf_counter()
            view(False)
            print(f"collector: a process's first {name} view (every stored row parsed) "
                  f"{(time.perf_counter() - start) * 1000:.0f} ms")
        before, read, full, cpu = rancher.counts(), [], [], ([], [])
        for run in range(2 * runs):  # the read alone and the read with its table, interleaved: the same load
            listing.forget_listing_scopes()
            start, start_cpu = time.perf_counter(), time.process_time()
            view(bool(run % 2))
            (full if run % 2 else read).append(time.perf_counter() - start)
            cpu[run % 2].append(time.process_time() - start_cpu)
        sent = Rancher.delta(before, rancher.counts())
        measured[name] = (*percentiles(read), (sent["list"] + sent["get"]) / (2 * runs), *percentiles(full),
                          statistics.median(cpu[0]), statistics.median(cpu[1]))
    return measured


def start_collector(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": settings.database_url,
           "RANCHERSYNC_SECRET_KEY": settings.secret_keys[0], "RANCHERSYNC_USER": "collector"}
    return subprocess.Popen([sys.executable, "-m", "ranchersync", "collect"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)
    return time.perf_counter() - start


def all_watched(ctx: AppContext, envs: list[Environment]) -> bool:
    with ctx.session() as session:
        found = inventory.list_inventories(session, ctx.cipher, envs)
    return all(i.source == "watch" for i in found.values())


def staleness(ctx: AppContext, sim: RunningSimulator, changes: int, instances: int, clusters: int) -> list[float]:
    """Seconds from each PATCH's answer until the stored inventory shows the new image."""
    ids, found = cluster_ids(clusters), []
    with ctx.session() as session:
        site_id = session.query(Site.id).scalar()
    with RancherClient(sim.url, sim.token) as client:
        for n in range(changes):
            index = n % instances
            cluster, namespace = ids[index % clusters], f"stage-{namespaces(instances)[index]}"
            image = f"registry.example.com:5000/bench/svc-00:2.{n}.0"
            client.patch_images(cluster, namespace, "Deployment", "svc-00", ImageChange({"app": image}),
                                resource_version=None)

            def shown(cluster: str = cluster, namespace: str = namespace, image: str = image) -> bool:
                with ctx.session() as session:
                    rows = stored.stored_workloads(session, {(site_id, cluster)}, {namespace}, ("Deployment",))
                return any(w.name == "svc-00" and w.containers[0].image == image
                           for w, *_ in rows.get((site_id, cluster, namespace), ()))

            found.append(wait_for(shown, 30, f"change {n} in the stored inventory"))
    return found


def open_dashboards(ctx: AppContext, envs: list[Environment], viewers: int, seconds: float) -> int:
    """`viewers` dashboards polling the change counter every 2 s and re-reading the inventory when it moved, for
    `seconds`; returns how many times they re-read."""
    stop, reads = threading.Event(), [0]

    def dashboard() -> None:
        seen = -1
        while not stop.is_set():
            with ctx.session() as session:
                counter = stored.change_counter(session)
                if counter != seen:
                    inventory.list_inventories(session, ctx.cipher, envs[:1])
                    seen, reads[0] = counter, reads[0] + 1
            stop.wait(2)

    threads = [threading.Thread(target=dashboard, daemon=True) for _ in range(viewers)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    return reads[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100, help="app instances per environment")
    parser.add_argument("--workloads", type=int, default=20, help="workloads per app instance")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--views", type=int, default=30, help="views of each kind to take p50/p95 of")
    parser.add_argument("--changes", type=int, default=20, help="image changes to time the staleness of")
    parser.add_argument("--viewers", type=int, default=20, help="open dashboards")
    parser.add_argument("--window", type=float, default=20, help="seconds the open dashboards are watched")
    args = parser.parse_args()
    services = args.instances * args.workloads

    with tempfile.TemporaryDirectory() as tmp, simulator_process(
            world(args.instances, args.workloads, args.clusters), "--latency-ms", str(args.latency_ms)) as sim:
        settings = Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                            Path(tmp) / "key", "bench")
        ctx = AppContext(settings)
        ctx.upgrade_database()
        envs = seed(ctx, sim.url, sim.token, args.instances, args.clusters)
        rancher = Rancher(sim)
        print(f"{len(ENVIRONMENTS)} environments x {args.instances} app instances x {args.workloads} workloads over "
              f"{args.clusters} clusters: {services} services per environment; {args.latency_ms:.0f} ms per "
              f"Rancher request; {args.views} views of each kind")

        cached = views(ctx, envs, args.views, rancher, expect="live")
        collector = start_collector(settings)
        try:
            took = wait_for(lambda: all_watched(ctx, envs), 120, "the collector to list and watch every cluster")
            print(f"collector: first list and watches of {args.clusters} clusters in {took:.1f} s")
            live = views(ctx, envs, args.views, rancher, expect="watch")
            print(f"\n{'view (p50/p95)':<34} {'cached listing (cold)':>26} {'collector':>26}   ratio p95")
            for name, size in (("Services", f"{services}"), ("comparison", f"{services} x {len(ENVIRONMENTS)}")):
                (c50, c95, creq, ct50, ct95, *_), (l50, l95, lreq, lt50, lt95, lcpu, ltcpu) = cached[name], live[name]
                print(f"{name + ' of ' + size + ', read':<34} {c50 * 1000:6.0f}/{c95 * 1000:4.0f} ms {creq:5.1f} req "
                      f"{l50 * 1000:9.0f}/{l95 * 1000:4.0f} ms {lreq:5.1f} req   {c95 / l95:5.1f}x")
                print(f"{'  + the table the page builds':<34} {ct50 * 1000:6.0f}/{ct95 * 1000:4.0f} ms {'':9} "
                      f"{lt50 * 1000:9.0f}/{lt95 * 1000:4.0f} ms {'':9}   {ct95 / lt95:5.1f}x")
                print(f"{'  collector: CPU a view (p50)':<34} {'':26} {lcpu * 1000:9.0f} ms read, "
                      f"{ltcpu * 1000:.0f} ms + table (this process's CPU time: what a shared machine's waiting "
                      f"leaves out)")
            read_ok = live["Services"][1] < 0.1 and live["Services"][2] == 0
            table_ok = live["Services"][4] < 0.1
            print(f"goal < 100 ms p95 and 0 Rancher requests per view with the collector: read "
                  f"{'OK' if read_ok else 'OVER'}, with the table {'OK' if table_ok else 'OVER'} "
                  f"(load average {os.getloadavg()[0]:.1f})")

            lags = staleness(ctx, sim, args.changes, args.instances, args.clusters)
            p50, p95 = percentiles(lags)
            print(f"\nstaleness after a change ({args.changes} PATCHes): p50 {p50 * 1000:.0f} ms, "
                  f"p95 {p95 * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms "
                  f"({'OK' if p95 <= 1 else 'OVER'} goal <= 1 s p95)")

            before = rancher.counts()
            reads = open_dashboards(ctx, envs, args.viewers, args.window)
            sent = Rancher.delta(before, rancher.counts())
            with ctx.session() as session:
                row = lease.current(session)
                assert row is not None and row.heartbeat_at is not None, "the collector stopped during the window"
            per_hour = 3600 / args.window
            watches = args.clusters * 5
            print(f"\n{args.viewers} open dashboards for {args.window:.0f} s ({reads} inventory reads on a moved "
                  f"counter): Rancher saw {sent['list']} lists, {sent['get']} gets, {sent['watch']} watches, "
                  f"{sent['patch']} patches")
            print(f"  collector: {sent['total'] * per_hour:.0f} requests/hour measured; by construction "
                  f"{watches} watches renewed every {WATCH_RENEWAL_SECONDS} s = "
                  f"{watches * 3600 // WATCH_RENEWAL_SECONDS} watch requests/hour, whatever the number of viewers")
            reads_per_hour = 3600 // 30
            print(f"  cached listing: {cached['Services'][2]:.0f} requests a read x one read per 30 s cache period "
                  f"= {cached['Services'][2] * reads_per_hour:.0f}/hour per server process and environment, "
                  f"plus one read per Refresh click and CLI call")
            print(f"live / cached requests per hour (one process, one environment): "
                  f"{watches * 3600 / WATCH_RENEWAL_SECONDS / (cached['Services'][2] * reads_per_hour):.2f}")
        finally:
            collector.terminate()
            collector.wait(15)


if __name__ == "__main__":
    main()
