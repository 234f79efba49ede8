"""AppTest fixtures: the app pointed at the temporary database by environment, clean Streamlit caches, a fake
Rancher behind `ui.shell.deps.client_factory`, and helpers to seed data through the core use-cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import environments, instances, sites
from ranchersync.catalogue.instances import Placement
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from tests.builders import ADMIN
from tests.ui.fakes import GOOD_TOKEN, FakeRancher
from ui.shell import auth, deps

ROOT = Path(__file__).resolve().parents[2]
OpenApp = Callable[..., AppTest]
Seed = Callable[..., dict[str, int]]
PAGES = [
    "pages/1_Sites.py",
    "pages/2_Environments.py",
    "pages/3_App_instances.py",
    "pages/4_Services.py",
    "pages/5_Sync_history.py",
    "pages/6_Display.py",
    "pages/7_Approvals.py",
    "pages/8_Audit_log.py",
    "pages/9_People.py",
    "pages/10_Notifications.py",
    "pages/11_Settings.py",
    "pages/12_Quarantine.py",
    "pages/13_Snapshots.py",
]


@pytest.fixture(autouse=True)
def clean_streamlit_caches() -> Iterator[None]:
    """AppTest runs in this process: no cached context or read may leak from one test to the next."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()  # disposes the app's engine (on_release)


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, ctx: AppContext) -> AppContext:
    """Point the app at the test's migrated database and key, before its first run."""
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ",".join(settings.secret_keys))
    monkeypatch.setenv("RANCHERSYNC_USER", settings.user)
    monkeypatch.setattr(deps, "demo_module", lambda: None)  # tests that want the demo patch it back in
    # AppTest has no server address: say it is the loopback one `make run` uses (anonymous mode allowed there).
    monkeypatch.setattr(auth, "server_address", lambda: "127.0.0.1")
    return ctx


@pytest.fixture
def fake_rancher(monkeypatch: pytest.MonkeyPatch) -> FakeRancher:
    """The fake Rancher every action of the app talks to."""
    world = FakeRancher()
    monkeypatch.setattr(deps, "client_factory", lambda: world.factory)
    return world


@pytest.fixture
def open_app(app_env: AppContext, fake_rancher: FakeRancher) -> Callable[..., AppTest]:
    """Run the app from its entrypoint, then switch to a page (a page run alone cannot resolve the menu)."""

    def run(page: str | None = None, *, state: dict[str, Any] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.run()
        if page:
            at.switch_page(page).run()
        assert_ok(at)
        return at

    return run


def assert_ok(at: AppTest) -> None:
    """No exception on the page."""
    assert not at.exception, [e.message for e in at.exception]


@pytest.fixture
def seed(ctx: AppContext) -> Callable[..., dict[str, int]]:
    """Write a small catalogue straight through the core: sites, environments, app instances."""

    def write(
        *,
        site_names: tuple[str, ...] = ("rancher-eu",),
        env_names: tuple[str, ...] = ("Dev", "Stage", "Prod"),
        instance_specs: tuple[tuple[str, str, str, str, str], ...] = (),  # name, site, env, cluster id, namespace
        expires_at: dt.datetime | None = None,
    ) -> dict[str, int]:
        ids: dict[str, int] = {}
        with ctx.session() as session:
            for index, name in enumerate(site_names):
                connection = sites.make_connection(f"https://{name}.example.com", GOOD_TOKEN)
                site = sites.add_site(session, ctx.cipher, name=name, connection=connection, actor=ADMIN)
                # As a successful connection test leaves it.
                site.rancher_user, site.last_latency_ms = "admin", 20 + index
                site.last_contact_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
                site.token_expires_at = expires_at
                ids[name] = site.id
            for name in env_names:
                ids[name] = environments.add_environment(session, name=name, protected=name == "Prod", actor=ADMIN).id
            for name, site_name, env_name, cluster_id, namespace in instance_specs:
                placement = Placement(cluster_id, cluster_id.replace("c-m-", ""), namespace)
                ids[name] = instances.add_instance(
                    session, name=name, site=site_name, environment=env_name, placement=placement, actor=ADMIN
                ).id
        return ids

    return write


def rendered_text(at: AppTest) -> str:
    """Everything the app sent to the browser in its last run (element protos), as one string."""
    chunks: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            chunks.append(str(proto))
        chunks.append(repr(getattr(node, "value", "")) if not hasattr(node, "children") else "")
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(chunks)


def state_text(at: AppTest) -> str:
    """The whole session state, as one string."""
    return repr({key: at.session_state[key] for key in at.session_state.keys()})


def assert_no_token(at: AppTest, token: str) -> None:
    """The token is in no rendered element and nowhere in the session state (its secret half included)."""
    secret = token.split(":", 1)[-1]
    assert secret not in rendered_text(at)
    assert secret not in state_text(at)
