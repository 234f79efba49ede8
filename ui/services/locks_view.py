"""Locks with a message on the Services screen (issue 24): an environment's and its services' locks (who, when,
why), adding one and removing one (each confirmed in a dialog), and the lock badges of the services table, the
comparison and the Overview. A locked target refuses a sync, promotion or restore with the lock's message (the core's
`governance.locks`, checked by every way in); here it is only shown and managed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from ranchersync.access.identity import Actor, refusal
from ranchersync.governance import locks
from ranchersync.governance.locks import LockView
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import deps, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow

_ADD, _REMOVE = "lock_add", "lock_remove"
_WHOLE = ""  # the service choice that locks the whole environment


def held(environment_ids: Sequence[int]) -> dict[int, list[LockView]]:
    """The locks in force of these environments, by environment id (read now: a lock must show at once)."""
    wanted = set(environment_ids)
    return {env_id: found for env_id, found in held_all().items() if env_id in wanted}


def held_all() -> dict[int, list[LockView]]:
    """Every lock in force, by environment id."""
    ctx = deps.get_context()
    with ctx.session() as session:
        found = locks.list_locks(session)
    by_env: dict[int, list[LockView]] = {}
    for lock in found:
        by_env.setdefault(lock.environment_id, []).append(lock)
    return by_env


def lock_text(found: Sequence[LockView], service: str) -> str:
    """What a table cell says of a service held by these locks (its own or its environment's), or ""."""
    hits = [lock for lock in found if lock.service in (None, service)]
    return " · ".join(f"🔒 {lock.message} ({lock.created_by})" for lock in hits)


def with_lock_column(frame: pd.DataFrame, found: Sequence[LockView]) -> pd.DataFrame:
    """The services table with a "Lock" column when anything in it is locked."""
    if not found:
        return frame
    shown = frame.copy()
    shown.insert(2, "Lock", [lock_text(found, name) for name in shown["Service"]])
    return shown


def comparison_locks(names: Sequence[str], envs: Mapping[str, list[LockView]]) -> list[str]:
    """Per service name (the comparison's rows), the environments that hold it and why: "🔒 Prod: message"."""
    return [" · ".join(f"🔒 {env}: {lock.message}" for env, found in envs.items() for lock in found
                       if lock.service in (None, name)) for name in names]


def overview_badges(envs: Sequence[EnvironmentRow]) -> dict[int, str]:
    """For the Overview's cards: each locked environment's locks in one line, by id."""
    found = held([e.id for e in envs])
    return {env_id: "; ".join(f"{lock.service or 'everything'}: {lock.message}" for lock in views)
            for env_id, views in found.items()}


# ---- the panel ---------------------------------------------------------------------------------------------------


def panel(actor: Actor, env: EnvironmentRow, services: Sequence[str], tz: dt.tzinfo) -> list[LockView]:
    """The environment's locks (who, when, why) with Remove, and Lock…; returns the locks for the table's badges."""
    found = held([env.id]).get(env.id, [])
    why = refusal(actor, "sync", environment=env.name)
    title = f"Locks ({len(found)})" if found else "Locks"
    with st.expander(title, icon=":material/lock:", expanded=bool(found)):
        if not found:
            st.caption(f"Nothing in {escape_markdown(env.name)} is locked. A lock holds the environment, or one "
                       "service of it, still: syncs, promotions and restores are refused with its message.")
        for lock in found:
            with st.container(key=f"lock_row_{lock.id}"):
                text, button = st.columns([5, 1], vertical_alignment="center")
                scope = f"**{escape_markdown(lock.service)}**" if lock.service else "**the whole environment**"
                text.markdown(f":material/lock: {scope}: {escape_markdown(lock.message)}  \n"
                              f":small[:gray[by {fmt.literal(lock.created_by)} · "
                              f"{escape_markdown(fmt.when(lock.created_at, tz))} · lock #{lock.id}]]")
                button.button("Remove", key=f"lock_remove_{lock.id}", icon=":material/lock_open:", disabled=bool(why),
                          help=why, on_click=widgets.open_dialog, args=(_REMOVE,), kwargs={"lock_id": lock.id})
        st.button("Lock…", key="lock_add_open", icon=":material/lock:", disabled=bool(why), help=why,
                  on_click=widgets.open_dialog, args=(_ADD,),
                  kwargs={"environment_id": env.id, "services": list(services)})
    return found


def show_requested(actor: Actor, envs: Sequence[EnvironmentRow]) -> None:
    """Open the add or remove dialog if a button asked for it."""
    if (request := widgets.requested_dialog(_ADD)) is not None:
        env = next((e for e in envs if e.id == request["environment_id"]), None)
        if env is not None:
            add_dialog(actor, env, request["services"])
    elif (request := widgets.requested_dialog(_REMOVE)) is not None:
        remove_dialog(actor, int(request["lock_id"]))


@st.dialog("Lock", on_dismiss=widgets.close_dialog)
def add_dialog(actor: Actor, env: EnvironmentRow, services: Sequence[str]) -> None:
    """What to lock and why; the message is what whoever is refused reads."""
    options = [_WHOLE, *sorted(set(services))]
    service = st.selectbox("What", options, key="lock_service",
                           format_func=lambda s: f"All of {env.name}" if s == _WHOLE else s)
    message = st.text_input("Message (shown to whoever is refused)", key="lock_message", max_chars=500,
                            placeholder="DB migration running — do not promote")
    scope = f"{service} in {env.name}" if service else f"every service of {env.name}"
    st.caption(f"Syncs, promotions and restores that would change {escape_markdown(scope)} are refused until the "
               "lock is removed; rollbacks are not. Audited; notified as lock.added.")
    if widgets.dialog_buttons("Lock", "lock_confirm", "lock_cancel", icon=":material/lock:",
                              disabled=not message.strip()):
        widgets.finish(add(actor, env.id, service or None, message))


@st.dialog("Remove a lock", on_dismiss=widgets.close_dialog)
def remove_dialog(actor: Actor, lock_id: int) -> None:
    """The lock again, then Remove."""
    lock = next((v for views in held_all().values() for v in views if v.id == lock_id), None)
    if lock is None:
        st.info(f"Lock #{lock_id} is no longer in force.", icon=":material/info:")
        return
    st.markdown(f":material/lock: **{escape_markdown(lock.scope)}**: {escape_markdown(lock.message)}")
    st.caption(f"Locked by {fmt.literal(lock.created_by)}. Once removed, syncs into it are allowed again.")
    if widgets.dialog_buttons("Remove the lock", "unlock_confirm", "unlock_cancel", icon=":material/lock_open:"):
        widgets.finish(remove(actor, lock_id))


def add(actor: Actor, environment_id: int, service: str | None, message: str) -> Outcome:
    """Lock the environment or one service of it, as the signed-in actor."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            view = locks.add_lock(session, actor, environment=environment_id, service=service, message=message)
    except RancherSyncError as error:
        return Outcome.failed(error)
    return Outcome.done(f"Locked {view.scope} (lock #{view.id}).")


def remove(actor: Actor, lock_id: int) -> Outcome:
    """Remove a lock in force."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            view = locks.remove_lock(session, actor, lock_id)
    except RancherSyncError as error:
        return Outcome.failed(error)
    return Outcome.done(f"Lock #{view.id} of {view.scope} removed.")
