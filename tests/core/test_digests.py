"""What workloads really run: the primary container's tag, the digests pods report, a re-pushed tag, pods that
disagree, and workloads changed outside the tool since our last sync."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from ranchersync.access.identity import Actor
from ranchersync.catalogue.environments import get_environment
from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.inventory import compare
from ranchersync.inventory import reading as inventory
from ranchersync.inventory.digests import digest_of, running_images
from ranchersync.rancher import Pod, Workload
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, apply_plan, get_operation, new_request_id, plan_environments
from tests.builders import ADMIN, service

EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(("image_id", "digest"), [
    ("docker.io/library/nginx@sha256:" + "a" * 64, A),
    ("docker-pullable://registry.example.com:5000/x@" + B, B),
    (A, A),  # a bare image id (some runtimes)
    ("", ""),
    ("nginx:1.27", ""),
])
def test_the_digest_of_an_image_id(image_id: str, digest: str) -> None:
    assert digest_of(image_id) == digest


def test_image_tag_is_the_primary_container_and_every_container_stays_listed() -> None:
    two = service(1, "shop", "catalog", containers={"catalog": "reg/catalog:2.4.0", "envoy": "envoy:v1.30.1"})
    assert two.image_tag == "2.4.0"
    assert two.sidecar_tags == {"envoy": "v1.30.1"}
    named = service(1, "shop", "catalog", containers={"envoy": "envoy:v1.30.1", "catalog": "reg/catalog:2.4.0"})
    annotated = Workload.from_k8s({
        "kind": "Deployment", "metadata": {"name": "catalog", "namespace": "ns"},
        "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "catalog"}},
                              "spec": {"containers": [{"name": "envoy", "image": "envoy:v1.30.1"},
                                                      {"name": "catalog", "image": "reg/catalog:2.4.0"}]}}}})
    assert named.image_tag == "v1.30.1"  # no annotation: the first container
    assert inventory.Service(named.instance, annotated, "running").image_tag == "2.4.0"
    # The comparison still looks at every container: a sidecar-only difference differs.
    other = service(2, "shop", "catalog", containers={"catalog": "reg/catalog:2.4.0", "envoy": "envoy:v1.31.0"})
    row = compare.compare([inventory.EnvironmentRef(1, "A", "", 0), inventory.EnvironmentRef(2, "B", "", 1)], {
        1: inventory.Inventory(1, (two,), (), dt.datetime.now(dt.UTC)),
        2: inventory.Inventory(2, (other,), (), dt.datetime.now(dt.UTC)),
    }).rows[0]
    assert row.differs


def pod(name: str, labels: dict[str, str], digest: str, namespace: str = "ns") -> Pod:
    return Pod.from_k8s({"metadata": {"name": name, "namespace": namespace, "labels": labels},
                         "status": {"containerStatuses": [{"name": "app", "image": "x", "imageID": f"x@{digest}"}]}})


def test_running_images_come_from_the_pods_the_selector_selects() -> None:
    web = service(1, "shop", "web", "reg/web:1.0", labels={"app": "web"})
    workload = dataclasses.replace(web.workload, selector={"app": "web"})
    pods = [pod("web-1", {"app": "web"}, A), pod("web-2", {"app": "web"}, B), pod("api-1", {"app": "api"}, B),
            pod("web-x", {"app": "web"}, B, namespace="other")]
    running = running_images(workload, pods[:1] + pods[2:])
    assert (running.by_container, running.pods, running.mixed) == ({"app": (A,)}, 1, False)
    mixed = running_images(workload, pods)
    assert mixed.by_container == {"app": (A, B)} and mixed.mixed and mixed.digest("app") is None


def compare_demo(demo: AppContext, digests: bool) -> dict[str, compare.ComparisonRow]:
    with demo.session() as session:
        found = compare.compare_environments(session, demo.cipher, ["Stage", "Prod"], digests=digests)
    return {row.name: row for row in found.rows}


def test_a_re_pushed_tag_and_pods_that_disagree_show_with_digests_on(demo: AppContext) -> None:
    rows = compare_demo(demo, digests=True)
    search, checkout, frontend = rows["search"], rows["checkout"], rows["frontend"]
    assert not search.differs and search.digest_mismatch  # 0.8.4 on both, re-pushed before prod pulled it
    assert checkout.mixed_digests_in == ("Prod",)  # one prod-us-west pod pulled the re-pushed 4.0.2
    assert not frontend.digest_mismatch and not frontend.mixed_digests_in
    prod = search.cells[1]
    assert prod.digests is not None and len(dict(prod.digests)["search"]) == 1
    off = compare_demo(demo, digests=False)
    assert not off["search"].digest_mismatch and not off["checkout"].mixed_digests_in
    assert off["search"].cells[1].digests is None


def test_a_workload_changed_after_our_sync_is_flagged_with_what_we_set(demo: AppContext,
                                                                       rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        the_plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                     targets={("Deployment", "frontend"): "all"})
    apply_plan(demo, the_plan, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
               options=SyncOptions(timeout_seconds=20, poll_seconds=0.2))
    with demo.session() as session:
        clean = inventory.list_services(session, demo.cipher, "Prod")
    assert compare.changed_outside(clean) == []
    # Someone runs `kubectl set image` on prod-us-west: the annotation with our operation id stays.
    obj = rancher_us.get_object(WEST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/frontend:3.9.0-hotfix"
    rancher_us.set_object(WEST, obj)
    with demo.session() as session:
        found = inventory.list_services(session, demo.cipher, "Prod")
        prod = get_environment(session, "Prod").id
    changed = compare.changed_outside(found)
    assert [s.instance.name for s in changed] == ["shop-west"]
    change = changed[0].outside
    assert change is not None and change.noticed_at == found.fetched_at
    assert change.containers == (("web", "registry.example.com:5000/shop/frontend:3.8.1",
                                  "registry.example.com:5000/shop/frontend:3.9.0-hotfix"),)
    assert found.environment_id == prod


def test_cli_services_compare_with_digests(demo: AppContext, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", demo.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ",".join(demo.settings.secret_keys))
    assert main(["services", "compare", "--env", "Stage", "--env", "Prod", "--digests"]) == 0
    table = capsys.readouterr().out
    search = next(line for line in table.splitlines() if " search " in f" {line} ")
    assert "same tag, other digest" in search
    checkout = next(line for line in table.splitlines() if " checkout " in f" {line} ")
    assert "pods disagree: Prod" in checkout and "~" in checkout
    assert main(["services", "compare", "--env", "Stage", "--env", "Prod", "--digests", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["services"]}
    assert rows["search"]["digestMismatch"] is True and rows["checkout"]["mixedDigestsIn"] == ["Prod"]
    assert set(rows["search"]["environments"]["Prod"]["digests"]) == {"search"}
    assert Path(demo.settings.database_url.removeprefix("sqlite:///")).exists()


def test_a_verified_sync_keeps_the_digest_its_pods_run_as_last_promoted(demo: AppContext,
                                                                         rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        the_plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                     targets={("Deployment", "frontend"): "all"})
    operation_id = apply_plan(demo, the_plan, actor=ADMIN, request_id=new_request_id(),
                              options=SyncOptions(timeout_seconds=20, poll_seconds=0.2))
    with demo.session() as session:
        found = inventory.list_inventories(session, demo.cipher, [get_environment(session, "Prod")],
                                           digests=True)
        results = {r.target_app_instance_id: r for r in get_operation(session, operation_id).results}
    prod = next(iter(found.values()))
    frontends = [s for s in prod.services if s.name == "frontend"]
    assert len(frontends) == 2
    for s in frontends:
        running = s.running.by_container["web"] if s.running else ()
        assert len(running) == 1 and running[0].startswith("sha256:")  # what the pods run, read independently
        assert results[s.instance.id].verified_digests == {"web": running[0]}  # recorded when verified
        assert s.last_sync is not None and s.last_sync.digests == {"web": running[0]}


def test_an_outside_change_is_dated_when_first_seen_not_when_read(demo: AppContext,
                                                                  rancher_us: SimulatedRancher) -> None:
    with demo.session() as session:
        the_plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                     targets={("Deployment", "frontend"): "all"})
    apply_plan(demo, the_plan, actor=ADMIN, request_id=new_request_id(),
               options=SyncOptions(timeout_seconds=20, poll_seconds=0.2))
    obj = rancher_us.get_object(WEST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/frontend:3.9.0-hotfix"
    rancher_us.set_object(WEST, obj)
    with demo.session() as session:
        first = inventory.list_services(session, demo.cipher, "Prod")
    with demo.session() as session:
        again = inventory.list_services(session, demo.cipher, "Prod")
    [seen], [seen_again] = compare.changed_outside(first), compare.changed_outside(again)
    assert again.fetched_at > first.fetched_at
    assert seen.outside is not None and seen.outside.noticed_at == first.fetched_at
    assert seen_again.outside is not None and seen_again.outside.noticed_at == first.fetched_at  # not the re-read
    # A second change outside the tool is a new sighting.
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/frontend:3.9.1-hotfix"
    rancher_us.set_object(WEST, obj)
    with demo.session() as session:
        third = inventory.list_services(session, demo.cipher, "Prod")
    [newer] = compare.changed_outside(third)
    assert newer.outside is not None and newer.outside.noticed_at == third.fetched_at
