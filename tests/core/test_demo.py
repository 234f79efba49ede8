"""The built-in demo: two simulated servers in the background and a filled catalogue, revived after a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.ops import demo


@pytest.fixture
def demo_ctx(ctx: AppContext) -> Iterator[AppContext]:
    yield ctx
    demo.stop_demo(ctx)


def test_the_demo_fills_the_catalogue_once_and_survives_a_restart(demo_ctx: AppContext) -> None:
    messages: list[str] = []
    summary = demo.start_demo(demo_ctx, progress=messages.append)
    assert (summary.sites, summary.environments) == (2, 3)
    assert summary.instances >= 6
    assert any("Starting" in m for m in messages)
    with demo_ctx.session() as session:
        assert [e.name for e in environments.list_environments(session)] == ["Dev", "Stage", "Prod"]
        assert environments.get_environment(session, "Prod").protected
        envs = {i.environment.name for i in instances.list_instances(session)}
        assert envs == {"Dev", "Stage", "Prod"}
        assert all(sites.test_site(session, demo_ctx.cipher, s.id).success for s in sites.list_sites(session))
    state = json.loads(demo.state_file(demo_ctx).read_text())
    assert set(state) == {"rancher-eu", "rancher-us"}
    assert "token" not in json.dumps(state).lower()

    assert demo.start_demo(demo_ctx) == summary  # idempotent: nothing added twice

    assert demo.stop_demo(demo_ctx) == 2
    demo.state_file(demo_ctx).write_text(json.dumps(state))  # as after a machine restart: state kept, servers gone
    assert demo.ensure_demo_servers(demo_ctx) == 2
    with demo_ctx.session() as session:
        assert all(sites.test_site(session, demo_ctx.cipher, s.id).success for s in sites.list_sites(session))


def test_stop_signals_only_its_own_simulators(demo_ctx: AppContext) -> None:
    # A state file whose pid now belongs to another process (after a reboot the number is reused).
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        demo.state_file(demo_ctx).parent.mkdir(parents=True, exist_ok=True)
        demo.state_file(demo_ctx).write_text(json.dumps({"rancher-eu": {"port": 1, "pid": bystander.pid}}))
        assert demo.stop_demo(demo_ctx) == 0
        assert bystander.poll() is None, "a process that is not our simulator was signalled"
        assert not demo.state_file(demo_ctx).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_the_demo_history_tells_a_story_consistent_with_what_runs(demo_ctx: AppContext) -> None:
    from sqlalchemy import select

    from ranchersync.access import audit
    from ranchersync.history import HistoryFilter, compute_metrics
    from ranchersync.inventory.compare import compare_environments
    from ranchersync.models import AuditEvent, SyncOperation

    demo.start_demo(demo_ctx)
    with demo_ctx.session() as session:
        operations = session.scalars(select(SyncOperation).order_by(SyncOperation.started_at)).all()
        statuses = [o.status for o in operations]
        assert len(operations) >= 10 and "rolled_back" in statuses
        span = operations[-1].started_at - operations[0].started_at
        assert span.days >= 14
        metrics = compute_metrics(session, HistoryFilter())
        assert metrics.lead_times.pairs and metrics.change_failure_rate.failed >= 1
        # What runs now is what the last successful sync into each app instance brought.
        running = {(s.instance.id, s.name): s.images
                   for row in compare_environments(session, demo_ctx.cipher).rows for c in row.cells
                   for s in c.services}
        last: dict[tuple[int, str], str] = {}
        for op in operations:
            for r in op.results:
                if r.status == "success" and r.target_app_instance_id is not None and r.new_image:
                    last[(r.target_app_instance_id, r.service)] = r.new_image
        assert last and all(image in running[key].values() for key, image in last.items())
        # The audit trail has what each operation would have made: who started it, then how it ended, in time order.
        events = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "operation")
                                 .order_by(AuditEvent.id)).all()
        assert [(e.action, e.object_id) for e in events if e.action == "sync.start"] == \
            [("sync.start", str(o.id)) for o in sorted(operations, key=lambda o: (o.started_at, o.id))]
        ends = {e.object_id: e for e in events if e.action == "sync.finished"}
        assert {i: e.after["status"] for i, e in ends.items()} == {str(o.id): o.status for o in operations}
        starts = {e.object_id: e for e in events if e.action == "sync.start"}
        assert all(starts[str(o.id)].actor == o.initiated_by and ends[str(o.id)].at > starts[str(o.id)].at
                   for o in operations)
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert audit.verify(session).ok
    demo.start_demo(demo_ctx)  # once only
    with demo_ctx.session() as session:
        assert len(session.scalars(select(SyncOperation)).all()) == len(operations)
