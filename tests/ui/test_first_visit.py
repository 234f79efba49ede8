"""The first-visit dialog: add the first site (tested before saving, failures explained), or start the demo."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.ops import demo
from tests.ui.conftest import OpenApp, assert_no_token, assert_ok
from tests.ui.fakes import FAILURES, GOOD_TOKEN, TITLES, FakeRancher, field_errors, shown
from ui.catalogue import demo_actions
from ui.shell import deps


def _fill(at: AppTest, *, name: str = "rancher-eu", url: str = "https://rancher.example.com",
          token: str = GOOD_TOKEN, tls: str | None = None) -> AppTest:
    at.text_input(key="welcome_name").input(name)
    at.text_input(key="welcome_url").input(url)
    at.text_input(key="welcome_token").input(token)
    if tls is not None:
        at.radio(key="welcome_tls").set_value(tls)
    return at


def _stored_sites(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [s.name for s in sites.list_sites(session)]


def _errors(at: AppTest) -> str:
    return shown("\n".join(e.value for e in at.error))


def test_the_dialog_opens_with_no_site_and_offers_both_paths(open_app: OpenApp) -> None:
    at = open_app()

    dialog = at.get("dialog")[0]
    assert dialog.proto.dialog.title == "Welcome to Rancher Sync Manager"
    assert [t.label for t in at.tabs] == ["Connect your Rancher", "Try the demo"]
    assert at.button(key="welcome_save")
    assert at.button(key="welcome_demo").disabled, "no demo module in this test"


def test_adding_the_first_site_tests_then_saves_it(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    at = _fill(open_app())

    at.button(key="welcome_save").click().run()

    assert_ok(at)
    assert _stored_sites(app_env) == ["rancher-eu"]
    assert ("test_connection", "https://rancher.example.com") in fake_rancher.calls
    assert not at.get("dialog"), "the dialog closes after a success"
    assert "Site 'rancher-eu' added" in at.toast[0].value
    assert "Default Admin" in at.toast[0].value
    assert_no_token(at, GOOD_TOKEN)
    at.switch_page("pages/1_Sites.py").run()
    assert_no_token(at, GOOD_TOKEN)
    assert "#### rancher-eu" in [m.value for m in at.main.markdown]


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failed_connection_test_is_explained_and_saves_nothing(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher, failure: str
) -> None:
    fake_rancher.failure = failure
    at = _fill(open_app())

    at.button(key="welcome_save").click().run()

    assert_ok(at)
    assert _stored_sites(app_env) == []
    assert at.get("dialog"), "the dialog stays open so the input can be corrected"
    assert TITLES[failure] in _errors(at)
    assert str(FAILURES[failure]) in _errors(at)


def test_a_wrong_token_also_mentions_cluster_scoped_keys(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    at = _fill(open_app(), token="token-zzzzz:wrongsecret")

    at.button(key="welcome_save").click().run()

    assert "Rancher refused the token" in _errors(at)
    assert "scoped to one cluster" in _errors(at) and "No scope" in _errors(at)
    assert _stored_sites(app_env) == []
    assert "wrongsecret" not in _errors(at)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "the site name must not be empty"),
        ({"url": ""}, "the Rancher URL must not be empty"),
        ({"url": "rancher.example.com"}, "is not a URL"),
        ({"url": "ftp://rancher.example.com"}, "the Rancher URL must use https: write it like"),
        ({"url": "http://rancher.example.com"}, "must use https"),
        ({"token": ""}, "the API token must not be empty"),
        ({"token": "not a token"}, "must look like token-xxxxx:secret"),
    ],
)
def test_bad_input_is_refused_before_any_call_and_saves_nothing(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher, fields: dict[str, str], message: str
) -> None:
    at = _fill(open_app(), **fields)

    at.button(key="welcome_save").click().run()

    assert_ok(at)
    assert [e for e in field_errors(at) if message in e], "under its field"
    assert "Please check the form" in _errors(at)
    assert _stored_sites(app_env) == []
    assert fake_rancher.calls == [], "nothing reaches Rancher with bad input"


def test_choosing_a_ca_bundle_without_giving_one_is_refused(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    at = _fill(open_app(), tls="Use a CA bundle")

    at.button(key="welcome_save").click().run()

    assert "The CA bundle is missing" in _errors(at)
    assert _stored_sites(app_env) == [] and fake_rancher.calls == []


def test_a_ca_bundle_that_is_not_pem_is_refused(
    open_app: OpenApp, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    at = _fill(open_app(), tls="Use a CA bundle")
    at.run()
    at.text_area(key="welcome_ca_text").input("hello").run()

    at.button(key="welcome_save").click().run()

    assert [e for e in field_errors(at) if "not a PEM certificate" in e], "under the CA bundle"
    assert _stored_sites(app_env) == [] and fake_rancher.calls == []


def test_the_demo_starts_from_the_dialog(
    open_app: OpenApp, app_env: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []

    def start_demo(ctx: AppContext, progress: Callable[[str], None] | None = None) -> Any:
        assert progress is not None
        progress("Starting two simulated Rancher servers…")
        started.append(ctx)
        return types.SimpleNamespace(sites=2, environments=3, instances=6)

    fake_demo = types.SimpleNamespace(start_demo=start_demo, local_only_refusal=demo.local_only_refusal)
    monkeypatch.setattr(deps, "demo_module", lambda: fake_demo)
    monkeypatch.setattr(deps, "server_address", lambda: "127.0.0.1")
    at = open_app()
    assert not at.button(key="welcome_demo").disabled

    at.button(key="welcome_demo").click().run()

    assert_ok(at)
    assert started and started[0] is deps.get_context()
    assert shown(at.toast[0].value) == "The demo is ready: 2 sites, 3 environments, 6 app instances."


@pytest.mark.parametrize("address", [None, "0.0.0.0", "10.1.2.3"])
def test_the_demo_is_refused_on_a_server_others_can_reach(
    open_app: OpenApp, app_env: AppContext, monkeypatch: pytest.MonkeyPatch, address: str | None
) -> None:
    started: list[Any] = []
    fake_demo = types.SimpleNamespace(start_demo=lambda *a, **k: started.append(a),
                                      local_only_refusal=demo.local_only_refusal)
    monkeypatch.setattr(deps, "demo_module", lambda: fake_demo)
    monkeypatch.setattr(deps, "server_address", lambda: address)
    at = open_app()
    assert at.button(key="welcome_demo").disabled
    assert "only on a dashboard that listens on 127.0.0.1" in shown(" ".join(i.value for i in at.info))
    assert not demo_actions.start_demo().ok and not started
