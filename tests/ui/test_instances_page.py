"""The app instances page: per environment; add through Rancher pickers; Rancher down; edit, move, remove."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import instances, sites
from ranchersync.context import AppContext
from tests.ui.conftest import OpenApp, Seed, assert_ok
from tests.ui.fakes import FakeRancher, field_errors, shown

PAGE = "pages/3_App_instances.py"
TWO = (
    ("shop-dev", "rancher-eu", "Dev", "c-m-dev01", "shop-dev"),
    ("shop-qa", "rancher-eu", "Dev", "c-m-dev01", "shop-qa"),
)


def _stored(ctx: AppContext) -> list[tuple[str, str, str, str, str]]:
    with ctx.session() as session:
        return [
            (i.name, i.environment.name, i.cluster_id, i.cluster_name, i.namespace)
            for i in instances.list_instances(session)
        ]


def _open_add(at: AppTest, site_id: int) -> AppTest:
    at.button(key="inst_add").click().run()
    at.selectbox(key="add_inst_site").set_value(site_id).run()
    return at


def test_the_table_lists_the_selected_environment(
    open_app: OpenApp, seed: Seed
) -> None:
    seed(instance_specs=TWO)

    at = open_app(PAGE)

    assert at.subheader[0].value == "Dev: 2 app instances"
    table = at.dataframe[0].value
    assert list(table.columns) == ["Name", "Site", "Cluster", "Cluster ID", "Namespace", "Added"]
    assert table["Name"].tolist() == ["shop-dev", "shop-qa"]
    assert at.button(key="inst_edit").disabled and at.button(key="inst_remove").disabled


def test_switching_environment_on_the_page(
    open_app: OpenApp, seed: Seed
) -> None:
    ids = seed(instance_specs=TWO)
    at = open_app(PAGE)

    at.segmented_control(key="inst_env").set_value(ids["Prod"]).run()

    assert at.subheader[0].value == "Prod: 0 app instances"
    assert at.selectbox(key="sidebar_environment").value == ids["Prod"]


def test_add_through_the_pickers(
    open_app: OpenApp, seed: Seed, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    at = _open_add(open_app(PAGE), ids["rancher-eu"])
    site = ids["rancher-eu"]
    assert at.selectbox(key="add_inst_env").value == ids["Dev"], "the selected environment is the default"
    assert at.selectbox(key=f"add_inst_cluster_{site}").options == ["dev-east (c-m-dev01)", "prod-east (c-m-prd01)"]

    at.selectbox(key="add_inst_env").set_value(ids["Stage"])
    at.selectbox(key=f"add_inst_cluster_{site}").set_value("c-m-dev01").run()
    assert at.selectbox(key=f"add_inst_ns_{site}_c-m-dev01").options == [
        "shop-dev", "shop-qa", "Another namespace (type its name)…"
    ]
    at.selectbox(key=f"add_inst_ns_{site}_c-m-dev01").set_value("shop-qa").run()
    at.button(key="add_inst_save").click().run()

    assert_ok(at)
    assert _stored(app_env) == [("shop-qa", "Stage", "c-m-dev01", "dev-east", "shop-qa")]
    assert shown(at.toast[0].value) == "App instance 'shop-qa' added (dev-east/shop-qa in Stage)."
    assert not at.get("dialog")


def test_rancher_lists_are_cached_briefly(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    at = _open_add(open_app(PAGE), ids["rancher-eu"])
    loaded = len(fake_rancher.calls)
    assert loaded > 0

    at.run()
    at.run()
    assert len(fake_rancher.calls) == loaded, "reruns within the cache's minute ask Rancher nothing"

    at.button(key="add_inst_reload").click().run()
    assert len(fake_rancher.calls) == 2 * loaded, "Reload asks again"


def test_a_namespace_that_does_not_exist_is_refused_unless_it_will_be_created_later(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = _open_add(open_app(PAGE), ids["rancher-eu"])
    site = ids["rancher-eu"]

    at.selectbox(key=f"add_inst_ns_{site}_c-m-dev01").select_index(2).run()
    at.text_input(key="add_inst_ns_new").input("shop-new")
    at.text_input(key="add_inst_name").input("Shop (new)")
    at.button(key="add_inst_save").click().run()

    assert field_errors(at) == ["namespace 'shop-new' does not exist on cluster 'dev-east'"]
    assert "No such namespace" in shown(at.error[0].value) and at.get("dialog")
    assert "it will be created later" in shown(at.error[0].value), "the summary says how to save it anyway"
    assert _stored(app_env) == []

    at.checkbox(key="add_inst_ns_later").check()
    at.button(key="add_inst_save").click().run()

    assert_ok(at)
    assert _stored(app_env) == [("Shop (new)", "Dev", "c-m-dev01", "dev-east", "shop-new")]
    assert "namespace 'shop-new' does not exist on cluster 'dev-east' yet" in at.warning[0].value


def test_bad_input_is_refused_and_nothing_is_written(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed(instance_specs=TWO[:1])
    site = ids["rancher-eu"]
    at = _open_add(open_app(PAGE), site)

    at.button(key="add_inst_save").click().run()
    assert field_errors(at) == ["pick or type a namespace"]

    at.selectbox(key=f"add_inst_ns_{site}_c-m-dev01").select_index(2).run()
    at.text_input(key="add_inst_ns_new").input("Not_A_Namespace")
    at.button(key="add_inst_save").click().run()
    assert "is not a valid namespace" in field_errors(at)[0]

    at.selectbox(key=f"add_inst_ns_{site}_c-m-dev01").set_value("shop-dev").run()
    at.button(key="add_inst_save").click().run()
    assert "is already mapped as 'shop-dev' in environment 'Dev'" in at.error[0].value

    assert _stored(app_env) == [("shop-dev", "Dev", "c-m-dev01", "dev01", "shop-dev")]


def test_when_rancher_is_down_the_page_stays_usable(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    ids = seed(instance_specs=TWO)
    fake_rancher.failure = "unreachable"

    at = _open_add(open_app(PAGE), ids["rancher-eu"])

    assert_ok(at)
    assert "Rancher cannot be reached" in at.error[0].value
    assert "Check the URL" in at.error[0].value
    assert at.dataframe[0].value["Name"].tolist() == ["shop-dev", "shop-qa"], "what is stored is still listed"


def test_the_page_says_when_a_site_was_unreachable(open_app: OpenApp, seed: Seed, app_env: AppContext) -> None:
    ids = seed(instance_specs=TWO)
    with app_env.session() as session:
        sites.get_site(session, ids["rancher-eu"]).last_error = "Cannot reach Rancher at rancher-eu.example.com"

    at = open_app(PAGE)

    assert "rancher-eu could not be reached at the last connection test" in at.warning[0].value
    assert at.dataframe[0].value["Name"].tolist() == ["shop-dev", "shop-qa"]


def test_edit_and_move_the_selected_instance(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed(instance_specs=TWO)
    at = open_app(PAGE)
    at.session_state[f"inst_table_{ids['Dev']}"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.button(key="inst_edit").disabled

    at.button(key="inst_edit").click().run()
    key = f"edit_inst_{ids['shop-qa']}"
    assert at.text_input(key=f"{key}_name").value == "shop-qa"
    at.text_input(key=f"{key}_name").input("shop-stage")
    at.selectbox(key=f"{key}_env").set_value(ids["Stage"])
    at.button(key="edit_inst_save").click().run()

    assert_ok(at)
    assert shown(at.toast[0].value) == "App instance 'shop-stage' saved, moved from Dev to Stage."
    assert ("shop-stage", "Stage", "c-m-dev01", "dev01", "shop-qa") in _stored(app_env)


def test_a_clashing_rename_is_refused(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed(instance_specs=TWO)
    at = open_app(PAGE)
    at.session_state[f"inst_table_{ids['Dev']}"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    at.button(key="inst_edit").click().run()

    at.text_input(key=f"edit_inst_{ids['shop-qa']}_name").input("SHOP-DEV")
    at.button(key="edit_inst_save").click().run()

    assert field_errors(at) == ["environment 'Dev' already has an app instance named 'SHOP-DEV'"]
    assert [name for name, *_ in _stored(app_env)] == ["shop-dev", "shop-qa"]


def test_remove_the_selected_instance(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed(instance_specs=TWO)
    at = open_app(PAGE)
    at.session_state[f"inst_table_{ids['Dev']}"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="inst_remove").click().run()
    assert "Remove **shop-dev** from **Dev**?" in "\n".join(m.value for m in at.markdown)

    at.button(key="remove_inst_confirm").click().run()

    assert_ok(at)
    assert [name for name, *_ in _stored(app_env)] == ["shop-qa"]
