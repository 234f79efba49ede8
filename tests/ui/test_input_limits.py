"""Inputs stop at the length the core accepts, so a user is not told after typing that a name is too long."""

from __future__ import annotations

from ranchersync.kernel.validation import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH
from tests.ui.conftest import OpenApp, Seed, assert_ok


def test_the_first_site_form_limits_its_fields(open_app: OpenApp) -> None:
    at = open_app()
    assert_ok(at)
    limits = {key: at.text_input(key=key).max_chars for key in ("welcome_name", "welcome_url", "welcome_token")}
    assert limits == {"welcome_name": NAME_MAX_LENGTH, "welcome_url": 500, "welcome_token": 500}


def test_the_environment_form_limits_name_and_description(open_app: OpenApp, seed: Seed) -> None:
    seed(env_names=("Dev",))
    at = open_app("pages/2_Environments.py")
    at.button(key="env_add").click().run()
    assert_ok(at)
    assert at.text_input(key="add_env_name").max_chars == NAME_MAX_LENGTH
    assert at.text_input(key="add_env_description").max_chars == DESCRIPTION_MAX_LENGTH
