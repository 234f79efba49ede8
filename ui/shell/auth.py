"""Who is using the dashboard, per RANCHERSYNC_AUTH: `oidc` (Streamlit's st.login/st.user), `proxy` (headers set by
oauth2-proxy), `none` (the local user, admin; refused on a non-loopback address). The rules live in
ranchersync.people.directory; this module only reads Streamlit and draws the sign-in screen and the user's badge.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

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
        email = str(user.get("email") or user.get("sub") or "")
        return email, str(user.get("name") or ""), people.parse_groups(user.get(settings.role_claim))
    if current == "proxy":
        headers = request_headers()
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
    except people.AnonymousRefused as refused:
        st.error(f"**{escape_markdown(refused.title)}.** {escape_markdown(refused)}\n\n{escape_markdown(refused.hint)}",
                 icon=":material/lock:")
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
    with st.container(key="signed_in_user"):
        st.markdown(f":material/account_circle: **{escape_markdown(actor.name or actor.email)}**")
        st.caption(f"{escape_markdown(actor.email)} · role: **{actor.role}**")
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
