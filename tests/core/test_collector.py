"""The live inventory: the collector keeps the stored inventory current from watches (a `kubectl set image` shows
within a second, a 410 relists and loses nothing, a killed collector is replaced), and views read it with no request
to Rancher while it is fresh, falling back to a live read when it is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ranchersync.catalogue import environments, instances, sites
from ranchersync.collector import lease
from ranchersync.collector.run import WATCH_KINDS, Collector
from ranchersync.context import AppContext
from ranchersync.inventory import reading
from ranchersync.inventory.compare import compare_environments
from ranchersync.inventory.payloads import comparison_payload, service_payload
from ranchersync.inventory.stored import freshness
from ranchersync.models import LiveWatch, LiveWorkload
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.core.simulator_fixtures import CLUSTER, NS, OTHER_CLUSTER, deployment, small_world
from tests.core.test_simulator_kubectl_rollouts import Kubectl, ok

pytest_plugins = ["tests.core.simulator_fixtures"]


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll until `check()` is truthy; its value, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)


@pytest.fixture
def sim() -> Iterator[SimulatedRancher]:
    """The small world over HTTPS (kubectl sends tokens only over TLS), with two more environments' namespaces."""
    world = small_world()
    with SimulatedRancher(world, rollout_seconds=0.3, tls=True) as server:
        server.set_object(OTHER_CLUSTER, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "team-b"}})
        server.set_object(OTHER_CLUSTER, {**deployment("web"), "apiVersion": "apps/v1",
                                          "metadata": {"name": "web", "namespace": "team-b"}})
        yield server


@pytest.fixture
def tls_sim(sim: SimulatedRancher) -> SimulatedRancher:
    """kubectl's fixtures talk to the same server."""
    return sim


@pytest.fixture
def stage(ctx: AppContext, sim: SimulatedRancher) -> AppContext:
    """Stage: team-a and team-b of the test cluster; Prod: team-a and team-b of the other cluster."""
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name="sim", actor=ADMIN,
                       connection=sites.make_connection(sim.url, sim.token, ca_bundle=sim.ca_pem))
        for name in ("Stage", "Prod"):
            environments.add_environment(session, name=name, actor=ADMIN)
    for name, cluster, namespace, env in (("a-stage", CLUSTER, NS, "Stage"), ("b-stage", CLUSTER, "team-b", "Stage"),
                                          ("a-prod", OTHER_CLUSTER, NS, "Prod"),
                                          ("b-prod", OTHER_CLUSTER, "team-b", "Prod")):
        with ctx.session() as session:
            placement = instances.check_placement(sites.get_site(session, "sim"), ctx.cipher, cluster, namespace)
            instances.add_instance(session, name=name, site="sim", environment=env, placement=placement, actor=ADMIN)
    return ctx


class Running:
    """A collector in a thread of this process."""

    def __init__(self, ctx: AppContext) -> None:
        self.collector = Collector(ctx)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.collector.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()


def all_fresh(ctx: AppContext) -> bool:
    with ctx.session() as session:
        found = freshness(session, {(1, CLUSTER), (1, OTHER_CLUSTER)}, WATCH_KINDS)
    return all(f.fresh for f in found.values())


@pytest.fixture
def collecting(stage: AppContext) -> Iterator[Running]:
    """A collector that has listed everything and is watching."""
    running = Running(stage)
    wait_for(lambda: all_fresh(stage), what="the collector lists and watches every cluster")
    yield running
    running.end()


def stored_image(ctx: AppContext, cluster: str, name: str, namespace: str = NS) -> str | None:
    with ctx.session() as session:
        payload = session.scalar(select(LiveWorkload.payload).where(
            LiveWorkload.cluster_id == cluster, LiveWorkload.kind == "Deployment", LiveWorkload.namespace == namespace,
            LiveWorkload.name == name))
    return None if payload is None else str(payload["spec"]["template"]["spec"]["containers"][0]["image"])


def requests_to_rancher(sim: SimulatedRancher) -> tuple[int, int]:
    """(lists, gets) the simulator has answered, from /_simulator/stats."""
    counts = sim.stats()["requests"]
    return counts["list"], counts["get"]


# --- the collector ----------------------------------------------------------------------------------------------------


@pytest.mark.kubectl
def test_a_kubectl_set_image_appears_in_the_stored_inventory_within_a_second(
        stage: AppContext, collecting: Running, sim_kubectl: Kubectl) -> None:
    assert stored_image(stage, CLUSTER, "svc-1") == "nginx:1.27.1"
    ok(sim_kubectl("set", "image", "deployment/svc-1", "app=nginx:1.28.2", "-n", NS))
    wait_for(lambda: stored_image(stage, CLUSTER, "svc-1") == "nginx:1.28.2", timeout=1.0,
             what="the new image in the stored inventory")
    # And the digests its new pods run follow once the rollout is done.
    with stage.session() as session:
        inventory = reading.list_services(session, stage.cipher, "Stage")
    assert inventory.source == "watch"


