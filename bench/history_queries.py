"""Benchmark: history pages and delivery metrics over 100,000 operations and 300,000 results.

Seeds a year of promotions Dev → QA → Stage → Prod (50 services, 20 people, realistic outcomes: failures,
automatic and hand rollbacks, interruptions) into a temporary SQLite file and, when RANCHERSYNC_TEST_DATABASE_URL
is set, into a fresh PostgreSQL schema (dropped after), then times every history query and every metric — over the
whole history and over its last 90 days, the period a metrics screen shows — and prints a table: median of --repeat
warm runs, in ms. Targets (issue 6): each query under 300 ms, the whole set under 2 s; (issue "Fidelity and
speed" item 3) every metric under 300 ms at 100,000 operations over the whole history, on both databases. The
bulk-loaded history gets its first arrivals and journeys as migration 0006 backfills an existing database.

    .venv/bin/python -m bench.history_queries [--operations 100000] [--repeat 5] [--no-postgres] [--explain]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ranchersync import history
from ranchersync.context import AppContext
from ranchersync.history import arrivals, dora, metrics
from ranchersync.history.filters import operation_conditions
from ranchersync.history.queries import NEWEST_FIRST
from ranchersync.kernel.config import Settings
from ranchersync.models import Environment, SyncOperation, SyncResult, VersionArrival, VersionJourney

TARGET_MS, TOTAL_TARGET_MS = 300.0, 2000.0  # per query; page queries + every metric
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SERVICES = [f"svc-{i:02d}" for i in range(50)]
PEOPLE = [f"user{i:02d}" for i in range(20)]
HOPS = (("Dev", "QA", 0.40), ("QA", "Stage", 0.30), ("Stage", "Prod", 0.30))
# Outcome of a sync: (operation status, result statuses of its three services), with its share.
OUTCOMES = (
    ("complete", ("success", "success", "success"), 0.88),
    ("partial", ("success", "success", "failed"), 0.04),
    ("failed", ("failed", "failed", "skipped"), 0.03),
    ("rolled_back", ("failed", "rolled_back", "rolled_back"), 0.03),  # automatic rollback
    ("interrupted", ("success", "pending", "pending"), 0.01),
    ("by_hand", ("rolled_back", "rolled_back", "rolled_back"), 0.01),  # rolled back later by a rollback operation
)


def seed(ctx: AppContext, operations: int, results_per_operation: int = 3) -> None:
    """Write the history with bulk INSERTs in chunks (not what we time)."""
    rng = random.Random(6)
    with ctx.session() as session:
        envs = {name: Environment(name=name, position=i) for i, name in enumerate(("Dev", "QA", "Stage", "Prod"))}
        session.add_all(envs.values())
        session.flush()
        env_ids = {name: env.id for name, env in envs.items()}
    version = {(s, env): 0 for s in SERVICES for env in env_ids}
    step = dt.timedelta(days=365) / operations
    ops: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    op_id = 0
    while op_id < operations:
        op_id += 1
        start = START + step * op_id + dt.timedelta(seconds=rng.uniform(0, 5))
        source, target, _ = rng.choices(HOPS, weights=[h[2] for h in HOPS])[0]
        outcome, statuses, _ = rng.choices(OUTCOMES, weights=[o[2] for o in OUTCOMES])[0]
        duration = dt.timedelta(seconds=min(3600.0, rng.lognormvariate(4.2, 0.8)))
        services = rng.sample(SERVICES, results_per_operation)
        status = "rolled_back" if outcome == "by_hand" else outcome
        ops.append(_operation(op_id, "sync", status, env_ids, source, target, start, duration, rng.choice(PEOPLE)))
        changes = []
        for service, result_status in zip(services, statuses, strict=True):
            if source == "Dev" and result_status != "skipped":
                version[service, "Dev"] += 1  # CI built a new version since the last promotion
            previous, new = version[service, target], version[service, source]
            changes.append((service, previous, new))
            applied = result_status in ("success", "rolled_back") or (result_status == "failed" and rng.random() < .8)
            results.append(_result(op_id, service, target, previous, new, result_status, applied, start, duration,
                                   len(results) + 1))
            if result_status == "success" or outcome == "by_hand":
                version[service, target] = new
        if outcome == "by_hand" and op_id < operations:
            op_id += 1
            later = start + dt.timedelta(hours=rng.uniform(0.5, 48))
            ops.append(_operation(op_id, "rollback", "complete", env_ids, target, target, later, duration,
                                  rng.choice(PEOPLE), rollback_of=op_id - 1))
            for service, previous, new in changes:
                results.append(_result(op_id, service, target, new, previous, "success", True, later, duration,
                                       len(results) + 1))
                version[service, target] = previous
    with ctx.session() as session:
        for chunk in range(0, len(ops), 5000):
            session.execute(insert(SyncOperation), ops[chunk:chunk + 5000])
        for chunk in range(0, len(results), 5000):
            session.execute(insert(SyncResult), results[chunk:chunk + 5000])


def _operation(
    op_id: int, kind: str, status: str, env_ids: dict[str, int], source: str, target: str, start: dt.datetime,
    duration: dt.timedelta, person: str, rollback_of: int | None = None,
) -> dict[str, Any]:
    return {"id": op_id, "kind": kind, "mode": "full", "status": status,
            "source_environment_id": env_ids[source], "source_environment_name": source,
            "target_environment_id": env_ids[target], "target_environment_name": target, "rollback_of_id": rollback_of,
            "initiated_by": person, "created_at": start, "started_at": start, "finished_at": start + duration,
            "error": None if status == "complete" else f"{status}: see the services"}


def _result(op_id: int, service: str, target: str, previous: int, new: int, status: str, applied: bool,
            start: dt.datetime, duration: dt.timedelta, result_id: int) -> dict[str, Any]:
    before, after = f"registry.example.com/shop/{service}:1.{previous}", f"registry.example.com/shop/{service}:1.{new}"
    cluster = ("c-prod-east", "c-prod-west")[result_id % 2] if target == "Prod" else f"c-{target.lower()}"
    return {"id": result_id, "operation_id": op_id, "service": service, "workload_kind": "Deployment",
            "site_name": "eu", "cluster_id": cluster, "namespace": f"shop-{target.lower()}",
            "containers": [{"name": "app", "init": False, "previous": before, "new": after}],
            "previous_image": before, "new_image": after, "status": status, "applied": applied,
            "error": None if status in ("success", "pending") else f"{status}: rollout did not finish",
            "started_at": start + dt.timedelta(seconds=2),
            "finished_at": None if status == "pending" else start + duration}


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of `repeat` runs after one warm-up, in ms."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def cases(session: Session) -> list[tuple[str, str, Callable[[], Any]]]:
    """(group, label, query) for every history query and every metric; groups: pages, all, 90d, whole, extra."""
    prod = session.execute(select(Environment.id).where(Environment.name == "Prod")).scalar_one()
    last = session.scalar(select(func.max(SyncOperation.started_at)))
    assert last is not None
    every, quarter = history.HistoryFilter(), history.HistoryFilter(since=last - dt.timedelta(days=90))
    window = dt.timedelta(hours=24)
    # Operation #4242 and the last page of 50 at the full size; within the history when a small one is measured.
    detail = min(4242, session.scalar(select(func.max(SyncOperation.id))) or 1)
    deep = min(1999, max(1, session.scalar(select(func.count()).select_from(SyncOperation)) or 0) // 50)
    found: list[tuple[str, str, Callable[[], Any]]] = [
        ("pages", "count (all operations)",
         lambda: session.scalar(select(func.count()).select_from(SyncOperation).where(*operation_conditions(every)))),
        ("pages", "first page (count + 50 rows)", lambda: history.list_operations(session, every, 1, 50)),
        ("pages", "page, env Prod + status failed", lambda: history.list_operations(
            session, history.HistoryFilter(environment_id=prod, status="failed"), 1, 50)),
        ("pages", "page, service svc-07", lambda: history.list_operations(
            session, history.HistoryFilter(service="svc-07"), 1, 50)),
        ("pages", "page, person + last 90 days", lambda: history.list_operations(
            session, history.HistoryFilter(initiated_by="user03", since=quarter.since), 1, 50)),
        ("pages", f"deep page {deep} (offset {(deep - 1) * 50:,})",
         lambda: history.list_operations(session, every, deep, 50)),
        ("pages", "operation detail", lambda: history.get_operation_detail(session, detail)),
    ]
    for group, filters in (("all", every), ("90d", quarter)):
        found += [
            (group, f"metrics {group}: activity, deploys, CFR",
             partial(metrics.activity_by_day, session, filters, window)),
            (group, f"metrics {group}: durations", partial(metrics.duration_histogram, session, filters)),
            (group, f"metrics {group}: time to restore", partial(dora.restore_times, session, filters, 100)),
            (group, f"metrics {group}: lead time", partial(dora.lead_times, session, filters, 100)),
        ]
    found += [
        ("whole", "compute_metrics, all history", lambda: history.compute_metrics(session, every)),
        ("whole", "compute_metrics, last 90 days", lambda: history.compute_metrics(session, quarter)),
        ("extra", "CSV export, service svc-07 (18k lines)",
         lambda: history.export_csv(session, history.HistoryFilter(service="svc-07"))),
    ]
    return found


def measure(ctx: AppContext, repeat: int) -> list[tuple[str, str, float]]:
    """Every case, timed in one session (as one user action would run them)."""
    with ctx.session() as session:
        return [(group, label, timed(fn, repeat)) for group, label, fn in cases(session)]


def explain(ctx: AppContext) -> None:
    """The plans of the page queries, to check they read indexes."""
    with ctx.session() as session:
        dialect = session.get_bind().dialect.name
        for label, filters in (("first page", history.HistoryFilter()),
                               ("status", history.HistoryFilter(status="failed")),
                               ("service", history.HistoryFilter(service="svc-07"))):
            stmt = (select(SyncOperation.id).where(*operation_conditions(filters)).order_by(*NEWEST_FIRST)
                    .limit(50).offset(0))
            sql = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN" if dialect == "sqlite" else "EXPLAIN"
            plan = [str(row[-1]) for row in session.execute(text(f"{prefix} {sql}"))]
            print(f"  [{dialect}] {label}:\n    " + "\n    ".join(plan))


@contextmanager
def sqlite_context() -> Iterator[AppContext]:
    """A migrated temporary SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(f"sqlite:///{Path(tmp) / 'bench.db'}", (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        ctx.upgrade_database()
        try:
            yield ctx
        finally:
            ctx.engine.dispose()


@contextmanager
def postgres_context(url: str) -> Iterator[AppContext]:
    """A migrated fresh schema on the server, dropped afterwards."""
    schema = f"rs_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(Settings(scoped.render_as_string(hide_password=False), (Fernet.generate_key().decode(),),
                                  Path(tmp) / "key", "bench"))
        try:
            ctx.upgrade_database()
            yield ctx
        finally:
            ctx.engine.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def run(name: str, ctx: AppContext, args: argparse.Namespace) -> list[tuple[str, str, float]]:
    start = time.perf_counter()
    seed(ctx, args.operations)
    seeded = time.perf_counter() - start
    # The history was bulk-loaded, not written by syncs: fill the first arrivals and journeys the way
    # migration 0006 does for a database that already holds history.
    start = time.perf_counter()
    with ctx.session() as session:
        arrivals.backfill(session)
    backfilled = time.perf_counter() - start
    if ctx.engine.dialect.name == "postgresql":
        # Autovacuum would, minutes after such a load (an insert-only table is vacuumed too since PostgreSQL 13):
        # statistics, and the visibility map that lets index-only scans skip the table.
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with ctx.session() as session:
        counts = [session.scalar(select(func.count()).select_from(t)) or 0
                  for t in (SyncOperation, SyncResult, VersionArrival, VersionJourney)]
    print(f"{name}: seeded {counts[0]:,} operations and {counts[1]:,} results in {seeded:.1f} s; backfilled "
          f"{counts[2]:,} first arrivals and {counts[3]:,} journeys in {backfilled:.1f} s")
    if args.explain:
        explain(ctx)
    return measure(ctx, args.repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the page queries' plans")
    args = parser.parse_args()

    columns: dict[str, list[tuple[str, str, float]]] = {}
    with sqlite_context() as ctx:
        columns["SQLite"] = run("SQLite", ctx, args)
    url = os.environ.get("RANCHERSYNC_TEST_DATABASE_URL")
    if url and not args.no_postgres:
        with postgres_context(url) as ctx:
            columns["PostgreSQL"] = run("PostgreSQL", ctx, args)

    names = list(columns)
    labels = [(group, label) for group, label, _ in columns[names[0]]]
    width = max(len(label) for _, label in labels)
    print(f"\n{'query':<{width}}  " + "  ".join(f"{n + ' ms':>15}" for n in names) + "  target ms")
    for i, (group, label) in enumerate(labels):
        target = TARGET_MS if group in ("pages", "all", "90d") else TOTAL_TARGET_MS if group == "whole" else None
        cells = [_cell(columns[n][i][2], target) for n in names]
        print(f"{label:<{width}}  " + "  ".join(cells) + f"  {'< ' + str(int(target)) if target else '':>9}")
    for n in names:
        over = [f"{label} ({ms:.0f} ms)" for group, label, ms in columns[n]
                if group in ("all", "90d") and ms >= TARGET_MS]
        print(f"{n}: every metric (all history and 90 days) under {TARGET_MS:.0f} ms: "
              + ("yes" if not over else "no, over: " + "; ".join(over)))
    for n in names:
        for scope in ("all", "90d"):
            total = sum(ms for group, _, ms in columns[n] if group in ("pages", scope))
            verdict = "ok" if total < TOTAL_TARGET_MS else "over"
            print(f"{n}: page queries + metrics ({scope}) = {total:.0f} ms, target < {TOTAL_TARGET_MS:.0f}: {verdict}")


def _cell(ms: float, target: float | None) -> str:
    mark = "" if target is None else " ok" if ms < target else " !!"
    return f"{ms:>12.1f}{mark:<3}"


if __name__ == "__main__":
    main()
