"""The delivery report of a period: the DORA measures with their charts and the operations, as one self-contained
HTML file — plotly's JavaScript inline, no link to anything outside, so it opens offline from a mail or a ticket."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import plotly.graph_objects as go
from sqlalchemy.orm import Session

from ranchersync.history import HistoryFilter, Metrics, compute_metrics, list_operations
from ranchersync.history.queries import MAX_PAGE_SIZE, OperationSummary
from ranchersync.kernel.files import write_private_text
from ranchersync.kernel.humanize import duration_text, duration_unit
from ranchersync.kernel.textsafe import escape_plotly

STATUS_COLORS = {"complete": "#21A366", "partial": "#E8890C", "failed": "#E5484D", "rolled_back": "#9D7CE0",
                 "interrupted": "#8B8D98", "running": "#3B82F6", "pending": "#8B8D98"}
# The legend above the plot, under the title: below it, it would sit on the x axis's (rotated) dates.
_LAYOUT = {"height": 340, "margin": {"l": 40, "r": 16, "t": 72, "b": 40}, "template": "plotly_white",
           "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "xanchor": "left"}}
MAX_OPERATIONS = 2000

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2328;
padding:0 1rem} h1{margin-bottom:.2rem} .sub{color:#59636e;margin-top:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:.8rem;margin:1.2rem 0}
.card{border:1px solid #d1d9e0;border-radius:.5rem;padding:.8rem 1rem} .card b{display:block;font-size:1.6rem}
.card span{color:#59636e;font-size:.85rem} .charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
table{border-collapse:collapse;width:100%;font-size:.85rem} th,td{border-bottom:1px solid #d1d9e0;padding:.3rem .5rem;
text-align:left} th{background:#f6f8fa} @media(max-width:900px){.charts{grid-template-columns:1fr}}
"""


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _seconds(value: float | None) -> str:
    return "—" if value is None else duration_text(value)


def figures(metrics: Metrics) -> list[go.Figure]:
    """The report's charts: deployments per week and environment, operations per day by status, daily success rate,
    change failure rate per environment, durations."""
    charts: list[go.Figure] = []
    deploy = go.Figure(layout={**_LAYOUT, "title": "Deployments per week", "barmode": "group"})
    for d in metrics.deployments:
        deploy.add_bar(x=[w.day.isoformat() for w in d.per_week], y=[w.count for w in d.per_week],
                       name=escape_plotly(d.environment))
    charts.append(deploy)
    daily = go.Figure(layout={**_LAYOUT, "title": "Operations per day, by status", "barmode": "stack"})
    for status in dict.fromkeys(s.status for s in metrics.daily):
        days = [s for s in metrics.daily if s.status == status]
        daily.add_bar(x=[s.day.isoformat() for s in days], y=[s.count for s in days], name=status,
                      marker_color=STATUS_COLORS.get(status, "#8B8D98"))
    charts.append(daily)
    success = go.Figure(layout={**_LAYOUT, "title": "Success rate per day (%)", "yaxis": {"range": [0, 105]}})
    every_day = metrics.success_by_day()  # a day without a finished operation is a gap, not joined across
    success.add_scatter(x=[d.day.isoformat() for d in every_day],
                        y=[None if d.rate is None else round(100 * d.rate, 1) for d in every_day],
                        mode="lines+markers", name="success rate", line_color="#21A366", connectgaps=False)
    charts.append(success)
    failure = go.Figure(layout={**_LAYOUT, "title": "Change failure rate per environment (%)"})
    rates = [f for f in metrics.change_failure_by_environment if f.rate is not None]
    failure.add_bar(x=[escape_plotly(f.environment or "?") for f in rates],
                    y=[round(100 * (f.rate or 0), 1) for f in rates], marker_color="#E5484D", name="failure rate")
    charts.append(failure)
    durations = go.Figure(layout={**_LAYOUT, "title": "How long operations took"})
    durations.add_bar(x=[b.label for b in metrics.durations.buckets], y=[b.count for b in metrics.durations.buckets],
                      marker_color="#3B82F6", name="operations")
    charts.append(durations)
    if metrics.lead_times.pairs:
        pairs = metrics.lead_times.pairs
        size, unit = duration_unit(max((p.median_seconds or 0) for p in pairs))  # days of lead time read in days
        lead = go.Figure(layout={**_LAYOUT, "title": f"Median lead time between environments ({unit})"})
        lead.add_bar(x=[escape_plotly(f"{p.from_environment} → {p.to_environment}") for p in pairs],
                     y=[round((p.median_seconds or 0) / size, 1) for p in pairs],
                     text=[_seconds(p.median_seconds) for p in pairs], marker_color="#0072B2", name="lead time")
        charts.append(lead)
    return charts


