"""The environments page: pipeline order with chips, add, edit, reorder, protect, remove with the cascade rule."""

from __future__ import annotations

import pytest

from ranchersync.catalogue import environments, instances
from ranchersync.context import AppContext
from tests.ui.conftest import OpenApp, Seed, assert_ok
from tests.ui.fakes import field_errors, shown

PAGE = "pages/2_Environments.py"
IN_DEV = (("shop-dev", "rancher-eu", "Dev", "c-m-dev01", "shop-dev"),)


def _pipeline(ctx: AppContext) -> list[tuple[str, str, bool]]:
    with ctx.session() as session:
        return [(e.name, e.color, e.protected) for e in environments.list_environments(session)]


def _names(ctx: AppContext) -> list[str]:
    return [name for name, _, _ in _pipeline(ctx)]


def test_the_pipeline_is_shown_in_order_with_chips(
    open_app: OpenApp, seed: Seed
) -> None:
    seed(instance_specs=IN_DEV)

    at = open_app(PAGE)

    strip = next(m.value for m in at.markdown if m.value.count("rsm-chip") == 3)
    assert strip.index(">Dev · 1<") < strip.index(">Stage · 0<") < strip.index(">Prod &#128274; · 0<")
    assert [m.value for m in at.main.markdown if m.value.startswith("### ")] == ["### 1", "### 2", "### 3"]
    assert ":red-badge[:material/lock: protected]" in [m.value for m in at.markdown]


