"""The wall display: the pipeline with its drift, running syncs, today's delivery figures and site health, in type
big enough for a room. Each part is a fragment that reruns itself (`run_every`): only the changing parts redraw,
from caches, so a TV left on all day costs Rancher one read per cache period — none with a collector, whose stored
changes redraw the page within ~2 s (ui/shell/live_refresh.py)."""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from ranchersync import history
from ranchersync.catalogue.rules import site_health
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.humanize import plural
from ranchersync.kernel.textsafe import escape_markdown
from ui.shell import deps, queries
from ui.shell import format as fmt

# Readable from across a room: larger metrics and captions than the tool screens. A value is never cut to "5…":
# its size follows the window, it is never truncated with an ellipsis, and today's figures wrap to a second line
# rather than squeeze (`activity`).
CSS = """<style>
[data-testid='stMetricValue'] {font-size: clamp(2.2rem, 3.4vw, 3.2rem);}
[data-testid='stMetricValue'] > div {overflow: visible; text-overflow: clip;}
[data-testid='stMetricLabel'] p {font-size: 1.25rem;}
.rsm-wall h3 {font-size: 1.6rem;} .rsm-big {font-size: 1.5rem; line-height: 2.2rem;}
</style>"""
# Embedded (`?embed=true`, a TV): Streamlit keeps a sidebar the script draws, so the screen hides it itself.
EMBEDDED_CSS = """<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],
[data-testid='stExpandSidebarButton'] {display: none !important;}</style>"""
# Drawn dots rather than emoji: a kiosk browser often has no colour-emoji font.
HEALTH_COLOR = {"connected": "#21A366", "unreachable": "#E5484D", "not tested": "#8B8D98", "deactivated": "#3d3d3d"}


def dot(color: str) -> str:
    """A coloured disc, inline."""
    return (f'<span style="display:inline-block;width:0.9em;height:0.9em;border-radius:50%;background:{color};'
            'vertical-align:-0.05em"></span>')


@st.cache_data(ttl=15, show_spinner=False)
def today_metrics(day: dt.date, stamp: str) -> history.Metrics:
    """Today's (UTC) delivery figures."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    with deps.get_context().session() as session:
        return history.compute_metrics(session, history.HistoryFilter(since=start,
                                                                       until=start + dt.timedelta(days=1)))


@st.cache_data(ttl=5, show_spinner=False)
def running(stamp: str) -> tuple[history.OperationSummary, ...]:
    """Operations running now."""
    with deps.get_context().session() as session:
        return history.list_operations(session, history.HistoryFilter(status="running"), 1, 20).items


@st.fragment(run_every="60s")
def pipeline() -> None:
    """Each environment in pipeline order: services, unhealthy ones, and promotions waiting from the one before."""
    envs = queries.environments()
    if not envs:
        st.info("No environments yet.")
        return
    ids = tuple(e.id for e in envs)
    try:
        counts = {c.environment_id: c for c in queries.service_counts(ids, queries.catalogue_stamp(ids),
                                                                      queries.services_refresh())}
    except RancherSyncError as error:
        st.warning(f"Rancher could not be read: {escape_markdown(error)}")
        return
    for column, env in zip(st.columns(len(envs)), envs, strict=True):
        count = counts.get(env.id)
        with column.container(border=True):
            # st.html parses no Markdown: the name is HTML-escaped (a Markdown escape left `<img …>` live here).
            st.html(f'<div style="border-left:0.6rem solid {html.escape(env.color)};padding-left:0.8rem">'
                    f'<h3 style="margin:0">{html.escape(env.name)}</h3></div>')
            if count is None:
                continue
            st.metric("Waiting for promotion" if count.pending is not None else "Services",
                      count.pending if count.pending is not None else count.total)
            unhealthy = (f"{dot('#E5484D')} {count.unhealthy} unhealthy" if count.unhealthy
                         else f"{dot('#21A366')} all healthy")
            st.markdown(f'<div class="rsm-big">{plural(count.total, "service")} · {unhealthy}</div>',
                        unsafe_allow_html=True)


@st.fragment(run_every="10s")
def activity(tz: dt.tzinfo) -> None:
    """Running syncs and today's figures."""
    stamp = queries.history_stamp()
    now = dt.datetime.now(dt.UTC)
    left, right = st.columns(2)  # today's three figures need the room of half the wall, not two fifths
    with left.container(border=True):
        st.subheader("Running now")
        items = running(stamp)
        if not items:
            st.markdown('<div class="rsm-big">No sync is running.</div>', unsafe_allow_html=True)
        for op in items:
            started = op.started_at or op.created_at
            st.markdown(f'<div class="rsm-big">#{op.id} {escape_markdown(op.source_environment)} → '
                        f'{escape_markdown(op.target_environment)}: {escape_markdown(", ".join(op.services[:4]))} '
                        f'· since {fmt.clock(started, tz)}</div>', unsafe_allow_html=True)
    with right.container(border=True):
        st.subheader("Today")
        metrics = today_metrics(now.date(), stamp)
        rate = metrics.headline.success_rate
        with st.container(horizontal=True, gap="medium", key="wall_today"):
            st.metric("Syncs", metrics.operations, width="content")
            st.metric("Success", "—" if rate is None else f"{100 * rate:.0f} %", width="content")
            st.metric("Failed", metrics.change_failure_rate.failed, width="content",
                      help="Syncs that failed or were rolled back because they failed; a person's rollback of a "
                           "sync that went well is not counted.")
    st.caption(f"Updated {fmt.clock(now, tz)} · refreshes by itself")


@st.fragment(run_every="60s")
def site_health_row() -> None:
    """Every site with a coloured dot and its last latency."""
    sites = queries.sites()
    if not sites:
        return
    parts = []
    for site in sites:
        health = site_health(site)
        latency = f" {site.last_latency_ms} ms" if site.last_latency_ms is not None and health == "connected" else ""
        parts.append(f"{dot(HEALTH_COLOR.get(health, '#8B8D98'))} {escape_markdown(site.name)}{latency} "
                     f'<span style="opacity:0.7">{health}</span>')
    st.markdown(f'<div class="rsm-big">{" &nbsp;·&nbsp; ".join(parts)}</div>', unsafe_allow_html=True)
