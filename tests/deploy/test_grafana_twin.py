"""The Grafana dashboard's PromQL against the real Prometheus server (Debian's package) scraping the real exporter
after a real sync: every panel's expressions evaluate and answer, and the numbers are the exporter's
(scripts/grafana_twin.py draws the same answers as the README's picture)."""

from __future__ import annotations

import datetime as dt
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.governance.locks import add_lock
from ranchersync.models import Measurement, SyncResult
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import Confirmation, SyncOptions, apply_plan, new_request_id, plan_environments
from ranchersync.sync.records import Opening, open_operation
from scripts.grafana_twin import (
    Panel,
    evaluate,
    exporter,
    free_port,
    load_panels,
    prometheus,
    substitute,
    wait_for_samples,
)
from tests.builders import ADMIN
from tests.deploy import tools

FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)


def exposition(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def panel(panels: list[Panel], title: str) -> Panel:
    return next(p for p in panels if p.title == title)


def test_every_panel_answers_from_prometheus_scraping_the_exporter(demo: AppContext, rancher: SimulatedRancher,
                                                                   tmp_path: Path) -> None:
    binary = tools.prometheus()  # before the slow part: a missing server skips here (fails under CI=true)
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"], default_target="all")
    synced = apply_plan(demo, plan, actor=ADMIN, request_id=new_request_id(), options=FAST,
                        confirmed=Confirmation(confirm_env="Prod"))
    # Its gate's measurements (what the verification run records) and a lock: the verification and locks panels.
    with demo.session() as session:
        result = session.scalars(select(SyncResult).where(SyncResult.operation_id == synced)).first()
        assert result is not None
        session.add_all([Measurement(result_id=result.id, gate="error-rate", values=[0.01], verdict="pass"),
                         Measurement(result_id=result.id, gate="error-rate", values=[0.3], verdict="fail")])
        add_lock(session, ADMIN, environment="Prod", message="DB migration running")
    # One operation running now, and a third site whose token expires: every panel then has something to show.
    open_operation(demo, Opening(kind="sync", mode="full", source=(None, "Stage"), target=(None, "Dev"),
                                 initiated_by="now", request_id=new_request_id(), planned=[]), actor=ADMIN)
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3)
    with demo.session() as session:
        sites.add_site(session, demo.cipher, actor=ADMIN, name="eu-ci",
                       connection=sites.make_connection(rancher.url, rancher.add_token(expires_at=expires)))
    with demo.session() as session:
        for name in ("eu", "us", "eu-ci"):
            assert sites.test_site(session, demo.cipher, name).success

    settings = demo.settings
    with exporter(settings.database_url, settings.secret_keys[0], settings.key_file, free_port()) as metrics_url, \
            prometheus(binary, int(metrics_url.split(":")[2].split("/")[0]), tmp_path / "prometheus") as base:
        start = time.time()
        wait_for_samples(base, 3)
        end = time.time()
        panels = load_panels()
        answers = {p.title: evaluate(base, p, start - 5, end, 1.0) for p in panels}  # a PromQL error raises
        exported = exposition(metrics_url)

    assert len(panels) == 11 and all(p.targets for p in panels)
    assert all("$" not in substitute(t.expr) for p in panels for t in p.targets)
    empty = [title for title, series in answers.items() if not series]
    assert empty == [], f"panels without data: {empty}"

    stats = {s.name: s.values[-1] for s in answers["Operations running / interrupted"]}
    assert stats == {"running": exported[("ranchersync_operations_running", ())],
                     "interrupted": exported[("ranchersync_operations_interrupted", ())]}
    assert stats["running"] == 1
    since = {s.name: s.values[-1] for s in answers["Since the last successful sync"]}
    prod_sync = exported[("ranchersync_last_successful_sync_timestamp_seconds", (("environment", "Prod"),))]
    assert abs(since["Prod"] - (end - prod_sync)) < 5
    token = {s.name: s.values[-1] for s in answers["Token expires in"]}
    assert abs(token["eu-ci"] - (expires.timestamp() - end)) < 5
    verdicts = {s.name for s in answers["Verification measurements by verdict"]}
    assert verdicts == {"Prod pass", "Prod fail"}, verdicts
    locks = {s.name: s.values[-1] for s in answers["Locks, scheduled promotions, quarantined images running"]}
    assert locks["locks Prod"] == 1 and locks["locks Stage"] == 0, locks
    sites_up = {s.name: s.values[-1] for s in answers["Sites up (last test)"]}
    assert sites_up == {"eu": 1.0, "us": 1.0, "eu-ci": 1.0}
    assert panel(panels, "Syncs by status").type == "timeseries"  # a range query: one point per second
    assert all(len(s.values) >= 2 for s in answers["Site latency"])  # one point per step since the first scrape