def test_add_an_environment_at_a_chosen_place(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    seed(env_names=("Dev", "Prod"))
    at = open_app(PAGE)
    at.button(key="env_add").click().run()

    at.text_input(key="add_env_name").input("Stage")
    at.text_input(key="add_env_description").input("pre-production")
    at.color_picker(key="add_env_color").pick("#CC79A7")
    at.toggle(key="add_env_protected").set_value(True)
    at.selectbox(key="add_env_pos").set_value(1)  # before Prod
    at.button(key="add_env_save").click().run()

    assert_ok(at)
    assert at.toast[0].value == "Environment 'Stage' added."
    assert _pipeline(app_env)[1] == ("Stage", "#CC79A7", True)
    assert _names(app_env) == ["Dev", "Stage", "Prod"]
    assert not at.get("dialog")


@pytest.mark.parametrize(
    ("name", "message"),
    # A name over 100 characters cannot be typed any more (max_chars, tests/ui/test_input_limits.py); the core's
    # refusal of one stays tested in tests/core/test_validation.py. Control characters reach the core's rule here.
    [("", "the environment name must not be empty"), ("dev", "an environment named 'dev' already exists"),
     ("Prod\u202e", "bidirectional override")],
)
def test_bad_names_are_refused_and_nothing_is_written(
    open_app: OpenApp, seed: Seed, app_env: AppContext, name: str, message: str
) -> None:
    seed()
    at = open_app(PAGE)
    at.button(key="env_add").click().run()

    at.text_input(key="add_env_name").input(name)
    at.button(key="add_env_save").click().run()

    assert_ok(at)
    assert [e for e in field_errors(at) if message in e], "under the name"
    assert "One field needs a change" in shown(at.error[0].value)
    assert at.get("dialog"), "the dialog stays open for a correction"
    assert _names(app_env) == ["Dev", "Stage", "Prod"]


def test_reorder_with_the_arrows(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    assert at.button(key=f"env_up_{ids['Dev']}").disabled and at.button(key=f"env_down_{ids['Prod']}").disabled

    at.button(key=f"env_down_{ids['Dev']}").click().run()

    assert _names(app_env) == ["Stage", "Dev", "Prod"]
    assert shown(at.toast[0].value) == "Pipeline order: Stage → Dev → Prod."
    at.button(key=f"env_up_{ids['Prod']}").click().run()
    assert _names(app_env) == ["Stage", "Prod", "Dev"]


def test_edit_name_colour_and_protection(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"env_edit_{ids['Stage']}").click().run()
    key = f"edit_env_{ids['Stage']}"
    assert at.text_input(key=f"{key}_name").value == "Stage"

    at.text_input(key=f"{key}_name").input("Staging")
    at.color_picker(key=f"{key}_color").pick("#56b4e9")
    at.toggle(key=f"{key}_protected").set_value(True)
    at.button(key="edit_env_save").click().run()

    assert_ok(at)
    assert _pipeline(app_env)[1] == ("Staging", "#56B4E9", True)


def test_the_edit_dialog_sets_digest_pinning_and_leaves_an_unset_one_following_protection(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()

    def pins() -> dict[str, tuple[bool | None, bool]]:
        with app_env.session() as session:
            return {e.name: (e.pin_digests, e.pins_digests) for e in environments.list_environments(session)}

    at = open_app(PAGE)
    assert ":blue-badge[:material/push_pin: pins digests]" in [m.value for m in at.markdown]  # protected Prod
    at.button(key=f"env_edit_{ids['Prod']}").click().run()
    assert at.toggle(key=f"edit_env_{ids['Prod']}_pin_digests").value is True  # nobody set it: Prod is protected
    assert "Pin digests follows Protected until you change it." in [c.value for c in at.caption]
    at.text_input(key=f"edit_env_{ids['Prod']}_description").input("live")
    at.button(key="edit_env_save").click().run()
    assert_ok(at)
    assert pins()["Prod"] == (None, True)  # saved untouched: still follows its protection
    at.button(key=f"env_edit_{ids['Prod']}").click().run()
    at.toggle(key=f"edit_env_{ids['Prod']}_protected").set_value(False).run()
    assert "Pin digests follows Protected until you change it (so off once saved)." in [c.value for c in at.caption]
    at.button(key="edit_env_save").click().run()
    assert pins()["Prod"] == (None, False)

    at.button(key=f"env_edit_{ids['Stage']}").click().run()
    assert at.toggle(key=f"edit_env_{ids['Stage']}_pin_digests").value is False
    at.toggle(key=f"edit_env_{ids['Stage']}_pin_digests").set_value(True)
    at.button(key="edit_env_save").click().run()
    assert_ok(at)
    assert pins()["Stage"] == (True, True)  # unprotected, pinned: a choice of its own
    assert [m.value for m in at.markdown].count(":blue-badge[:material/push_pin: pins digests]") == 1  # Stage


def test_a_rename_onto_another_name_is_refused(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"env_edit_{ids['Stage']}").click().run()

    at.text_input(key=f"edit_env_{ids['Stage']}_name").input("Prod")
    at.button(key="edit_env_save").click().run()

    assert field_errors(at) == ["an environment named 'Prod' already exists (names are compared as they read)"]
    assert _names(app_env) == ["Dev", "Stage", "Prod"]


def test_remove_an_empty_environment(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"env_remove_{ids['Stage']}").click().run()
    assert not at.button(key="remove_env_confirm").disabled

    at.button(key="remove_env_confirm").click().run()

    assert_ok(at)
    assert _names(app_env) == ["Dev", "Prod"]


def test_removing_an_environment_with_instances_needs_the_cascade(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed(instance_specs=IN_DEV)
    at = open_app(PAGE)
    at.button(key=f"env_remove_{ids['Dev']}").click().run()

    assert "- **shop-dev**: rancher-eu · dev01/shop-dev" in shown("\n".join(m.value for m in at.markdown))
    assert at.button(key="remove_env_confirm").disabled
    at.checkbox(key="remove_env_cascade").check().run()
    at.button(key="remove_env_confirm").click().run()

    assert_ok(at)
    assert at.toast[0].value == "Environment 'Dev' removed with its app instances shop-dev."
    assert _names(app_env) == ["Stage", "Prod"]
    with app_env.session() as session:
        assert instances.list_instances(session) == []


def test_a_bad_name_and_description_are_both_reported_under_their_fields(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    seed()
    at = open_app(PAGE)
    at.button(key="env_add").click().run()

    at.text_input(key="add_env_description").input("tab\there")
    at.button(key="add_env_save").click().run()

    assert field_errors(at) == ["the environment name must not be empty",
                                "the description must not contain control characters (tabs, line breaks, escapes)"]
    assert "2 fields need a change" in shown(at.error[0].value)
    assert _names(app_env) == ["Dev", "Stage", "Prod"]
