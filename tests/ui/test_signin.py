"""Sign-in in the dashboard (AppTest): the sign-in screen until `st.user` is signed in, then the user's name, role
and Sign out; each role's controls (a viewer has no sync button, and the core refuses a viewer's sync anyway); proxy
mode through the headers seam; anonymous mode refused on every interface; the People page's audited assignment."""

from __future__ import annotations

from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.kernel.errors import PermissionDenied
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.models import AuditEvent, SyncOperation, User
from ranchersync.people import directory as people
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, apply_plan, new_request_id, plan_environments
from tests.ui.conftest import ROOT, Seed, assert_ok
from tests.ui.test_services_page import select as select_rows
from ui.shell import auth

ROLE_MAP = '{"rsm-viewers": "viewer", "rsm-ops": "operator", "rsm-releasers": "releaser", "rsm-admins": "admin"}'
SERVICES = "pages/4_Services.py"
PEOPLE = "pages/9_People.py"


@pytest.fixture
def oidc(monkeypatch: pytest.MonkeyPatch, app_env: AppContext) -> AppContext:
    monkeypatch.setenv("RANCHERSYNC_AUTH", "oidc")
    monkeypatch.setenv("RANCHERSYNC_ROLE_MAP", ROLE_MAP)
    return app_env


def signed_in(email: str, groups: list[str], page: str | None = None, name: str = "") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": email, "email_verified": True,
               "name": name or email.split("@")[0].title(), "groups": groups}
    at.run()
    if page:
        at.switch_page(page).run()
    assert_ok(at)
    return at


def _sidebar_text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
                     + [t.value for t in at.sidebar.text])


def _links(at: AppTest) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]  # type: ignore[attr-defined]


def _events(ctx: AppContext, prefix: str) -> list[tuple[str, str, str]]:
    with ctx.session() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.role)
                               .where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_sign_in_screen_until_signed_in(oidc: AppContext, seed: Seed) -> None:
    seed()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.user = {"is_logged_in": False}
    at.run()
    assert_ok(at)
    assert at.button(key="sign_in").label == "Sign in"
    assert not at.sidebar.get("page_link"), "nothing of the app shows before sign-in"
    assert not at.get("dialog") and not [t for t in at.title if t.value == "Overview"]


def test_signed_in_shows_name_role_and_sign_out_and_audits_once(oidc: AppContext, seed: Seed) -> None:
    seed()
    at = signed_in("rita@example.com", ["rsm-releasers"], name="Rita Release")
    assert "Rita Release" in _sidebar_text(at) and "rita@example.com · role: releaser" in _sidebar_text(at)
    assert "People" not in _links(at), "the People page is for admins"
    at.run()
    at.switch_page("pages/7_Approvals.py").run()
    assert _events(oidc, "user.") == [("user.sign_in", "rita@example.com", "releaser")], "once per browser session"
    with oidc.session() as session:
        user = session.scalars(select(User)).one()
        assert (user.email, user.name, user.last_role) == ("rita@example.com", "Rita Release", "releaser")
    at.button(key="sign_out").click().run()
    assert _events(oidc, "user.")[-1] == ("user.sign_out", "rita@example.com", "releaser")
    at.run()  # st.logout() signed the AppTest user out: the next run shows the sign-in screen
    assert at.button(key="sign_in")


def test_a_viewer_has_no_sync_button_and_the_core_refuses_anyway(
        oidc: AppContext, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    at = signed_in("vera@example.com", ["rsm-viewers"], SERVICES)
    at.segmented_control(key="svc_view").set_value("compare").run()
    at = select_rows(at, 0, ["Deployment/frontend"])
    assert_ok(at)
    assert not [b for b in at.button if b.key == "cmp_review"], "no sync button for a viewer"
    assert any(escape_markdown("vera@example.com is a viewer") in c.value for c in at.caption)
    # Whatever a screen shows, the use-case refuses the identity the dashboard works out for her.
    settings = Settings.from_env()
    with demo.session() as session:
        vera = people.identify(session, settings.role_policy, email="vera@example.com", groups=["rsm-viewers"])
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"],
                                 targets={("Deployment", "frontend"): "all"})
    with pytest.raises(PermissionDenied):
        apply_plan(demo, plan, actor=vera, request_id=new_request_id(), options=SyncOptions(timeout_seconds=5))
    with demo.session() as session:
        assert session.scalar(select(SyncOperation.id)) is None
    sites = signed_in("vera@example.com", ["rsm-viewers"], "pages/1_Sites.py")
    add = sites.button(key="site_add")
    assert add.disabled and "only an admin or higher may change sites" in (add.help or "")


