"""Prometheus metrics read from the database (`python -m ranchersync exporter`), so every replica's work counts.

The collector asks the database for aggregates (GROUP BY, never row by row) at most once per `cache_seconds`: a
scrape storm (several Prometheus servers, a dashboard refreshing) costs one set of queries. The metric names are a
contract with the deployment's alert rules and Grafana dashboard (deploy/): change them only together.

    ranchersync_operations_total{environment,kind,status}      finished operations by target, kind, final status
    ranchersync_operation_duration_seconds{environment,kind}   histogram of finished (not interrupted) operations
    ranchersync_last_successful_sync_timestamp_seconds{environment}
    ranchersync_operations_running / ranchersync_operations_interrupted
    ranchersync_site_up{site} 1/0, ranchersync_site_latency_seconds{site},
    ranchersync_token_expiry_timestamp_seconds{site} (where known),
    ranchersync_site_last_contact_timestamp_seconds{site}
    ranchersync_approvals_pending{environment}, ranchersync_environment_frozen{environment} 1/0
    ranchersync_quarantined_running{image}     containers running a quarantined digest when last looked (the site
                                               check and `quarantine list` look)
    ranchersync_verification_measurements_total{environment,gate,verdict}   gate and soak measurements of syncs into
                                               the environment (pass, fail, inconclusive)
    ranchersync_locks_in_force{environment}    locks on the environment or one of its services (0: none)
    ranchersync_scheduled_requests_waiting{environment}   scheduled promotions not fired yet
    ranchersync_scheduled_requests_total{environment,status}   fired or ended ones: executed, requested, refused,
                                               failed, cancelled
    ranchersync_database_up 1/0 (0: the database did not answer; the other families are then left out)

`operations_total` counts rows of the operations table, so it follows the table: an operation that is rolled back
later moves from `complete` to `rolled_back`, and deleting history lowers it (Prometheus then sees a reset).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ranchersync.history.sql import seconds_between
from ranchersync.models import (
    ACTIVE_OPERATION_STATUSES,
    ApprovalRequest,
    CollectorLease,
    Environment,
    EnvironmentLock,
    LiveWatch,
    Measurement,
    QuarantinedImage,
    ScheduledRequest,
    Site,
    SyncOperation,
    SyncResult,
    utcnow,
)
from ranchersync.security import checkpoint
from ranchersync.security.crypto import TokenCipher

log = logging.getLogger(__name__)

FINISHED_STATUSES = ("complete", "partial", "failed", "rolled_back", "interrupted")
# Interrupted operations have no real end (their end is when a restart noticed them): out of the durations.
TIMED_STATUSES = ("complete", "partial", "failed", "rolled_back")
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
DEFAULT_CACHE_SECONDS = 5.0
# A site counts as down when its last successful contact is older than this (the `check` job or the dashboard
# test sites more often than that).
DEFAULT_SITE_STALE_SECONDS = 3600.0


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def _bucket_label(bound: float) -> str:
    return repr(bound) if bound != int(bound) else f"{bound:.1f}"


def collect_families(session: Session, now: dt.datetime, site_stale_seconds: float) -> list[Metric]:
    """Every metric family, read from the database with one aggregate query per family."""
    families: list[Metric] = []
    env_name, kind, status = (SyncOperation.target_environment_name, SyncOperation.kind, SyncOperation.status)

    totals = CounterMetricFamily("ranchersync_operations", "Finished operations by target environment, kind "
                                 "(sync, rollback) and final status.", labels=["environment", "kind", "status"])
    for env, k, st, count in session.execute(
        select(env_name, kind, status, func.count()).where(status.in_(FINISHED_STATUSES))
        .group_by(env_name, kind, status).order_by(env_name, kind, status)
    ):
        totals.add_metric([env, k, st], float(count))
    families.append(totals)

    duration = seconds_between(SyncOperation.started_at, SyncOperation.finished_at)
    bucket_columns = [func.sum(case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    histogram = HistogramMetricFamily("ranchersync_operation_duration_seconds", "How long finished operations "
                                      "took, from start to end (interrupted ones left out).",
                                      labels=["environment", "kind"])
    for row in session.execute(
        select(env_name, kind, func.count(), func.sum(duration), *bucket_columns)
        .where(status.in_(TIMED_STATUSES), SyncOperation.started_at.is_not(None),
               SyncOperation.finished_at.is_not(None))
        .group_by(env_name, kind).order_by(env_name, kind)
    ):
        values: tuple[Any, ...] = tuple(row)
        cumulative = values[4:]
        buckets = [(_bucket_label(b), float(c or 0)) for b, c in zip(DURATION_BUCKETS, cumulative, strict=True)]
        histogram.add_metric([str(values[0]), str(values[1])], [*buckets, ("+Inf", float(values[2]))],
                             float(values[3] or 0.0))
    families.append(histogram)

    last_success = GaugeMetricFamily("ranchersync_last_successful_sync_timestamp_seconds", "When the last "
                                     "complete sync into the environment finished (Unix time).",
                                     labels=["environment"])
    for env, finished in session.execute(
        select(env_name, func.max(SyncOperation.finished_at))
        .where(kind == "sync", status == "complete").group_by(env_name).order_by(env_name)
    ):
        when = _epoch(_as_datetime(finished))
        if when is not None:
            last_success.add_metric([env], when)
    families.append(last_success)

    counts: tuple[Any, ...] = tuple(session.execute(select(
        func.coalesce(func.sum(case((status.in_(ACTIVE_OPERATION_STATUSES), 1), else_=0)), 0),
        func.coalesce(func.sum(case((status == "interrupted", 1), else_=0)), 0),
    ).where(status.in_((*ACTIVE_OPERATION_STATUSES, "interrupted")))).one())
    running, interrupted = float(counts[0]), float(counts[1])
    families.append(GaugeMetricFamily("ranchersync_operations_running", "Operations running (or about to) now.",
                                      value=float(running)))
    families.append(GaugeMetricFamily("ranchersync_operations_interrupted", "Operations whose process stopped "
                                      "before they finished, waiting for a rollback or a resume.",
                                      value=float(interrupted)))

    families.extend(_site_families(session, now, site_stale_seconds))
    families.extend(_inventory_families(session, now))

    pending = GaugeMetricFamily("ranchersync_approvals_pending", "Sync requests waiting for approval, by target "
                                "environment.", labels=["environment"])
    target = ApprovalRequest.target_environment_name
    for env, count in session.execute(
        select(target, func.count()).where(and_(ApprovalRequest.status == "pending",
                                                ApprovalRequest.expires_at > now))
        .group_by(target).order_by(target)
    ):
        pending.add_metric([env], float(count))
    families.append(pending)

    from ranchersync.governance.freeze import frozen_environments  # the freeze rules live there, once

    frozen_ids = frozen_environments(session, now)
    frozen = GaugeMetricFamily("ranchersync_environment_frozen", "1 while a freeze window refuses syncs into the "
                               "environment, else 0.", labels=["environment"])
    for env_id, name in session.execute(select(Environment.id, Environment.name).order_by(Environment.position,
                                                                                          Environment.name)):
        frozen.add_metric([name], 1.0 if env_id in frozen_ids else 0.0)
    families.append(frozen)

    quarantined = GaugeMetricFamily("ranchersync_quarantined_running", "Containers running a quarantined digest "
                                    "when last looked (site check, `quarantine list`).", labels=["image"])
    for image, digest, seen in session.execute(
        select(QuarantinedImage.name, QuarantinedImage.digest, QuarantinedImage.running_count)
        .where(QuarantinedImage.lifted_at.is_(None)).order_by(QuarantinedImage.id)
    ):
        quarantined.add_metric([f"{image}@{digest}"], float(seen or 0))
    families.append(quarantined)
    families.extend(_release_families(session))
    return families


def _release_families(session: Session) -> list[Metric]:
    """What verification, locks and schedules did (issues 23, 24): a gate failing often, a lock left in place for
    weeks, a scheduled promotion refused at fire time are what an alert or a dashboard panel should show."""
    measured = CounterMetricFamily("ranchersync_verification_measurements", "Gate and soak measurements of syncs "
                                   "into the environment, by gate (`soak` for the soak) and verdict.",
                                   labels=["environment", "gate", "verdict"])
    env_name = SyncOperation.target_environment_name
    for env, gate, verdict, count in session.execute(
        select(env_name, Measurement.gate, Measurement.verdict, func.count())
        .join(SyncResult, SyncResult.id == Measurement.result_id)
        .join(SyncOperation, SyncOperation.id == SyncResult.operation_id)
        .group_by(env_name, Measurement.gate, Measurement.verdict).order_by(env_name, Measurement.gate)
    ):
        measured.add_metric([env, gate, verdict], float(count))

    in_force: dict[int, int] = {env_id: count for env_id, count in session.execute(
        select(EnvironmentLock.environment_id, func.count()).where(EnvironmentLock.removed_at.is_(None))
        .group_by(EnvironmentLock.environment_id))}
    locks = GaugeMetricFamily("ranchersync_locks_in_force", "Locks in force on the environment or one of its "
                              "services (syncs into them are refused).", labels=["environment"])
    for env_id, name in session.execute(select(Environment.id, Environment.name).order_by(Environment.position,
                                                                                          Environment.name)):
        locks.add_metric([name], float(in_force.get(env_id, 0)))

    waiting = GaugeMetricFamily("ranchersync_scheduled_requests_waiting", "Scheduled promotions into the "
                                "environment that have not fired yet.", labels=["environment"])
    ended = CounterMetricFamily("ranchersync_scheduled_requests", "Scheduled promotions that fired or ended, by "
                                "target and status (executed, requested, refused, failed, cancelled).",
                                labels=["environment", "status"])
    target, status = ScheduledRequest.target_environment_name, ScheduledRequest.status
    for env, st, count in session.execute(select(target, status, func.count()).group_by(target, status)
                                          .order_by(target, status)):
        if st in ("scheduled", "running"):
            continue
        ended.add_metric([env, st], float(count))
    for env, count in session.execute(select(target, func.count()).where(status.in_(("scheduled", "running")))
                                      .group_by(target).order_by(target)):
        waiting.add_metric([env], float(count))
    return [measured, locks, waiting, ended]


def _site_families(session: Session, now: dt.datetime, stale_seconds: float) -> list[Metric]:
    up = GaugeMetricFamily("ranchersync_site_up", "1 when the last connection test of the (active) site succeeded "
                           "recently enough, else 0.", labels=["site"])
    latency = GaugeMetricFamily("ranchersync_site_latency_seconds", "Round-trip time of the last successful "
                                "connection test.", labels=["site"])
    expiry = GaugeMetricFamily("ranchersync_token_expiry_timestamp_seconds", "When the site's API token expires "
                               "(Unix time; only tokens with a known expiry).", labels=["site"])
    contact = GaugeMetricFamily("ranchersync_site_last_contact_timestamp_seconds", "When the site last answered a "
                                "connection test (Unix time).", labels=["site"])
    rows = session.execute(
        select(Site.name, Site.last_error, Site.last_contact_at, Site.last_latency_ms, Site.token_expires_at)
        .where(Site.active.is_(True)).order_by(Site.name)
    )
    for name, last_error, last_contact, latency_ms, expires in rows:
        contacted = _epoch(last_contact)
        fresh = last_contact is not None and (now - last_contact).total_seconds() <= stale_seconds
        up.add_metric([name], 1.0 if fresh and not last_error else 0.0)
        if contacted is not None:
            contact.add_metric([name], contacted)
        if latency_ms is not None:
            latency.add_metric([name], latency_ms / 1000)
        if expires is not None:
            expiry.add_metric([name], _epoch(expires) or 0.0)
    return [up, latency, expiry, contact]


def _inventory_families(session: Session, now: dt.datetime) -> list[Metric]:
    """The live inventory per (site, cluster): how old it is (the oldest of its watches' last confirmation; the
    collector's heartbeat caps it), and what its watches cost: reconnects and relists since the collector started."""
    age = GaugeMetricFamily("ranchersync_inventory_age_seconds", "Seconds since the stored inventory of the cluster "
                            "was last confirmed current by its watches (and the collector's heartbeat).",
                            labels=["site", "cluster"])
    reconnects = CounterMetricFamily("ranchersync_inventory_watch_reconnects", "Watch connections of the cluster "
                                     "that failed and were opened again.", labels=["site", "cluster"])
    relists = CounterMetricFamily("ranchersync_inventory_relists", "Lists of the cluster made again after a "
                                  "watch's resourceVersion expired (410 Gone).", labels=["site", "cluster"])
    heartbeat = _as_datetime(session.scalar(select(CollectorLease.heartbeat_at)
                                            .where(CollectorLease.name == "collector")))
    rows: Sequence[Any] = session.execute(
        select(Site.name, LiveWatch.cluster_id, func.min(LiveWatch.observed_at), func.sum(LiveWatch.reconnects),
               func.sum(LiveWatch.relists), func.min(case((LiveWatch.healthy.is_(True), 1), else_=0)))
        .join(Site, Site.id == LiveWatch.site_id).group_by(Site.name, LiveWatch.cluster_id)
        .order_by(Site.name, LiveWatch.cluster_id)
    ).all()
    for site, cluster, observed, reconnected, relisted, all_healthy in rows:
        # While every watch streams, the inventory is as current as the collector's last heartbeat.
        known = [t for t in (None if all_healthy else _as_datetime(observed), heartbeat) if t is not None]
        if known:
            age.add_metric([site, cluster], max(0.0, (now - min(known)).total_seconds()))
        reconnects.add_metric([site, cluster], float(reconnected or 0))
        relists.add_metric([site, cluster], float(relisted or 0))
    return [age, reconnects, relists]


def _as_datetime(value: Any) -> dt.datetime | None:
    """MAX() over a timestamp comes back untyped on SQLite (text): parse it as the UTC we stored."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class DatabaseCollector(Collector):
    """Reads the metrics from the database on a scrape, at most once per `cache_seconds` (shared by concurrent
    scrapes: the second waits for the first's answer rather than asking the database again)."""

    def __init__(self, engine: Engine, *, cache_seconds: float = DEFAULT_CACHE_SECONDS,
                 site_stale_seconds: float = DEFAULT_SITE_STALE_SECONDS,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], dt.datetime] = utcnow,
                 cipher: TokenCipher | None = None) -> None:
        self.engine = engine
        self.cipher = cipher  # signs the audit chain's head (a copy of the checkpoint outside the database)
        self.cache_seconds = cache_seconds
        self.site_stale_seconds = site_stale_seconds
        self._clock, self._now = clock, now
        self._lock = threading.Lock()
        self._cached: tuple[float, Sequence[Metric]] | None = None
        self.queries = 0  # how many times the database was asked (for tests and the scrape-storm check)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._cached is not None and self._clock() - self._cached[0] < self.cache_seconds:
                return list(self._cached[1])
            families = self._read()
            self._cached = (self._clock(), families)
            return list(families)

    def _read(self) -> list[Metric]:
        self.queries += 1
        try:
            with Session(self.engine) as session, session.begin():
                families = collect_families(session, self._now(), self.site_stale_seconds)
                if self.cipher is not None:
                    families.extend(_checkpoint_family(session, self.cipher))
            healthy = 1.0
        except SQLAlchemyError as error:
            # One line, without the statement's parameters; Prometheus sees the database as down.
            log.warning("metrics: the database did not answer: %s", type(error).__name__,
                        extra={"event": "exporter.database_error"})
            families, healthy = [], 0.0
        families.append(GaugeMetricFamily("ranchersync_database_up", "1 when the exporter could read the database.",
                                          value=healthy))
        return families