def test_views_read_every_rewrite_of_the_stored_inventory(stage: AppContext, collecting: Running,
                                                         sim_kubectl: Kubectl, sim: SimulatedRancher) -> None:
    """Readers keep parsed rows between views (a row is decoded once per write): a change, a new workload and a
    removed one each show in the next view."""
    def stage_images() -> dict[str, dict[str, str]]:
        with stage.session() as session:
            found = reading.list_services(session, stage.cipher, "Stage")
        assert found.source == "watch"
        return {s.name: s.images for s in found.services if s.instance.namespace == NS}

    assert stage_images()["svc-2"] == {"app": "nginx:1.27.1"}
    ok(sim_kubectl("set", "image", "deployment/svc-2", "app=nginx:1.28.2", "-n", NS))
    wait_for(lambda: stage_images()["svc-2"] == {"app": "nginx:1.28.2"}, what="the change in the next view")
    sim.set_object(CLUSTER, {**deployment("added-later"), "apiVersion": "apps/v1"})
    wait_for(lambda: "added-later" in stage_images(), what="a new workload in the next view")
    sim.delete_object(CLUSTER, "Deployment", NS, "svc-3")
    wait_for(lambda: "svc-3" not in stage_images(), what="a removed workload gone from the next view")


def test_every_workload_kind_and_what_pods_run_are_stored(stage: AppContext, collecting: Running,
                                                         sim: SimulatedRancher) -> None:
    with stage.session() as session:
        rows = session.execute(select(LiveWorkload.kind, LiveWorkload.name, LiveWorkload.running)
                               .where(LiveWorkload.cluster_id == CLUSTER, LiveWorkload.namespace == NS)).all()
    kinds = {kind for kind, _, _ in rows}
    assert kinds == {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}
    web = next(running for kind, name, running in rows if name == "web")
    assert web["pods"] == 3 and set(web["digests"]) == {"app", "sidecar"}
    digest = sim.repush_image("registry.example.com:5000/team/web:1.4.2")
    wait_for(lambda: digest in (stored_running(stage, "web")["digests"]["app"]), what="the re-pushed digest")


def stored_running(ctx: AppContext, name: str) -> dict[str, Any]:
    with ctx.session() as session:
        return dict(session.scalar(select(LiveWorkload.running).where(
            LiveWorkload.cluster_id == CLUSTER, LiveWorkload.namespace == NS, LiveWorkload.name == name)) or {})


def test_410_gone_relists_and_loses_nothing(stage: AppContext, collecting: Running, sim: SimulatedRancher) -> None:
    # The cluster's agent disconnects: the open watches are cut and every reconnect is refused for now.
    sim.set_cluster_state(CLUSTER, "unavailable")
    sim.drop_watches()
    wait_for(lambda: not all_fresh(stage), what="the watches report reconnecting")
    with stage.session() as session:
        (reason,) = {f.reason for f in freshness(session, {(1, CLUSTER)}, WATCH_KINDS).values()}
    assert "is reconnecting" in reason
    # Meanwhile: one image changes, one workload is deleted, one added; then history is compacted.
    changed = sim.get_object(CLUSTER, "Deployment", NS, "svc-2")
    assert changed is not None
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.29.0"
    sim.set_object(CLUSTER, changed)
    sim.delete_object(CLUSTER, "Deployment", NS, "svc-3")
    sim.set_object(CLUSTER, {**deployment("late"), "apiVersion": "apps/v1"})
    sim.compact()
    sim.set_cluster_state(CLUSTER, "active")
    # The watch resumes from a compacted version: 410, a fresh list, and the stored inventory is whole again.
    wait_for(lambda: all_fresh(stage), what="the watches are healthy again")
    wait_for(lambda: stored_image(stage, CLUSTER, "late") == "nginx:1.27.1", what="the added workload")
    assert stored_image(stage, CLUSTER, "svc-2") == "nginx:1.29.0"
    assert stored_image(stage, CLUSTER, "svc-3") is None
    with stage.session() as session:
        deployments = session.get(LiveWatch, (1, CLUSTER, "Deployment"))
        assert deployments is not None and deployments.relists >= 1 and deployments.reconnects >= 1
        names = set(session.scalars(select(LiveWorkload.name).where(
            LiveWorkload.cluster_id == CLUSTER, LiveWorkload.kind == "Deployment", LiveWorkload.namespace == NS)))
    listed = {d["metadata"]["name"] for d in sim.cluster(CLUSTER).store.list_objects("deployments", NS)}
    assert names == listed