def test_an_operator_sees_the_sync_button(oidc: AppContext, demo: AppContext, rancher_us: SimulatedRancher) -> None:
    at = signed_in("otto@example.com", ["rsm-ops"], SERVICES)
    at.segmented_control(key="svc_view").set_value("compare").run()
    at = select_rows(at, 0, ["Deployment/frontend"])
    assert not at.button(key="cmp_review").disabled


def _headers(monkeypatch: pytest.MonkeyPatch, headers: dict[str, Any], peer: str | None = "127.0.0.1") -> None:
    monkeypatch.setenv("RANCHERSYNC_AUTH", "proxy")
    monkeypatch.setenv("RANCHERSYNC_ROLE_MAP", ROLE_MAP)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")  # as `make run` and the image start the server
    monkeypatch.setattr(auth, "request_headers", lambda: headers)
    monkeypatch.setattr(auth, "peer_address", lambda: peer)  # AppTest has no connection: the seam says whose


FORGED = {"X-Forwarded-Email": "mallory@evil.example", "X-Forwarded-Groups": "rsm-admins"}


def test_proxy_mode_refuses_identity_headers_from_outside_the_trusted_proxies(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext, seed: Seed) -> None:
    seed()
    monkeypatch.setenv("RANCHERSYNC_TRUSTED_PROXIES", "10.0.0.5/32")
    _headers(monkeypatch, FORGED, peer="10.9.9.9")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.sidebar.get("page_link") and not at.get("dialog"), "nothing of the app"
    message = at.error[0].value
    assert "Identity headers are believed only from the proxy" in message
    assert escape_markdown("the connection comes from 10.9.9.9, which is not a trusted proxy") in message
    assert _events(app_env, "user.") == []
    _headers(monkeypatch, FORGED, peer="10.0.0.5")  # the same headers from the proxy's own address
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert_ok(at)
    assert "mallory@evil.example · role: admin" in _sidebar_text(at)


def test_proxy_mode_does_not_believe_an_address_taken_from_x_forwarded_for(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext) -> None:
    # uvicorn's default: for connections from 127.0.0.1 and ::1 the reported address is X-Forwarded-For's.
    monkeypatch.setenv("RANCHERSYNC_TRUSTED_PROXIES", "10.0.0.5/32")
    _headers(monkeypatch, {**FORGED, "X-Forwarded-For": "10.0.0.5"}, peer="10.0.0.5")
    monkeypatch.delenv("FORWARDED_ALLOW_IPS")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.sidebar.get("page_link")
    assert escape_markdown("FORWARDED_ALLOW_IPS") in at.error[0].value


@pytest.mark.parametrize("address", ["0.0.0.0", ""])
def test_proxy_mode_beyond_loopback_needs_trusted_proxies(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext, address: str) -> None:
    _headers(monkeypatch, FORGED, peer="10.0.0.5")
    monkeypatch.setattr(auth, "server_address", lambda: address)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.sidebar.get("page_link")
    assert "Proxy mode needs RANCHERSYNC\\_TRUSTED\\_PROXIES" in at.error[0].value


def test_the_signed_in_e_mail_reads_and_copies_as_written(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext, seed: Seed) -> None:
    seed()
    _headers(monkeypatch, {"X-Forwarded-Email": "alice@corp.test"})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    badge = [t.value for t in at.sidebar.text]
    assert badge == ["alice@corp.test · role: viewer"], "plain text: no escaping, no invisible word joiner"
    assert not any("alice" in m.value for m in [*at.sidebar.markdown, *at.sidebar.caption])


