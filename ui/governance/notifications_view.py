"""The Notifications screen's glue: subscriptions (URLs only ever masked), adding one, sending a test, removing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ranchersync import notify
from ranchersync.access.identity import Actor
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.notify import EVENTS, SUBSCRIBABLE, SubscriptionView
from ui.shell import deps, widgets
from ui.shell import format as fmt
from ui.shell.outcome import Outcome
from ui.shell.queries import EnvironmentRow


@st.cache_data(ttl=10, show_spinner=False)
def subscriptions() -> tuple[SubscriptionView, ...]:
    """Every subscription, masked, with its last delivery."""
    with deps.get_context().session() as session:
        return tuple(notify.list_subscriptions(session))


def table(views: Sequence[SubscriptionView], tz: dt.tzinfo) -> int | None:
    """The subscriptions; returns the id of the selected one."""
    frame = pd.DataFrame({
        "#": [v.id for v in views],
        "Environment": [v.environment for v in views],
        "Events": [", ".join(v.events) for v in views],
        "Sent to": [v.url for v in views],
        "Last delivery": [f"{v.last_status or 'never sent'} · {fmt.when(v.last_attempt_at, tz, empty='')}"
                          for v in views],
        "Last error": [v.last_error or "" for v in views],
        "Waiting": [v.waiting for v in views],
    })
    event = st.dataframe(frame, hide_index=True, width="stretch", key="notify_table", on_select="rerun",
                         selection_mode="single-row",
                         column_config={"#": st.column_config.NumberColumn(width=50, format="%d")})
    rows = event.selection.rows
    return int(frame["#"].iloc[rows[0]]) if rows else None


def add_form(actor: Actor, envs: Sequence[EnvironmentRow]) -> None:
    """Subscribe a new Apprise URL. The URL field is a password field, emptied once saved; a refused URL stays in
    it to be fixed, with what is wrong under it."""
    names: dict[int | None, str] = {None: "All environments", **{e.id: e.name for e in envs}}
    fields = widgets.FieldSlots("notify_add")
    with st.form("notify_add", clear_on_submit=False, border=True):
        st.markdown("**Add a subscription**")
        left, right = st.columns(2)
        env_id = left.selectbox("Environment", list(names), format_func=names.__getitem__, key="notify_env")
        url = right.text_input("Apprise URL", type="password", key=_URL,
                               placeholder="slack://…, msteams://…, json://host/path, mailto://…",
                               help="Holds a secret: stored encrypted, shown only as scheme and host.")
        fields.under("url", right)
        events = st.multiselect("Events", list(SUBSCRIBABLE), default=["sync.failed", "sync.rolled_back"],
                                format_func=EVENTS.__getitem__, key="notify_events")
        fields.under("events")
        if st.form_submit_button("Subscribe", type="primary", key="notify_submit"):
            ctx = deps.get_context()
            try:
                with ctx.session() as session:
                    notify.add_subscription(session, ctx.cipher, actor, environment=env_id, url=url, events=events)
            except RancherSyncError as error:  # the URL is never part of a message (only its scheme)
                fields.show(Outcome.failed(error))
                return
            fields.clear()
            del st.session_state[_URL]  # the secret leaves the page once stored
            widgets.flash("success", "Subscribed: send a test to check it.")
            subscriptions.clear()
            st.rerun()


_URL = "notify_url"


def actions(actor: Actor, selected: int | None) -> None:
    """Send a test to, or remove, the selected subscription."""
    with st.container(horizontal=True):
        if st.button("Send a test", key="notify_test", disabled=selected is None, icon=":material/send:"):
            _act(lambda session, _ctx: notify.send_test(session, actor, selected or 0),
                 "Test queued: its outcome shows under Last delivery in a moment.")
        if st.button("Remove", key="notify_remove", disabled=selected is None, icon=":material/delete:"):
            _act(lambda session, _ctx: notify.remove_subscription(session, actor, selected or 0),
                 "Subscription removed.")


def _act(change: object, success: str) -> None:
    ctx = deps.get_context()
    try:
        with ctx.session() as session:
            change(session, ctx)  # type: ignore[operator]
    except RancherSyncError as error:  # the URL is never part of a message (only its scheme)
        widgets.flash("error", str(error))
    else:
        widgets.flash("success", success)
    subscriptions.clear()
    st.rerun()
