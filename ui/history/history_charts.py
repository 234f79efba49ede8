"""The Sync history screen's charts: pure functions from the core's Metrics to tidy frames and plotly figures (no
Streamlit, so they are tested with exact numbers). Figures carry no template of their own: the page draws them with
`theme="streamlit"`, which follows the active light or dark theme; only data colours are set here (operation
statuses, environment colours), in mid tones that read on both."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from ranchersync.history import Metrics
from ranchersync.kernel.humanize import compact_duration, status_word
from ranchersync.kernel.textsafe import escape_plotly
from ui.history.history_tables import STATUS_HEX

STATUS_ORDER = ("complete", "partial", "failed", "rolled_back", "interrupted", "running", "pending")
FALLBACK_COLOR = "#8B8D98"
# The title sits in the top margin with the legend under it, above the plot: a legend below would sit on the
# (rotated, on a month of days) dates of the x axis.
_MARGIN = {"l": 8, "r": 8, "t": 64, "b": 8}
HEIGHT = 300


# ---- frames -------------------------------------------------------------------------------------------------------


def daily_frame(metrics: Metrics) -> pd.DataFrame:
    """Operations started per UTC day, by status: one column per status present (in STATUS_ORDER), zeros filled."""
    rows = pd.DataFrame([(d.day, d.status, d.count) for d in metrics.daily], columns=["day", "status", "count"])
    if rows.empty:
        return pd.DataFrame(index=pd.Index([], name="day"))
    table = rows.pivot_table(index="day", columns="status", values="count", aggfunc="sum", fill_value=0)
    order = [s for s in STATUS_ORDER if s in table.columns] + sorted(set(table.columns) - set(STATUS_ORDER))
    return table[order].astype(int).rename_axis(columns=None)


def success_frame(metrics: Metrics) -> pd.DataFrame:
    """Per day of the period: how many operations finished, completed, and the rate in percent (NaN on a day
    without a finished operation: the line shows a gap there, it does not join the days around it)."""
    return pd.DataFrame(
        [(d.day, d.finished, d.complete, None if d.rate is None else round(100 * d.rate, 1))
         for d in metrics.success_by_day()],
        columns=["day", "finished", "complete", "rate"],
    ).astype({"rate": float})


def duration_frame(metrics: Metrics) -> pd.DataFrame:
    """Finished operations per duration bucket, every bucket listed (a histogram keeps its empty bars)."""
    return pd.DataFrame([(b.label, b.count) for b in metrics.durations.buckets], columns=["bucket", "count"])


def deployments_frame(metrics: Metrics) -> pd.DataFrame:
    """Deployments per ISO week (its Monday) into each environment, in the core's (pipeline) order."""
    return pd.DataFrame(
        [(d.environment, w.day, w.count) for d in metrics.deployments for w in d.per_week],
        columns=["environment", "week", "count"],
    )


def failure_frame(metrics: Metrics) -> pd.DataFrame:
    """Change failure rate per target environment, in percent (None where nothing was synced)."""
    return pd.DataFrame(
        [(f.environment or "—", f.syncs, f.failed, None if f.rate is None else round(100 * f.rate, 1))
         for f in metrics.change_failure_by_environment],
        columns=["environment", "syncs", "failed", "rate"],
    )


def lead_time_frame(metrics: Metrics) -> pd.DataFrame:
    """Median lead time per pair of environments (a version seen in one, then landing in the next)."""
    return pd.DataFrame(
        [(f"{p.from_environment} → {p.to_environment}", p.versions, p.median_seconds, p.mean_seconds)
         for p in metrics.lead_times.pairs],
        columns=["pair", "versions", "median_seconds", "mean_seconds"],
    )


# ---- headline figures (the metric cards) ----------------------------------------------------------------------------


def percent(value: float | None) -> str:
    """0.25 → '25%'; '—' without data."""
    return "—" if value is None else f"{100 * value:.0f}%"


def median_restore_text(metrics: Metrics) -> str:
    """The median time to restore in a card's few characters, or '—' without a restored incident."""
    return compact_duration(metrics.restore.median_seconds)


