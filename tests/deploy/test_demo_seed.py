"""The demo seed of compose's `demo` profile and the Kubernetes demo overlay: against two simulated Rancher servers
reached by URL, it builds the same catalogue as `python -m ranchersync demo`, and a second run adds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ranchersync.ops.demo import DEMO_ENVIRONMENTS, DEMO_SITES
from ranchersync.simulator import SimulatedRancher
from ranchersync.simulator.world import DEMO_WORLD_NAMES, load_demo_world
from tests.deploy.tools import ROOT

SEED = ROOT / "deploy" / "kubernetes" / "overlays" / "demo" / "demo_seed.py"
TOKEN = "token-seedt:" + "s" * 54


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    started = {name: SimulatedRancher(load_demo_world(name), token=TOKEN, rollout_seconds=0).start()
               for name in DEMO_WORLD_NAMES}
    try:
        yield {name: server.url for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def expected_instances() -> int:
    # the demo's rule: every `<app>-<dev|stage|prod>` namespace holding workloads becomes one app instance
    count = 0
    for name in DEMO_WORLD_NAMES:
        for cluster in load_demo_world(name).clusters:
            spaces = {o["metadata"]["namespace"] for o in cluster.objects
                      if o.get("kind") != "Namespace" and o.get("metadata", {}).get("namespace")}
            count += sum(1 for ns in spaces if ns.rsplit("-", 1)[-1] in ("dev", "stage", "prod"))
    return count


def test_the_seed_fills_the_catalogue_from_servers_reached_by_url_once(servers: dict[str, str],
                                                                       tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "RANCHERSYNC_SIMULATOR_TOKEN": TOKEN, "RANCHERSYNC_SECRET_KEY": "",
           "RANCHERSYNC_DEMO_SITES": ",".join(f"{name}={url}" for name, url in servers.items())}
    for _ in range(2):
        result = run([str(SEED)], env)
        assert result.returncode == 0, result.stderr
    listed = {group: json.loads(run(["-m", "ranchersync", group, "list", "--json"], env).stdout)
              for group in ("sites", "envs", "instances")}
    assert sorted(site["name"] for site in listed["sites"]) == sorted(DEMO_SITES.values())
    assert [env["name"] for env in listed["envs"]] == [name for name, *_ in DEMO_ENVIRONMENTS]
    assert len(listed["instances"]) == expected_instances() > 0
    assert TOKEN not in json.dumps(listed)


def test_the_seed_refuses_an_unknown_site_name_before_touching_the_database(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
           "RANCHERSYNC_SIMULATOR_TOKEN": TOKEN, "RANCHERSYNC_DEMO_SITES": "rancher-mars=http://127.0.0.1:9"}
    result = run([str(SEED)], env)
    assert result.returncode != 0 and "rancher-mars" in result.stderr
    assert not (tmp_path / "demo.db").exists()
