"""Browser sessions open the Services page of one environment at once (one Chromium, N contexts, one Streamlit
server): every session must get its table, and the simulated Rancher must see each list request of the inventory
once per cache period — the services cache is shared by every session, not one per browser.

    python -m bench.services_load [--sessions 20] [--instances 4] [--waves 1]
    python -m bench.services_load --collector [--sessions 20] [--instances 4] [--rounds 1]

Prints p50/p95 time to table (navigation start to the table in the page, measured in each page), the CPU seconds
the Streamlit server and the browser spent on the wave (on a shared 2-core machine the wall time is mostly waiting
for a core: the CPU figures say whose work it was), the load average, and the list requests the simulator answered
against those one inventory read makes. With `--waves 2` a second wave starts once the first one's cache entry has
expired: it must cost exactly one more read of each list.

With `--collector` the same wave runs twice in one run, side by side on the same database and simulated Rancher:
against a dashboard reading the cached live listing (today's path), then against a fresh dashboard while a
`python -m ranchersync collect` process keeps the stored inventory fresh (issue 25). Each prints the Streamlit
server's CPU seconds per session (its /proc stat before and after the wave), the collector's own CPU over the wave,
the requests that reached Rancher during the wave by verb (the simulator's `GET /_simulator/stats`) and the page
times. `--rounds N` repeats the pair, alternating which goes first, to see the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.inventory import listing
from ranchersync.inventory import reading as inventory
from ranchersync.kernel.config import Settings
from ranchersync.rancher import WORKLOAD_KINDS
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.e2e.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, AppServer

TABLE = "[data-testid='stDataFrame']"
# A workload list, of one namespace or (for several app instances on one cluster) of the whole cluster.
LIST_PATH = re.compile(
    r"^/k8s/clusters/(?P<cluster>[^/]+)/apis/[^/]+/v1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<plural>[a-z]+)$"
)
# Records, in the page itself, when the table first appears (ms since navigation start): no polling bias.
WATCH_TABLE = f"""
new MutationObserver((_, observer) => {{
  if (document.querySelector("{TABLE}")) {{ window.__tableAt = performance.now(); observer.disconnect(); }}
}}).observe(document, {{childList: true, subtree: true}});
"""
INSTANCES = (("shop-dev", "dev-eu-1", "shop-dev"), ("payments-dev", "dev-eu-1", "payments-dev"),
             ("shop-stage", "stage-eu-1", "shop-stage"), ("local-system", "local", "cattle-system"))
ListKey = tuple[str, str, str]  # (cluster, namespace or "*" for a cluster-wide list, kind plural)


@dataclass(frozen=True)
class LoadResult:
    """What one wave measured."""

    sessions: int
    tables: int  # sessions whose table appeared
    times_ms: tuple[float, ...]
    list_reads: dict[ListKey, int]  # list request -> how often the simulator answered it during the wave
    expected_keys: frozenset[ListKey]  # the list requests of one inventory read
    errors: int  # sessions that showed an exception
    server_cpu: float = 0.0  # CPU seconds of the Streamlit server during the wave
    browser_cpu: float = 0.0  # CPU seconds of Chromium (every process of it) during the wave
    wall: float = 0.0  # seconds from the first navigation to the last table
    load: float = 0.0  # the 1-minute load average at the end of the wave
    requests: dict[str, int] | None = None  # what reached Rancher during the wave, by verb (/_simulator/stats)
    collector_cpu: float | None = None  # CPU seconds of the collector process during the wave, when one ran

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")

    @property
    def p95(self) -> float:
        if not self.times_ms:
            return float("nan")
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


BENCH = Actor("bench@localhost", "admin", "cli")  # who sets the catalogue up


def seed(ctx: AppContext, server: SimulatedRancher, count: int) -> None:
    """One site, one environment ("Dev") with `count` app instances."""
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name="eu", connection=sites.make_connection(server.url, server.token),
                       actor=BENCH)
        environments.add_environment(session, name="Dev", actor=BENCH)
    for name, cluster, namespace in INSTANCES[:count]:
        with ctx.session() as session:
            placement = instances.check_placement(sites.get_site(session, "eu"), ctx.cipher, cluster, namespace)
            instances.add_instance(session, name=name, site="eu", environment="Dev", placement=placement,
                                   actor=BENCH)


def expected_lists(ctx: AppContext) -> frozenset[ListKey]:
    """The list requests one read of Dev's inventory makes, as the core plans them (listing.listing_jobs)."""
    with ctx.session() as session:
        env = environments.get_environment(session, "Dev")
        refs = inventory.instance_refs(session, [env.id])
        connections = inventory.site_connections(session, ctx.cipher, {r.site_id for r in refs})
    jobs = listing.listing_jobs(refs, WORKLOAD_KINDS, "auto", connections)
    return frozenset((j.refs[0].cluster_id, "*" if j.cluster_wide else j.refs[0].namespace, f"{j.kind.lower()}s")
                     for j in jobs)