def test_proxy_mode_reads_the_user_and_groups_from_the_headers(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext, seed: Seed) -> None:
    seed()
    _headers(monkeypatch, {"X-Forwarded-Email": "Pat@Example.com", "X-Forwarded-Groups": "staff,rsm-admins"})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert_ok(at)
    assert "pat@example.com · role: admin" in _sidebar_text(at)
    assert "People" in _links(at)
    assert _events(app_env, "user.") == [("user.sign_in", "pat@example.com", "admin")]


def test_proxy_mode_without_the_header_shows_nothing(monkeypatch: pytest.MonkeyPatch, app_env: AppContext) -> None:
    _headers(monkeypatch, {})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.sidebar.get("page_link")
    assert any("X-Forwarded-Email" in w.value for w in at.warning)


@pytest.mark.parametrize("address", ["0.0.0.0", ""])
def test_anonymous_mode_is_refused_on_every_interface(
        monkeypatch: pytest.MonkeyPatch, app_env: AppContext, address: str) -> None:
    monkeypatch.setattr(auth, "server_address", lambda: address)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.sidebar.get("page_link") and not at.get("dialog")
    message = at.error[0].value
    assert "Sign-in is required on this address" in message and escape_markdown("RANCHERSYNC_AUTH=oidc") in message
    monkeypatch.setenv("RANCHERSYNC_ALLOW_ANONYMOUS", "1")
    st.cache_resource.clear()  # settings are read once, at start: a restart with the variable set
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert at.sidebar.get("page_link") and not at.error


def test_an_admin_assigns_a_role_on_the_people_page(oidc: AppContext, seed: Seed) -> None:
    seed()
    signed_in("vera@example.com", ["rsm-viewers"])
    viewer_view = signed_in("vera@example.com", ["rsm-viewers"], PEOPLE)
    assert any("Only admins see this page" in w.value for w in viewer_view.warning)
    at = signed_in("ada@example.com", ["rsm-admins"], PEOPLE)
    table = next(d.value for d in at.dataframe if "Role comes from" in d.value.columns)
    assert dict(zip(table["E-mail"], table["Role"], strict=True)) == {"vera@example.com": "viewer",
                                                                      "ada@example.com": "admin"}
    at.selectbox(key="people_email").select("vera@example.com").run()
    at.selectbox(key="people_role").select("releaser").run()
    at.button(key="people_assign_open").click().run()
    assert at.get("dialog")
    at.button(key="people_confirm").click().run()
    assert_ok(at)
    assert _events(oidc, "user.role_set") == [("user.role_set", "ada@example.com", "admin")]
    again = signed_in("vera@example.com", ["rsm-viewers"])  # the assignment beats her group at once
    assert "role: releaser" in _sidebar_text(again)


@pytest.mark.parametrize("claim", [{}, {"email_verified": False}, {"email_verified": "false"}])
def test_an_oidc_sign_in_with_an_unverified_e_mail_is_refused(
        oidc: AppContext, seed: Seed, monkeypatch: pytest.MonkeyPatch, claim: dict[str, Any]) -> None:
    seed()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.user = {"is_logged_in": True, "email": "ada@example.com", "groups": ["rsm-admins"], **claim}
    at.run()
    assert not at.sidebar.get("page_link") and not at.get("dialog"), "nothing of the app"
    assert "The e-mail address is not verified" in at.error[0].value
    assert at.button(key="sign_out_unverified"), "a way to sign in with another account"
    assert _events(oidc, "user.") == [], "nobody signed in"
    monkeypatch.setenv("RANCHERSYNC_OIDC_ALLOW_UNVERIFIED_EMAIL", "1")  # a provider that never sends the claim
    st.cache_resource.clear()  # settings are read once, at start: a restart with the variable set
    at.run()
    assert_ok(at)
    assert "ada@example.com · role: admin" in _sidebar_text(at)
