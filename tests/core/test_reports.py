"""Reports: the drift report says since when the source has been ahead (from history) and finds versions that
differ inside one environment; the delivery report is one HTML file with plotly inline and nothing external."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation, SyncResult
from ranchersync.reports import build_drift_report, delivery_html, render_drift
from ranchersync.simulator import SimulatedRancher

UTC = dt.UTC
FRONTEND_NEW = "registry.example.com:5000/shop/frontend:3.8.1"


def record_sync(ctx: AppContext, target: str, service: str, image: str, at: dt.datetime, status: str = "complete",
                source: str = "Dev") -> None:
    with ctx.session() as session:
        env_ids = {name: i for i, name in session.execute(
            SyncOperation.metadata.tables["environments"].select().with_only_columns(
                SyncOperation.metadata.tables["environments"].c.id,
                SyncOperation.metadata.tables["environments"].c.name))}
        op = SyncOperation(kind="sync", mode="full", status=status, source_environment_id=env_ids[source],
                           target_environment_id=env_ids[target], source_environment_name=source,
                           target_environment_name=target, initiated_by="ana", created_at=at, started_at=at,
                           finished_at=at + dt.timedelta(seconds=40))
        op.results = [SyncResult(service=service, workload_kind="Deployment", previous_image="x:1", new_image=image,
                                 containers=[{"name": "app", "previous": "x:1", "new": image}],
                                 status="success" if status == "complete" else "failed", applied=True,
                                 started_at=at, finished_at=at + dt.timedelta(seconds=30))]
        session.add(op)


def test_the_drift_report_says_since_when_the_source_is_ahead(demo: AppContext) -> None:
    record_sync(demo, "Stage", "frontend", FRONTEND_NEW, dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    with demo.session() as session:
        report = build_drift_report(session, demo.cipher, ["Stage", "Prod"])
    frontend = next(p for p in report.pending if p.service == "frontend")
    assert frontend.sentence() == "Stage has been ahead of Prod for frontend since 2026-11-20"
    assert frontend.source_version == "3.8.1" and frontend.target_version == "3.8.0"
    others = [p for p in report.pending if p.service != "frontend"]
    assert others and all(p.ahead_since is None for p in others)  # nothing in the history: said so
    markdown = render_drift(report, "md")
    assert "## Stage → Prod:" in markdown
    assert re.search(r"\| frontend \| Deployment \| 3\\?\.8\.1 \| 3\\?\.8\.0 \| 2026-11-20 \|", markdown), markdown
    payload = json.loads(render_drift(report, "json"))
    assert {"service": "frontend", "aheadSince": "2026-11-20T09:30:30+00:00"}.items() <= next(
        p for p in payload["pending"] if p["service"] == "frontend").items()
    assert render_drift(report, "csv").splitlines()[0].startswith("type,source,target")


def test_different_versions_inside_one_environment_are_reported(demo: AppContext,
                                                                rancher_us: SimulatedRancher) -> None:
    obj = rancher_us.get_object("c-7xk2p", "Deployment", "shop-prod", "frontend")
    assert obj is not None
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com:5000/shop/frontend:3.7.9"
    rancher_us.set_object("c-7xk2p", obj)
    with demo.session() as session:
        report = build_drift_report(session, demo.cipher)
    assert [(i.environment, i.service, i.versions) for i in report.inconsistent if i.service == "frontend"] == [
        ("Prod", "frontend", ("3.8.0", "3.7.9"))]


def test_the_delivery_report_is_self_contained_with_plotly_inline(demo: AppContext, tmp_path: Path,
                                                                   monkeypatch) -> None:
    day = dt.datetime(2026, 11, 2, 10, tzinfo=UTC)
    for n in range(6):
        record_sync(demo, "Stage", "frontend", f"r/frontend:3.{n}", day + dt.timedelta(days=n))
    record_sync(demo, "Prod", "frontend", "r/frontend:3.1", day + dt.timedelta(days=3), status="failed",
                source="Stage")
    with demo.session() as session:
        text = delivery_html(session, day, day + dt.timedelta(days=10))
    assert "Plotly.newPlot" in text and "plotly.js" in text.lower()
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js inside (it names its CDN in its code, unused)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.DOTALL)  # our page, without plotly.js itself
    assert not re.search(r"""(?:href|src)=["']https?://""", markup) and "<link" not in markup
    assert "Deployments per week" in text and "Change failure rate" in text and "#7" in text
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", demo.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", demo.settings.secret_keys[0])
    out = tmp_path / "report.html"
    assert main(["report", "delivery", "--since", "2026-11-01", "--until", "2026-11-30", "--out", str(out)]) == 0
    assert out.read_text().count("Plotly.newPlot(") >= 5  # one per chart
    assert main(["report", "delivery", "--since", "2026-11-01", "--until", "2026-11-30", "--out", "x.pdf"]) == 2
