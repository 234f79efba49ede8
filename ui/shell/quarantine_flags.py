"""Quarantined digests flagged where they run, for every screen that shows services (Services, the comparison, the
Overview): the active quarantines read once a few seconds, and the words and icon of a flag. Which service runs
one is the core's rule (`quarantine.matches`: its pods' digests, or a digest pinned in its image)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from ranchersync.governance import quarantine
from ranchersync.governance.quarantine import Quarantine
from ranchersync.inventory.reading import Service
from ranchersync.kernel.errors import DatabaseUnavailable
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import deps

ICON = "⛔"


@st.cache_data(ttl=10, show_spinner=False)
def active() -> dict[str, Quarantine]:
    """Every active quarantine by digest (read again every 10 s, and at once after an add or a lift)."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            return quarantine.active_by_digest(session)
    except DatabaseUnavailable:  # the frame's banner says so; a screen still draws its services
        return {}


def clear() -> None:
    active.clear()


def flagged(services: Iterable[Service], quarantined: Mapping[str, Quarantine]) -> dict[str, tuple[Quarantine, ...]]:
    """The services (by id) that run a quarantined digest, with the quarantines they run."""
    found = {s.id: quarantine.matches(s, quarantined) for s in services} if quarantined else {}
    return {sid: hits for sid, hits in found.items() if hits}


def mark(frame: pd.DataFrame, row_ids: Iterable[Any]) -> pd.DataFrame:
    """A copy of a services table whose rows `row_ids` carry the flag's icon before their service's name."""
    rows = list(dict.fromkeys(row_ids))
    if not rows:
        return frame
    marked = frame.copy()
    marked.loc[rows, "Service"] = [f"{ICON} {name}" for name in marked.loc[rows, "Service"]]
    return marked


def sentence(what: str, hits: Iterable[Quarantine]) -> str:
    """"web (shop-stage) runs a quarantined image: ref (#1: reason)" as escaped Markdown."""
    listed = "; ".join(f"`{q.reference}` (#{q.id}: {escape_markdown(q.reason)})" for q in hits)
    return f"{ICON} **{escape_markdown(what)}** runs a quarantined image: {listed}"


def show(lines: list[str], *, key: str) -> None:
    """The flags, as one error box (nothing when there are none)."""
    if lines:
        with st.container(key=key):
            st.error("\n".join(f"- {line}" for line in lines), icon=":material/block:")
