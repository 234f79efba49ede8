"""API tokens on the People page: created with a role, environments and an expiry, the secret shown once, listed
with their last use, revoked after a confirmation."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from ranchersync.context import AppContext
from ranchersync.people import tokens
from tests.ui.conftest import Seed, assert_ok

PEOPLE = "pages/9_People.py"


def _table(at: AppTest):  # noqa: ANN202 (a pandas frame)
    return next(d.value for d in at.dataframe if "Last used" in d.value.columns)


def _texts(at: AppTest) -> str:
    return "\n".join([*(c.value for c in at.code), *(m.value for m in at.markdown), *(s.value for s in at.success),
                      *(c.value for c in at.caption)])


def test_an_admin_creates_a_token_sees_its_secret_once_and_revokes_it(
        open_app: Callable[..., AppTest], seed: Seed, app_env: AppContext) -> None:
    seed()
    at = open_app(PEOPLE)
    assert any("No API token yet" in i.value for i in at.info)
    at.button(key="token_create_open").click().run()
    at.text_input(key="token_name").input("ci-stage").run()
    at.selectbox(key="token_role").select("operator").run()
    at.multiselect(key="token_envs").select("Stage").run()
    at.number_input(key="token_days").set_value(30).run()
    at.button(key="token_create_confirm").click().run()
    assert_ok(at)

    secret = next(c.value for c in at.code if c.value.startswith(tokens.TOKEN_PREFIX))
    with app_env.session() as session:  # the secret shown is the one that works, acting as token:ci-stage
        actor = tokens.authenticate(session, secret, address="127.0.0.1")
    assert (actor.email, actor.role, actor.environments) == ("token:ci-stage", "operator", frozenset({"Stage"}))
    assert "not shown again" in _texts(at)
    row = _table(at).set_index("Name").loc["ci-stage"]
    assert (row["Role"], row["Environments"], row["State"]) == ("operator", "Stage", "active")
    assert secret not in _table(at).to_string()  # never in the list

    at.button(key="token_issued_done").click().run()
    assert secret not in _texts(at)  # shown once: gone for good once copied
    at.switch_page(PEOPLE).run()
    assert secret not in _texts(at)
    assert _table(at).set_index("Name").loc["ci-stage"]["Last used"].startswith("just now from 127.0.0.1")

    at.selectbox(key="token_revoke_choice").select("ci-stage").run()
    at.button(key="token_revoke_open").click().run()
    assert at.get("dialog")  # confirmation first: nothing revoked yet
    with app_env.session() as session:
        assert tokens.authenticate(session, secret).email == "token:ci-stage"
    at.button(key="token_revoke_confirm").click().run()
    assert_ok(at)
    assert _table(at).set_index("Name").loc["ci-stage"]["State"] == "revoked"
    with app_env.session() as session:
        try:
            tokens.authenticate(session, secret)
        except tokens.TokenRefused as refused:
            assert "revoked" in str(refused)
        else:
            raise AssertionError("a revoked token still authenticates")


def test_a_bad_name_is_refused_in_the_dialog_and_nothing_is_shown(
        open_app: Callable[..., AppTest], seed: Seed, app_env: AppContext) -> None:
    seed()
    at = open_app(PEOPLE)
    at.button(key="token_create_open").click().run()
    at.text_input(key="token_name").input("Bad Name!").run()
    at.button(key="token_create_confirm").click().run()
    assert at.get("dialog") and "is not a token name" in "\n".join(e.value for e in at.error)
    assert not [c for c in at.code if c.value.startswith(tokens.TOKEN_PREFIX)]
    with app_env.session() as session:
        assert tokens.list_tokens(session) == []
