"""Every screen renders from the entrypoint, empty and filled, with the menu, and never shows a token."""

from __future__ import annotations

from typing import cast

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import PageLink

from tests.ui.conftest import PAGES, OpenApp, Seed, assert_no_token
from tests.ui.fakes import GOOD_TOKEN

MENU_LABELS = ["Overview", "Sites", "Environments", "App instances", "Services", "Sync history", "Snapshots",
               "Approvals", "Quarantine", "Display", "People", "Audit log", "Notifications"]
INSTANCES = (
    ("shop-dev", "rancher-eu", "Dev", "c-m-dev01", "shop-dev"),
    ("shop-prod", "rancher-eu", "Prod", "c-m-prd01", "shop-prod"),
)


def _menu(at: AppTest) -> list[str]:
    return [cast(PageLink, link).label for link in at.sidebar.get("page_link")][: len(MENU_LABELS)]


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_on_an_empty_database(open_app: OpenApp, page: str | None) -> None:
    at = open_app(page)

    assert at.title, "every screen has a title"
    assert _menu(at) == MENU_LABELS
    assert at.get("dialog"), "with no site configured, the first-visit dialog opens on every screen"


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_filled_without_a_token(
    open_app: OpenApp, seed: Seed, page: str | None
) -> None:
    seed(instance_specs=INSTANCES)

    at = open_app(page)

    assert _menu(at) == MENU_LABELS
    assert not at.get("dialog")
    assert_no_token(at, GOOD_TOKEN)


def test_the_selected_environment_survives_page_switches(
    open_app: OpenApp, seed: Seed
) -> None:
    ids = seed(instance_specs=INSTANCES)
    at = open_app("pages/3_App_instances.py")
    at.selectbox(key="sidebar_environment").select(ids["Prod"]).run()
    assert at.subheader[0].value.startswith("Prod")

    at.switch_page("pages/1_Sites.py").run()
    at.switch_page("pages/3_App_instances.py").run()

    assert at.selectbox(key="sidebar_environment").value == ids["Prod"]
    assert at.subheader[0].value.startswith("Prod")


def test_the_token_check_would_catch_a_token(open_app: OpenApp) -> None:
    """A control for assert_no_token: a token typed into the (still open) dialog is found in the state."""
    at = open_app()
    at.text_input(key="welcome_token").input(GOOD_TOKEN).run()

    with pytest.raises(AssertionError):
        assert_no_token(at, GOOD_TOKEN)