# ---- figures -----------------------------------------------------------------------------------------------------


def _layout(
    fig: go.Figure, title: str, *, y_title: str = "", percent_axis: bool = False, barmode: str = "stack"
) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=HEIGHT, margin=_MARGIN, barmode=barmode,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text=y_title, rangemode="tozero", **({"range": [0, 105]} if percent_axis else {}))
    return fig


def _day_axis(fig: go.Figure, days: list[object], metrics: Metrics) -> None:
    # A tick per day over a few days; plotly's own spacing otherwise (it repeats a day's label when it has few).
    # The axis spans the whole period, so the two charts of days side by side line their dates up.
    period: dict[str, object] = {}
    span = len(days)
    if metrics.since and metrics.until:
        period = {"range": [f"{metrics.since:%Y-%m-%d} 00:00", f"{metrics.until:%Y-%m-%d} 23:59"]}
        span = (metrics.until - metrics.since).days + 1
    fig.update_xaxes(type="date", tickformat="%d %b", **({"dtick": 86_400_000} if span <= 10 else {}), **period)


def daily_chart(metrics: Metrics) -> go.Figure:
    """Syncs and rollbacks per day, stacked by status."""
    table = daily_frame(metrics)
    fig = go.Figure([
        go.Bar(x=table.index, y=table[status], name=status_word(status),
               marker_color=STATUS_HEX.get(status, FALLBACK_COLOR))
        for status in table.columns
    ])
    _day_axis(fig, list(table.index), metrics)
    return _layout(fig, "Operations per day, by status", y_title="operations")


def success_chart(metrics: Metrics) -> go.Figure:
    """The share of finished operations that completed, per day."""
    frame = success_frame(metrics)
    fig = go.Figure(go.Scatter(
        x=frame["day"], y=frame["rate"], mode="lines+markers", name="success rate", connectgaps=False,
        line={"color": STATUS_HEX["complete"], "width": 2}, customdata=frame[["complete", "finished"]],
        hovertemplate="%{y:.0f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
    ))
    _day_axis(fig, list(frame["day"]), metrics)
    fig.update_yaxes(ticksuffix="%")
    return _layout(fig, "Success rate per day", percent_axis=True)


def duration_chart(metrics: Metrics) -> go.Figure:
    """How long finished operations took."""
    frame = duration_frame(metrics)
    fig = go.Figure(go.Bar(x=frame["bucket"], y=frame["count"], name="operations", marker_color="#3B82F6"))
    fig.update_xaxes(type="category")
    return _layout(fig, "Duration of operations", y_title="operations")


def deployments_chart(metrics: Metrics, colors: Mapping[str, str]) -> go.Figure:
    """Deployments per week into each environment, bars in the environment's colour."""
    frame = deployments_frame(metrics)
    fig = go.Figure([
        go.Bar(x=group["week"], y=group["count"], name=escape_plotly(name),
               marker_color=colors.get(name, FALLBACK_COLOR),
               hovertemplate=f"{escape_plotly(name)}: %{{y}}<extra></extra>")
        for name, group in frame.groupby("environment", sort=False)
    ])
    fig.update_xaxes(type="date", tickformat="week of %d %b", dtick=7 * 86_400_000)
    return _layout(fig, "Deployments per week, by target environment", y_title="syncs", barmode="group")


def failure_chart(metrics: Metrics, colors: Mapping[str, str]) -> go.Figure:
    """Change failure rate per target environment."""
    frame = failure_frame(metrics).dropna(subset=["rate"])
    fig = go.Figure(go.Bar(
        x=[escape_plotly(n) for n in frame["environment"]], y=frame["rate"],
        text=[f"{r:.0f}%" for r in frame["rate"]], textposition="outside",
        marker_color=[colors.get(n, FALLBACK_COLOR) for n in frame["environment"]],
        customdata=frame[["failed", "syncs"]],
        hovertemplate="%{y:.0f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
    ))
    fig.update_xaxes(type="category")
    fig.update_yaxes(ticksuffix="%")
    return _layout(fig, "Change failure rate by environment", percent_axis=True)
