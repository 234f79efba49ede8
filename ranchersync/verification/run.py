"""Verify services after their rollout: every gate of their environment (all at once) and the soak, recorded.

Each gate measures `count` times, `interval` apart (the first after one interval: the new version needs that long
to show up in the metrics); more than `failure_limit` failed measurements fail it, and it stops measuring as soon as
that is certain. An `inconclusive` measurement (Prometheus unreachable, a query error, an empty result) counts as a
failure unless the gate says `--inconclusive pass`. The services of one sync are verified together, on one clock:
their measurements due at the same moment are asked as one batched query per Prometheus, and gates and soaks run
side by side, so verification takes about max(count × interval, soak), whatever the number of services and gates.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Sequence
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


@dataclass(frozen=True)
class Job:
    """One service to verify: its checks, the service, how its thread gets a Rancher client (the soak's reads and
    rancher-monitoring's queries; clients are not shared between threads), and where its progress lines go."""

    checks: Checks
    target: Target
    client: Callable[[], RancherClient]
    say: Say


@dataclass(frozen=True)
class _Slot:
    """One measurement to take: when, of which job's which gate, the how-many-th."""

    due: float
    job: int
    gate: int
    number: int


def verify_service(
    ctx: AppContext, checks: Checks, target: Target, client: RancherClient, *, say: Say,
    heartbeat: Callable[[], object] = lambda: None,  # its answer (a terminate request) is the engine's to read
) -> Verdict:
    """Run the gates and the soak of `checks` on one service; every measurement is recorded on its result."""
    return verify_services(ctx, [Job(checks, target, lambda: client, say)], heartbeat=heartbeat)[0]


def verify_services(ctx: AppContext, jobs: Sequence[Job], *, heartbeat: Callable[[], object] = lambda: None,
                    ) -> list[Verdict]:
    """Verify several services at once, on one clock: every gate of every service measures at its own times
    (start + k × interval), and the measurements due together are asked together — one batched request per
    Prometheus URL (`DirectPrometheus.query_many`), rancher-monitoring's side by side — while each service's soak
    watches its pods in a thread of its own. A gate stops measuring once it has failed; each tick's measurements are
    recorded in one transaction. So verification takes about max(count × interval, soak), whatever the number of
    services and gates."""
    verdicts = [Verdict() for _ in jobs]
    subjects = [Subject(j.target.namespace, j.target.service, j.checks.environment, ", ".join(j.target.images))
                for j in jobs]
    start = time.monotonic()
    slots = sorted((_Slot(start + rule.interval_seconds * number, i, g, number)
                    for i, job in enumerate(jobs) for g, rule in enumerate(job.checks.gates)
                    for number in range(1, rule.count + 1)), key=lambda s: (s.due, s.job, s.gate))
    failed: dict[tuple[int, int], int] = {}
    done: set[tuple[int, int]] = set()
    soaks = [threading.Thread(target=_soak, args=(ctx, job, verdicts[i]), daemon=True, name=f"soak-{i}")
             for i, job in enumerate(jobs) if job.checks.soak_seconds]
    for thread in soaks:
        thread.start()
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="gates") as pool:
        while slots:
            wait = slots[0].due - time.monotonic()
            while wait > 0:
                time.sleep(min(wait, 5.0))
                heartbeat()  # the operation's owner is alive while its gates measure
                wait = slots[0].due - time.monotonic()
            now = time.monotonic()
            tick = [s for s in slots if s.due <= now + TICK and (s.job, s.gate) not in done]
            slots = [s for s in slots if s.due > now + TICK and (s.job, s.gate) not in done]
            answers = _measure(pool, jobs, subjects, tick)
            rows: list[tuple[int, dict[str, Any]]] = []
            for slot in tick:
                job, rule = jobs[slot.job], jobs[slot.job].checks.gates[slot.gate]
                found = answers[(slot.job, slot.gate)]
                if isinstance(found, QueryFailed):
                    outcome, detail, values = "inconclusive", str(found), []
                    counted = not rule.inconclusive_passes
                else:
                    values = found
                    outcome = "pass" if rule.success.holds(values) else "fail"
                    detail, counted = f"{rule.success.text}: {_shown(values)}", outcome == "fail"
                key = (slot.job, slot.gate)
                failed[key] = failed.get(key, 0) + counted
                rows.append((slot.job, _row(rule.name, values, outcome, detail)))
                mark = {"pass": "✓", "fail": "✗", "inconclusive": "?"}[outcome]
                job.say(f"gate {rule.name} {slot.number}/{rule.count}: {_shown(values) if values else detail} {mark}")
                if failed[key] > rule.failure_limit:
                    done.add(key)
                    verdicts[slot.job].failures.append(
                        f"gate {rule.name}: {failed[key]} of {slot.number} measurements failed "
                        f"(limit {rule.failure_limit}; last: {detail})")
            _record(ctx, jobs, verdicts, rows)
            heartbeat()
    for thread in soaks:
        while thread.is_alive():
            thread.join(timeout=5)
            heartbeat()
    for job, verdict in zip(jobs, verdicts, strict=True):
        if not verdict.passed:
            _notify(ctx, job.checks, job.target, verdict)
    return verdicts