def test_one_collector_leads_and_a_stand_by_takes_over_when_it_is_killed(
        stage: AppContext, sim: SimulatedRancher, tmp_path: Path) -> None:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": stage.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ",".join(stage.settings.secret_keys), "RANCHERSYNC_USER": "collector"}
    alive = [tmp_path / f"alive-{i}" for i in range(2)]  # what the Deployment's probes look at
    processes = [subprocess.Popen([sys.executable, "-m", "ranchersync", "collect", "--alive-file", str(path)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for path in alive]
    try:
        def holder() -> str:
            with stage.session() as session:
                row = lease.current(session)
                return row.holder if row is not None and row.heartbeat_at is not None else ""

        first = wait_for(holder, timeout=30, what="a collector takes the lease")
        wait_for(lambda: all_fresh(stage), timeout=30, what="the first collector watches")
        leader = next(p for p in processes if f":{p.pid}:" in first)
        # both loops turn, the stand-by's too: a liveness probe on the file would restart neither (the stand-by may
        # still be starting on a loaded machine: its first touch is awaited, then a second one)
        wait_for(lambda: all(path.exists() for path in alive), timeout=30, what="both collectors start their loops")
        touched = {path: path.stat().st_mtime for path in alive}
        wait_for(lambda: all(path.stat().st_mtime > touched[path] for path in alive),
                 what="the leader and the stand-by touch their alive files")
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        second = wait_for(lambda: holder() not in ("", first) and holder(), timeout=lease.LEASE_SECONDS + 10,
                          what="the stand-by takes the lease over")
        assert f":{next(p for p in processes if p is not leader).pid}:" in second
        wait_for(lambda: all_fresh(stage), timeout=20, what="the stand-by watches")
        sim.set_object(CLUSTER, {**deployment("after-takeover"), "apiVersion": "apps/v1"})
        wait_for(lambda: stored_image(stage, CLUSTER, "after-takeover") == "nginx:1.27.1",
                 what="changes are stored again")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(15)


def test_the_exporter_reports_inventory_age_reconnects_and_relists(stage: AppContext, collecting: Running,
                                                                   sim: SimulatedRancher) -> None:
    from ranchersync.ops.exporter import DatabaseCollector
    from tests.core.test_exporter import scrape

    sim.drop_watches()
    wait_for(lambda: scrape(DatabaseCollector(stage.engine, cache_seconds=0)).get(
        ("ranchersync_inventory_watch_reconnects_total", (("cluster", CLUSTER), ("site", "sim"))), 0) >= 1,
        what="the reconnects are counted")
    samples = scrape(DatabaseCollector(stage.engine, cache_seconds=0))
    assert ("ranchersync_inventory_relists_total", (("cluster", CLUSTER), ("site", "sim"))) in samples
    age = samples[("ranchersync_inventory_age_seconds", (("cluster", OTHER_CLUSTER), ("site", "sim")))]
    assert 0 <= age < 5  # its watches stream: as current as the collector's heartbeat


def test_collect_once_stores_every_cluster(stage: AppContext, sim: SimulatedRancher) -> None:
    assert Collector(stage).once() > 0
    assert stored_image(stage, OTHER_CLUSTER, "web", "team-b") == "nginx:1.27.1"


# --- readers ------------------------------------------------------------------------------------------------------


def test_views_make_no_rancher_request_while_fresh_and_fall_back_when_the_collector_stops(
        stage: AppContext, sim: SimulatedRancher) -> None:
    running = Running(stage)
    wait_for(lambda: all_fresh(stage), what="the collector lists and watches every cluster")
    before = requests_to_rancher(sim)
    with stage.session() as session:
        services = reading.list_services(session, stage.cipher, "Stage")
        comparison = compare_environments(session, stage.cipher, ["Stage", "Prod"], digests=True)
    assert requests_to_rancher(sim) == before  # not one list or get reached Rancher
    assert services.source == "watch" and services.observed_at is not None
    assert {service_payload(s)["source"] for s in services.services} == {"watch"}
    payload = comparison_payload(comparison)
    assert payload["source"] == "watch" and payload["observedAt"]
    web = next(r for r in payload["services"] if r["name"] == "web")
    assert web["environments"]["Stage"]["digests"] is not None

    running.end()
    wait_for(lambda: not all_fresh(stage), timeout=10, what="the stored inventory goes stale")
    with stage.session() as session:
        live = reading.list_services(session, stage.cipher, "Stage")
    assert requests_to_rancher(sim)[0] > before[0]
    assert live.source == "live" and any("the collector is not running" in s for s in live.stale)
    # Both reads show the same services.
    assert [(s.kind, s.name, s.images) for s in live.services] == \
        [(s.kind, s.name, s.images) for s in services.services]


def test_without_a_collector_views_read_live(stage: AppContext, sim: SimulatedRancher) -> None:
    before = requests_to_rancher(sim)
    with stage.session() as session:
        found = reading.list_services(session, stage.cipher, "Stage")
    assert found.source == "live" and found.stale == () and requests_to_rancher(sim)[0] > before[0]