def count_lists(seen: list[tuple[str, str]]) -> dict[ListKey, int]:
    """How often each workload list was answered."""
    plurals = {f"{kind.lower()}s" for kind in WORKLOAD_KINDS}
    reads: Counter[ListKey] = Counter()
    for method, path in seen:
        found = LIST_PATH.match(path.split("?", 1)[0])
        if method == "GET" and found and found["plural"] in plurals:
            reads[(found["cluster"], found["ns"] or "*", found["plural"])] += 1
    return dict(reads)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of these processes (Linux /proc; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def browser_processes(root: int, leave_out: int | None = None) -> list[int]:
    """Chromium's processes under `root` (the browser and its renderers): not `leave_out`'s subtree (the server),
    nor Playwright's driver (node)."""
    tree, found, todo = _children(), [], [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child != leave_out:
                todo.append(child)
                try:
                    name = Path(f"/proc/{child}/comm").read_text().strip()
                except OSError:
                    continue
                if name != "node":
                    found.append(child)
    return found


class Bench:
    """A simulated Rancher, a seeded database, the app and one Chromium; `wave(n)` opens n contexts at once."""

    def __init__(self, browser: Any, app: AppServer, rancher: SimulatedRancher, expected: frozenset[ListKey],
                 collector: int | None = None):
        self.browser, self.app, self.rancher, self.expected = browser, app, rancher, expected
        self.collector = collector  # the collector's pid, when one keeps the stored inventory

    def wave(self, sessions: int, timeout: float = 180, page_name: str = "Services") -> LoadResult:
        """Open the Services page (or another screen with a table) in `sessions` new contexts at once and wait for
        every table."""
        server_pid = self.app.process.pid if self.app.process else -1
        contexts = [self.browser.new_context(viewport=VIEWPORT) for _ in range(sessions)]
        try:
            pages = []
            for context in contexts:
                context.add_init_script(WATCH_TABLE)
                pages.append(context.new_page())
            browser_before = cpu_seconds(browser_processes(os.getpid(), leave_out=server_pid))
            server_before = cpu_seconds([server_pid]).get(server_pid, 0.0)
            collector_before = cpu_seconds([self.collector]).get(self.collector, 0.0) if self.collector else 0.0
            verbs_before = rancher_stats(self.rancher)
            before = len(self.rancher.requests_seen())
            started = time.monotonic()
            for page in pages:  # all navigations start before any table is waited for
                page.goto(self.app.page_url(page_name), wait_until="commit", timeout=timeout * 1000)
            tables, times, errors = 0, [], 0
            deadline = started + timeout
            for page in pages:
                left = max(1.0, deadline - time.monotonic()) * 1000
                try:
                    # Polled every 250 ms, not every animation frame: the bench must not load the browser itself.
                    page.wait_for_function("window.__tableAt !== undefined", timeout=left, polling=250)
                except Exception:  # noqa: BLE001 - a session without its table is what we count
                    continue
                tables += 1
                times.append(float(page.evaluate("window.__tableAt")))
                errors += page.locator("[data-testid='stException']").count()
            wall = time.monotonic() - started
            server_cpu = cpu_seconds([server_pid]).get(server_pid, 0.0) - server_before
            collector_cpu = (cpu_seconds([self.collector]).get(self.collector, 0.0) - collector_before
                             if self.collector else None)
            verbs = rancher_stats(self.rancher)
            browser_after = cpu_seconds(browser_processes(os.getpid(), leave_out=server_pid))
            browser_cpu = sum(t - browser_before.get(pid, 0.0) for pid, t in browser_after.items())
            seen = self.rancher.requests_seen()[before:]
        finally:
            for context in contexts:
                context.close()
        return LoadResult(sessions, tables, tuple(times), count_lists(seen), self.expected, errors,
                          server_cpu, browser_cpu, wall, os.getloadavg()[0],
                          {verb: verbs[verb] - verbs_before.get(verb, 0) for verb in verbs}, collector_cpu)


def rancher_stats(rancher: SimulatedRancher) -> dict[str, int]:
    """What reached the simulated Rancher so far, by verb, as any client reads it: `GET /_simulator/stats`."""
    ca = rancher.ca_file  # a simulator serving HTTPS is verified against its own CA, as any client would
    answer = httpx.get(f"{rancher.url}/_simulator/stats", headers={"Authorization": f"Bearer {rancher.token}"},
                       verify=str(ca) if ca else True, timeout=10)
    return dict(answer.raise_for_status().json()["requests"])


@dataclass(frozen=True)
class Setup:
    """The simulated Rancher and the seeded database every server of a run shares."""

    rancher: SimulatedRancher
    database: str
    key: str
    base: Path
    expected: frozenset[ListKey]


@contextmanager
def setup(instance_count: int = 4, workdir: Path | None = None) -> Iterator[Setup]:
    """A simulated Rancher (the demo world) and a database seeded with `instance_count` app instances."""
    with tempfile.TemporaryDirectory() as tmp, SimulatedRancher(load_demo_world("rancher-eu"),
                                                                rollout_seconds=1) as rancher:
        base = workdir or Path(tmp)
        key = Fernet.generate_key().decode()
        database = f"sqlite:///{base / 'load.db'}"
        ctx = AppContext(Settings(database, (key,), base / "secret.key", "bench"))
        ctx.upgrade_database()
        seed(ctx, rancher, instance_count)
        expected = expected_lists(ctx)
        ctx.engine.dispose()
        yield Setup(rancher, database, key, base, expected)


@contextmanager
def chromium() -> Iterator[Any]:
    """One headless Chromium for the script (a test passes its session's browser instead)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        own = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield own
        finally:
            own.close()


@contextmanager
def bench(instance_count: int = 4, workdir: Path | None = None, browser: Any = None) -> Iterator[Bench]:
    """Start everything; stopped on exit. A test passes its session's `browser` (Playwright's sync API may run once
    per process); the script launches its own."""
    with setup(instance_count, workdir) as env, AppServer(env.database, env.key, env.base / "server") as app:
        if browser is not None:
            yield Bench(browser, app, env.rancher, env.expected)
            return
        with chromium() as own:
            yield Bench(own, app, env.rancher, env.expected)


@contextmanager
def collector(env: Setup, timeout: float = 60) -> Iterator[int]:
    """`python -m ranchersync collect` on the run's database, once every app instance reads as "watch" (the
    stored inventory fresh); yields its pid, stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ranchersync", "collect"],
        env={**os.environ, "RANCHERSYNC_DATABASE_URL": env.database, "RANCHERSYNC_SECRET_KEY": env.key,
             "RANCHERSYNC_KEY_FILE": str(env.base / "secret.key"), "RANCHERSYNC_USER": "collector"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = AppContext(Settings(env.database, (env.key,), env.base / "secret.key", "bench"))
    try:
        with ctx.session() as session:
            envs = [environments.get_environment(session, "Dev")]
        deadline = time.monotonic() + timeout
        while True:
            with ctx.session() as session:
                found = inventory.list_inventories(session, ctx.cipher, envs)
            if all(i.source == "watch" for i in found.values()):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the collector did not make the stored inventory fresh")
            time.sleep(0.2)
        yield process.pid
    finally:
        ctx.engine.dispose()
        process.terminate()
        process.wait(15)


def side_by_side(sessions: int = 20, instance_count: int = 4, rounds: int = 1, timeout: float = 180
                 ) -> list[tuple[str, LoadResult]]:
    """The same wave against a fresh dashboard reading the cached live listing and against a fresh dashboard
    reading the collector's stored inventory, in one run (`rounds` pairs, alternating which goes first)."""
    results: list[tuple[str, LoadResult]] = []
    with setup(instance_count) as env, chromium() as browser:
        for number in range(rounds):
            order = ("listing", "collector") if number % 2 == 0 else ("collector", "listing")
            for mode in order:
                server_dir = env.base / f"server-{number}-{mode}"
                if mode == "listing":
                    with AppServer(env.database, env.key, server_dir) as app:
                        result = Bench(browser, app, env.rancher, env.expected).wave(sessions, timeout)
                else:
                    with collector(env) as pid, AppServer(env.database, env.key, server_dir) as app:
                        result = Bench(browser, app, env.rancher, env.expected, collector=pid).wave(sessions,
                                                                                                    timeout)
                results.append((mode, result))
                print(f"--- round {number + 1}, {LABELS[mode]}")
                report(result)
    return results


LABELS = {"listing": "cached live listing (no collector)", "collector": "the collector's stored inventory"}


def run(sessions: int = 20, instance_count: int = 4, workdir: Path | None = None) -> LoadResult:
    """One wave of `sessions` contexts on a fresh server."""
    with bench(instance_count, workdir) as b:
        return b.wave(sessions)


def report(result: LoadResult) -> None:
    """Print one wave's figures."""
    # The request log holds paths without their query: a watch counts there as a read of its list. With a
    # collector, the simulator's stats tell them apart.
    total = (sum(result.list_reads.values()) if result.collector_cpu is None or result.requests is None
             else result.requests.get("list", 0))
    print(f"sessions: {result.sessions}, tables shown: {result.tables}, exceptions: {result.errors}")
    print(f"time to table: p50 {result.p50 / 1000:.2f} s, p95 {result.p95 / 1000:.2f} s, "
          f"max {max(result.times_ms, default=float('nan')) / 1000:.2f} s; wave {result.wall:.1f} s; "
          f"load average {result.load:.1f}")
    print(f"CPU during the wave: server {result.server_cpu:.1f} s ({result.server_cpu / result.sessions:.2f} s a "
          f"session), browser {result.browser_cpu:.1f} s ({result.browser_cpu / result.sessions:.2f} s a session)")
    print(f"workload list requests: {total}, one inventory read makes {len(result.expected_keys)}; "
          f"ratio {total / max(1, len(result.expected_keys)):.2f}")
    if result.requests is not None:
        sent = result.requests
        print(f"Rancher requests during the wave (/_simulator/stats): {sent.get('total', 0)} "
              f"(list {sent.get('list', 0)}, get {sent.get('get', 0)}, watch {sent.get('watch', 0)})")
    if result.collector_cpu is not None:
        print(f"collector CPU during the wave: {result.collector_cpu:.2f} s")


def summary(results: list[tuple[str, LoadResult]]) -> None:
    """The pair side by side: medians over the rounds."""
    print(f"\n{'per mode (median of rounds)':<32} {'server CPU/session':>19} {'p50/p95 to table':>18} "
          f"{'Rancher requests':>17} {'collector CPU':>14}")
    by_mode: dict[str, list[LoadResult]] = {}
    for mode, result in results:
        by_mode.setdefault(mode, []).append(result)
    for mode in ("listing", "collector"):
        found = by_mode.get(mode, [])
        if not found:
            continue
        cpu = statistics.median(r.server_cpu / r.sessions for r in found)
        p50, p95 = statistics.median(r.p50 for r in found), statistics.median(r.p95 for r in found)
        sent = statistics.median((r.requests or {}).get("total", 0) for r in found)
        col = [r.collector_cpu for r in found if r.collector_cpu is not None]
        print(f"{LABELS[mode]:<32} {cpu:17.2f} s {p50 / 1000:7.1f}/{p95 / 1000:.1f} s {sent:17.0f} "
              f"{(f'{statistics.median(col):.2f} s' if col else '-'):>14}")
    if by_mode.get("listing") and by_mode.get("collector"):
        listing_cpu = statistics.median(r.server_cpu / r.sessions for r in by_mode["listing"])
        collector_cpu = statistics.median(r.server_cpu / r.sessions for r in by_mode["collector"])
        print(f"server CPU a session, collector / cached listing: {collector_cpu / max(listing_cpu, 1e-9):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--instances", type=int, default=4, choices=range(1, len(INSTANCES) + 1))
    parser.add_argument("--waves", type=int, default=1, choices=(1, 2))
    parser.add_argument("--collector", action="store_true",
                        help="the wave against the cached listing and against the collector, side by side")
    parser.add_argument("--rounds", type=int, default=1, help="with --collector: pairs of waves")
    parser.add_argument("--timeout", type=float, default=180,
                        help="with --collector: seconds a wave may take (a crowded machine needs more)")
    args = parser.parse_args()
    if args.collector:
        summary(side_by_side(args.sessions, args.instances, args.rounds, args.timeout))
        return
    from ui.shell.queries import SERVICES_TTL

    with bench(args.instances) as b:
        first = b.wave(args.sessions)
        report(first)
        if args.waves == 2:
            time.sleep(SERVICES_TTL + 0.5)  # the entry was made before the first wave's last table: now it is stale
            print(f"--- second wave, after the {SERVICES_TTL} s cache period")
            report(b.wave(args.sessions))


if __name__ == "__main__":
    main()