def delivery_html(session: Session, since: dt.datetime, until: dt.datetime, *, title: str = "Delivery report",
                  now: dt.datetime | None = None) -> str:
    """The report of operations started in [since, until) as one HTML document with plotly inline."""
    filters = HistoryFilter(since=since, until=until)
    metrics = compute_metrics(session, filters)
    operations = _operations(session, filters)
    made = now or dt.datetime.now(dt.UTC)
    head = metrics.headline
    cards = [
        ("Operations", str(metrics.operations)),
        ("Deployments per week", "—" if head.deploys_per_week is None else f"{head.deploys_per_week:g}"),
        ("Success rate", _percent(head.success_rate)),
        ("Change failure rate", _percent(metrics.change_failure_rate.rate)),
        ("Time to restore (median)", _seconds(metrics.restore.median_seconds)),
        ("Lead time (median)", _seconds(_median_lead(metrics))),
    ]
    parts = []
    for index, figure in enumerate(figures(metrics)):
        # The first chart carries plotly.js itself (inline, a few MB), the others reuse it.
        parts.append(figure.to_html(full_html=False, include_plotlyjs=index == 0, config={"displaylogo": False,
                                                                                         "responsive": True}))
    e = html.escape
    rows = "\n".join(
        f"<tr><td>#{o.id}</td><td>{e(o.kind)}</td><td>{e(_when(o.started_at or o.created_at))}</td>"
        f"<td>{e(o.source_environment)} → {e(o.target_environment)}</td><td>{e(', '.join(o.services))}</td>"
        f"<td>{e(o.status)}</td><td>{e(o.initiated_by)}</td>"
        f"<td>{e(_seconds(o.duration_seconds))}</td></tr>"
        for o in operations
    )
    last_day = (until - dt.timedelta(seconds=1)).date()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body><h1>{e(title)}</h1>
<p class="sub">Operations started from {since:%Y-%m-%d} to {last_day:%Y-%m-%d} (UTC) · made {made:%Y-%m-%d %H:%M} UTC
by Rancher Sync Manager</p>
<div class="cards">{''.join(f'<div class="card"><b>{e(v)}</b><span>{e(k)}</span></div>' for k, v in cards)}</div>
<h2>Charts</h2><div class="charts">{''.join(f'<div>{p}</div>' for p in parts)}</div>
<h2>Operations ({len(operations)})</h2>
<table><thead><tr><th>#</th><th>Kind</th><th>Started (UTC)</th><th>From → to</th><th>Services</th><th>Status</th>
<th>By</th><th>Took</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""


def write_delivery_report(session: Session, since: dt.datetime, until: dt.datetime, out: Path) -> int:
    """Write the report to `out` (written beside it, then moved into place); returns its size in bytes."""
    text = delivery_html(session, since, until)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    write_private_text(temporary, text)  # who deployed what and when: for the people it is handed to
    temporary.replace(out)
    return len(text.encode())


def _operations(session: Session, filters: HistoryFilter) -> list[OperationSummary]:
    found: list[OperationSummary] = []
    page = 1
    while len(found) < MAX_OPERATIONS:
        chunk = list_operations(session, filters, page, MAX_PAGE_SIZE)
        found += chunk.items
        if page >= chunk.pages:
            break
        page += 1
    return found


def _median_lead(metrics: Metrics) -> float | None:
    values = [p.median_seconds for p in metrics.lead_times.pairs if p.median_seconds is not None]
    return sorted(values)[len(values) // 2] if values else None


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
