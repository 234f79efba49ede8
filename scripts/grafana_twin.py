"""A plotly twin of the provisioned Grafana dashboard, drawn from real PromQL answers (Grafana cannot run here).

    python scripts/grafana_twin.py OUT_DIR        # writes OUT_DIR/grafana-twin-light.png (and the .html beside it)

Starts the built-in demo (two simulated Rancher servers, a few weeks of history) on a temporary SQLite database, runs
a sync and a connection test of every site, then starts `python -m ranchersync exporter` on a free loopback port and
the real Prometheus server from Debian's `prometheus` package (tests/deploy/tools.py fetches it) scraping the
exporter every second, with our alert rules loaded. Two more syncs run while Prometheus scrapes. After about 25 s,
every panel of deploy/monitoring/grafana/dashboards/ranchersync.json has its `targets[].expr` evaluated through
Prometheus's HTTP API (`query_range` for time series panels, `query` for stat, gauge, bar gauge and table panels)
and drawn where the panel's gridPos puts it. Grafana's variables are replaced as Grafana would with the defaults:

    $environment / ${environment}   ->  .*   (the variable's "All" value, allValue in the dashboard)
    $__rate_interval                ->  1m   (Grafana's value is at least 4 scrape intervals; 1m keeps it readable)

The page is saved as HTML (plotly inline) and photographed with Playwright and Debian's Chromium. Everything it
started (simulators, exporter, Prometheus, browser) is stopped at the end, by process id.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DASHBOARD = ROOT / "deploy" / "monitoring" / "grafana" / "dashboards" / "ranchersync.json"
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yaml"
# Grafana's variables and what the twin puts in their place (longest first, so `${x}` goes before `$x`).
SUBSTITUTIONS = (("${environment}", ".*"), ("$environment", ".*"), ("$__rate_interval", "1m"))
INSTANT_PANELS = ("stat", "gauge", "bargauge", "table")
GRID_COLUMNS = 24
ROW_PIXELS = 34  # Grafana's grid row is 30 px plus its margin
PAGE_WIDTH = 1600


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    """One panel of the dashboard: what it shows, where, and its PromQL."""

    title: str
    type: str
    x: int
    y: int
    w: int
    h: int
    unit: str
    targets: tuple[Target, ...]

    @property
    def instant(self) -> bool:
        return self.type in INSTANT_PANELS


@dataclass
class Series:
    """One answer of one expression: its legend, and its points (one point for an instant query)."""

    name: str
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


class PromQLError(RuntimeError):
    """Prometheus refused or failed to evaluate an expression."""


def load_panels(path: Path = DASHBOARD) -> list[Panel]:
    """The dashboard's panels, top to bottom, left to right."""
    dashboard = json.loads(path.read_text())
    panels = []
    for raw in dashboard["panels"]:
        grid = raw["gridPos"]
        targets = tuple(Target(t["expr"], t.get("legendFormat", "")) for t in raw.get("targets", []) if t.get("expr"))
        panels.append(Panel(raw["title"], raw["type"], grid["x"], grid["y"], grid["w"], grid["h"],
                            raw.get("fieldConfig", {}).get("defaults", {}).get("unit", ""), targets))
    return sorted(panels, key=lambda p: (p.y, p.x))


def substitute(expr: str) -> str:
    """The expression as Grafana would send it with the defaults (see the module's docstring)."""
    for variable, value in SUBSTITUTIONS:
        expr = expr.replace(variable, value)
    if "$" in expr:
        raise ValueError(f"a Grafana variable the twin does not know is left in {expr!r}: add it to SUBSTITUTIONS")
    return expr


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: `{{label}}` replaced by the series' label."""
    if not template:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def api(base_url: str, path: str, params: dict[str, str]) -> Any:
    """GET one Prometheus API endpoint; its `data`, or PromQLError with Prometheus's own message."""
    url = f"{base_url}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a loopback URL we built
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:  # 400/422: a bad expression; the body says why
        body = json.loads(error.read() or b"{}")
    if body.get("status") != "success":
        raise PromQLError(f"{params.get('query')}: {body.get('errorType')}: {body.get('error')}")
    return body["data"]


