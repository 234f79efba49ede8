"""The signed-in person's preferences, which the frame applies to every screen (read once per rerun, cached
briefly); the Settings screen edits them."""

from __future__ import annotations

import streamlit as st

from ranchersync.people import preferences
from ranchersync.people.preferences import Preferences
from ui.shell import deps


@st.cache_data(ttl=60, show_spinner=False, max_entries=256)
def for_user(email: str) -> Preferences:
    """The stored preferences of `email` (or the defaults)."""
    with deps.get_context().session() as session:
        return preferences.get_preferences(session, email)
