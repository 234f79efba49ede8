"""Benchmark: server-side render time of the Services screen (AppTest) for one environment of 2,000 services and
for the comparison of 4 such environments (2,000 rows × 4 columns), with their peak Python memory.

A simulated Rancher in its own process serves 4 environments × 100 namespaces × 20 workloads (the same 2,000
service names in each environment, a share of them in another version per environment). Each figure is measured
cold (first render: the services are read from Rancher) and warm (the inventories cached, as on every filter
change or rerun; the median of several runs). Peak memory (tracemalloc) is measured in a separate run, since
tracing slows Python down. Target (issue 4): warm renders under 1.5 s.

    .venv/bin/python -m bench.services_page [--namespaces 100] [--workloads 20] [--runs 5] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from cryptography.fernet import Fernet
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from bench.simulator_process import simulator_process
from bench.worlds import big_world_data, cluster_ids, namespaces
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import AppInstance, Environment, Site

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("Dev", "Stage", "QA", "Prod")
TARGET_SECONDS = 1.5


def world(per_env: int, workloads: int, clusters: int) -> dict[str, Any]:
    """Every environment's namespaces `<env>-app-NNN` over the same clusters; service names are unique per namespace
    (`app-NNN-svc-WW`) and equal across environments, so the comparison has per_env × workloads rows."""
    merged: dict[str, dict[str, Any]] = {}
    for level, env in enumerate(ENVIRONMENTS):
        data = big_world_data(per_env, workloads, clusters)
        for cluster in data["clusters"]:
            target = merged.setdefault(cluster["id"], {**cluster, "objects": []})
            for obj in cluster["objects"]:
                meta = obj["metadata"]
                name = f"{meta['namespace']}-{meta['name']}"
                meta["name"], meta["namespace"] = name, f"{env.lower()}-{meta['namespace']}"
                # Some services run another version per environment (deterministically: crc32, not hash()).
                version = f"1.{level}.0" if zlib.crc32(name.encode()) % (level + 2) == 0 else "1.0.0"
                spec = obj["spec"].get("jobTemplate", {}).get("spec", obj["spec"])
                spec["template"]["spec"]["containers"][0]["image"] = f"registry.example.com:5000/bench/{name}:{version}"
                target["objects"].append(obj)
    return {"name": "bench", "clusters": list(merged.values())}


def seed(ctx: AppContext, url: str, token: str, per_env: int, clusters: int) -> None:
    """One site, the environments, one app instance per namespace (written directly: this is not what we time)."""
    with ctx.session() as session:
        site = Site(name="bench", url=url, token_encrypted=ctx.cipher.encrypt(token), rancher_user="admin")
        session.add(site)
        ids = cluster_ids(clusters)
        for position, name in enumerate(ENVIRONMENTS):
            env = Environment(name=name, position=position)
            session.add(env)
            session.flush()
            session.add_all(
                AppInstance(name=f"{name.lower()}-{ns}", site_id=site.id, cluster_id=ids[i % clusters],
                            cluster_name=ids[i % clusters], namespace=f"{name.lower()}-{ns}", environment_id=env.id)
                for i, ns in enumerate(namespaces(per_env))
            )


def timed(run: Callable[[], AppTest]) -> tuple[float, AppTest]:
    start = time.perf_counter()
    at = run()
    elapsed = time.perf_counter() - start
    assert not at.exception, [e.message for e in at.exception]
    return elapsed, at


def table_rows(at: AppTest) -> int:
    """The rows of the page's table; a clear failure naming what the page showed instead when it drew none."""
    if not at.dataframe:
        shown = [e.value for e in (*at.error, *at.warning, *at.info)]
        raise SystemExit(f"the page rendered no table; it showed: {shown}")
    return len(at.dataframe[0].value)


def peak_mb(run: Callable[[], object]) -> float:
    """The peak of Python allocations during `run`, in MB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def report(label: str, seconds: float, target: bool = False) -> None:
    verdict = f"   ({'OK' if seconds < TARGET_SECONDS else 'OVER'} target < {TARGET_SECONDS} s)" if target else ""
    print(f"{label:<58} {seconds:7.3f} s{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=100, help="app instances per environment")
    parser.add_argument("--workloads", type=int, default=20, help="workloads per namespace")
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5, help="warm renders to take the median of")
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    services = args.namespaces * args.workloads

    data = world(args.namespaces, args.workloads, args.clusters)
    with tempfile.TemporaryDirectory() as tmp, \
            simulator_process(data, "--latency-ms", str(args.latency_ms)) as rancher:
        settings = Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                            Path(tmp) / "key", "bench")
        ctx = AppContext(settings)
        ctx.upgrade_database()
        seed(ctx, rancher.url, rancher.token, args.namespaces, args.clusters)
        ctx.engine.dispose()
        os.environ.update(RANCHERSYNC_DATABASE_URL=settings.database_url,
                          RANCHERSYNC_SECRET_KEY=settings.secret_keys[0], RANCHERSYNC_USER="bench")
        # AppTest has no server address, which the frame reads as "every interface" and refuses anonymous use on
        # (the page then renders the refusal, no table): measure the loopback set-up `make run` uses.
        st_config.set_option("server.address", "127.0.0.1")

        print(f"{len(ENVIRONMENTS)} environments x {args.namespaces} app instances x {args.workloads} workloads: "
              f"{services} services per environment, {services * len(ENVIRONMENTS)} in all; "
              f"{args.latency_ms:.0f} ms per Rancher request")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        seconds, at = timed(at.run)
        report(f"Overview, cold (reads all {len(ENVIRONMENTS)} environments)", seconds)

        st.cache_data.clear()
        seconds, at = timed(at.switch_page("pages/4_Services.py").run)
        assert table_rows(at) == services, table_rows(at)
        report(f"Services, one environment of {services}, cold (reads Rancher)", seconds)
        warm = statistics.median(timed(at.run)[0] for _ in range(args.runs))
        report(f"Services, one environment of {services}, warm (median of {args.runs})", warm, target=True)
        seconds, at = timed(at.text_input(key="svc_search_1").input("svc-07").run)
        report("Services, a search typed (filters the cached data)", seconds)
        at.text_input(key="svc_search_1").input("").run()
        table_peak = peak_mb(at.run)

        st.cache_data.clear()
        seconds, at = timed(at.segmented_control(key="svc_view").set_value("compare").run)
        assert table_rows(at) == services, table_rows(at)
        report(f"Comparison, {services} x {len(ENVIRONMENTS)}, cold (reads Rancher)", seconds)
        warm = statistics.median(timed(at.run)[0] for _ in range(args.runs))
        report(f"Comparison, {services} x {len(ENVIRONMENTS)}, warm (median of {args.runs})", warm, target=True)
        seconds, at = timed(at.toggle(key="cmp_only").set_value(True).run)
        report(f"Comparison, 'only differences' ({table_rows(at)} rows left)", seconds)
        at.toggle(key="cmp_only").set_value(False).run()
        compare_peak = peak_mb(at.run)
        st.cache_data.clear()
        cold_compare_peak = peak_mb(at.run)

        print(f"peak Python memory: services warm {table_peak:.1f} MB, comparison warm {compare_peak:.1f} MB, "
              f"comparison cold {cold_compare_peak:.1f} MB (tracemalloc)")


if __name__ == "__main__":
    main()
