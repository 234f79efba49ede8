"""Verify one service after its rollout: every gate of its environment (concurrently) and the soak, recorded.

Each gate measures `count` times, `interval` apart (the first after one interval: the new version needs that long
to show up in the metrics); more than `failure_limit` failed measurements fail it, and it stops measuring as soon as
that is certain. An `inconclusive` measurement (Prometheus unreachable, a query error, an empty result) counts as a
failure unless the gate says `--inconclusive pass`. Gates and the soak run side by side, so verification takes about
max(count × interval, soak), whatever the number of gates.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ranchersync import notify
from ranchersync.context import AppContext
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.models import Environment, Measurement, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.verification.expressions import SuccessExpression, parse_success
from ranchersync.verification.gates import effective_gates, soak_setting
from ranchersync.verification.prometheus import (
    DirectPrometheus,
    MonitoringThroughRancher,
    PrometheusSource,
    QueryFailed,
    Subject,
    render_query,
)
from ranchersync.verification.soak import soak

log = logging.getLogger("ranchersync.verification")

Say = Callable[[str], None]  # a line of progress ("error-rate: 0.01 ✓ 1/3")


@dataclass(frozen=True)
class GateRule:
    """A gate, read from the database before any thread starts."""

    name: str
    prometheus_url: str | None
    query: str
    success: SuccessExpression
    interval_seconds: float
    count: int
    failure_limit: int
    inconclusive_passes: bool


@dataclass(frozen=True)
class Checks:
    """What verifying a service in one environment means: its gates and its soak time."""

    environment_id: int
    environment: str
    gates: tuple[GateRule, ...] = ()
    soak_seconds: int = 0

    @property
    def empty(self) -> bool:
        """Nothing to verify beyond the rollout."""
        return not self.gates and not self.soak_seconds


def load_checks(ctx: AppContext, environment_id: int, service: str) -> Checks:
    """The gates that run after a rollout of `service` into an environment (its own overriding the environment's
    of the same name, less those disabled for it), and the environment's soak time."""
    with ctx.session() as session:
        env = session.get(Environment, environment_id)
        if env is None:
            return Checks(environment_id, "")
        rules = tuple(GateRule(g.name, g.prometheus_url, g.query, parse_success(g.success), g.interval_seconds,
                               g.count, g.failure_limit, g.inconclusive == "pass")
                      for g in effective_gates(session, environment_id, service))
        return Checks(environment_id, env.name, rules, soak_setting(session, environment_id).soak_seconds or 0)


@dataclass(frozen=True)
class Target:
    """The service being verified: where it runs, what it now runs, and its result row."""

    result_id: int
    cluster_id: str
    namespace: str
    service: str
    selector: str  # the workload's label selector, for its pods
    images: tuple[str, ...]  # the images just set


@dataclass
class Verdict:
    """The outcome of one service's verification."""

    failures: list[str] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every gate and the soak held."""
        return not self.failures

    @property
    def message(self) -> str:
        """Why the service failed verification, for its result."""
        return "verification failed: " + "; ".join(self.failures)


def verify_service(
    ctx: AppContext, checks: Checks, target: Target, client: RancherClient, *, say: Say,
    heartbeat: Callable[[], object] = lambda: None,  # its answer (a terminate request) is the engine's to read
) -> Verdict:
    """Run the gates and the soak of `checks` on one service; every measurement is recorded on its result."""
    verdict = Verdict()
    lock = threading.Lock()
    subject = Subject(target.namespace, target.service, checks.environment, ", ".join(target.images))

    def record(gate: str, values: list[float], outcome: str, detail: str) -> None:
        row = {"gate": gate, "at": utcnow().isoformat(), "values": [v if math.isfinite(v) else None for v in values]
               if gate != "soak" else values, "verdict": outcome, "detail": detail}
        with lock:
            verdict.measurements.append(row)
        with ctx.session() as session:
            session.add(Measurement(result_id=target.result_id, gate=gate, values=row["values"], verdict=outcome,
                                    detail=detail[:2000]))

    def run_gate(rule: GateRule) -> str | None:
        source: PrometheusSource
        direct = DirectPrometheus(rule.prometheus_url) if rule.prometheus_url else None
        source = direct or MonitoringThroughRancher(client, target.cluster_id)
        query = render_query(rule.query, subject)
        failed = 0
        try:
            for number in range(1, rule.count + 1):
                time.sleep(rule.interval_seconds)
                try:
                    values = source.query(query)
                except QueryFailed as error:
                    outcome, detail, values = "inconclusive", str(error), []
                    failed += 0 if rule.inconclusive_passes else 1
                else:
                    outcome = "pass" if rule.success.holds(values) else "fail"
                    detail = f"{rule.success.text}: {_shown(values)}"
                    failed += outcome == "fail"
                record(rule.name, values, outcome, detail)
                mark = {"pass": "✓", "fail": "✗", "inconclusive": "?"}[outcome]
                say(f"gate {rule.name} {number}/{rule.count}: {_shown(values) if values else detail} {mark}")
                if failed > rule.failure_limit:
                    return (f"gate {rule.name}: {failed} of {number} measurements failed "
                            f"(limit {rule.failure_limit}; last: {detail})")
            return None
        finally:
            if direct is not None:
                direct.close()

    workers = len(checks.gates)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(run_gate, rule) for rule in checks.gates]
        if checks.soak_seconds:
            say(f"soak: watching the pods for {checks.soak_seconds} s")
            outcome = soak(client, target.cluster_id, target.namespace, target.selector, target.images,
                           checks.soak_seconds, heartbeat=heartbeat)
            restarts = sum(outcome.restarts.values())
            record("soak", [restarts], "pass" if outcome.passed else "fail",
                   outcome.failure or f"ready with no restarts for {checks.soak_seconds} s ({outcome.reads} reads)")
            say(f"soak: {outcome.failure or 'held'} {'✓' if outcome.passed else '✗'}")
            if not outcome.passed:
                verdict.failures.append(f"soak: {outcome.failure}")
        for future in futures:
            while True:
                try:
                    failure = future.result(timeout=5)
                    break
                except TimeoutError:
                    heartbeat()  # the operation's owner is alive while its gates measure
            if failure:
                verdict.failures.append(failure)
    if not verdict.passed:
        _notify(ctx, checks, target, verdict)
    return verdict


def _shown(values: Collection[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values) or "(no value)"


def _notify(ctx: AppContext, checks: Checks, target: Target, verdict: Verdict) -> None:
    """Queue `verification.failed` with the measurements (a notification must never fail the sync)."""
    payload = {"event": "verification.failed", "environment": checks.environment, "service": target.service,
               "namespace": target.namespace, "images": list(target.images), "error": verdict.message,
               "detail": "; ".join(f"{m['gate']} {m['verdict']}: {m['detail']}" for m in verdict.measurements)[:2000],
               "services": [{"name": target.service, "new": ", ".join(target.images), "status": "failed"}]}
    try:
        with ctx.session() as session:
            notify.enqueue(session, "verification.failed", payload, checks.environment_id)
    except RancherSyncError:  # the rollback matters more than the message; the log keeps why
        log.exception("verification.failed for %s could not be queued", target.service)
