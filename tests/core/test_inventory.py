"""The services of an environment across sites, partial failures, and the cross-environment comparison."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ranchersync.catalogue import instances, sites
from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.inventory import reading as inventory
from ranchersync.inventory.compare import (
    Cell,
    cell_state,
    changed_containers,
    compare,
    compare_environments,
    drift_counts,
)
from ranchersync.inventory.payloads import comparison_payload
from ranchersync.inventory.reading import EnvironmentRef, Inventory, Service
from ranchersync.kernel.errors import RancherUnavailable
from ranchersync.models import SyncOperation, SyncResult, utcnow
from ranchersync.reports.drift import drift_report
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN, service


def by_name(inv: Inventory) -> dict[tuple[str, str], Service]:
    return {(s.instance.name, s.name): s for s in inv.services}


def test_services_of_an_environment_come_from_all_its_app_instances(demo: AppContext) -> None:
    with demo.session() as session:
        inv = inventory.list_services(session, demo.cipher, "Dev")
    assert inv.failures == ()
    services = by_name(inv)
    assert {"shop-dev", "payments-dev"} == {i for i, _ in services}
    cart = services[("shop-dev", "cart")]
    assert (cart.kind, cart.image_tag, cart.status) == ("Deployment", "1.5.0", "running")
    assert cart.workload.init_images == {"migrate": "registry.example.com:5000/shop/cart:1.5.0"}
    kinds = {s.kind for s in inv.services}
    assert kinds == {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}
    assert services[("shop-dev", "search")].status == "stopped"
    assert services[("payments-dev", "payments-api")].image_tag.startswith("@sha256:")


def test_one_failing_app_instance_is_reported_and_the_rest_still_shows(demo: AppContext,
                                                                       rancher_us: SimulatedRancher) -> None:
    rancher_us.set_cluster_state("c-7xk2p", "unavailable")  # prod-us-west's agent is disconnected
    with demo.session() as session:
        inv = inventory.list_services(session, demo.cipher, "Prod")
    assert [f.instance.name for f in inv.failures] == ["shop-west"]
    failure = inv.failures[0]
    assert (failure.kind, failure.title) == ("unavailable", "The cluster is unavailable")
    assert failure.message.startswith("The cluster is unavailable through Rancher"), failure.message
    assert failure.hint == failure.error.hint and failure.hint, "the classifier's hint travels with the failure"
    assert {i for i, _ in by_name(inv)} == {"shop-east"}


def test_a_refused_token_marks_every_instance_of_that_site(demo: AppContext) -> None:
    with demo.session() as session:
        sites.update_site(session, demo.cipher, "us", sites.SiteChange(token="token-zzzzz:" + "b" * 54), actor=ADMIN)
    with demo.session() as session:
        inv = inventory.list_services(session, demo.cipher, "Prod")
    assert sorted(f.instance.name for f in inv.failures) == ["shop-east", "shop-west"]
    assert inv.services == ()
    assert all("b" * 54 not in f.message for f in inv.failures)


def test_last_successful_sync_is_attached(demo: AppContext) -> None:
    when = utcnow() - dt.timedelta(hours=1)
    with demo.session() as session:
        target = instances.get_instance(session, "shop-stage")
        op = SyncOperation(source_environment_name="Dev", target_environment_name="Stage", status="complete",
                           initiated_by="t")
        op.results = [
            SyncResult(service="cart", workload_kind="Deployment", target_app_instance_id=target.id,
                       status="success", finished_at=when),
            SyncResult(service="catalog", workload_kind="Deployment", target_app_instance_id=target.id,
                       status="failed", finished_at=when),
        ]
        session.add(op)
    with demo.session() as session:
        services = by_name(inventory.list_services(session, demo.cipher, "Stage"))
    assert services[("shop-stage", "cart")].last_synced == when
    assert services[("shop-stage", "catalog")].last_synced is None


def test_comparison_over_the_demo_in_pipeline_order(demo: AppContext) -> None:
    with demo.session() as session:
        comparison = compare_environments(session, demo.cipher)
    assert [e.name for e in comparison.environments] == ["Dev", "Stage", "Prod"]
    rows = {(r.kind, r.name): r for r in comparison.rows}
    cart = rows[("Deployment", "cart")]
    assert [c.image_tag for c in cart.cells] == ["1.5.0", "1.4.2", "1.4.2 | 1.4.1"]  # east | west
    assert cart.differs and cart.inconsistent_in == ("Prod",)
    ledger = rows[("Deployment", "ledger")]  # only payments-dev is mapped
    assert ledger.missing_in == ("Stage", "Prod")
    assert all(r.differs for r in comparison.only_differences().rows)


# --- the pure comparison, on hand-built services ----------------------------------------------------------------

ENVS = (EnvironmentRef(1, "Dev", "#009E73", 0), EnvironmentRef(2, "Stage", "#0072B2", 1),
        EnvironmentRef(3, "Prod", "#D55E00", 2))


def svc(env: int, instance: str, name: str, image: str, status: str = "running") -> Service:
    return service(env, instance, name, image, status=status)


def inv(env: int, *services: Service, failures: tuple = ()) -> Inventory:
    return Inventory(env, services, failures, utcnow())


@pytest.mark.parametrize(
    ("dev", "stage", "prod", "differs", "missing", "inconsistent"),
    [
        (["r/a:1"], ["r/a:1"], ["r/a:1"], False, (), ()),
        (["r/a:2"], ["r/a:1"], ["r/a:1"], True, (), ()),
        (["r/a:1"], [], ["r/a:1"], True, ("Stage",), ()),
        (["r/a:1"], ["r/a:1", "r/a:1"], ["r/a:1"], False, (), ()),
        (["r/a:1"], ["r/a:1", "r/a:2"], ["r/a:1"], True, (), ("Stage",)),
        (["other.io/a:1"], ["r/a:1"], ["r/a:1"], True, (), ()),
    ],
)
def test_rows_and_cells_are_flagged(dev, stage, prod, differs, missing, inconsistent) -> None:
    inventories = {
        env: inv(env, *(svc(env, f"i{n}", "api", image) for n, image in enumerate(images)))
        for env, images in ((1, dev), (2, stage), (3, prod))
    }
    (row,) = compare(ENVS, inventories).rows
    assert (row.differs, row.missing_in, row.inconsistent_in) == (differs, missing, inconsistent)


def test_tag_mode_ignores_registries() -> None:
    inventories = {1: inv(1, svc(1, "i", "api", "dev.io/a:1")), 2: inv(2, svc(2, "i", "api", "prod.io/a:1")),
                   3: inv(3, svc(3, "i", "api", "prod.io/a:1"))}
    assert compare(ENVS, inventories).rows[0].differs
    assert not compare(ENVS, inventories, compare_by="tag").rows[0].differs


def test_an_unreadable_environment_is_unknown_not_missing() -> None:
    broken = svc(2, "i", "x", "r/x:1").instance
    inventories = {1: inv(1, svc(1, "i", "api", "r/a:1")),
                   2: inv(2, failures=(inventory.InstanceFailure(broken, RancherUnavailable("timed out")),)),
                   3: inv(3, svc(3, "i", "api", "r/a:1"))}
    (row,) = compare(ENVS, inventories).rows
    stage: Cell = row.cells[1]
    assert not stage.missing and stage.unreadable == ("i",) and stage.status is None
    assert not row.differs


def test_worst_status_wins_and_columns_follow_the_pipeline() -> None:
    reordered = (ENVS[2], ENVS[0], ENVS[1])
    inventories = {1: inv(1, svc(1, "a", "api", "r/a:1", status="running"), svc(1, "b", "api", "r/a:1",
                                                                               status="degraded"))}
    comparison = compare(reordered, inventories)
    assert [e.name for e in comparison.environments] == ["Dev", "Stage", "Prod"]
    assert comparison.rows[0].cells[0].status == "degraded"
    assert comparison.rows[0].cells[0].replicas == (4, 4)


# --- why a cell differs, and kinds no sync promotes -------------------------------------------------------------

def _redis(env: int, exporter: str, *, redis: str = "redis:7.2.4", init: dict[str, str] | None = None) -> Service:
    return service(env, "i", "redis", containers={"redis": redis, "exporter": exporter}, init=init)


@pytest.mark.parametrize(
    ("stage", "prod", "why"),
    [
        (_redis(2, "x/exp:v1.62.0"), _redis(3, "x/exp:v1.61.0"), "sidecar differs"),
        (_redis(2, "x/exp:1", init={"seed": "x/seed:2"}), _redis(3, "x/exp:1", init={"seed": "x/seed:1"}),
         "init container differs"),
        (_redis(2, "x/exp:2", init={"seed": "x/seed:2"}), _redis(3, "x/exp:1", init={"seed": "x/seed:1"}),
         "sidecar differs · init container differs"),
        (_redis(2, "x/exp:1", init={"seed": "x/seed:1"}), _redis(3, "x/exp:1"), "init container differs"),
        (_redis(2, "x/exp:1", redis="a.io/redis:7.2.4"), _redis(3, "x/exp:1"), "registry or digest differs"),
        # The tag shown already says it: nothing to explain.
        (_redis(2, "x/exp:2", redis="redis:7.2.5"), _redis(3, "x/exp:1"), ""),
        (_redis(2, "x/exp:1"), _redis(3, "x/exp:1"), ""),
    ],
)
def test_a_cell_that_shows_the_same_tag_says_why_it_differs(stage: Service, prod: Service, why: str) -> None:
    (row,) = compare(ENVS[1:], {2: inv(2, stage), 3: inv(3, prod)}).rows
    assert row.cells[0].image_tag == row.cells[1].image_tag or not why
    assert row.explanations == ("", why)
    assert row.differs == (stage.workload.containers != prod.workload.containers)


def test_the_hidden_difference_lists_each_container_with_its_images() -> None:
    (row,) = compare(ENVS[1:], {2: inv(2, _redis(2, "x/exp:v1.62.0")), 3: inv(3, _redis(3, "x/exp:v1.61.0"))}).rows
    stage, prod = row.cells
    assert [c.text() for c in changed_containers(prod, stage)] == ["exporter (sidecar): x/exp:v1.62.0 → x/exp:v1.61.0"]
    assert row.container_images() == (
        ("redis", "primary", (("redis:7.2.4",), ("redis:7.2.4",))),
        ("exporter", "sidecar", (("x/exp:v1.62.0",), ("x/exp:v1.61.0",))),
    )
    payload = comparison_payload(compare(ENVS[1:], {2: inv(2, _redis(2, "x/exp:2")), 3: inv(3, _redis(3, "x/exp:1"))}))
    prod_json = payload["services"][0]["environments"]["Prod"]
    assert prod_json["imageTag"] == "7.2.4" and prod_json["hiddenDifference"] == "sidecar differs"
    assert {"name": "exporter", "role": "sidecar", "images": ["x/exp:1"]} in prod_json["containers"]
    assert payload["services"][0]["environments"]["Stage"]["hiddenDifference"] is None


def test_an_init_container_that_differs_is_a_pending_promotion() -> None:
    stage = service(2, "i", "ledger", containers={"ledger": "r/ledger:2"}, init={"schema": "r/schema:2"})
    prod = service(3, "i", "ledger", containers={"ledger": "r/ledger:2"}, init={"schema": "r/schema:1"})
    comparison = compare(ENVS[1:], {2: inv(2, stage), 3: inv(3, prod)})
    assert comparison.rows[0].differs
    assert cell_state(comparison.rows[0].cells[1], comparison.rows[0].cells[0]) == "drift"
    assert drift_counts(comparison) == {3: 1}


def test_a_cronjob_that_differs_is_read_only_not_a_pending_promotion() -> None:
    inventories = {
        2: inv(2, service(2, "i", "report", "r/report:2", kind="CronJob"), svc(2, "i", "api", "r/api:2")),
        3: inv(3, service(3, "i", "report", "r/report:1", kind="CronJob"), svc(3, "i", "api", "r/api:1")),
    }
    comparison = compare(ENVS[1:], inventories)
    rows = {r.name: r for r in comparison.rows}
    assert rows["report"].differs and not rows["report"].promotable and rows["api"].promotable
    assert cell_state(rows["report"].cells[1], rows["report"].cells[0]) == "readonly"
    assert cell_state(rows["api"].cells[1], rows["api"].cells[0]) == "drift"
    assert drift_counts(comparison) == {3: 1}  # the Deployment only
    report = drift_report(comparison, lambda *_: None, utcnow())
    assert [p.service for p in report.pending] == ["api"]
    assert comparison_payload(comparison)["services"][1]["promotable"] is False


def test_cli_compare_says_which_sidecar_differs_in_text_and_json(demo: AppContext, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", demo.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ",".join(demo.settings.secret_keys))
    assert main(["services", "compare", "--env", "Dev", "--env", "Stage", "--env", "Prod"]) == 0
    lines = capsys.readouterr().out.splitlines()
    redis = next(line for line in lines if " redis " in f" {line} ")
    assert "Prod: sidecar differs (exporter (sidecar): oliver006/redis_exporter:v1.62.0 → " \
           "oliver006/redis_exporter:v1.61.0)" in redis
    report = next(line for line in lines if " nightly-report " in f" {line} ")
    assert "CronJob: not promoted by this tool" in report
    assert main(["services", "compare", "--env", "Dev", "--env", "Stage", "--env", "Prod", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["services"]}
    assert rows["redis"]["environments"]["Prod"]["hiddenDifference"] == "sidecar differs"
    assert rows["redis"]["environments"]["Stage"]["hiddenDifference"] is None  # 7.2.5 → 7.2.4 shows itself
    assert rows["nightly-report"]["promotable"] is False and rows["redis"]["promotable"] is True
