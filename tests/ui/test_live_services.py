"""The Services screen and the Display with the live inventory: "live" with no Rancher request while the collector's
stored inventory is fresh, "as of … ago — why" when a watch is down, and a change the collector stores shown at the
next run without a Refresh (the fragment that polls the change counter reruns the page)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync.collector import lease, writer
from ranchersync.collector.clusterstate import ClusterState
from ranchersync.collector.run import WATCH_KINDS
from ranchersync.collector.watcher import WatchStatus
from ranchersync.context import AppContext
from ranchersync.models import utcnow
from tests.ui.conftest import OpenApp, Seed, assert_ok
from tests.ui.fakes import FakeRancher
from ui.services.services_view import freshness_text
from ui.shell import live_refresh, queries

PAGE = "pages/4_Services.py"
DEV = "c-m-dev01"
INSTANCES = (("shop-dev", "rancher-eu", "Dev", DEV, "shop-dev"),)


def deployment(name: str, version: str, namespace: str = "shop-dev") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": 1, "uid": f"uid-{name}",
                         "resourceVersion": version.replace(".", "")},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": name, "image": f"reg.example.com/{name}:{version}"}]}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                       "availableReplicas": 1}}


def store(ctx: AppContext, site_id: int, deployments: Sequence[Mapping[str, Any]], *,
          down: str | None = None) -> None:
    """What a collector holding the lease writes: every kind's watch status and the workloads that changed."""
    with ctx.session() as session:
        assert lease.try_acquire(session, "ui-test-collector")
        state = ClusterState(site_id, DEV)
        state.load(writer.stored_workloads(session, site_id, DEV))
        for kind in WATCH_KINDS:
            state.replace_kind(kind, deployments if kind == "Deployment" else [])
            healthy = kind != down
            writer.write_status(session, site_id, DEV, kind, WatchStatus(
                healthy=healthy, state="watching" if healthy else "reconnecting", resource_version="7",
                since=utcnow(), observed_at=utcnow() - dt.timedelta(seconds=0 if healthy else 12)))
        writer.count_changes(session, writer.write_changes(session, state, state.take_changes()))
    queries.inventory_changes.clear()  # its 1 s cache: the next poll, not the next second


def tags(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Tag"])


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.main.caption]


def test_with_a_fresh_collector_the_page_says_live_and_reads_nothing_from_rancher(
        open_app: OpenApp, seed: Seed, ctx: AppContext, fake_rancher: FakeRancher) -> None:
    ids = seed(instance_specs=INSTANCES)
    store(ctx, ids["rancher-eu"], [deployment("web", "1.5.0")])

    at = open_app(PAGE)

    assert_ok(at)
    assert tags(at) == ["1.5.0"]
    assert ":green[:material/sensors:] live" in captions(at)
    assert not [call for call in fake_rancher.calls if call[0].startswith("list")], "no Rancher read per view"


def test_a_change_the_collector_stores_shows_at_the_next_run_without_refresh(
        open_app: OpenApp, seed: Seed, ctx: AppContext) -> None:
    ids = seed(instance_specs=INSTANCES)
    store(ctx, ids["rancher-eu"], [deployment("web", "1.5.0")])
    at = open_app(PAGE)
    assert tags(at) == ["1.5.0"]

    store(ctx, ids["rancher-eu"], [deployment("web", "1.6.0")])  # a rollout: the counter moves
    at.run()

    assert tags(at) == ["1.6.0"], "the counter is part of the services cache key"


def test_a_reconnecting_watch_says_how_old_the_data_is_and_why(
        open_app: OpenApp, seed: Seed, ctx: AppContext, fake_rancher: FakeRancher) -> None:
    ids = seed(instance_specs=INSTANCES)
    store(ctx, ids["rancher-eu"], [deployment("web", "1.5.0")], down="Deployment")

    at = open_app(PAGE)

    assert_ok(at)
    stale = [c for c in captions(at) if "sensors_off" in c]
    assert stale and "as of now — " in stale[0], "read from Rancher just now, instead of the stored inventory"
    assert "dev01\\: the watch of Deployments is reconnecting" in stale[0]
    assert [call for call in fake_rancher.calls if call[0].startswith("list")], "the cluster is read live instead"


def test_the_fragment_reruns_the_page_only_when_the_counter_moved(app_env: AppContext) -> None:
    def script() -> None:
        import streamlit as st

        from ui.shell import live_refresh

        st.session_state["runs"] = st.session_state.get("runs", 0) + 1
        if st.session_state["runs"] > 1:  # drawn again: the page notes the counter it now shows
            live_refresh.remember_shown()
        live_refresh.follow_inventory()

    at = AppTest.from_function(script, default_timeout=30)
    at.session_state["inventory_changes_seen"] = 41  # drawn before the collector stored change 42…
    at.run()
    assert not at.exception and at.session_state["runs"] == 2, "a moved counter reruns the page once"
    at.run()
    assert at.session_state["runs"] == 3, "an unmoved counter reruns nothing"


@pytest.mark.parametrize(("seen", "now", "rerun"), [(None, 3, False), (3, 3, False), (3, 4, True), (0, 0, False)])
def test_should_rerun(seen: int | None, now: int, rerun: bool) -> None:
    assert live_refresh.should_rerun(seen, now) is rerun


def test_the_freshness_words() -> None:
    now = dt.datetime(2025, 5, 1, 12, 0, 12, tzinfo=dt.UTC)
    before = now - dt.timedelta(seconds=12)
    assert freshness_text("watch", before, (), now, now, dt.UTC) == ":green[:material/sensors:] live"
    assert freshness_text("live", before, ("prod-east: the watch of deployments is reconnecting",), now, now,
                          dt.UTC) == (":orange[:material/sensors_off:] as of 12 s ago — prod-east\\: the watch of "
                                      "deployments is reconnecting")
    assert freshness_text("live", None, (), before, now, dt.UTC) == ":material/schedule: Data as of 12:00:00"


def test_the_display_follows_the_inventory_too(open_app: OpenApp, seed: Seed, ctx: AppContext) -> None:
    ids = seed(instance_specs=INSTANCES)
    store(ctx, ids["rancher-eu"], [deployment("web", "1.5.0"), deployment("api", "1.0.0")])
    at = open_app("pages/6_Display.py")
    assert_ok(at)
    assert at.session_state["inventory_changes_seen"] == queries.inventory_changes() > 0
    assert "2 services" in "\n".join(m.value for m in at.main.markdown)
