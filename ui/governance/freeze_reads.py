"""What is frozen now and the windows in force, cached briefly (a window that ends shows as open within FREEZE_TTL
seconds); every freeze action clears them."""

from __future__ import annotations

import streamlit as st

from ranchersync.governance import freeze
from ui.shell import deps

FREEZE_TTL = 15  # seconds


@st.cache_data(ttl=FREEZE_TTL, show_spinner=False)
def frozen() -> dict[int, freeze.Freeze]:
    """Every frozen environment's freeze now, by environment id."""
    with deps.get_context().session() as session:
        return freeze.frozen_environments(session)


@st.cache_data(ttl=FREEZE_TTL, show_spinner=False)
def windows() -> tuple[freeze.WindowView, ...]:
    """The windows in force."""
    with deps.get_context().session() as session:
        return tuple(freeze.list_windows(session))


def clear() -> None:
    """Forget the cached freeze reads (after a freeze action)."""
    frozen.clear()
    windows.clear()
