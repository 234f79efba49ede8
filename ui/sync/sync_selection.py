"""What the user picked to sync on a table: the selected services and where the sync bar goes; cleared after a
sync, whose services then run other versions."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

_GENERATION = "services_selection_generation"  # bumped after a sync: the table selections start empty again


def generation() -> int:
    """Part of the tables' keys; see `clear_selections`."""
    return int(st.session_state.get(_GENERATION, 0))


def clear_selections() -> None:
    """Start both tables with no row selected (after a sync, whose services now run other versions)."""
    st.session_state[_GENERATION] = generation() + 1


@dataclass(frozen=True)
class Selection:
    """The (kind, name) of the selected rows, and a slot drawn just above the table for the sync bar (where it
    stays on screen while rows are picked)."""

    keys: list[tuple[str, str]]
    bar: DeltaGenerator | None = None
