"""Push to the page: a fragment that polls the collector's change counter (one small query, shared by every
browser of a server process for a second) and reruns the page when the stored inventory moved, so a rollout shows
as it happens without a Refresh click. Without a collector the counter never moves and nothing reruns."""

from __future__ import annotations

import streamlit as st

from ui.shell import queries

POLL_SECONDS = 2
_SEEN = "inventory_changes_seen"


def remember_shown() -> None:
    """Note the counter the page is drawn from (call it before the page reads its inventory)."""
    st.session_state[_SEEN] = queries.inventory_changes()


def should_rerun(seen: int | None, now: int) -> bool:
    """A rerun only when the counter moved since the page was drawn (never on the first poll of a page)."""
    return seen is not None and now != seen


@st.fragment(run_every=POLL_SECONDS)
def follow_inventory() -> None:
    """Rerun the whole page when the collector stored a change since it was drawn."""
    if should_rerun(st.session_state.get(_SEEN), queries.inventory_changes()):
        st.rerun(scope="app")
