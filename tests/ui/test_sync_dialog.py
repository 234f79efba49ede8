"""The sync flow on the Services screen, against two simulated Rancher servers over HTTP (real rollouts, 1 s each):
the review shows the exact plan, a protected target needs its name typed, Apply starts the sync on the server and
lands on its live page, whose record reports each service once it ends; a busy target and an unreadable app instance
are explained, and a confirmation never applies twice."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from ranchersync import jobs
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import records
from tests.builders import ADMIN
from tests.ui.conftest import ROOT, assert_no_token, assert_ok
from tests.ui.fakes import shown
from tests.ui.test_services_page import select as select_rows

PAGE = "pages/4_Services.py"
HISTORY = "pages/5_Sync_history.py"
EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
FRONTEND = "registry.example.com:5000/shop/frontend"


@pytest.fixture
def shop(app_env: AppContext, demo: AppContext) -> AppContext:
    """The demo catalogue (Dev, Stage on the EU server; Prod on both US clusters) with Prod protected."""
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
    return demo


def env_id(ctx: AppContext, name: str) -> int:
    with ctx.session() as session:
        return environments.get_environment(session, name).id


def compare(ctx: AppContext) -> AppTest:
    """The comparison of every environment, Stage as the source of a sync."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    at.segmented_control(key="svc_view").set_value("compare").run()
    at.selectbox(key="cmp_source").select(env_id(ctx, "Stage")).run()
    assert_ok(at)
    return at


def review(ctx: AppContext, *services: str) -> AppTest:
    """Select these Deployments in the comparison and open the review."""
    at = select_rows(compare(ctx), 0, [f"Deployment/{name}" for name in services])
    assert at.selectbox(key=f"cmp_target_{env_id(ctx, 'Stage')}").value == env_id(ctx, "Prod")
    at.button(key="cmp_review").click().run()
    assert_ok(at)
    assert at.get("dialog"), "the review is open"
    return at


def image(server: SimulatedRancher, cluster: str, name: str) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", name)
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def operations(ctx: AppContext) -> int:
    with ctx.session() as session:
        return int(session.scalar(select(func.count()).select_from(SyncOperation)) or 0)


def newest(ctx: AppContext) -> int:
    with ctx.session() as session:
        return int(session.scalar(select(func.max(SyncOperation.id))) or 0)


def finished(ctx: AppContext, at: AppTest) -> str:
    """Apply landed on the live page of the newest operation: wait for it to end (it runs on the server), run the
    page again as its live panel does, and return how it ended."""
    operation_id = newest(ctx)
    assert any(m.value == f"#### Sync #{operation_id}" for m in at.markdown), "the sync's live page"
    status = jobs.wait_for_operation(ctx, operation_id, timeout=60)
    # The browser stays on that page (AppTest's next run would go back to its own page: say where it is).
    at.query_params["operation"] = str(operation_id)
    at.switch_page(HISTORY).run()
    assert_ok(at)
    return status


def toasts(at: AppTest) -> list[str]:
    return [shown(t.value) for t in at.toast]


def report(at: AppTest) -> pd.DataFrame:
    """The opened operation's results table (the history's detail)."""
    return next(d.value for d in at.dataframe if "Where" in d.value.columns)


def results(at: AppTest) -> set[tuple[str, str, str]]:
    """The opened operation's results: (service, where, status)."""
    frame = report(at)
    return set(zip(frame["Service"], frame["Where"], frame["Status"], strict=True))


def plan_rows(at: AppTest) -> list[tuple[str, str, str, str, str]]:
    frame = next(d.value for d in at.dataframe if "New image" in d.value.columns and "Container" in d.value.columns)
    return [tuple(r) for r in frame[["Service", "Target app instance", "Container", "Current image",
                                     "New image"]].itertuples(index=False)]