def _checkpoint_family(session: Session, cipher: TokenCipher) -> list[Metric]:
    """The audit chain's head as a signed checkpoint: Prometheus keeps every value it scraped, outside the
    database, so `audit verify --checkpoint` can be given any of them later."""
    head = checkpoint.current(session, cipher)
    if head is None:
        return []
    family = GaugeMetricFamily("ranchersync_audit_head_event", "The audit chain's last event id; the checkpoint "
                               "label is its signed checkpoint (audit verify --checkpoint).", labels=["checkpoint"])
    family.add_metric([head.text], head.event_id)
    return [family]


def make_registry(collector: DatabaseCollector) -> CollectorRegistry:
    """A registry holding only our collector (no process/platform metrics of the exporter itself)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def serve(engine: Engine, host: str, port: int, *, cache_seconds: float = DEFAULT_CACHE_SECONDS,
          site_stale_seconds: float = DEFAULT_SITE_STALE_SECONDS, stop: threading.Event | None = None,
          cipher: TokenCipher | None = None) -> None:
    """Serve /metrics on host:port until `stop` is set (or the process is stopped)."""
    from prometheus_client import start_http_server

    registry = make_registry(DatabaseCollector(engine, cache_seconds=cache_seconds,
                                               site_stale_seconds=site_stale_seconds, cipher=cipher))
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("serving metrics on http://%s:%s/metrics", host, server.server_port,
             extra={"event": "exporter.started"})
    try:
        (stop or threading.Event()).wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
