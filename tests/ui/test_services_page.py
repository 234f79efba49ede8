"""The Services screen: one environment's table with its filters and states, the comparison and its flags, and the
service counts of the Overview. Rancher is the fake client here (tests/ui/test_sync_dialog.py uses the simulator);
the tables' rules are also tested as plain functions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue.rules import next_in_pipeline
from ranchersync.context import AppContext
from ranchersync.inventory.compare import STATUS_SEVERITY, compare, drift_counts
from ranchersync.inventory.reading import EnvironmentRef, InstanceRef, Inventory, Service
from ranchersync.kernel.errors import RancherNotFound
from ranchersync.rancher import Workload, workload_status
from tests.builders import ADMIN
from tests.ui.conftest import OpenApp, Seed, assert_no_token, assert_ok
from tests.ui.fakes import GOOD_TOKEN, FakeRancher, shown
from ui.services import services_tables as tables
from ui.shell import comparison_table as comparison
from ui.shell import dataframes
from ui.shell import format as fmt

PAGE = "pages/4_Services.py"
DEV, PROD = "c-m-dev01", "c-m-prd01"
INSTANCES = (
    ("shop-dev", "rancher-eu", "Dev", DEV, "shop-dev"),
    ("shop-qa", "rancher-eu", "Dev", DEV, "shop-qa"),
    ("shop-prod", "rancher-eu", "Prod", PROD, "shop-prod"),
)
STAGE = ("shop-stage", "rancher-eu", "Stage", PROD, "shop-stage")


def workload(name: str, version: str, *, kind: str = "Deployment", replicas: int = 2, available: int | None = None,
             namespace: str = "ns") -> Workload:
    """A rolled-out workload (or, with `available`, one whose pods are not all available)."""
    ready = replicas if available is None else available
    return Workload.from_k8s({
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "generation": 1, "resourceVersion": "1"},
        "spec": {"replicas": replicas,
                 "template": {"spec": {"containers": [{"name": name, "image": f"reg.example.com/{name}:{version}"}]}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready},
    })


@pytest.fixture
def world(fake_rancher: FakeRancher) -> FakeRancher:
    """Dev: shop-dev and shop-qa disagree on api, api is down in shop-dev; Prod lags and has no worker."""
    fake_rancher.workloads = {
        (DEV, "shop-dev"): [workload("web", "1.5.0"), workload("api", "1.5.0", available=0),
                            workload("worker", "2.0.0", kind="StatefulSet")],
        (DEV, "shop-qa"): [workload("web", "1.5.0"), workload("api", "1.4.0")],
        (PROD, "shop-prod"): [workload("web", "1.4.0"), workload("api", "1.4.0")],
    }
    return fake_rancher


def listings(world: FakeRancher) -> int:
    return sum(method == "list_workloads" for method, _ in world.calls)


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def compare_view(at: AppTest, *env_ids: int) -> AppTest:
    at.segmented_control(key="svc_view").set_value("compare").run()
    if env_ids:
        at.multiselect(key="cmp_envs").set_value(list(env_ids)).run()
    assert_ok(at)
    return at


def select(at: AppTest, index: int, ids: list[str]) -> AppTest:
    """Select rows by their stable ids, as a click would (the dataframe reports positions)."""
    element = at.dataframe[index]
    key = element.proto.id.rsplit("-", 1)[-1]
    positions = [list(element.value.index).index(i) for i in ids]
    at.session_state[key] = {"selection": {"rows": positions, "columns": [], "cells": []}}
    return at.run()


def test_the_services_of_the_selected_environment(open_app: OpenApp, seed: Seed, world: FakeRancher) -> None:
    seed(instance_specs=INSTANCES)

    at = open_app(PAGE)

    rows = table(at)
    assert list(zip(rows["Service"], rows["App instance"], rows["Status"], rows["Tag"], strict=True)) == [
        ("api", "shop-dev", "● failed", "1.5.0"), ("api", "shop-qa", "● running", "1.4.0"),
        ("web", "shop-dev", "● running", "1.5.0"), ("web", "shop-qa", "● running", "1.5.0"),
        ("worker", "shop-dev", "● running", "2.0.0"),
    ]
    assert list(rows["Replicas"])[:2] == ["0/2", "2/2"] and set(rows["Last synced"]) == {"never"}
    assert rows.index[0].endswith("/Deployment/api"), "rows are indexed by the service's stable id"
    captions = [c.value for c in at.main.caption]
    assert any(c.startswith(":material/schedule: Data as of ") for c in captions)
    assert "5 services" in captions
    badges = "\n".join(m.value for m in at.main.markdown)
    assert ":red-badge[1 failed]" in badges and ":green-badge[4 running]" in badges
    assert "color: #E5484D" in at.dataframe[0].proto.arrow_data.styler.styles, "the failed dot is red"
    assert_no_token(at, GOOD_TOKEN)


def test_filters_and_search_never_read_rancher_again(open_app: OpenApp, seed: Seed, world: FakeRancher) -> None:
    ids = seed(instance_specs=INSTANCES)
    at = open_app(PAGE)
    read = listings(world)

    at.text_input(key=f"svc_search_{ids['Dev']}").input("API").run()
    assert list(table(at)["Service"]) == ["api", "api"]
    at.text_input(key=f"svc_search_{ids['Dev']}").input("web:1.5").run()  # the image, not only the name
    assert list(table(at)["App instance"]) == ["shop-dev", "shop-qa"]
    at.text_input(key=f"svc_search_{ids['Dev']}").input("").run()
    at.multiselect(key=f"svc_status_{ids['Dev']}").set_value(["failed"]).run()
    assert list(table(at)["Service"]) == ["api"]
    at.multiselect(key=f"svc_status_{ids['Dev']}").set_value([]).run()
    at.multiselect(key=f"svc_kind_{ids['Dev']}").set_value(["StatefulSet"]).run()
    assert list(table(at)["Service"]) == ["worker"]
    at.multiselect(key=f"svc_kind_{ids['Dev']}").set_value([]).run()
    at.multiselect(key=f"svc_instance_{ids['Dev']}").set_value(["shop-qa"]).run()
    assert list(table(at)["Service"]) == ["api", "web"]
    assert "2 of 5 services" in [c.value for c in at.main.caption]
    at.text_input(key=f"svc_search_{ids['Dev']}").input("nothing-like-this").run()
    assert "No service matches these filters." in [i.value for i in at.info]

    assert_ok(at)
    assert listings(world) == read, "filtering works on the cached inventory"

    at.button(key="svc_refresh").click().run()
    assert listings(world) > read, "the refresh button reads Rancher again"



def test_the_table_built_from_a_read_is_kept_until_a_sync_forgets_the_reads(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    from ui.shell import queries

    seed(instance_specs=INSTANCES)
    at = open_app(PAGE)
    assert list(table(at)["Tag"])[2:4] == ["1.5.0", "1.5.0"]
    world.workloads[(DEV, "shop-dev")][0] = workload("web", "1.6.0")  # changed in Rancher, not seen yet
    at.run()
    assert list(table(at)["Tag"])[2:4] == ["1.5.0", "1.5.0"], "a rerun draws the table built from the cached read"

    queries.clear_services()  # what a finished sync does
    at.run()
    rows = table(at)
    assert list(zip(rows["Service"], rows["App instance"], rows["Tag"], strict=True))[2:4] == [
        ("web", "shop-dev", "1.6.0"), ("web", "shop-qa", "1.5.0")], "the next run shows the versions as they are now"
    assert_ok(at)

def test_a_failing_app_instance_is_named_and_the_rest_still_shows(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    seed(instance_specs=INSTANCES)
    world.broken[(DEV, "shop-qa")] = RancherNotFound('namespaces "shop-qa" not found (HTTP 404 on GET /k8s/…)')

    at = open_app(PAGE)

    warning = at.warning[0].value
    assert "1 app instance could not be read" in warning
    assert "**shop-qa**" in warning and 'namespaces "shop-qa" not found' in warning
    assert "Not found in Rancher" in warning, "the error's title"
    assert "It may have been removed or renamed in Rancher meanwhile." in warning, "the error's hint"
    assert set(table(at)["App instance"]) == {"shop-dev"}


def test_an_environment_without_app_instances_or_services(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    ids = seed(instance_specs=(*INSTANCES, STAGE))
    at = open_app(PAGE)

    at.segmented_control(key="svc_env").set_value(ids["Stage"]).run()
    assert "No service runs in Stage's readable app instances." in [i.value for i in at.info]

    at.segmented_control(key="svc_env").set_value(ids["Dev"]).run()
    assert len(table(at)) == 5
    with_none = open_app(PAGE, state={"selected_environment_id": ids["Stage"]})
    assert not with_none.dataframe


def test_a_selection_maps_to_services_and_ends_with_the_rows_it_was_made_on(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    ids = seed(instance_specs=INSTANCES)
    at = open_app(PAGE)
    frame = table(at)
    assert at.button(key="svc_review").disabled

    at = select(at, 0, [frame.index[0], frame.index[1], frame.index[4]])  # api twice (two instances), worker

    assert "**Sync 2 services** :small[(api, worker)]" in [m.value for m in at.main.markdown]
    assert not at.button(key="svc_review").disabled
    assert at.selectbox(key=f"svc_target_{ids['Dev']}").value == ids["Stage"], "the next environment by default"

    at.text_input(key=f"svc_search_{ids['Dev']}").input("web").run()
    assert at.button(key="svc_review").disabled, "filtered rows are other rows: the selection starts again"


def test_the_comparison_flags_missing_inconsistent_and_drift(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    ids = seed(instance_specs=INSTANCES)
    at = compare_view(open_app(PAGE), ids["Dev"], ids["Prod"])

    rows = table(at)
    assert list(rows.columns) == ["Service", "Kind", "Dev", "Prod"]
    assert rows.loc["Deployment/api", "Dev"] == "⚠ 1.5.0 | 1.4.0 · failed"
    assert rows.loc["StatefulSet/worker", "Prod"] == comparison.MISSING
    assert rows.loc["Deployment/web", "Prod"] == "1.4.0"
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    assert comparison.CELL_CSS[comparison.DRIFT].split(": ")[1] in styles
    assert comparison.CELL_CSS[comparison.INCONSISTENT].split(": ")[1] in styles
    assert "3 of 3 services differ between Dev, Prod." in [c.value for c in at.main.caption]

    world.workloads[(PROD, "shop-prod")] = [workload("web", "1.5.0"), workload("api", "1.4.0")]
    at.button(key="cmp_refresh").click().run()
    at.toggle(key="cmp_only").set_value(True).run()
    assert list(table(at).index) == ["Deployment/api", "StatefulSet/worker"], "web is equal now"
    at.text_input(key="cmp_search").input("worker").run()
    assert list(table(at).index) == ["StatefulSet/worker"]
    assert_no_token(at, GOOD_TOKEN)


def test_the_comparison_shows_an_unreadable_instance_and_needs_two_environments(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    ids = seed(instance_specs=INSTANCES)
    world.broken[(PROD, "shop-prod")] = RancherNotFound('namespaces "shop-prod" not found')
    at = compare_view(open_app(PAGE), ids["Dev"], ids["Prod"])

    assert set(table(at)["Prod"]) == {comparison.UNREADABLE}
    assert "**shop-prod**" in at.warning[0].value

    at.multiselect(key="cmp_envs").set_value([ids["Prod"]]).run()
    assert "Pick at least two environments to compare." in [i.value for i in at.info]
    assert_ok(at)


def test_the_overview_counts_services_and_survives_an_unreachable_site(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    seed(instance_specs=(*INSTANCES, STAGE))
    world.workloads[(PROD, "shop-stage")] = [workload("web", "1.5.0"), workload("api", "1.4.0")]

    at = open_app()

    assert [m.value for m in at.main.metric if m.label == "Services"] == ["5", "2", "2"]
    captions = [c.value for c in at.main.caption]
    assert ":red[1 unhealthy]" in captions
    assert ":orange[2 differ from Dev]" in captions, "api runs another version, worker is missing"
    assert ":orange[1 differ from Stage]" in captions, "web"

    world.failure = "unreachable"
    st.cache_data.clear()
    again = open_app()
    assert [m.value for m in again.main.metric if m.label == "Services"] == ["0", "0", "0"]
    captions = [c.value for c in again.main.caption]
    assert ":orange[:material/cloud_off: 2 app instances unreadable]" in captions


# ---- the tables' rules, as plain functions -------------------------------------------------------------------


def _service(env_id: int, instance: str, name: str, version: str, instance_id: int = 1) -> Service:
    ref = InstanceRef(instance_id, instance, env_id, 1, "eu", True, "c-1", "dev-1", instance)
    w = workload(name, version, namespace=instance)
    return Service(ref, w, workload_status(w))


def _inventory(env_id: int, *services: Service) -> Inventory:
    return Inventory(env_id, services, (), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("dev", "stage", "prod", "classes"),
    [
        (["1.1"], ["1.1"], ["1.1"], ["", "", ""]),
        (["1.2"], ["1.1"], ["1.1"], ["", "drift", ""]),
        (["1.2"], [], ["1.1"], ["", "missing", ""]),  # Prod is compared with nothing before it: no drift
        (["1.2"], ["1.1", "1.0"], ["1.1"], ["", "inconsistent", "drift"]),  # Stage has no one version
        ([], ["1.1"], ["1.2"], ["missing", "", "drift"]),
    ],
)
def test_cell_classes(dev: list[str], stage: list[str], prod: list[str], classes: list[str]) -> None:
    envs = [EnvironmentRef(i, n, "#000000", i) for i, n in ((1, "Dev"), (2, "Stage"), (3, "Prod"))]
    inventories: dict[int, Any] = {
        env.id: _inventory(env.id, *(_service(env.id, f"{env.name}-{n}", "web", v, 10 * env.id + n)
                                     for n, v in enumerate(versions)))
        for env, versions in zip(envs, (dev, stage, prod), strict=True)
    }
    result = comparison.comparison_table(compare(envs, inventories), inventories)
    assert list(result.classes.loc["Deployment/web"]) == classes
    assert result.differs["Deployment/web"] == (classes != ["", "", ""])


def test_drift_counts_are_pending_promotions() -> None:
    envs = [EnvironmentRef(1, "Dev", "#000000", 0), EnvironmentRef(2, "Prod", "#000000", 1)]
    inventories = {
        1: _inventory(1, _service(1, "d", "web", "2"), _service(1, "d", "api", "1"), _service(1, "d", "new", "1")),
        2: _inventory(2, _service(2, "p", "web", "1", 2), _service(2, "p", "api", "1", 2),
                      _service(2, "p", "old", "1", 2)),
    }
    assert drift_counts(compare(envs, inventories)) == {2: 2}, "web differs, new is missing; old is not pending"


def test_service_keys_and_selection_keys() -> None:
    assert tables.service_keys(["1/Deployment/web", "2/Deployment/web", "StatefulSet/db"]) == [
        ("Deployment", "web"), ("StatefulSet", "db")]
    frame = pd.DataFrame({"a": [1, 2]}, index=["x", "y"])
    assert tables.ids_at(frame, [1, 5]) == ["y"]
    assert dataframes.selection_key("t", frame) != dataframes.selection_key("t", frame.iloc[::-1])
    assert dataframes.selection_key("t", frame) != dataframes.selection_key("t", frame, generation=1)


@pytest.mark.parametrize(
    ("ids", "source", "target"),
    [([1, 2, 3], 1, 2), ([1, 2, 3], 2, 3), ([1, 2, 3], 3, 2), ([1], 1, None), ([1, 2], 9, None)],
)
def test_the_default_target_is_the_next_environment(ids: list[int], source: int, target: int | None) -> None:
    assert next_in_pipeline(ids, source) == target


def test_status_text_and_clock() -> None:
    assert fmt.status_text("failed") == "● failed" and fmt.status_text(None) == ""
    assert set(fmt.STATUS_HEX) == set(fmt.STATUS_BADGE) == set(STATUS_SEVERITY)
    when = dt.datetime(2026, 3, 1, 12, 0, 5, tzinfo=dt.UTC)
    assert fmt.clock(when, fmt.zone("Europe/Paris")) == "13:00:05"


def test_the_digest_switch_reads_pods_and_notes_a_re_pushed_tag(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    ids = seed(instance_specs=INSTANCES)
    at = compare_view(open_app(PAGE), ids["Dev"], ids["Prod"])
    assert not any(method == "list_pods" for method, _ in world.calls), "pods are read only with the switch on"
    at.toggle(key="cmp_digests").set_value(True).run()
    assert_ok(at)
    assert any(method == "list_pods" for method, _ in world.calls)
    assert_no_token(at, GOOD_TOKEN)


def test_digest_notes_and_the_three_digests_of_a_service() -> None:
    from ranchersync.inventory.digests import RunningImages
    from tests.builders import service

    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    stage = service(1, "shop-stage", "search", "reg/search:0.8.4")
    prod = service(2, "shop-prod", "search", "reg/search:0.8.4")
    stage = dataclasses.replace(stage, running=RunningImages((("app", (a,)),), 2))
    prod = dataclasses.replace(prod, running=RunningImages((("app", (a, b)),), 3))
    now = dt.datetime.now(dt.UTC)
    envs = [EnvironmentRef(1, "Stage", "", 0), EnvironmentRef(2, "Prod", "", 1)]
    row = compare(envs, {1: Inventory(1, (stage,), (), now), 2: Inventory(2, (prod,), (), now)}).rows[0]
    assert comparison.row_notes(row) == "same tag, other digest · pods disagree in Prod"
    detail = tables.digest_detail(row)
    prod_row = detail[detail["Environment"] == "Prod"].iloc[0]
    assert prod_row["Running now"] == f"{a}, {b}"
    assert prod_row["Same tag in source"] == a
    assert prod_row["Last promoted"] == "never by this tool"


def _pod_workload(name: str, kind: str, containers: dict[str, str]) -> Workload:
    pod = {"containers": [{"name": n, "image": i} for n, i in containers.items()]}
    spec: dict[str, Any] = {"replicas": 1, "template": {"spec": pod}}
    if kind == "CronJob":
        spec = {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    return Workload.from_k8s({"kind": kind, "metadata": {"name": name, "namespace": "ns", "generation": 1},
                              "spec": spec, "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                                                       "readyReplicas": 1, "availableReplicas": 1}})


def test_a_sidecar_difference_is_marked_and_a_cronjob_cannot_be_selected(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    world.workloads = {
        (DEV, "shop-dev"): [_pod_workload("cache", "StatefulSet", {"redis": "redis:7.2.4",
                                                                   "exporter": "x/exp:v1.62.0"}),
                            _pod_workload("report", "CronJob", {"report": "reg.example.com/report:1.2.0"})],
        (PROD, "shop-prod"): [_pod_workload("cache", "StatefulSet", {"redis": "redis:7.2.4",
                                                                     "exporter": "x/exp:v1.61.0"}),
                              _pod_workload("report", "CronJob", {"report": "reg.example.com/report:1.1.0"})],
    }
    ids = seed(instance_specs=(INSTANCES[0], INSTANCES[2]))
    at = compare_view(open_app(PAGE), ids["Dev"], ids["Prod"])

    rows = table(at)
    assert list(rows.index) == ["StatefulSet/cache"], "the CronJob is not in the table a sync is picked from"
    assert rows.loc["StatefulSet/cache", "Dev"] == "7.2.4"
    assert rows.loc["StatefulSet/cache", "Prod"] == "7.2.4 · ≠ sidecar differs"
    readonly = at.dataframe[1]
    assert readonly.proto.selection_mode == [], "the read-only kinds cannot be selected"
    assert list(readonly.value.index) == ["CronJob/report"] and readonly.value.loc["CronJob/report", "Prod"] == "1.1.0"
    assert comparison.CELL_CSS[comparison.READ_ONLY].split(": ")[1] in readonly.proto.arrow_data.styler.styles
    assert any("Not promoted by this tool" in c.value for c in at.main.caption)

    at = select(at, 0, ["StatefulSet/cache"])
    (detail,) = [e for e in at.expander if "containers" in e.label]
    assert "Prod: sidecar differs" in shown(detail.label)
    frame = at.dataframe[2].value
    assert frame.to_dict("records") == [
        {"Container": "redis", "Role": "primary", "Dev": "redis:7.2.4", "Prod": "redis:7.2.4"},
        {"Container": "exporter", "Role": "sidecar", "Dev": "x/exp:v1.62.0", "Prod": "x/exp:v1.61.0"},
    ]
    assert_ok(at)


def test_a_cronjob_picked_in_one_environment_is_left_out_of_the_sync(
    open_app: OpenApp, seed: Seed, world: FakeRancher
) -> None:
    world.workloads = {(DEV, "shop-dev"): [workload("web", "1.5.0"),
                                           _pod_workload("report", "CronJob", {"report": "reg.example.com/r:1"})]}
    seed(instance_specs=(INSTANCES[0],))
    at = open_app(PAGE)
    frame = table(at)
    at = select(at, 0, list(frame.index))

    assert "**Sync 1 service** :small[(web)]" in [m.value for m in at.main.markdown]
    assert any("left out of the sync: report (CronJob)" in shown(c.value) for c in at.main.caption)
    assert_ok(at)


def test_the_comparison_says_how_a_version_stands_against_the_next_environments_minimum_source_soak(
    open_app: OpenApp, seed: Seed, world: FakeRancher, app_env: AppContext
) -> None:
    from ranchersync.verification import gates

    ids = seed(instance_specs=INSTANCES)
    with app_env.session() as session:
        gates.set_soak(session, ADMIN, "Prod", min_source_soak="1h")
    # Dev's web 1.5.0 completed its rollout 20 minutes ago (NewReplicaSetAvailable); api has no known start there.
    done = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for namespace in ("shop-dev", "shop-qa"):
        world.workloads[(DEV, namespace)] = [rolled_out("web", "1.5.0", done)] + [
            w for w in world.workloads[(DEV, namespace)] if w.name != "web"]
    at = compare_view(open_app(PAGE), ids["Dev"], ids["Prod"])

    rows = table(at)
    assert rows.loc["Deployment/web", "Dev"] == "1.5.0 · ⏳ ready to promote in 40 min"
    assert rows.loc["Deployment/api", "Dev"].endswith(" · start unknown")
    assert rows.loc["Deployment/web", "Prod"] == "1.4.0", "nothing after Prod asks for a minimum"


def rolled_out(name: str, version: str, at: str) -> Workload:
    """A Deployment whose rollout completed at `at` (its Progressing condition: NewReplicaSetAvailable)."""
    return Workload.from_k8s({
        "kind": "Deployment", "metadata": {"name": name, "namespace": "ns", "generation": 1, "resourceVersion": "1"},
        "spec": {"replicas": 2,
                 "template": {"spec": {"containers": [{"name": name, "image": f"reg.example.com/{name}:{version}"}]}}},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                   "availableReplicas": 2, "conditions": [
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "lastUpdateTime": at, "lastTransitionTime": at}]},
    })