def test_the_review_shows_the_exact_plan_and_changes_nothing(
    shop: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher
) -> None:
    at = review(shop, "frontend", "catalog")

    assert plan_rows(at) == [
        ("frontend", "shop-east", "web", f"{FRONTEND}:3.8.0", f"{FRONTEND}:3.8.1"),
        ("frontend", "shop-west", "web", f"{FRONTEND}:3.8.0", f"{FRONTEND}:3.8.1"),
        ("catalog", "shop-west", "catalog", "registry.example.com:5000/shop/catalog:2.2.0",
         "registry.example.com:5000/shop/catalog:2.2.1"),
        ("catalog", "shop-west", "envoy", "docker.io/envoyproxy/envoy:v1.30.6", "docker.io/envoyproxy/envoy:v1.31.2"),
    ]
    skipped = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert list(skipped.itertuples(index=False, name=None)) == [
        ("catalog", "shop-east", "workload paused: resume it in Rancher first: a paused rollout never progresses")]
    chips = "\n".join(m.value for m in at.markdown)
    assert ">Stage</span>" in chips and ">Prod &#128274;</span>" in chips, "both environments, in their colours"
    assert "| `frontend` | Deployment | `shop-west` | `web` |" in at.code[0].value, "copy as Markdown"
    assert at.button(key="sync_apply").disabled, "Prod is protected: its name must be typed first"

    # Several app instances of Prod run frontend: one of them, or all.
    choice = at.selectbox(key="sync_target_Deployment_frontend")
    assert choice.options == ["Both: shop-east, shop-west", "Only shop-east", "Only shop-west"]
    choice.select_index(2).run()
    assert [r[:2] for r in plan_rows(at)][:1] == [("frontend", "shop-west")] and len(plan_rows(at)) == 3
    at.segmented_control(key="sync_mode").set_value("tag").run()
    assert "(tag only)" in at.code[0].value

    at.button(key="sync_cancel").click().run()
    assert not at.get("dialog")
    assert image(rancher_us, EAST, "frontend") == f"{FRONTEND}:3.8.0" and operations(shop) == 0
    assert_no_token(at, rancher.token)
    assert_no_token(at, rancher_us.token)


def test_a_protected_target_without_its_typed_name_is_refused(
    shop: AppContext, rancher_us: SimulatedRancher
) -> None:
    at = review(shop, "frontend")

    assert at.button(key="sync_apply").disabled, "nothing typed yet"
    assert "type its name to confirm (case-sensitive)" in at.text_input(key="sync_confirm").label
    at.text_input(key="sync_confirm").input("prod").run()
    assert at.button(key="sync_apply").disabled, "the name exactly"
    at.text_input(key="sync_confirm").input("Prod").run()
    assert not at.button(key="sync_apply").disabled
    assert operations(shop) == 0 and image(rancher_us, WEST, "frontend") == f"{FRONTEND}:3.8.0"


def test_a_protection_switched_on_meanwhile_is_enforced_by_the_core(
    shop: AppContext, rancher_us: SimulatedRancher
) -> None:
    with shop.session() as session:
        environments.update_environment(session, "Prod", protected=False, actor=ADMIN)
    at = review(shop, "frontend")
    assert "sync_confirm" not in [t.key for t in at.text_input], "not protected when the review opened"
    with shop.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)

    at.button(key="sync_apply").click().run()

    assert "Prod is protected: type its name to confirm" in shown(at.error[0].value)
    assert at.get("dialog"), "refused before it started: still in the review"
    assert operations(shop) == 0 and image(rancher_us, WEST, "frontend") == f"{FRONTEND}:3.8.0"
    assert at.button(key="sync_apply").disabled, "read again: now the name must be typed"
    at.text_input(key="sync_confirm").input("Prod").run()
    at.button(key="sync_apply").click().run()
    assert finished(shop, at) == "complete"
    assert "Sync #1 complete: 2 workloads updated in Prod." in toasts(at)
    # It ended in the background: its toast stays 10 s (a short one lasts 4), for whoever looked away meanwhile.
    assert [t.proto.duration for t in at.toast if "Sync #1 complete" in shown(t.value)] == [10]
    assert image(rancher_us, WEST, "frontend") == f"{FRONTEND}:3.8.1"


def test_apply_reports_each_service_and_the_comparison_shows_them_equal(
    shop: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher
) -> None:
    at = review(shop, "frontend", "checkout")
    request = dict(at.session_state["dialog"])

    at.text_input(key="sync_confirm").input("Prod").run()
    # checkout 4.0.3 is still rolling out in Stage: refused, unless someone who may (an admin here) gives a reason.
    assert "checkout in Stage (shop-stage) is updating" in shown(at.error[0].value)
    assert at.button(key="sync_apply").disabled
    at.text_input(key="sync_override_reason").input("INC-42: the rollout is paced on purpose").run()
    at.button(key="sync_apply").click().run()

    assert_ok(at)
    assert not at.get("dialog"), "closed at once: the sync runs on the server"
    assert finished(shop, at) == "complete"
    assert "Sync #1 complete: 4 workloads updated in Prod." in toasts(at)
    east, west = "us · prod-us-east · shop-prod", "us · prod-us-west · shop-prod"  # the cluster names, not ids
    assert results(at) == {
        ("frontend (Deployment)", east, "● success"), ("frontend (Deployment)", west, "● success"),
        ("checkout (Deployment)", east, "● success"), ("checkout (Deployment)", west, "● success")}
    rows = report(at)
    frontend = rows[rows["Service"] == "frontend (Deployment)"]
    assert set(zip(frontend["Previous"], frontend["New"], strict=True)) == {(f"{FRONTEND}:3.8.0", f"{FRONTEND}:3.8.1")}
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend") == f"{FRONTEND}:3.8.1"
    at = compare(shop)
    comparison = next(d.value for d in at.dataframe if "Prod" in d.value.columns)
    assert comparison.loc["Deployment/frontend", "Stage"] == comparison.loc["Deployment/frontend", "Prod"] == "3.8.1"
    assert at.button(key="cmp_review").disabled, "the selection is cleared after a sync"

    # A double click or a rerun comes back with the same confirmation: the database refuses it.
    at.session_state["dialog"] = request
    at.run()
    at.text_input(key="sync_confirm").input("Prod").run()
    at.text_input(key="sync_override_reason").input("INC-42: the rollout is paced on purpose").run()
    at.button(key="sync_apply").click().run()
    assert "This confirmation was already applied" in at.error[0].value
    assert operations(shop) == 1

    at.button(key="sync_cancel").click().run()
    at.segmented_control(key="svc_view").set_value("table").run()
    at.segmented_control(key="svc_env").set_value(env_id(shop, "Prod")).run()
    services = at.dataframe[0].value.set_index(["Service", "App instance"])
    assert services.loc[("frontend", "shop-west"), "Tag"] == "3.8.1"
    assert services.loc[("frontend", "shop-west"), "Last synced"] != "never"
    assert services.loc[("cart", "shop-west"), "Last synced"] == "never"
    assert_no_token(at, rancher.token)
    assert_no_token(at, rancher_us.token)


