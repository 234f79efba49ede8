"""The Sync history screen: empty, then on a hand-built history (rows, filters, pages, an opened operation, the
exports, the charts' data), and a rollback from the screen against the simulated Rancher servers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ranchersync import jobs
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.context import AppContext
from ranchersync.history import HistoryFilter, compute_metrics, date_range
from ranchersync.kernel.humanize import duration_text
from ranchersync.models import Environment, Measurement, SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SyncOptions, apply_plan, get_operation, new_request_id, plan_environments
from tests.builders import ADMIN
from tests.core.test_history import change, record
from tests.ui.conftest import ROOT, OpenApp, Seed, assert_ok
from tests.ui.fakes import shown
from tests.ui.test_services_page import select as select_rows
from ui.history import history_charts as charts
from ui.history import history_tables as tables
from ui.shell import queries

PAGE = "pages/5_Sync_history.py"
DAY0 = dt.datetime.combine(dt.date.today() - dt.timedelta(days=6), dt.time(9), dt.UTC)  # inside the last 30 days


def day(n: float, hours: float = 0) -> dt.datetime:
    return DAY0 + dt.timedelta(days=n, hours=hours)


def envs_by_name(session: Any) -> dict[str, Environment]:
    return {e.name: e for e in session.query(Environment)}


@pytest.fixture
def history(ctx: AppContext, seed: Seed) -> dict[str, int]:
    """Five operations in the last week and one long before, by alice and bob, in both directions, a rollback."""
    seed()
    with ctx.session() as session:
        e = envs_by_name(session)
        dev, stage, prod = e["Dev"], e["Stage"], e["Prod"]
        ops: dict[str, SyncOperation] = {
            "old": record(session, dev, stage, start=day(-40), seconds=10,
                          changes=[change("web", "reg/web:0.9", previous="reg/web:0.8")]),
            "first": record(session, dev, stage, start=day(1), seconds=30, changes=[
                change("web", "reg/web:1.1", previous="reg/web:1.0"),
                change("api", "reg/api:2.0", previous="reg/api:1.9")]),
            "failed": record(session, stage, prod, "failed", start=day(2), seconds=90, by="bob", error="1 failed",
                             changes=[change("web", "reg/web:1.1", previous="reg/web:1.0", status="failed",
                                             error="rollout failed"),
                                      change("db", None, status="skipped", error="missing in target")]),
            "partial": record(session, stage, prod, "rolled_back", start=day(3), seconds=125, changes=[
                change("web", "reg/web:1.1", previous="reg/web:1.0", status="rolled_back", cluster="c-east"),
                change("web", "reg/web:1.1", previous="reg/web:1.0", status="failed", cluster="c-west"),
                change("api", "reg/api:2.0", previous="reg/api:1.9", status="rolled_back")]),
        }
        ops["rollback"] = record(session, prod, prod, start=day(3, hours=1), seconds=20, kind="rollback",
                                 rollback_of=ops["partial"],
                                 changes=[change("web", "reg/web:1.0", previous="reg/web:1.1")])
        ops["second"] = record(session, dev, stage, start=day(4), seconds=45, by="bob",
                               changes=[change("api", "reg/api:2.1", previous="reg/api:2.0")])
        return {name: op.id for name, op in ops.items()}


def rows(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Duration" in d.value.columns)


def shown_ids(at: AppTest) -> list[int]:
    return [int(i) for i in rows(at).index] if any("Duration" in d.value.columns for d in at.dataframe) else []


def test_an_empty_history(open_app: OpenApp, seed: Seed) -> None:
    seed()
    at = open_app(PAGE)

    assert at.title[0].value == "Sync history"
    assert any("No sync matches these filters" in i.value for i in at.info)
    assert [m.value for m in at.metric][:2] == ["0", "—"]
    assert any("No operation in this period" in i.value for i in at.info), "the charts say why they are empty"


def test_rows_newest_first_with_who_when_and_how_long(open_app: OpenApp, history: dict[str, int]) -> None:
    at = open_app(PAGE)

    table = rows(at)
    assert shown_ids(at) == [history[n] for n in ("second", "rollback", "partial", "failed", "first")]
    assert list(table.columns) == list(tables.OPERATION_COLUMNS)
    assert table.loc[history["partial"]].to_dict() == {
        "Status": "● rolled back", "Kind": "sync", "From": "Stage", "To": "Prod", "Services": "2 · web, api",
        "By": "alice", "Started": f"{day(3):%Y-%m-%d %H:%M} UTC", "Duration": "2 min 5 s"}
    assert table.loc[history["rollback"], "Kind"] == "↩ rollback"
    assert table.loc[history["first"], "Duration"] == "30 s"
    assert any("1–5 of 5 operations" in c.value for c in at.caption)
    assert [m.value for m in at.metric][:2] == ["5", "60%"], "3 of the 5 finished ones completed"


@pytest.mark.parametrize(
    ("widget", "value", "expected"),
    [
        ("hist_env", "Prod", ["rollback", "partial", "failed"]),
        ("hist_status", "failed", ["failed"]),
        ("hist_kind", "rollback", ["rollback"]),
        ("hist_service", "db", ["failed"]),
        ("hist_person", "bob", ["second", "failed"]),
    ],
)
def test_filters(
    open_app: OpenApp, ctx: AppContext, history: dict[str, int], widget: str, value: str, expected: list[str]
) -> None:
    at = open_app(PAGE)
    if widget == "hist_env":
        with ctx.session() as session:
            at.selectbox(key=widget).set_value(environments.get_environment(session, value).id).run()
    elif widget in ("hist_status", "hist_kind"):
        at.selectbox(key=widget).set_value(value).run()
    else:
        at.text_input(key=widget).input(value).run()

    assert_ok(at)
    assert shown_ids(at) == [history[n] for n in expected]


def test_the_period_and_an_empty_result(open_app: OpenApp, history: dict[str, int]) -> None:
    at = open_app(PAGE)
    at.date_input(key="hist_period").set_value((day(-45).date(), dt.date.today())).run()
    assert shown_ids(at)[-1] == history["old"] and len(shown_ids(at)) == 6
    at.date_input(key="hist_period").set_value((day(-45).date(), day(-30).date())).run()
    assert shown_ids(at) == [history["old"]]
    at.text_input(key="hist_person").input("nobody").run()
    assert not shown_ids(at) and any("No sync matches" in i.value for i in at.info)


def test_pages_of_25(open_app: OpenApp, ctx: AppContext, seed: Seed) -> None:
    seed()
    with ctx.session() as session:
        e = envs_by_name(session)
        ids = [record(session, e["Dev"], e["Stage"], start=day(0, hours=i), changes=[change("web", f"r/web:{i}")]).id
               for i in range(30)]
    at = open_app(PAGE)
    assert len(rows(at)) == 25 and shown_ids(at)[0] == ids[-1]
    assert any("1–25 of 30 operations" in c.value for c in at.caption)

    at.session_state["hist_page"] = 2
    at.run()
    assert shown_ids(at) == ids[4::-1]
    assert any("26–30 of 30 operations" in c.value for c in at.caption)

    at.text_input(key="hist_service").input("web").run()
    assert len(rows(at)) == 25, "a new filter starts again at the first page"


def test_an_opened_operation_shows_each_container(open_app: OpenApp, history: dict[str, int]) -> None:
    at = select_rows(open_app(PAGE), 0, [history["partial"]])

    assert_ok(at)
    results = at.dataframe[-1].value
    assert list(results.itertuples(index=False, name=None)) == [
        ("● rolled back", "web (Deployment)", "eu · c-east · shop-prod", "app", "reg/web:1.0", "reg/web:1.1", ""),
        ("● failed", "web (Deployment)", "eu · c-west · shop-prod", "app", "reg/web:1.0", "reg/web:1.1", ""),
        ("● rolled back", "api (Deployment)", "eu · c-east · shop-prod", "app", "reg/api:1.9", "reg/api:2.0", ""),
    ]
    assert any(f"rolled back by #{history['rollback']}" in c.value for c in at.caption)
    button = at.button(key="hist_rollback")
    assert button.disabled and button.help == "This operation was already rolled back."

    at = select_rows(at, 0, [history["failed"]])
    assert any(w.value == "1 failed" for w in at.warning)
    assert at.dataframe[-1].value["Error"].tolist() == ["rollout failed", "missing in target"]
    assert not at.button(key="hist_rollback").disabled


def test_exports(open_app: OpenApp, history: dict[str, int]) -> None:
    at = open_app(PAGE)
    at.text_input(key="hist_person").input("bob").run()

    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["History CSV", "Metrics JSON", "Delivery report"]
    since, until = date_range(dt.date.today() - dt.timedelta(days=29), dt.date.today())
    lines = list(csv.DictReader(io.StringIO(queries.history_csv(HistoryFilter(initiated_by="bob", since=since,
                                                                              until=until)))))
    assert [(r["operation_id"], r["service"], r["result_status"], r["duration_seconds"]) for r in lines] == [
        (str(history["second"]), "api", "success", "45.0"),
        (str(history["failed"]), "web", "failed", "90.0"), (str(history["failed"]), "db", "skipped", "90.0")]


def test_chart_data_from_the_metrics(ctx: AppContext, history: dict[str, int]) -> None:
    since, until = date_range(day(0).date(), day(6).date())
    with ctx.session() as session:
        metrics = compute_metrics(session, HistoryFilter(since=since, until=until))
    d = [day(n).date() for n in range(1, 5)]

    daily = charts.daily_frame(metrics)
    assert daily.to_dict("index") == {
        d[0]: {"complete": 1, "failed": 0, "rolled_back": 0}, d[1]: {"complete": 0, "failed": 1, "rolled_back": 0},
        d[2]: {"complete": 1, "failed": 0, "rolled_back": 1}, d[3]: {"complete": 1, "failed": 0, "rolled_back": 0}}
    success = charts.success_frame(metrics)
    assert list(success["day"]) == [day(n).date() for n in range(7)], "every day of the period"
    assert success.dropna()[["finished", "complete", "rate"]].values.tolist() == [
        [1, 1, 100.0], [1, 0, 0.0], [2, 1, 50.0], [1, 1, 100.0]]
    assert success["rate"].isna().tolist() == [True, False, False, False, False, True, True], (
        "a day without a finished operation is a gap in the line, not a point")
    line = charts.success_chart(metrics).data[0]
    assert line.connectgaps is False and len(line.y) == 7
    assert dict(charts.duration_frame(metrics).values.tolist()) == {
        "< 10 s": 0, "10–30 s": 1, "30–60 s": 2, "1–2 min": 1, "2–5 min": 1, "5–10 min": 0, "10–30 min": 0,
        "≥ 30 min": 0}
    deployments = charts.deployments_frame(metrics)
    assert deployments.groupby("environment", sort=False)["count"].sum().to_dict() == {"Stage": 2, "Prod": 1}, (
        "a deployment is a sync that changed a service: the failed one into Prod changed none")
    assert set(deployments["week"]) <= {x - dt.timedelta(days=x.weekday()) for x in d}
    failures = charts.failure_frame(metrics).set_index("environment")
    assert failures.loc["Prod"].tolist() == [2, 2, 100.0] and failures.loc["Stage"].tolist() == [2, 0, 0.0]
    assert charts.percent(metrics.headline.success_rate) == "60%"
    for figure in (charts.daily_chart(metrics), charts.success_chart(metrics), charts.duration_chart(metrics),
                   charts.deployments_chart(metrics, {"Prod": "#E5484D"}), charts.failure_chart(metrics, {})):
        assert figure.data, "every chart draws its data"
    assert charts.deployments_chart(metrics, {"Prod": "#E5484D"}).data[1].marker.color == "#E5484D"


def test_durations_read_like_a_person_says_them() -> None:
    assert [duration_text(s) for s in (None, 4.25, 45, 125, 3600, 3900, 86400, 3 * 86400 + 5 * 3600 + 10)] == [
        "—", "4.2 s", "45 s", "2 min 5 s", "1 h", "1 h 5 min", "1 day", "3 days 5 h"]


# ---- a rollback from the screen, against the simulated Rancher servers ----------------------------------------------

EAST, WEST = "c-m-7rb2kx9q", "c-7xk2p"
FRONTEND = "registry.example.com:5000/shop/frontend"


def image(server: SimulatedRancher, cluster: str, name: str) -> str:
    obj = server.get_object(cluster, "Deployment", "shop-prod", name)
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def sync_frontend(demo: AppContext) -> int:
    """Frontend from Stage into both app instances of Prod (protected), through the core; the operation's id."""
    with demo.session() as session:
        environments.update_environment(session, "Prod", protected=True, actor=ADMIN)
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    return apply_plan(demo, plan, actor=Actor("alice", "admin", "cli"), request_id=new_request_id(),
                      options=SyncOptions(timeout_seconds=20, poll_seconds=0.2),
                      confirmed=Confirmation(confirm_env="Prod"))


