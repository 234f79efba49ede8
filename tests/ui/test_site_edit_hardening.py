"""The Edit dialog never tests the stored token against a new address; Test connection and Refresh are throttled."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.rancher import RancherClient
from ranchersync.simulator import SimulatedRancher
from tests.builders import ADMIN
from tests.core.test_site_hardening import NEW_TOKEN, Listener
from tests.ui.conftest import OpenApp, Seed, assert_no_token, assert_ok
from tests.ui.fakes import FakeRancher
from ui.shell import deps, throttle

SITES = "pages/1_Sites.py"
SERVICES = "pages/4_Services.py"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as server:
        yield server


def _errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_the_edit_dialog_asks_for_a_new_token_when_the_address_changes(
    open_app: OpenApp, app_env: AppContext, rancher: SimulatedRancher, listener: Listener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with app_env.session() as session:
        site_id = sites.add_site(session, app_env.cipher, name="eu",
                                 connection=sites.make_connection(rancher.url, rancher.token), actor=ADMIN).id
    at = open_app(SITES)
    monkeypatch.setattr(deps, "client_factory", lambda: RancherClient)  # real HTTP, to the simulator or listener
    key = f"edit_site_{site_id}"
    at.button(key=f"site_edit_{site_id}").click().run()
    assert "A new API token is required" not in _warnings(at)

    at.text_input(key=f"{key}_url").input(listener.url).run()
    assert "A new API token is required" in _warnings(at) and "the address changes" in _warnings(at)
    at.button(key="edit_site_save").click().run()

    assert_ok(at)
    assert "A new API token is required" in _errors(at) and at.get("dialog")
    assert listener.seen == [], "the stored token was not sent to the new address"
    with app_env.session() as session:
        assert sites.get_site(session, site_id).url == rancher.url

    at.text_input(key=f"{key}_token").input(NEW_TOKEN).run()
    assert "A new API token is required" not in _warnings(at)
    at.button(key="edit_site_save").click().run()

    assert_ok(at)
    with app_env.session() as session:
        assert sites.get_site(session, site_id).url == listener.url
    assert listener.seen and set(listener.seen) == {f"Bearer {NEW_TOKEN}"}, "saved and tested with the new token"
    assert_no_token(at, NEW_TOKEN)
    assert_no_token(at, rancher.token)


def test_skipping_verification_needs_a_new_token_in_the_dialog(
    open_app: OpenApp, seed: Seed, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    site_id = seed()["rancher-eu"]
    at = open_app(SITES)
    at.button(key=f"site_edit_{site_id}").click().run()
    at.radio(key=f"edit_site_{site_id}_tls").set_value("skip").run()
    at.button(key="edit_site_save").click().run()

    assert "TLS verification would be skipped" in _errors(at)
    assert fake_rancher.calls == [], "no connection test with the old token"
    with app_env.session() as session:
        assert not sites.get_site(session, site_id).insecure


def test_a_second_test_click_within_seconds_reuses_the_answer(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    site_id = seed()["rancher-eu"]
    at = open_app(SITES)

    at.button(key=f"site_test_{site_id}").click().run()
    assert "Connection to 'rancher-eu' works" in at.toast[0].value
    assert len(fake_rancher.calls) == 1

    at.button(key=f"site_test_{site_id}").click().run()
    assert_ok(at)
    assert len(fake_rancher.calls) == 1, "Rancher was not asked again"
    assert "Connection to 'rancher-eu' works" in at.toast[0].value and "s ago" in at.toast[0].value
    assert "Checked" in at.toast[0].value


def test_a_second_refresh_within_seconds_keeps_the_data_and_says_so(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    seed(instance_specs=(("shop-dev", "rancher-eu", "Dev", "c-m-dev01", "shop-dev"),))
    at = open_app(SERVICES)
    read = len(fake_rancher.calls)

    at.button(key="svc_refresh").click().run()
    once = len(fake_rancher.calls)
    assert once > read
    at.button(key="svc_refresh").click().run()

    assert_ok(at)
    assert len(fake_rancher.calls) == once, "the second click did not read Rancher again"
    assert any("Refreshed" in c.value and "s ago" in c.value for c in at.caption)


# ---- the rule, with a clock of our own --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throttle_reuses_within_the_interval_then_runs_again() -> None:
    clock, store, runs = Clock(), {}, []

    def work() -> int:
        runs.append(clock.now)
        return len(runs)

    assert throttle.reuse_or_run(store, "t", 1, work, clock=clock) == (1, None)
    clock.now += 3
    assert throttle.reuse_or_run(store, "t", 1, work, clock=clock) == (1, 3.0)
    assert throttle.reuse_or_run(store, "t", 2, work, clock=clock) == (2, None), "another key runs at once"
    clock.now += 5
    assert throttle.reuse_or_run(store, "t", 2, work, clock=clock) == (3, None), "after the interval it runs"
    throttle.forget(store, "t")
    assert throttle.reuse_or_run(store, "t", 2, work, clock=clock) == (4, None), "forgotten: runs again"
    assert throttle.age_note(2.6) .startswith("Checked 3 s ago")
    assert dataclasses.is_dataclass(store["throttle_t"])