TICK = 0.05  # seconds: measurements due this close together are asked together


def _measure(pool: ThreadPoolExecutor, jobs: Sequence[Job], subjects: Sequence[Subject], tick: Sequence[_Slot]
             ) -> dict[tuple[int, int], list[float] | QueryFailed]:
    """Ask every measurement of a tick: one batched request per Prometheus URL, each rancher-monitoring query on
    its own (through its site's Rancher), all side by side."""
    by_url: dict[str, list[tuple[tuple[int, int], str]]] = {}
    alone: list[tuple[tuple[int, int], str]] = []
    for slot in tick:
        rule = jobs[slot.job].checks.gates[slot.gate]
        one = ((slot.job, slot.gate), render_query(rule.query, subjects[slot.job]))
        if rule.prometheus_url:
            by_url.setdefault(rule.prometheus_url, []).append(one)
        else:
            alone.append(one)

    def direct(url: str, asked: list[tuple[tuple[int, int], str]]) -> list[list[float] | QueryFailed]:
        source = DirectPrometheus(url)
        try:
            return source.query_many([q for _, q in asked])
        finally:
            source.close()

    def monitoring(key: tuple[int, int], promql: str) -> list[float] | QueryFailed:
        target = jobs[key[0]].target
        try:
            return MonitoringThroughRancher(jobs[key[0]].client(), target.cluster_id).query(promql)
        except QueryFailed as failed:
            return failed

    batches = [(asked, pool.submit(direct, url, asked)) for url, asked in by_url.items()]
    singles = [(key, pool.submit(monitoring, key, promql)) for key, promql in alone]
    answers: dict[tuple[int, int], list[float] | QueryFailed] = {}
    for batch, future in batches:
        for (key, _), found in zip(batch, future.result(), strict=True):
            answers[key] = found
    for key, single in singles:
        answers[key] = single.result()
    return answers


def _row(gate: str, values: list[float], outcome: str, detail: str) -> dict[str, Any]:
    return {"gate": gate, "at": utcnow().isoformat(),
            "values": [v if math.isfinite(v) else None for v in values] if gate != "soak" else values,
            "verdict": outcome, "detail": detail}


_RECORDING = threading.Lock()


def _record(ctx: AppContext, jobs: Sequence[Job], verdicts: Sequence[Verdict],
            rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Keep measurements on their verdicts and record them on their results, in one transaction."""
    if not rows:
        return
    with _RECORDING:
        for index, row in rows:
            verdicts[index].measurements.append(row)
    with ctx.session() as session:
        session.add_all([Measurement(result_id=jobs[index].target.result_id, gate=row["gate"], values=row["values"],
                                     verdict=row["verdict"], detail=row["detail"][:2000]) for index, row in rows])


def _soak(ctx: AppContext, job: Job, verdict: Verdict) -> None:
    """One service's soak, in its own thread (with its own client): recorded, and a failure kept on its verdict."""
    checks, target = job.checks, job.target
    job.say(f"soak: watching the pods for {checks.soak_seconds} s")
    outcome = soak(job.client(), target.cluster_id, target.namespace, target.selector, target.images,
                   checks.soak_seconds)
    restarts = sum(outcome.restarts.values())
    _record(ctx, [job], [verdict], [(0, _row("soak", [restarts], "pass" if outcome.passed else "fail",
                                            outcome.failure or f"ready with no restarts for {checks.soak_seconds} s "
                                                               f"({outcome.reads} reads)"))])
    job.say(f"soak: {outcome.failure or 'held'} {'✓' if outcome.passed else '✗'}")
    if not outcome.passed:
        with _RECORDING:
            verdict.failures.append(f"soak: {outcome.failure}")


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
