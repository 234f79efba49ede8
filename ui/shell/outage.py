"""While the database cannot be reached (a PostgreSQL failover, a server restart): a banner instead of the screen,
and a small check every few seconds that brings the screen back by itself once the database answers — nobody has to
reload. Syncs already running ride the outage out on their own (RANCHERSYNC_DB_OUTAGE_SECONDS)."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from ranchersync.kernel.errors import DatabaseUnavailable
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import deps

RETRY_SECONDS = 5
TITLE = "The database cannot be reached"


def check() -> None:
    """Stop this run with the banner when the database does not answer now (one cheap query)."""
    try:
        deps.get_context().ping()
    except DatabaseUnavailable as error:
        banner(error)


def banner(error: DatabaseUnavailable) -> NoReturn:
    """Show what is wrong and that the page comes back by itself; stop the run."""
    st.error(f"**{TITLE}.** {escape_markdown(error)}\n\nThis page tries again every {RETRY_SECONDS} s and comes back "
               "by itself once it answers. Syncs already running go on and their record catches up. "
               f"{escape_markdown(error.hint)}", icon=":material/database:")
    _watch()
    st.stop()


@st.fragment(run_every=RETRY_SECONDS)
def _watch() -> None:
    """Rerun the whole page as soon as the database answers again."""
    try:
        deps.get_context().ping()
    except DatabaseUnavailable:
        st.caption("Waiting for the database…")
        return
    st.rerun()
