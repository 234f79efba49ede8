"""The dashboard while PostgreSQL is away (issue 19): a banner instead of the screen — never a traceback — and the
screen back by itself once the database answers. The outage is a TCP proxy cutting this test's sessions only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ranchersync.kernel.config import Settings
from tests.postgres.tcp_proxy import TcpProxy, through, upstream
from tests.ui.conftest import (  # noqa: F401 (the UI fixtures)
    OpenApp,
    app_env,
    assert_ok,
    clean_streamlit_caches,
    fake_rancher,
    open_app,
)
from tests.ui.fakes import shown
from ui.shell import outage


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(upstream(postgres_url)) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, proxy: TcpProxy) -> Settings:
    return through(settings, proxy)


def banner(at: object) -> str:
    return shown("\n".join(e.value for e in at.error))  # type: ignore[attr-defined]


def test_a_banner_while_the_database_is_away_and_the_screen_comes_back(
    open_app: OpenApp, proxy: TcpProxy  # noqa: F811
) -> None:
    at = open_app("pages/4_Services.py")
    assert outage.TITLE not in banner(at) and at.title

    proxy.cut()  # a failover: sessions cut, new connections refused
    at.run()
    assert_ok(at)
    text = banner(at)
    assert outage.TITLE in text and f"every {outage.RETRY_SECONDS} s" in text and "comes back by itself" in text
    assert "Traceback" not in text and not at.button  # nothing to click that would need the database

    proxy.restore()
    at.run()  # what the banner's own check does once the database answers: the whole page again
    assert_ok(at)
    assert outage.TITLE not in banner(at) and at.title
