"""The People page's API tokens: create one (role, environments, expiry) and see its secret once, list them with
their last use, revoke one after a confirmation. ranchersync.people.tokens does the work and the checks."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.kernel.humanize import ago
from ranchersync.kernel.roles import ROLES
from ranchersync.people import tokens
from ui.shell import deps, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome, attempt

_CREATE = "token_create"
_REVOKE = "token_revoke"
_ISSUED = "_token_issued"  # (name, secret) until the admin says it is copied; never a widget's value
NEVER = 0


def list_all() -> list[tokens.TokenSummary]:
    """Every token, revoked and expired ones too, read now."""
    with deps.get_context().session() as session:
        return tokens.list_tokens(session)


def environment_names() -> list[str]:
    """The environments a token may be limited to, in pipeline order."""
    from ranchersync.catalogue import environments

    with deps.get_context().session() as session:
        return [e.name for e in environments.list_environments(session)]


def section(actor: Actor, now: dt.datetime) -> None:
    """The tokens section: the secret just issued, the list, and the create and revoke controls."""
    st.subheader("API tokens", anchor=False)
    st.caption("Pipelines call the HTTP API (`/api/v1`) with a token instead of holding the database and the key. "
               "A token acts as `token:NAME` with its role, only in its environments when some are listed; every "
               "change it makes is in the audit log. The secret is shown once and kept only as a hash.")
    _issued()
    found = list_all()
    if found:
        table(found, now)
    else:
        widgets.empty_state("No API token yet.", icon=":material/key:")
    active = [t.name for t in found if t.state(now) == "active"]
    with st.container(horizontal=True, vertical_alignment="bottom", key="tokens_actions"):
        st.button("Create a token…", key="token_create_open", type="primary", icon=":material/add:",
                  on_click=widgets.open_dialog, args=(_CREATE,))
        choice = st.selectbox("Token", active, index=None, placeholder="Choose a token to revoke",
                              key="token_revoke_choice", width=280)
        st.button("Revoke…", key="token_revoke_open", disabled=choice is None, icon=":material/block:",
                  on_click=widgets.open_dialog, args=(_REVOKE,), kwargs={"token": choice})
    request = widgets.requested_dialog(_CREATE)
    if request is not None:
        _create_dialog(actor)
    request = widgets.requested_dialog(_REVOKE)
    if request is not None and request.get("token"):
        _revoke_dialog(actor, request["token"])


def table(found: list[tokens.TokenSummary], now: dt.datetime) -> None:
    """One row per token: role, where it may act, state, expiry and last use; never the secret nor its hash."""
    rows = [(t.name, t.role, ", ".join(t.environments) if t.environments is not None else "all", t.state(now),
             t.created_by, fmt_time(t.expires_at, "never"),
             ago(t.last_used_at, now) + (f" from {t.last_used_address}" if t.last_used_address else ""))
            for t in found]
    st.dataframe(pd.DataFrame(rows, columns=["Name", "Role", "Environments", "State", "Created by", "Expires",
                                             "Last used"]), hide_index=True, width="stretch", key="tokens_table")


def fmt_time(value: dt.datetime | None, empty: str) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else empty


def _issued() -> None:
    """The secret just created, once: a code block (its copy button) until the admin says it is copied."""
    issued = st.session_state.get(_ISSUED)
    if not issued:
        return
    name, secret = issued
    with st.container(border=True, key="token_issued"):
        st.success(f"Token {fmt.literal(name)} created. Copy its secret now: it is not shown again.",
                   icon=":material/key:")
        st.code(secret, language=None)
        st.caption("Use the copy button at the right of the secret, then store it in your CI's secret store as "
                   "`RANCHERSYNC_API_TOKEN`. Lost? Revoke it and create another.")
        st.button("I have copied it", key="token_issued_done", on_click=_forget_issued)


def _forget_issued() -> None:
    st.session_state.pop(_ISSUED, None)


def create(actor: Actor, name: str, role: str, environments: list[str], expires_days: int) -> Outcome:
    """Create a token; its secret goes to the once-only display, never into the outcome's message."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            issued = tokens.create_token(session, actor, name=name, role=role,  # type: ignore[arg-type]
                                         environments=environments,
                                         expires_days=None if expires_days == NEVER else expires_days)
            summary = issued.summary
            st.session_state[_ISSUED] = (summary.name, issued.secret)
        where = ", ".join(summary.environments) if summary.environments is not None else "every environment"
        return Outcome.done(f"Token {summary.name} ({summary.role}, {where}) created.")

    return attempt(work)


def revoke(actor: Actor, name: str) -> Outcome:
    """Revoke a token at once: its next call gets 401."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            summary = tokens.revoke_token(session, actor, name)
        return Outcome.done(f"Token {summary.name} is revoked: its next call is refused.")

    return attempt(work)


@st.dialog("Create an API token", on_dismiss=widgets.close_dialog)
def _create_dialog(actor: Actor) -> None:
    name = st.text_input("Name", max_chars=63, placeholder="e.g. ci-promote-prod", key="token_name",
                         help="Lower-case letters, digits, '.', '_' or '-'; the audit log shows it as token:NAME.")
    role = st.selectbox("Role", ROLES, index=ROLES.index("operator"), key="token_role",
                        help="operator: syncs and rollbacks outside protected environments, requests into them; "
                             "releaser: approves and syncs into protected ones (never its own request).")
    envs = st.multiselect("Only in these environments", environment_names(), key="token_envs",
                          placeholder="every environment", help="Empty: it may act in every environment.")
    days = st.number_input("Expires after (days; 0: never)", min_value=0, max_value=tokens.MAX_EXPIRES_DAYS,
                           value=90, step=1, key="token_days")
    if widgets.dialog_buttons("Create the token", "token_create_confirm", "token_create_cancel",
                              icon=":material/key:", disabled=not name.strip()):
        widgets.finish(create(actor, name, role, list(envs), int(days)))


@st.dialog("Revoke an API token", on_dismiss=widgets.close_dialog)
def _revoke_dialog(actor: Actor, name: str) -> None:
    st.markdown(f"You are about to revoke {fmt.literal(name)}. Every pipeline that uses it is refused (401) from its "
                "next call; this cannot be undone (create a new token instead).")
    if widgets.dialog_buttons("Revoke the token", "token_revoke_confirm", "token_revoke_cancel",
                              icon=":material/block:"):
        widgets.finish(revoke(actor, name))