def evaluate(base_url: str, panel: Panel, start: float, end: float, step: float) -> list[Series]:
    """Every series every target of the panel yields (instant panels: one point each, at `end`)."""
    found: list[Series] = []
    for target in panel.targets:
        query = substitute(target.expr)
        if panel.instant:
            data = api(base_url, "/api/v1/query", {"query": query, "time": f"{end:.3f}"})
        else:
            data = api(base_url, "/api/v1/query_range",
                       {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
        results = [{"value": data["result"]}] if data["resultType"] == "scalar" else data["result"]
        for result in results:
            pairs = [(float(t), float(v)) for t, v in (result["values"] if "values" in result else [result["value"]])]
            found.append(Series(legend(target.legend, result.get("metric", {})),
                                [t for t, _ in pairs], [v for _, v in pairs]))
    return found


def human(value: float, unit: str) -> str:
    """A stat's value as Grafana shows it: durations in the largest fitting unit, counts as integers."""
    if math.isnan(value):
        return "NaN"
    if unit != "s":
        return f"{value:g}"
    sign, seconds = ("-" if value < 0 else ""), abs(value)
    for size, name in ((86400 * 365, "year"), (86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "min")):
        if seconds >= size:
            amount = seconds / size
            return f"{sign}{amount:.1f} {name}{'s' if name != 'min' and amount >= 1.05 else ''}"
    return f"{sign}{seconds:.2g} s" if seconds < 1 else f"{sign}{seconds:.0f} s"


# --- the processes ----------------------------------------------------------------------------------------------


def free_port() -> int:
    from tests.e2e.helpers import free_port as pick

    return pick()


def wait_for(url: str, seconds: float = 30.0) -> None:
    """Until the URL answers 200 (or raise)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate one process we started (by its pid), kill it if it lingers."""
    from tests.e2e.helpers import stop_process

    stop_process(process)


@contextmanager
def exporter(database_url: str, secret_key: str, key_file: Path, port: int) -> Iterator[str]:
    """`python -m ranchersync exporter` on 127.0.0.1:port (cache 0.5 s); yields its /metrics URL."""
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": database_url, "RANCHERSYNC_SECRET_KEY": secret_key,
           "RANCHERSYNC_KEY_FILE": str(key_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ranchersync", "exporter", "--host", "127.0.0.1", "--port", str(port),
         "--cache-seconds", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(url)
        yield url
    finally:
        stop(process)


@contextmanager
def prometheus(binary: Path, metrics_port: int, workdir: Path, *, interval: float = 1.0) -> Iterator[str]:
    """The real Prometheus server scraping 127.0.0.1:metrics_port every `interval` seconds, its TSDB in `workdir`,
    our alert rules loaded; yields its base URL once it is ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": f"{interval:g}s", "evaluation_interval": f"{interval:g}s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "ranchersync",
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }))
    port = free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/-/ready")
            yield base
        finally:
            stop(process)


def wait_for_samples(base_url: str, count: int, seconds: float = 60.0) -> None:
    """Until Prometheus holds `count` scrapes of the exporter (ranchersync_database_up == 1 each time)."""
    deadline = time.monotonic() + seconds
    query = "sum_over_time(ranchersync_database_up[10m])"
    while True:
        result = api(base_url, "/api/v1/query", {"query": query})["result"]
        if result and float(result[0]["value"][1]) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Prometheus did not collect {count} scrapes of the exporter in {seconds:.0f} s")
        time.sleep(0.5)


# --- the picture ------------------------------------------------------------------------------------------------

PALETTE = ("#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0")


def figure(results: Sequence[tuple[Panel, list[Series]]], *, subtitle: str = "") -> Any:
    """The dashboard as one plotly figure: each panel where its gridPos puts it, titled like in Grafana."""
    import plotly.graph_objects as go

    rows = max(p.y + p.h for p, _ in results)
    height = rows * ROW_PIXELS + 90
    fig = go.Figure()
    layout: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    gap_x, gap_y = 0.006, 0.012
    title_space = 26 / height
    top_space = 70 / height
    usable = 1 - top_space

    for index, (panel, series) in enumerate(results, start=1):
        x0, x1 = panel.x / GRID_COLUMNS + gap_x, (panel.x + panel.w) / GRID_COLUMNS - gap_x
        y1 = 1 - top_space - panel.y / rows * usable - gap_y
        y0 = 1 - top_space - (panel.y + panel.h) / rows * usable + gap_y
        shapes.append({"type": "rect", "xref": "paper", "yref": "paper", "x0": x0, "x1": x1, "y0": y0, "y1": y1,
                       "line": {"color": "#D8D9DA", "width": 1}, "fillcolor": "#FFFFFF", "layer": "below"})
        annotations.append({"text": f"<b>{panel.title}</b>", "xref": "paper", "yref": "paper", "x": x0 + 0.006,
                            "y": y1 - 0.004, "xanchor": "left", "yanchor": "top", "showarrow": False,
                            "font": {"size": 14, "color": "#24292E"}})
        inner = (x0 + 0.035 if panel.type == "timeseries" else x0 + 0.01, x1 - 0.01,
                 y0 + (0.085 if panel.type == "timeseries" else 0.015), y1 - title_space - 0.01)
        axis = "" if index == 1 else str(index)
        if panel.type == "timeseries":
            _timeseries(fig, layout, panel, series, axis, inner)
        elif panel.type == "bargauge":
            _bargauge(fig, layout, panel, series, axis, inner)
            extra.extend(layout.pop("annotations_extra", []))
        else:
            layout[f"xaxis{axis}"] = {"domain": [inner[0], inner[1]], "visible": False}
            layout[f"yaxis{axis}"] = {"domain": [inner[2], inner[3]], "visible": False}
            annotations.extend(_stat(panel, series, inner))
    fig.update_layout(
        width=PAGE_WIDTH, height=height, paper_bgcolor="#F4F5F5", plot_bgcolor="#FFFFFF", showlegend=True,
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, font={"family": "Inter, Helvetica, Arial, sans-serif"},
        annotations=[{"text": "<b>Rancher Sync Manager</b>  <span style='color:#6E7781'>plotly twin of the "
                      "provisioned Grafana dashboard · " + subtitle + "</span>", "xref": "paper", "yref": "paper",
                      "x": 0.004, "y": 1 - 12 / height, "xanchor": "left", "yanchor": "top", "showarrow": False,
                      "font": {"size": 18, "color": "#24292E"}}, *annotations],
        shapes=shapes, **layout,
    )
    fig.update_layout(annotations=[*fig.layout.annotations, *extra])
    return fig


def _timeseries(fig: Any, layout: dict[str, Any], panel: Panel, series: list[Series], axis: str,
                inner: tuple[float, float, float, float]) -> None:
    import plotly.graph_objects as go

    for n, s in enumerate(sorted(series, key=lambda s: s.name)):
        times = [dt.datetime.fromtimestamp(t) for t in s.times]
        fig.add_trace(go.Scatter(x=times, y=s.values, name=s.name, mode="lines", xaxis=f"x{axis}", yaxis=f"y{axis}",
                                 line={"width": 2, "color": PALETTE[n % len(PALETTE)]}, legend=f"legend{axis}"))
    layout[f"legend{axis}"] = {"x": inner[0] - 0.03, "y": inner[2] - 0.035, "xanchor": "left", "yanchor": "top",
                               "orientation": "h", "font": {"size": 11}, "bgcolor": "rgba(0,0,0,0)"}
    layout[f"xaxis{axis}"] = {"domain": [inner[0], inner[1]], "anchor": f"y{axis}", "tickformat": "%H:%M:%S",
                              "showgrid": True, "gridcolor": "#EEEEEE", "tickfont": {"size": 10}}
    layout[f"yaxis{axis}"] = {"domain": [inner[2], inner[3]], "anchor": f"x{axis}", "showgrid": True,
                              "gridcolor": "#EEEEEE", "zeroline": False, "tickfont": {"size": 10},
                              "ticksuffix": " s" if panel.unit == "s" else "", "rangemode": "tozero"}


def _bargauge(fig: Any, layout: dict[str, Any], panel: Panel, series: list[Series], axis: str,
              inner: tuple[float, float, float, float]) -> None:
    import plotly.graph_objects as go

    if not series:  # as Grafana says it (the demo's tokens never expire)
        layout[f"xaxis{axis}"] = {"domain": [inner[0], inner[1]], "visible": False}
        layout[f"yaxis{axis}"] = {"domain": [inner[2], inner[3]], "visible": False}
        layout.setdefault("annotations_extra", []).extend(_stat(panel, series, inner))
        return
    ordered = sorted(series, key=lambda s: s.values[0] if s.values else 0.0)
    values = [s.values[0] / 86400 if panel.unit == "s" else s.values[0] for s in ordered]
    fig.add_trace(go.Bar(x=values, y=[s.name for s in ordered], orientation="h", xaxis=f"x{axis}", yaxis=f"y{axis}",
                         marker={"color": ["#E24D42" if v < 7 else "#7EB26D" for v in values]},
                         text=[human(s.values[0], panel.unit) for s in ordered], textposition="inside",
                         showlegend=False,
                         insidetextanchor="start", textfont={"color": "#FFFFFF", "size": 13}))
    layout[f"xaxis{axis}"] = {"domain": [inner[0] + 0.06, inner[1]], "anchor": f"y{axis}", "rangemode": "tozero",
                              "ticksuffix": " d" if panel.unit == "s" else "", "gridcolor": "#EEEEEE",
                              "tickfont": {"size": 10}}
    layout[f"yaxis{axis}"] = {"domain": [inner[2], inner[3]], "anchor": f"x{axis}", "tickfont": {"size": 12}}


def _stat(panel: Panel, series: list[Series], inner: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Big numbers, side by side (two rows when there are many), each with its legend under it."""
    if not series:
        return [{"text": "No data", "xref": "paper", "yref": "paper", "x": (inner[0] + inner[1]) / 2,
                 "y": (inner[2] + inner[3]) / 2, "showarrow": False, "font": {"size": 20, "color": "#8E8E8E"}}]
    ordered = sorted(series, key=lambda s: s.name)
    per_row = min(len(ordered), 3)
    lines = math.ceil(len(ordered) / per_row)
    notes = []
    for n, s in enumerate(ordered):
        column, line = n % per_row, n // per_row
        x = inner[0] + (column + 0.5) * (inner[1] - inner[0]) / per_row
        y = inner[3] - (line + 0.5) * (inner[3] - inner[2]) / lines
        value = s.values[0] if s.values else math.nan
        color = _stat_color(panel, s.name, value)
        size = 30 if lines == 1 else 22
        notes.append({"text": f"<b>{human(value, panel.unit)}</b>", "xref": "paper", "yref": "paper", "x": x,
                      "y": y, "yanchor": "bottom", "showarrow": False, "font": {"size": size, "color": color}})
        notes.append({"text": s.name, "xref": "paper", "yref": "paper", "x": x, "y": y, "yanchor": "top",
                      "showarrow": False, "font": {"size": 12, "color": "#6E7781"}})
    return notes


def _stat_color(panel: Panel, name: str, value: float) -> str:
    """Green for good, red for what an operator should look at (the dashboard's own thresholds are left out)."""
    bad = {"Sites up (last test)": value < 1, "Operations running / interrupted": name == "interrupted" and value > 0}
    return "#E24D42" if bad.get(panel.title, False) else "#37872D"


def photograph(html: Path, png: Path, width: int, height: int) -> None:
    """Open the HTML page in Debian's Chromium (Playwright) and save it as a PNG."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.helpers import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.wait_for_timeout(500)
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


# --- the run ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run everything and save the twin; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the folder for grafana-twin-light.png (e.g. docs/screenshots)")
    parser.add_argument("--seconds", type=float, default=25.0, help="how long Prometheus scrapes (default 25)")
    args = parser.parse_args(argv)

    import pytest

    from tests.deploy import tools
    from tests.e2e.helpers import chromium_available

    if not chromium_available():
        print("error: Debian's chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    try:
        binary = tools.prometheus()
    except (pytest.skip.Exception, pytest.fail.Exception) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsm-grafana-twin-") as tmp:
        results = run_demo(Path(tmp), binary, args.seconds)
    moment = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    fig = figure(results, subtitle=f"real PromQL answers from Prometheus scraping the exporter, {moment}")
    html = args.out.resolve() / "grafana-twin-light.html"
    png = args.out / "grafana-twin-light.png"
    fig.write_html(html, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
    try:
        photograph(html, png, fig.layout.width, fig.layout.height)
    finally:
        html.unlink()
    print(png)
    return 0


def run_demo(tmp: Path, binary: Path, seconds: float) -> list[tuple[Panel, list[Series]]]:
    """The demo, its syncs and site tests, the exporter and Prometheus; every panel's answers."""
    from cryptography.fernet import Fernet

    from ranchersync.access.identity import Actor
    from ranchersync.approvals.promote import Requested, promote
    from ranchersync.catalogue import environments, sites
    from ranchersync.context import AppContext
    from ranchersync.governance import locks
    from ranchersync.kernel.config import Settings
    from ranchersync.ops import demo
    from ranchersync.sync import Confirmation, SyncOptions, new_request_id, plan_environments
    from ranchersync.verification import gates

    actor = Actor("alex@example.com", "admin", "cli", name="Alex")
    key = Fernet.generate_key().decode()
    database_url = f"sqlite:///{tmp / 'ranchersync.db'}"
    ctx = AppContext(Settings(database_url, (key,), tmp / "secret.key", "grafana-twin"))

    def sync(source: str, target: str, service: str, by: Actor = actor) -> None:
        with ctx.session() as session:
            plan = plan_environments(session, ctx.cipher, source, target, services=[service],
                                     default_target="all")
        outcome = promote(ctx, by, plan, request_id=new_request_id(), options=SyncOptions(poll_seconds=0.5),
                          confirmed=Confirmation(confirm_env=target))
        if isinstance(outcome, Requested):
            print(f"{by.email}'s sync of {service} into {target} waits for approval: request #{outcome.request_id}")
        else:
            print(f"synced {service} {source} -> {target}: operation {outcome.operation_id}")

    def test_sites() -> None:
        with ctx.session() as session:
            for site in sites.list_sites(session):
                print(f"{site.name}: {sites.test_site(session, ctx.cipher, site.name).message}")

    try:
        ctx.upgrade_database()
        print(demo.start_demo(ctx, progress=print))
        sync("Stage", "Prod", "frontend")
        test_sites()
        with exporter(database_url, key, tmp / "secret.key", free_port()) as metrics_url:
            port = int(urllib.parse.urlsplit(metrics_url).port or 0)
            with prometheus(binary, port, tmp / "prometheus") as base:
                start = time.time()
                time.sleep(4)
                with ctx.session() as session:  # a gate on Prod asking this very Prometheus: real measurements
                    gates.add_gate(session, actor, "Prod", gates.GateSpec(
                        name="exporter-up", query='sum(up{job="ranchersync"})', success="result >= 1",
                        prometheus_url=base, interval_seconds=1.0, count=2))
                sync("Stage", "Prod", "ledger")
                sync("Dev", "Stage", "frontend")
                with ctx.session() as session:  # Prod now needs one approval: an operator's sync becomes a request
                    environments.update_environment(session, "Prod", actor=actor, required_approvals=1)
                sync("Stage", "Prod", "frontend", by=Actor("olivia@example.com", "operator", "cli", name="Olivia"))
                with ctx.session() as session:
                    locks.add_lock(session, actor, environment="Stage", service="ledger",
                                   message="DB migration running: do not promote")
                test_sites()
                time.sleep(max(0.0, seconds - (time.time() - start)))
                wait_for_samples(base, 5)
                end = time.time()
                return [(panel, evaluate(base, panel, start, end, 1.0)) for panel in load_panels()]
    finally:
        demo.stop_demo(ctx)
        ctx.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
