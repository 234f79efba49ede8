"""A failure reads the same on every screen and on the command line: the title, the hint and the message that the
core set where it classified the failure — no screen re-guesses its meaning from the message's words."""

from __future__ import annotations

import pytest

from ranchersync.cli.output import report_error
from tests.ui import fakes
from tests.ui.conftest import OpenApp, Seed, assert_ok
from tests.ui.fakes import FAILURES, FakeRancher

PAGE = "pages/1_Sites.py"


@pytest.mark.parametrize("failure", ["unreachable", "tls", "rancher down", "wrong token"])
def test_the_sites_page_and_the_cli_show_the_same_words(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher, capsys: pytest.CaptureFixture[str], failure: str
) -> None:
    error = FAILURES[failure]
    assert report_error(error) == 1
    assert capsys.readouterr().err == f"error: {error}\nhint: {error.hint}\n"
    ids = seed()
    fake_rancher.failure = failure
    at = open_app(PAGE)

    at.button(key=f"site_test_{ids['rancher-eu']}").click().run()

    assert_ok(at)
    shown = fakes.shown(at.error[0].value)
    assert error.hint and error.hint in shown and str(error) in shown


def test_a_refused_connection_is_not_explained_as_a_certificate(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    fake_rancher.failure = "unreachable"
    at = open_app(PAGE)

    at.button(key=f"site_test_{ids['rancher-eu']}").click().run()

    shown = fakes.shown(at.error[0].value)
    assert "Check the URL: nothing accepted the connection at that address and port." in shown
    assert "certificate" not in shown.lower()


def test_rancher_down_is_not_explained_as_a_disconnected_cluster(
    open_app: OpenApp, seed: Seed, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    fake_rancher.failure = "rancher down"
    at = open_app(PAGE)

    at.button(key=f"site_test_{ids['rancher-eu']}").click().run()

    shown = fakes.shown(at.error[0].value)
    assert "Rancher (or a proxy in front of it) answered but cannot serve this now" in shown
    assert "disconnected" not in shown
