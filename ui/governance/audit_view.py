"""The Audit log screen's pieces: the filter bar, the table of events (newest first, paged), the CSV export and the
chain check. Reads are cached briefly and keyed on small values; the log itself lives in ranchersync.governance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from ranchersync.access import audit
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ranchersync.security import checkpoint
from ui.shell import deps
from ui.shell import format as fmt

AUDIT_TTL = 10  # seconds
PAGE_SIZE = 50
PAGE = "audit_page"
PERIOD_DAYS = 30
_FILTERS_SEEN = "audit_filters_seen"
_VERIFIED = "audit_verified"


@st.cache_data(ttl=AUDIT_TTL, show_spinner=False, max_entries=64)
def events(filters: audit.AuditFilter, page: int) -> audit.AuditPage:
    """One page of matching events."""
    with deps.get_context().session() as session:
        return audit.list_events(session, filters, page=page, page_size=PAGE_SIZE)


@st.cache_data(ttl=AUDIT_TTL, show_spinner=False)
def choices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The actors and the actions the log holds, for the filters."""
    with deps.get_context().session() as session:
        return tuple(audit.list_actors(session)), tuple(audit.list_actions(session))


def csv_text(filters: audit.AuditFilter) -> str:
    """The filtered log as CSV (built when the download is clicked)."""
    with deps.get_context().session() as session:
        return "".join(audit.iter_csv(session, filters))


def filter_bar(tz: dt.tzinfo) -> audit.AuditFilter:
    """Period, actor, action and object, in one bordered row; a new filter goes back to the first page."""
    actors, actions = choices()
    families = sorted({a.split(".", 1)[0] for a in actions if "." in a})
    action_options = [None, *(f"{f}.*" for f in families), *actions]
    today = dt.datetime.now(tz).date()
    with st.container(border=True, key="audit_filters"):
        cols = st.columns([2, 1.5, 1.5, 1.5], vertical_alignment="bottom")
        period = cols[0].date_input("Between", (today - dt.timedelta(days=PERIOD_DAYS - 1), today), max_value=today,
                                    key="audit_period", format="YYYY-MM-DD")
        actor = cols[1].selectbox("Actor", [None, *actors], key="audit_actor",
                                  format_func=lambda a: "Anyone" if a is None else a)
        action = cols[2].selectbox("Action", action_options, key="audit_action",
                                   format_func=lambda a: "Any action" if a is None else a)
        subject = cols[3].text_input("Object", key="audit_object", placeholder="e.g. Prod or environment:3")
    days = tuple(period) if isinstance(period, (tuple, list)) else (period,)
    since = _start(days[0], tz) if days else None
    until = _start(days[1] + dt.timedelta(days=1), tz) if len(days) > 1 else None
    try:
        filters = audit.AuditFilter(since=since, until=until, actor=actor, action=action, object=subject)
    except ValidationError as error:
        st.warning(f"**These filters cannot be used:** {escape_markdown(error)}", icon=":material/filter_alt_off:")
        filters = audit.AuditFilter()
    if st.session_state.get(_FILTERS_SEEN) != filters:
        st.session_state[_FILTERS_SEEN] = filters
        st.session_state[PAGE] = 1  # allowed: the pagination is drawn later in the run
    return filters


def _start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of a day in the user's zone, as UTC."""
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)


def frame_of(rows: Sequence[audit.AuditRow], tz: dt.tzinfo) -> pd.DataFrame:
    """The table's rows: every value is text, shown as written; the role, channel and client address share the
    last column, so the details stay readable at 1280 px."""
    return pd.DataFrame(
        [{"#": r.id, "When": fmt.when(r.at, tz), "Actor": r.actor, "Action": r.action, "Object": r.object_label,
          "Details": " · ".join(p for p in (r.detail, r.change) if p),
          "As · via": " · ".join(p for p in (r.role, r.channel, r.client_address) if p)} for r in rows],
        columns=["#", "When", "Actor", "Action", "Object", "Details", "As · via"],
    )


def table(page: audit.AuditPage, tz: dt.tzinfo) -> None:
    """The page of events, with where it sits in the whole, and the pagination."""
    first = (page.page - 1) * page.page_size
    st.caption(f"{first + 1}–{first + len(page.items)} of {plural(page.total, 'event')}, newest first · times "
               f"in {fmt.zone_label(tz)}")
    st.dataframe(frame_of(page.items, tz), key="audit_table", hide_index=True, width="stretch",
                 column_config={"#": st.column_config.NumberColumn(width=40, format="%d"),
                                "When": st.column_config.TextColumn(width=140),
                                "Actor": st.column_config.TextColumn(width=130),
                                "Action": st.column_config.TextColumn(width=115),
                                "Object": st.column_config.TextColumn(width=160),
                                "Details": st.column_config.TextColumn(width=420)})
    st.session_state[PAGE] = page.page
    if page.pages > 1:
        st.pagination(page.pages, key=PAGE)


def export(filters: audit.AuditFilter) -> None:
    """Download the filtered log as CSV (formulas defused)."""
    st.download_button("Audit CSV", lambda: csv_text(filters), file_name="audit-log.csv", mime="text/csv",
                       key="audit_csv", icon=":material/download:")


def verify_button() -> None:
    """Check the whole chain now; the result stays shown until the next check."""
    if st.button("Verify chain", key="audit_verify", icon=":material/verified:"):
        ctx = deps.get_context()
        with st.spinner("Checking every event's hash…"), ctx.session() as session:
            report = audit.verify(session)
            head = checkpoint.current(session, ctx.cipher) if report.ok else None
        if head is not None:
            checkpoint.publish(head)
        st.session_state[_VERIFIED] = (report, dt.datetime.now(dt.UTC), head)


def verify_result(tz: dt.tzinfo) -> None:
    """The last chain check's result."""
    found = st.session_state.get(_VERIFIED)
    if found is None:
        return
    report, at, head = found
    when = fmt.when(at, tz)
    if report.ok:
        st.success(f"**The audit chain is intact:** {plural(report.checked, 'event')} checked at {when}.",
                   icon=":material/verified:")
        if head is not None:
            st.caption("Its signed checkpoint: keep it outside the database; `audit verify --checkpoint` proves "
                       "later that the log still extends it.")
            st.code(head.text, language=None, wrap_lines=True)  # whole on screen; the copy button takes it all
    else:
        st.error(f"**The audit chain is broken at event #{report.broken_at}:** {escape_markdown(report.problem)}. "
                 f"The {plural(report.checked, 'event')} before it are intact (checked at {when}).",
                 icon=":material/gpp_bad:")
