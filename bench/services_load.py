"""20 browser sessions open the Services page of one environment at once (one Chromium, 20 contexts, one Streamlit
server): every session must get its table, and the simulated Rancher must see one list request per app instance
and workload kind in the cache period — the services cache is shared by every session, not one per browser.

    python -m bench.services_load [--sessions 20] [--instances 4]

Prints p50/p95 time to table (navigation start to the table in the page, measured in each page) and the list
requests the simulator answered against the expected count.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from ranchersync import environments, instances, sites
from ranchersync.config import Settings
from ranchersync.context import AppContext
from ranchersync.rancher import WORKLOAD_KINDS
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, AppServer

TABLE = "[data-testid='stDataFrame']"
# A workload list of one namespace: /k8s/clusters/{cluster}/apis/{group}/v1/namespaces/{namespace}/{plural}.
LIST_PATH = re.compile(r"^/k8s/clusters/(?P<cluster>[^/]+)/apis/[^/]+/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)$")
# Records, in the page itself, when the table first appears (ms since navigation start): no polling bias.
WATCH_TABLE = f"""
new MutationObserver((_, observer) => {{
  if (document.querySelector("{TABLE}")) {{ window.__tableAt = performance.now(); observer.disconnect(); }}
}}).observe(document, {{childList: true, subtree: true}});
"""
INSTANCES = (("shop-dev", "dev-eu-1", "shop-dev"), ("payments-dev", "dev-eu-1", "payments-dev"),
             ("shop-stage", "stage-eu-1", "shop-stage"), ("local-system", "local", "cattle-system"))


@dataclass(frozen=True)
class LoadResult:
    """What one run measured."""

    sessions: int
    tables: int  # sessions whose table appeared
    times_ms: tuple[float, ...]
    list_reads: dict[tuple[str, str, str], int]  # (cluster, namespace, kind plural) -> requests
    expected_keys: frozenset[tuple[str, str, str]]
    errors: int  # sessions that showed an exception

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def seed(ctx: AppContext, server: SimulatedRancher, count: int) -> list[tuple[str, str]]:
    """One site, one environment ("Dev") with `count` app instances; returns their (cluster id, namespace)."""
    placements = []
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name="eu", connection=sites.make_connection(server.url, server.token))
        environments.add_environment(session, name="Dev")
    for name, cluster, namespace in INSTANCES[:count]:
        with ctx.session() as session:
            placement = instances.check_placement(sites.get_site(session, "eu"), ctx.cipher, cluster, namespace)
            instances.add_instance(session, name=name, site="eu", environment="Dev", placement=placement)
            placements.append((placement.cluster_id, namespace))
    return placements


def run(sessions: int = 20, instance_count: int = 4, workdir: Path | None = None) -> LoadResult:
    """Start everything, open `sessions` contexts at once, wait for every table, count the simulator's reads."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, SimulatedRancher(load_demo_world("rancher-eu"),
                                                                 rollout_seconds=1) as rancher:
        base = workdir or Path(tmp)
        key = Fernet.generate_key().decode()
        database = f"sqlite:///{base / 'load.db'}"
        ctx = AppContext(Settings(database, (key,), base / "secret.key", "bench"))
        ctx.upgrade_database()
        placements = seed(ctx, rancher, instance_count)
        ctx.engine.dispose()
        plurals = {f"{kind.lower()}s" for kind in WORKLOAD_KINDS}
        expected = frozenset((c, ns, p) for c, ns in placements for p in plurals)
        with AppServer(database, key, base / "server") as app, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(sessions)]
                pages = []
                for context in contexts:
                    context.add_init_script(WATCH_TABLE)
                    pages.append(context.new_page())
                before = len(rancher.requests_seen())
                for page in pages:  # all navigations start before any table is waited for
                    page.goto(app.page_url("Services"), wait_until="commit")
                tables, times, errors = 0, [], 0
                deadline = time.monotonic() + 120
                for page in pages:
                    left = max(1.0, deadline - time.monotonic()) * 1000
                    try:
                        page.wait_for_function("window.__tableAt !== undefined", timeout=left)
                    except Exception:  # noqa: BLE001 - a session without its table is what we count
                        continue
                    tables += 1
                    times.append(float(page.evaluate("window.__tableAt")))
                    errors += page.locator("[data-testid='stException']").count()
                seen = rancher.requests_seen()[before:]
            finally:
                browser.close()
    reads: Counter[tuple[str, str, str]] = Counter()
    for method, path in seen:
        found = LIST_PATH.match(path)
        if method == "GET" and found and found["plural"] in plurals:
            reads[(found["cluster"], found["ns"], found["plural"])] += 1
    return LoadResult(sessions, tables, tuple(times), dict(reads), expected, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--instances", type=int, default=4, choices=range(1, len(INSTANCES) + 1))
    args = parser.parse_args()
    result = run(args.sessions, args.instances)
    total = sum(result.list_reads.values())
    print(f"sessions: {result.sessions}, tables shown: {result.tables}, exceptions: {result.errors}")
    print(f"time to table: p50 {result.p50 / 1000:.2f} s, p95 {result.p95 / 1000:.2f} s, "
          f"max {max(result.times_ms) / 1000:.2f} s")
    print(f"workload list requests: {total}, expected one per app instance and kind: {len(result.expected_keys)} "
          f"({args.instances} instances × {len(WORKLOAD_KINDS)} kinds); "
          f"ratio {total / max(1, len(result.expected_keys)):.2f}")


if __name__ == "__main__":
    main()
