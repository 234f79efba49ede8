"""The first-visit dialog against the real client and a simulated Rancher over HTTP(S): the explanations match what
the real client raises, not only what the fake imitates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.simulator import SimulatedRancher, load_demo_world
from tests.conftest import closed_port_url
from tests.ui.conftest import ROOT, OpenApp, assert_no_token, assert_ok
from tests.ui.fakes import shown


@pytest.fixture
def real_app(app_env: AppContext) -> OpenApp:
    """The app with its real Rancher client (no fake)."""

    def run() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.run()
        assert_ok(at)
        return at

    return run


@pytest.fixture
def tls_rancher() -> Iterator[SimulatedRancher]:
    """A simulated Rancher serving HTTPS with a certificate from its own, freshly made CA."""
    with SimulatedRancher(load_demo_world("rancher-eu"), tls=True) as server:
        yield server


def _add(at: AppTest, url: str, token: str, ca: str | None = None) -> AppTest:
    at.text_input(key="welcome_name").input("rancher-eu")
    at.text_input(key="welcome_url").input(url)
    at.text_input(key="welcome_token").input(token)
    if ca is not None:
        at.radio(key="welcome_tls").set_value("bundle").run()
        at.text_area(key="welcome_ca_text").input(ca)
    return at.button(key="welcome_save").click().run()


def _stored(ctx: AppContext) -> list[str]:
    with ctx.session() as session:
        return [s.name for s in sites.list_sites(session)]


def test_an_untrusted_certificate_then_its_ca_bundle(
    real_app: OpenApp, app_env: AppContext, tls_rancher: SimulatedRancher
) -> None:
    at = _add(real_app(), tls_rancher.url, tls_rancher.token)
    assert "The TLS certificate is not trusted" in at.error[0].value
    assert _stored(app_env) == []

    at = _add(at, tls_rancher.url, tls_rancher.token, ca=tls_rancher.ca_pem)

    assert_ok(at)
    assert _stored(app_env) == ["rancher-eu"]
    assert "Site 'rancher-eu' added: signed in as Default Admin" in shown(at.toast[0].value)
    assert_no_token(at, tls_rancher.token)


def test_a_wrong_token_and_an_unreachable_host(real_app: OpenApp, app_env: AppContext) -> None:
    with SimulatedRancher(load_demo_world("rancher-eu")) as server:
        at = _add(real_app(), server.url, "token-wrong:notthesecret")
        assert "Rancher refused the token" in at.error[0].value
        assert "No scope" in at.error[0].value

    at = _add(at, closed_port_url(), "token-abcde:secret")
    assert "Rancher cannot be reached" in at.error[0].value
    assert "the connection was refused" in at.error[0].value
    assert _stored(app_env) == []
