"""The People page's glue: everyone who signed in or was given a role, where each role comes from, and the
confirmed, audited assignment of a role (ranchersync.people.directory does the work)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor
from ranchersync.kernel.humanize import ago
from ranchersync.kernel.roles import ROLES
from ranchersync.people import directory as people
from ui.shell import auth, deps, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome, attempt

_DIALOG = "set_role"
CLEAR = "(no assignment)"
SOURCES = {
    "assignment": "assigned here or with `users set-role`",
    "admins list": "RANCHERSYNC_ADMINS (always admin)",
    "groups at sign-in": "their groups at the last sign-in (RANCHERSYNC_ROLE_MAP)",
    "default": "RANCHERSYNC_DEFAULT_ROLE",
}


def list_people() -> list[people.Person]:
    """Everyone known, read now (a role just assigned shows at once)."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return people.list_people(session, ctx.settings.role_policy)


def table(found: list[people.Person], now: dt.datetime) -> None:
    """The people, one row each: role, where it comes from, who assigned it, last seen."""
    rows = [(p.email, p.name, p.role, SOURCES.get(p.source, p.source), p.assigned_by or "", ago(p.last_seen_at, now))
            for p in found]
    st.dataframe(pd.DataFrame(rows, columns=["E-mail", "Name", "Role", "Role comes from", "Assigned by",
                                             "Last seen"]), hide_index=True, width="stretch", key="people_table")


def assign_form(actor: Actor, found: list[people.Person]) -> None:
    """Pick a person (or type an e-mail not seen yet) and a role; the change is confirmed in a dialog."""
    me = actor.email
    with st.container(border=True, key="people_assign"):
        st.markdown("**Assign a role**")
        left, middle, right = st.columns([3, 2, 1], vertical_alignment="bottom")
        email = left.selectbox("Person", [p.email for p in found if p.email != me], index=None, accept_new_options=True,
                               placeholder="Choose or type an e-mail", key="people_email")
        role = middle.selectbox("Role", [*ROLES, CLEAR], index=0, key="people_role")
        right.button("Assign…", key="people_assign_open", type="primary", disabled=not email,
                     on_click=widgets.open_dialog, args=(_DIALOG,), kwargs={"email": email, "role": role})
        st.caption("An assignment wins over the groups and the default; RANCHERSYNC_ADMINS stays admin whatever is "
                   "assigned. Nobody changes their own role. Every change is in the audit log.")


def set_role(actor: Actor, email: str, role: str | None) -> Outcome:
    """Assign (or clear) a role as the signed-in admin."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            user = people.set_role(session, actor, email, role)
            who, now_role = user.email, user.role
        auth.forget_roles()  # the new role applies at once, in every browser session
        if now_role:
            return Outcome.done(f"{who} is now {now_role}.")
        return Outcome.done(f"{who}'s assignment is cleared: their groups and the default decide their role.")

    return attempt(work)


@st.dialog("Change a role", on_dismiss=widgets.close_dialog)
def _confirm(actor: Actor, email: str, role: str) -> None:
    new = None if role == CLEAR else role
    what = f"make {fmt.literal(email)} a **{new}**" if new else (
        f"clear {fmt.literal(email)}'s assignment (their groups and the default decide again)")
    st.markdown(f"You are about to {what}. It applies at their next click.")
    if widgets.dialog_buttons("Change the role", "people_confirm", "people_cancel", icon=":material/badge:"):
        widgets.finish(set_role(actor, email, new))


def dialogs(actor: Actor) -> None:
    """Open the confirmation if it was asked for."""
    request = widgets.requested_dialog(_DIALOG)
    if request is not None:
        _confirm(actor, request["email"], request["role"])
