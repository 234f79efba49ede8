"""Who is using the dashboard, per RANCHERSYNC_AUTH: `oidc` (Streamlit's st.login/st.user), `proxy` (headers set by
oauth2-proxy), `none` (the local user, admin; refused on a non-loopback address). The rules live in
ranchersync.people.directory; this module only reads Streamlit and draws the sign-in screen and the user's badge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ranchersync.access.identity import Action, Actor, minimum_role
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.people import directory as people
from ranchersync.people.directory import NotSignedIn
from ui.shell import deps

_SIGNED_IN = "auth_signed_in"  # the identity whose sign-in was recorded in this browser session


def request_headers() -> Mapping[str, str]:
    """The browser session's request headers (the seam tests patch: AppTest cannot set headers)."""
    return st.context.headers


def client_address() -> str | None:
    """The browser's address as the server saw it (behind a proxy: the proxy's), where Streamlit knows it."""
    try:
        address = st.context.ip_address
    except (AttributeError, RuntimeError):
        return None
    return address if isinstance(address, str) and address else None  # AppTest has none (a mock)


def peer_address() -> str | None:
    """The address of the connection this browser session came in on (the websocket's TCP peer as the server
    reports it), unlike st.context.ip_address not blanked for 127.0.0.1; None when unknown (AppTest)."""
    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    client = runtime.get_instance().get_client(ctx.session_id)
    context = getattr(client, "client_context", None)
    address = getattr(context, "remote_ip", None)
    return address if isinstance(address, str) and address else None


def forwarded_allow_ips() -> tuple[str, ...]:
    """The peers whose X-Forwarded-For uvicorn (Streamlit's server) puts in place of their own address: its
    FORWARDED_ALLOW_IPS, read at start in this same process; empty when set empty (`make run`, the image)."""
    value = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    return tuple(h.strip() for h in value.split(",") if h.strip())


def server_address() -> str:
    """Where the server listens (`server.address`; empty: every interface)."""
    return str(st.get_option("server.address") or "")


def mode() -> str:
    """The sign-in mode in force; raises AnonymousRefused for `none` on a non-loopback address."""
    return people.auth_mode(deps.get_context().settings, server_address())


def _identity() -> tuple[str, str, tuple[str, ...]]:
    """(email, name, groups) of whoever is signed in; NotSignedIn when nobody is."""
    settings = deps.get_context().settings
    current = mode()
    if current == "oidc":
        user = st.user
        if not user.get("is_logged_in"):
            raise NotSignedIn("sign in to continue")
        people.check_email_verified(settings, user)
        email = str(user.get("email") or user.get("sub") or "")
        return email, str(user.get("name") or ""), people.parse_groups(user.get(settings.role_claim))
    if current == "proxy":
        headers = request_headers()
        people.check_proxy_peer(settings, peer_address(), forwarded_for=bool(headers.get("X-Forwarded-For")),
                                rewritten_from=forwarded_allow_ips())
        email = str(headers.get(settings.user_header) or "")
        if not email:
            raise NotSignedIn(f"the reverse proxy sent no {settings.user_header} header: requests must come through "
                              "it (oauth2-proxy with --set-xauthrequest / pass_user_headers)")
        return email, "", people.parse_groups(headers.get(settings.groups_header))
    return settings.user, settings.user, ()


def current_actor() -> Actor:
    """The signed-in actor, with their role as of now (an assignment made on the People page applies at once)."""
    ctx = deps.get_context()
    if mode() == "none":
        return Actor(people.clean_email(ctx.settings.user), "admin", "dashboard", name=ctx.settings.user,
                     address=client_address())
    email, name, groups = _identity()
    actor = _identified(email, name, tuple(groups), client_address())
    if st.session_state.get(_SIGNED_IN) != actor.email:  # once per browser session
        with ctx.session() as session:
            people.record_sign_in(session, actor, groups)
    st.session_state[_SIGNED_IN] = actor.email
    return actor


@st.cache_data(ttl=5, show_spinner=False)
def _identified(email: str, name: str, groups: tuple[str, ...], address: str | None) -> Actor:
    # The frame asks who acts on every rerun: one role lookup per person every few seconds, not one per rerun.
    # An assignment made on the People page clears this at once (`forget_roles`); one made with the CLI applies
    # within the ttl.
    ctx = deps.get_context()
    with ctx.session() as session:
        return people.identify(session, ctx.settings.role_policy, email=email, name=name, groups=groups,
                               address=address)


def forget_roles() -> None:
    """Look roles up again (after an assignment changed)."""
    _identified.clear()


def needs(action: Action, *, protected: bool = False) -> str:
    """The short note under a hidden control: which role it needs."""
    return f"Needs the {minimum_role(action, protected=protected)} role."


def gate() -> Actor:
    """What the frame does first: the signed-in actor, or the sign-in screen (or the refusal page) and stop."""
    try:
        return current_actor()
    except (people.AnonymousRefused, people.ProxyNotTrusted, people.EmailNotVerified) as refused:
        st.error(f"**{escape_markdown(refused.title)}.** {escape_markdown(refused)}\n\n{escape_markdown(refused.hint)}",
                 icon=":material/lock:")
        if isinstance(refused, people.EmailNotVerified):
            st.button("Sign out", key="sign_out_unverified", icon=":material/logout:", on_click=st.logout)
        st.stop()
    except NotSignedIn as missing:
        _sign_in_screen(str(missing))
        st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def _sign_in_screen(reason: str) -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle.container(key="sign_in_screen", border=True):
        st.title(":material/sync_alt: Rancher Sync Manager")
        st.markdown("Promote workload versions between environments on Rancher: planned, confirmed, verified and "
                    "recorded. Sign in with your organisation's account to continue.")
        if mode() == "oidc":
            st.button("Sign in", key="sign_in", type="primary", icon=":material/login:", on_click=st.login)
            st.caption("What you may do follows your groups: viewers read, operators sync, releasers approve, "
                       "admins manage sites, people and freezes.")
        else:
            st.warning(escape_markdown(reason), icon=":material/lock:")


def sidebar_user(actor: Actor) -> None:
    """The user's name, role and Sign out, at the foot of the sidebar."""
    # st.text parses no Markdown: the e-mail needs no escaping, so it reads and copies exactly as it is (an escaped
    # one carries an invisible word joiner before the `@` that stops the autolink, and a copy would carry it too).
    with st.container(key="signed_in_user"):
        if actor.name and actor.name != actor.email:
            st.text(actor.name)
        st.text(f"{actor.email} · role: {actor.role}")
        current = mode()
        if current == "oidc":
            st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=_sign_out, args=(actor,))
        elif current == "proxy":
            st.link_button("Sign out", "/oauth2/sign_out", icon=":material/logout:")


def _sign_out(actor: Actor) -> None:
    ctx = deps.get_context()
    with ctx.session() as session:
        people.record_sign_out(session, actor)
    st.session_state.pop(_SIGNED_IN, None)
    st.logout()