def test_roll_back_a_sync_from_the_history(app_env: AppContext, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    synced = sync_frontend(demo)
    assert image(rancher_us, WEST, "frontend") == f"{FRONTEND}:3.8.1"

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    at = select_rows(at, 0, [synced])
    at.button(key="hist_rollback").click().run()
    assert_ok(at)
    assert at.get("dialog"), "the confirmation is open"
    plan_rows = next(d.value for d in at.dataframe if "Back to" in d.value.columns)
    assert set(plan_rows[["Service", "Now", "Back to"]].itertuples(index=False, name=None)) == {
        ("frontend", f"{FRONTEND}:3.8.1", f"{FRONTEND}:3.8.0")}
    assert len(plan_rows) == 2, "both app instances of Prod"
    assert at.button(key="rollback_apply").disabled, "Prod is protected"

    at.text_input(key="rollback_confirm").input("Prod").run()
    at.button(key="rollback_apply").click().run()

    # The rollback runs on the server: the dialog closes at once on its live page (addressable: ?operation=N).
    assert_ok(at)
    assert not at.get("dialog")
    assert any(m.value == f"#### Rollback #{synced + 1}" for m in at.markdown), "the rollback's own page"
    assert jobs.wait_for_operation(demo, synced + 1, timeout=60) == "complete"
    at.run()  # as the live panel does every second; once it finished, the page shows its record and its outcome
    assert_ok(at)
    flashed = f"Rollback #{synced + 1} of #{synced} in Prod: complete, 2 workloads restored."
    assert flashed in [shown(t.value) for t in at.toast]
    for cluster in (EAST, WEST):
        assert image(rancher_us, cluster, "frontend") == f"{FRONTEND}:3.8.0"
    assert shown_ids(at) == [synced + 1, synced], "the cache was cleared: the rollback is listed at once"
    assert rows(at).loc[synced, "Status"] == "● rolled back"
    with demo.session() as session:
        assert get_operation(session, synced).status == "rolled_back"


def test_a_started_rollback_opens_even_where_the_filters_hide_it(
    app_env: AppContext, demo: AppContext, rancher_us: SimulatedRancher
) -> None:
    synced = sync_frontend(demo)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    at.selectbox(key="hist_status").select("complete").run()  # a running rollback is not listed
    at = select_rows(at, 0, [synced])
    at.button(key="hist_rollback").click().run()
    at.text_input(key="rollback_confirm").input("Prod").run()
    at.button(key="rollback_apply").click().run()

    assert_ok(at)
    assert any(m.value == f"#### Rollback #{synced + 1}" for m in at.markdown), "its page, not the selected sync's"
    assert jobs.wait_for_operation(demo, synced + 1, timeout=60) == "complete"


def test_the_overview_lists_the_latest_five(open_app: OpenApp, history: dict[str, int]) -> None:
    at = open_app()

    latest = next(d.value for d in at.dataframe if "Duration" in d.value.columns)
    assert [int(i) for i in latest.index] == [history[n] for n in ("second", "rollback", "partial", "failed", "first")]
    assert any(link.label == "Open the sync history (6 operations)" for link in at.get("page_link"))


def test_the_overview_without_syncs(open_app: OpenApp, seed: Seed) -> None:
    seed()
    at = open_app()

    assert any("No syncs yet" in i.value for i in at.info)


def test_a_link_with_an_operation_opens_it(open_app: OpenApp, history: dict[str, int]) -> None:
    # Notifications link to /Sync_history?operation=N: the page opens that operation without a row being selected.
    at = open_app(PAGE)
    assert not any("#### Sync #" in m.value for m in at.markdown)
    at.query_params["operation"] = str(history["failed"])
    at.run()
    assert_ok(at)
    assert any(m.value == f"#### Sync #{history['failed']}" for m in at.markdown)
    at.query_params["operation"] = "not-a-number"
    at.run()
    assert_ok(at)
    assert not any("#### Sync #" in m.value for m in at.markdown)


def test_a_workload_is_named_by_site_cluster_name_and_namespace(open_app: OpenApp, ctx: AppContext,
                                                                 seed: Seed) -> None:
    # The live panel names the cluster; the results table and the rollback plan did show its id alone.
    seed(site_names=("eu",), instance_specs=(("shop-prod", "eu", "Prod", "c-m-east01", "shop-prod"),))
    with ctx.session() as session:
        e = envs_by_name(session)
        done = record(session, e["Stage"], e["Prod"], start=day(1), changes=[
            change("web", "reg/web:1.1", previous="reg/web:1.0", cluster="c-m-east01"),
            change("api", "reg/api:2.0", previous="reg/api:1.9", cluster="c-gone")])
        done_id = done.id
    at = select_rows(open_app(PAGE), 0, [done_id])
    assert_ok(at)
    where = set(at.dataframe[-1].value["Where"])
    assert where == {"eu · east01 · shop-prod", "eu · c-gone · shop-prod"}, "the id only where no name is known"
    plan = tables.rollback_rows(queries.operation_detail_now(done_id))
    assert set(plan["Where"]) == where


def test_an_opened_operation_shows_its_verification_measurements(open_app: OpenApp, ctx: AppContext,
                                                                   history: dict[str, int]) -> None:
    with ctx.session() as session:
        web = next(r for r in session.get(SyncOperation, history["failed"]).results if r.service == "web")
        for n, (value, verdict) in enumerate([(0.01, "pass"), (0.2, "fail")]):
            session.add(Measurement(result_id=web.id, gate="error-rate", at=day(2, hours=n / 3600), values=[value],
                                    verdict=verdict, detail=f"result < 0.05: {value}"))
        session.add(Measurement(result_id=web.id, gate="soak", at=day(2, hours=2 / 3600), values=[2], verdict="fail",
                                detail="pods restarted during the soak (crash loop?): web-1/app restarted 2×"))

    at = select_rows(open_app(PAGE), 0, [history["failed"]])

    assert_ok(at)
    measured = next(d.value for d in at.dataframe if "Gate" in d.value.columns)
    assert [tuple(row) for row in measured[["Verdict", "Service", "Gate", "#", "Values"]].itertuples(
        index=False, name=None)] == [("✓ pass", "web", "error-rate", 1, "0.01"),
                                     ("✗ fail", "web", "error-rate", 2, "0.2"),
                                     ("✗ fail", "web", "soak", 1, "2 restart(s)")]
    assert measured["Time"].tolist()[0] == f"{day(2):%H:%M:%S}"  # the viewer's zone: UTC in AppTest
    assert "2 measurement(s) did not pass" in " ".join(m.value for m in at.markdown)
