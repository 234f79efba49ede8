"""The Prometheus exporter after real syncs against the simulated Rancher: the exposition, parsed with
prometheus-client's own parser, holds the numbers the database holds."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Requested, promote
from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.governance.freeze import add_window
from ranchersync.governance.locks import add_lock, remove_lock
from ranchersync.models import Environment, Measurement, SyncOperation, SyncResult, utcnow
from ranchersync.ops.exporter import DatabaseCollector, make_registry
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, apply_plan, mark_interrupted, new_request_id, plan_environments
from ranchersync.sync import rollback_operation as roll_back
from ranchersync.sync.records import Opening, PlannedResult, open_operation
from ranchersync.trains.schedules import Schedule, schedule
from tests.e2e.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
ADMIN = Actor("admin@example.com", "admin", "cli")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(collector: DatabaseCollector) -> Samples:
    """Every sample of the exposition, by name and sorted labels."""
    text = generate_latest(make_registry(collector)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sync(ctx: AppContext, source: str, target: str, *services: str, actor: Actor | None = None) -> int:
    with ctx.session() as session:
        plan = plan_environments(session, ctx.cipher, source, target, services=list(services),
                                 default_target="all")
    return apply_plan(ctx, plan, request_id=new_request_id(), options=FAST, actor=actor or ADMIN)


def test_the_exposition_counts_what_the_syncs_did(demo: AppContext, rancher: SimulatedRancher) -> None:
    first = sync(demo, "Stage", "Prod", "frontend")
    rollback = roll_back(demo, first, actor=Actor("tester", "admin", "cli"), request_id=new_request_id(),
                         options=FAST)
    second = sync(demo, "Stage", "Prod", "checkout")
    # A process on another machine that stopped beating, and one running right now (into Dev).
    stale = open_operation(demo, Opening(kind="sync", mode="full", source=(None, "Stage"), target=(None, "Stage"),
                                         initiated_by="gone", request_id=new_request_id(), planned=[]), actor=ADMIN)[0]
    with demo.session() as session:
        op = session.get_one(SyncOperation, stale)
        op.owner, op.heartbeat_at = "elsewhere:1", utcnow() - dt.timedelta(minutes=10)
    with demo.session() as session:
        assert mark_interrupted(session) == [stale]
    dev = session_env_id(demo, "Dev")
    open_operation(demo, Opening(kind="sync", mode="full", source=(None, "Stage"), target=(dev, "Dev"),
                                 initiated_by="now", request_id=new_request_id(),
                                 planned=[PlannedResult("web", "Deployment", None, None, "", "", "", ())]), actor=ADMIN)
    # Sites: eu tested fine, us unreachable, and a third one with an expiring token.
    expires = (utcnow() + dt.timedelta(days=20)).replace(microsecond=0)
    with demo.session() as session:
        token = rancher.add_token(expires_at=expires)
        sites.add_site(session, demo.cipher, actor=ADMIN, name="eu-ci",
                       connection=sites.make_connection(rancher.url, token))
    with demo.session() as session:
        assert sites.test_site(session, demo.cipher, "eu").success
        assert sites.test_site(session, demo.cipher, "eu-ci").success
        session.get_one(Environment, session_env_id(demo, "Prod")).required_approvals = 1
    with demo.session() as session:
        us = sites.get_site(session, "us")
        us.last_error, us.last_contact_at = "Rancher did not answer", utcnow()
    # A request waiting for approval, and a freeze on Stage.
    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"], default_target="all")
    requested = promote(demo, Actor("op@example.com", "operator", "cli"), plan, request_id=new_request_id(),
                        options=FAST)
    assert isinstance(requested, Requested)
    with demo.session() as session:
        now = utcnow()
        add_window(session, ADMIN, environment="Stage", reason="release week", starts_at=now - dt.timedelta(hours=1),
                   ends_at=now + dt.timedelta(hours=1))

    got = scrape(DatabaseCollector(demo.engine, cache_seconds=0))

    def value(name: str, **labels: str) -> float | None:
        return got.get((name, tuple(sorted(labels.items()))))

    assert value("ranchersync_operations_total", environment="Prod", kind="sync", status="rolled_back") == 1
    assert value("ranchersync_operations_total", environment="Prod", kind="sync", status="complete") == 1
    assert value("ranchersync_operations_total", environment="Prod", kind="rollback", status="complete") == 1
    assert value("ranchersync_operations_total", environment="Stage", kind="sync", status="interrupted") == 1
    assert sum(v for (n, _), v in got.items() if n == "ranchersync_operations_total") == 4
    assert value("ranchersync_operations_running") == 1
    assert value("ranchersync_operations_interrupted") == 1

    with demo.session() as session:
        ops = {o.id: o for o in session.scalars(select(SyncOperation))}
    durations = {i: (ops[i].finished_at - ops[i].started_at).total_seconds() for i in (first, rollback, second)}
    assert value("ranchersync_operation_duration_seconds_count", environment="Prod", kind="sync") == 2
    assert value("ranchersync_operation_duration_seconds_count", environment="Prod", kind="rollback") == 1
    total = value("ranchersync_operation_duration_seconds_sum", environment="Prod", kind="sync")
    assert total == pytest.approx(durations[first] + durations[second], abs=0.01)
    assert value("ranchersync_operation_duration_seconds_bucket", environment="Prod", kind="sync", le="+Inf") == 2
    within_60 = sum(1 for i in (first, second) if durations[i] <= 60)
    assert value("ranchersync_operation_duration_seconds_bucket", environment="Prod", kind="sync",
                 le="60.0") == within_60
    assert value("ranchersync_operation_duration_seconds_count", environment="Stage", kind="sync") is None

    assert value("ranchersync_last_successful_sync_timestamp_seconds", environment="Prod") == pytest.approx(
        ops[second].finished_at.timestamp(), abs=0.001)
    assert value("ranchersync_last_successful_sync_timestamp_seconds", environment="Stage") is None

    assert value("ranchersync_site_up", site="eu") == 1
    assert value("ranchersync_site_up", site="eu-ci") == 1
    assert value("ranchersync_site_up", site="us") == 0
    assert 0 <= (value("ranchersync_site_latency_seconds", site="eu") or -1) < 5
    assert value("ranchersync_token_expiry_timestamp_seconds", site="eu-ci") == pytest.approx(expires.timestamp())
    assert value("ranchersync_token_expiry_timestamp_seconds", site="eu") is None  # the demo token never expires
    assert value("ranchersync_site_last_contact_timestamp_seconds", site="eu") == pytest.approx(time.time(), abs=60)

    assert value("ranchersync_approvals_pending", environment="Prod") == 1
    assert value("ranchersync_environment_frozen", environment="Stage") == 1
    assert value("ranchersync_environment_frozen", environment="Prod") == 0
    assert value("ranchersync_database_up") == 1


def test_verification_locks_and_schedules_are_exported(demo: AppContext) -> None:
    """What issues 23 and 24 add: measurements by gate and verdict, locks in force, scheduled promotions waiting
    and ended (a refused one is what RancherSyncScheduledPromotionRefused alerts on)."""
    first = sync(demo, "Stage", "Prod", "frontend")
    now = utcnow()
    with demo.session() as session:
        result = session.scalars(select(SyncResult).where(SyncResult.operation_id == first)).first()
        assert result is not None
        session.add_all([Measurement(result_id=result.id, gate="error-rate", at=now, values=[0.01], verdict="pass"),
                         Measurement(result_id=result.id, gate="error-rate", at=now, values=[0.2], verdict="fail"),
                         Measurement(result_id=result.id, gate="error-rate", at=now, values=[0.3], verdict="fail"),
                         Measurement(result_id=result.id, gate="soak", at=now, values=[0], verdict="pass")])
        add_lock(session, ADMIN, environment="Prod", message="DB migration running")
        add_lock(session, ADMIN, environment="Prod", service="web", message="hotfix under test")
        removed = add_lock(session, ADMIN, environment="Stage", message="gone")
    with demo.session() as session:
        remove_lock(session, ADMIN, removed.id)
        later = Schedule(target="Prod", source="Stage", fire_at=now + dt.timedelta(days=1), confirm_env="Prod")
        schedule(session, ADMIN, later)
        refused = schedule(session, ADMIN, later)
        refused.status, refused.status_reason = "refused", "Prod is frozen"

    got = scrape(DatabaseCollector(demo.engine, cache_seconds=0))

    def value(name: str, **labels: str) -> float | None:
        return got.get((name, tuple(sorted(labels.items()))))

    measured = "ranchersync_verification_measurements_total"
    assert value(measured, environment="Prod", gate="error-rate", verdict="fail") == 2
    assert value(measured, environment="Prod", gate="error-rate", verdict="pass") == 1
    assert value(measured, environment="Prod", gate="soak", verdict="pass") == 1
    assert value("ranchersync_locks_in_force", environment="Prod") == 2
    assert value("ranchersync_locks_in_force", environment="Stage") == 0  # removed: no longer in force
    assert value("ranchersync_scheduled_requests_waiting", environment="Prod") == 1
    assert value("ranchersync_scheduled_requests_total", environment="Prod", status="refused") == 1
    assert value("ranchersync_scheduled_requests_total", environment="Prod", status="scheduled") is None


def session_env_id(ctx: AppContext, name: str) -> int:
    with ctx.session() as session:
        return session.scalars(select(Environment.id).where(Environment.name == name)).one()


def test_a_site_whose_last_contact_is_too_old_counts_as_down(demo: AppContext) -> None:
    with demo.session() as session:
        for site, minutes in (("eu", 5), ("us", 90)):
            sites.get_site(session, site).last_contact_at = utcnow() - dt.timedelta(minutes=minutes)
    got = scrape(DatabaseCollector(demo.engine, cache_seconds=0, site_stale_seconds=3600))
    assert got[("ranchersync_site_up", (("site", "eu"),))] == 1
    assert got[("ranchersync_site_up", (("site", "us"),))] == 0


def test_a_scrape_storm_reads_the_database_once_per_cache_period(ctx: AppContext) -> None:
    clock = [100.0]
    collector = DatabaseCollector(ctx.engine, cache_seconds=5, clock=lambda: clock[0])
    for _ in range(20):
        scrape(collector)
    assert collector.queries == 1
    clock[0] += 5.1
    scrape(collector)
    assert collector.queries == 2


def test_an_unreachable_database_is_reported_not_raised(tmp_path: Path) -> None:
    from ranchersync.storage.db import make_engine

    (tmp_path / "not-a-db").write_text("this is no database")
    got = scrape(DatabaseCollector(make_engine(f"sqlite:///{tmp_path / 'not-a-db'}"), cache_seconds=0))
    assert got == {("ranchersync_database_up", ()): 0.0}


def test_the_exporter_command_serves_metrics_over_http(demo: AppContext) -> None:
    sync(demo, "Stage", "Prod", "checkout")
    port = free_port()
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": demo.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ",".join(demo.settings.secret_keys)}
    process = subprocess.Popen([sys.executable, "-m", "ranchersync", "exporter", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not body:
            assert process.poll() is None, process.communicate()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    body = answer.read().decode()
            except OSError:
                time.sleep(0.2)
        families = {f.name: f for f in text_string_to_metric_families(body)}
        sample = families["ranchersync_operations"].samples[0]
        assert sample.labels == {"environment": "Prod", "kind": "sync", "status": "complete"} and sample.value == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"http://127.0.0.1:{port}/metrics" in err
