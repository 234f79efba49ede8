"""State you can share (issue 20, item 5): the Services screen's and the Sync history's filters, the compared
environments and the opened operation live in the address; a link restores them, changing them updates it."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from tests.ui.conftest import ROOT, OpenApp, Seed, assert_ok
from tests.ui.fakes import FakeRancher
from tests.ui.test_history_page import PAGE as HISTORY
from tests.ui.test_history_page import history, shown_ids  # noqa: F401 (a fixture)
from tests.ui.test_services_page import INSTANCES, STAGE, compare_view, world  # noqa: F401 (a fixture)
from tests.ui.test_services_page import PAGE as SERVICES
from tests.ui.test_services_page import select as select_rows
from tests.ui.test_services_page import table as services_table


def follow(link: dict[str, Any], page: str) -> AppTest:
    """Open `page` at an address with these query parameters, in a new browser session (a shared link)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    at.switch_page(page)
    for name, value in link.items():
        at.query_params[name] = value
    at.run()
    assert_ok(at)
    return at


def address(at: AppTest) -> dict[str, list[str]]:
    return {name: [values] if isinstance(values, str) else list(values) for name, values in at.query_params.items()}


def test_the_comparison_is_in_the_address_and_a_link_reopens_it(
        open_app: OpenApp, seed: Seed, world: FakeRancher) -> None:  # noqa: F811
    ids = seed(instance_specs=(*INSTANCES, STAGE))
    at = compare_view(open_app(SERVICES), ids["Dev"], ids["Prod"])
    at.segmented_control(key="cmp_by").set_value("tag").run()
    at.text_input(key="cmp_search").set_value("web").run()
    at.toggle(key="cmp_only").set_value(True).run()
    assert_ok(at)

    link = address(at)
    assert link["view"] == ["compare"] and link["compare"] == ["Dev", "Prod"]
    assert (link["by"], link["q"], link["only"]) == (["tag"], ["web"], ["1"])

    opened = follow(link, SERVICES)
    assert opened.segmented_control(key="svc_view").value == "compare"
    assert opened.multiselect(key="cmp_envs").value == [ids["Dev"], ids["Prod"]]
    assert opened.segmented_control(key="cmp_by").value == "tag"
    assert opened.text_input(key="cmp_search").value == "web"
    assert opened.toggle(key="cmp_only").value is True
    assert list(services_table(opened)["Service"]) == ["web"], "the same rows as the person who shared it"

    # Back to the defaults: the address is clean again.
    opened.text_input(key="cmp_search").set_value("").run()
    opened.multiselect(key="cmp_envs").set_value([ids["Dev"], ids["Stage"], ids["Prod"]]).run()
    assert "q" not in opened.query_params and "compare" not in opened.query_params


def test_one_environment_and_its_search_are_in_the_address(
        open_app: OpenApp, seed: Seed, world: FakeRancher) -> None:  # noqa: F811
    ids = seed(instance_specs=INSTANCES)
    at = open_app(SERVICES)
    at.text_input(key=f"svc_search_{at.session_state['selected_environment_id']}").set_value("api").run()
    assert address(at) == {"env": ["Dev"], "q": ["api"]}

    opened = follow({"env": "Prod", "q": "web"}, SERVICES)
    assert opened.sidebar.selectbox(key="sidebar_environment").value == ids["Prod"], "the sidebar agrees"
    assert list(services_table(opened)["Service"]) == ["web"]
    assert set(services_table(opened)["App instance"]) == {"shop-prod"}, "the linked environment, not the first"

    failed = follow({"env": "Dev", "status": "failed", "kind": "Deployment"}, SERVICES)
    assert list(zip(services_table(failed)["Service"], services_table(failed)["Status"], strict=True)) == [
        ("api", "● failed")]
    failed.segmented_control(key="svc_view").set_value("compare").run()
    assert "status" not in failed.query_params, "the one-environment filters leave with their view"

    unknown = follow({"env": "Nowhere"}, SERVICES)
    assert unknown.query_params["env"] == "Dev", "an unknown name falls back to the first, and says so in the address"


def test_the_history_filters_and_the_opened_operation_are_in_the_address(
        open_app: OpenApp, history: dict[str, int]) -> None:  # noqa: F811
    at = open_app(HISTORY)
    at.selectbox(key="hist_status").set_value("failed").run()
    at.selectbox(key="hist_env").select_index(3).run()  # Prod
    assert_ok(at)
    assert shown_ids(at) == [history["failed"]]
    at = select_rows(at, 0, [history["failed"]])  # type: ignore[list-item]
    link = address(at)
    assert link == {"status": ["failed"], "environment": ["Prod"], "operation": [str(history["failed"])]}

    opened = follow(link, HISTORY)
    assert opened.selectbox(key="hist_status").value == "failed"
    assert shown_ids(opened) == [history["failed"]]
    assert any(m.value == f"#### Sync #{history['failed']}" for m in opened.markdown), "the operation is open"

    dated = follow({"since": "2000-01-01", "until": "2000-01-02", "by": "bob"}, HISTORY)
    assert dated.text_input(key="hist_person").value == "bob"
    assert shown_ids(dated) == [], "nothing in that period"


def test_the_sidebar_and_the_comparison_agree_and_the_sync_comes_into_the_sidebars_environment(
        open_app: OpenApp, seed: Seed, world: FakeRancher) -> None:  # noqa: F811
    ids = seed(instance_specs=(*INSTANCES, STAGE))
    at = compare_view(open_app(SERVICES))
    sidebar = "sidebar_environment"

    def direction() -> tuple[int, int]:
        source = at.selectbox(key="cmp_source").value
        return source, at.selectbox(key=f"cmp_target_{source}").value

    assert direction() == (ids["Dev"], ids["Stage"]), "the first environment: from it into the next"
    at.sidebar.selectbox(key=sidebar).select(ids["Prod"]).run()
    assert direction() == (ids["Stage"], ids["Prod"]), "from the environment before it into it"

    at.multiselect(key="cmp_envs").set_value([ids["Dev"], ids["Stage"]]).run()
    assert at.sidebar.selectbox(key=sidebar).value == ids["Stage"], "the sidebar stays among the compared"
    assert direction() == (ids["Dev"], ids["Stage"])

    at.sidebar.selectbox(key=sidebar).select(ids["Prod"]).run()
    assert at.multiselect(key="cmp_envs").value == [ids["Dev"], ids["Stage"], ids["Prod"]], "compared again"
    assert direction() == (ids["Stage"], ids["Prod"])
    assert_ok(at)