@pytest.mark.parametrize("rancher_us", [r"frontend:3\.8\.1"], indirect=True)
def test_a_failed_rollout_is_rolled_back_and_reported(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    at = review(shop, "frontend", "checkout")
    at.text_input(key="sync_confirm").input("Prod").run()
    at.text_input(key="sync_override_reason").input("INC-42: the rollout is paced on purpose").run()
    at.button(key="sync_apply").click().run()

    assert_ok(at)
    assert finished(shop, at) == "rolled_back"
    assert "**Sync #1 Stage → Prod: rolled back · 0 workloads updated.**" in shown(at.error[0].value)
    assert not at.toast
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend") == f"{FRONTEND}:3.8.0", "rolled back"


def test_a_busy_target_is_explained(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    prod = env_id(shop, "Prod")
    holder, _ = records.open_operation(shop, records.Opening(
        kind="sync", mode="full", source=(None, "Dev"), target=(prod, "Prod"), initiated_by="alice",
        request_id="someone-else", planned=[]), actor=Actor("alice", "admin", "cli"))
    at = review(shop, "frontend")
    at.text_input(key="sync_confirm").input("Prod").run()
    at.button(key="sync_apply").click().run()

    assert "Another sync is changing Prod" in at.error[0].value
    assert f"operation #{holder} by alice" in shown(at.error[0].value)
    assert at.get("dialog"), "still open: the user may wait and apply again"
    assert image(rancher_us, EAST, "frontend") == f"{FRONTEND}:3.8.0"

    records.close_operation(shop, holder, "complete")
    at.button(key="sync_apply").click().run()
    assert not at.get("dialog") and finished(shop, at) == "complete"
    assert f"Sync #{holder + 1} complete: 2 workloads updated in Prod." in toasts(at)


def test_an_unreadable_app_instance_stops_the_plan(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    at = compare(shop)
    rancher_us.set_cluster_state(WEST, "unavailable")  # after the comparison was read: the review reads anew
    at = select_rows(at, 0, ["Deployment/frontend"])
    at.button(key="cmp_review").click().run()

    assert "Some app instances cannot be read" in at.error[0].value and "shop-west" in at.error[0].value
    assert not at.dataframe[-1].value.columns.isin(["New image"]).any(), "no half plan"
    at.button(key="sync_close").click().run()
    assert not at.get("dialog")


def test_gitops_managed_workloads_are_warned_about(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    obj = rancher_us.get_object(EAST, "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
    rancher_us.set_object(EAST, obj)

    at = review(shop, "frontend")

    assert any("frontend is managed by Helm" in w.value for w in at.warning)


def test_the_sync_runs_on_while_the_user_goes_elsewhere(shop: AppContext, rancher_us: SimulatedRancher) -> None:
    at = review(shop, "frontend")
    at.text_input(key="sync_confirm").input("Prod").run()
    at.button(key="sync_apply").click().run()
    assert_ok(at)
    assert jobs.wait_for_operation(shop, newest(shop), timeout=0) == "running", "Apply returned before the rollout"

    at.switch_page("pages/8_Audit_log.py").run()  # at once, while the rollout runs
    assert_ok(at)
    assert jobs.wait_for_operation(shop, newest(shop), timeout=60) == "complete"
    at.run()
    assert "Sync #1 complete: 2 workloads updated in Prod." in toasts(at), "told on whichever page they are"
    at.run()
    assert not at.toast, "told once"
    assert image(rancher_us, WEST, "frontend") == f"{FRONTEND}:3.8.1" and operations(shop) == 1
