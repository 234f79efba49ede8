"""Every benchmark of `make bench` runs to its end, once, on a small world: a benchmark broken by a change (a page
that renders no table, a query for a row that is not there) is caught by `make test`, not on the day someone
wants its figures. The figures themselves are not checked here: at this size they mean nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each benchmark with the arguments of a small world, and a line it prints only once it has measured everything.
BENCHMARKS: dict[str, tuple[tuple[str, ...], str]] = {
    "inventory_listing": (("--instances", "4", "--workloads", "2", "--clusters", "2", "--latency-ms", "5"),
                          "cluster-wide / ideal"),
    "cli_listing": (("--instances", "4", "--workloads", "2", "--clusters", "2", "--latency-ms", "5", "--runs", "1"),
                    "end to end: CLI"),
    "sync_promotion": (("--services", "2", "--clusters", "2", "--latency-ms", "5", "--rollout-seconds", "0.3",
                        "--poll-seconds", "0.05"), "apply / ideal"),
    "services_page": (("--namespaces", "2", "--workloads", "2", "--clusters", "1", "--runs", "1"),
                      "peak Python memory:"),
    "history_queries": (("--operations", "300", "--repeat", "1"), "SQLite: page queries + metrics (90d)"),
    "simulator_rps": (("--seconds", "0.3", "--clients", "2"), "GET DeploymentList"),
    "registry_preflight": (("--services", "6", "--latency-ms", "5", "--runs", "1"), "preflight added / goal"),
    "chaos": (("--syncs", "2", "--services", "2", "--outage-seconds", "1", "--rollout-seconds", "0.3"),
              "extra time under chaos"),
    "live_inventory": (("--instances", "4", "--workloads", "2", "--clusters", "2", "--latency-ms", "5", "--views", "2",
                        "--changes", "2", "--viewers", "2", "--window", "1"), "live / cached requests per hour"),
    "api_latency": (("--services", "2", "--clusters", "2", "--latency-ms", "5", "--calls", "2", "--runs", "1"),
                    "GET /compare: API p50 at 1 client"),
    "verification": (("--services", "2", "--clusters", "1", "--count", "2", "--interval", "0.2"), "added / ideal"),
}

pytestmark = pytest.mark.bench


def test_every_benchmark_of_make_bench_is_run_here() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = makefile[makefile.index("\nbench:"):].split("\n\n", 1)[0]
    assert re.findall(r"-m bench\.(\w+)", target) == list(BENCHMARKS)


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_the_benchmark_runs_to_its_end_on_a_small_world(name: str) -> None:
    args, last_words = BENCHMARKS[name]
    # history_queries measures PostgreSQL too when RANCHERSYNC_TEST_DATABASE_URL names a server (CI's).
    postgres = name == "history_queries" and bool(os.environ.get("RANCHERSYNC_TEST_DATABASE_URL"))
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert last_words in done.stdout, done.stdout[-3000:]
    if postgres:
        assert "PostgreSQL: page queries + metrics (90d)" in done.stdout, done.stdout[-3000:]
