"""Resilience on PostgreSQL (issue 19): the server goes away for 20 s in the middle of a sync — every session cut,
every new one refused, as in a failover — and the sync completes and is recorded with no command typed. The outage
is a TCP proxy in front of the shared server (tests/postgres/tcp_proxy.py), so nobody else's tests lose it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import utcnow
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import ProgressEvent, apply_plan, get_operation, new_request_id
from tests.core.test_resilience import (
    ACTOR,
    FAST,
    consistent,
    test_batch_syncs_under_20_percent_server_errors,  # noqa: F401
    test_syncs_and_rollbacks_under_server_errors_end_consistent,  # noqa: F401
)
from tests.core.test_sync import plan
from tests.postgres.tcp_proxy import TcpProxy, through, upstream

OUTAGE_SECONDS = 20


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(upstream(postgres_url)) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, proxy: TcpProxy) -> Settings:
    """This test's schema, reached through the proxy."""
    return through(settings, proxy)


def test_a_20_s_postgres_outage_mid_sync_ends_complete(
    demo: AppContext, rancher_us: SimulatedRancher, proxy: TcpProxy
) -> None:
    the_plan = plan(demo, "frontend", "checkout")
    restored: list[object] = []
    outage: list[threading.Timer] = []

    def on_event(event: ProgressEvent) -> None:
        if event.stage == "verifying" and not outage:  # the patches landed; the sync waits for its rollouts
            proxy.cut()
            timer = threading.Timer(OUTAGE_SECONDS, lambda: (restored.append(utcnow()), proxy.restore()))
            outage.append(timer)
            timer.start()

    operation_id = apply_plan(demo, the_plan, actor=ACTOR, request_id=new_request_id(), options=FAST,
                              progress=on_event)
    assert outage, "the outage never started"
    outage[0].join()
    assert proxy.refused > 0  # the sync did meet the outage
    with demo.session() as session:
        operation = get_operation(session, operation_id)
        assert operation.status == "complete", operation.error
        assert operation.finished_at is not None and operation.finished_at >= restored[0]  # recorded after it
        assert [r.status for r in operation.results] == ["success"] * 4
        assert consistent(rancher_us, operation) == []
