"""Two dashboard replicas (two real `streamlit run` servers, told apart by RANCHERSYNC_REPLICA_NAME as two hosts
would be) on one PostgreSQL schema, driven in Chromium: syncs started from both at once run one at a time, each sees
the other's history, and a replica killed mid-sync leaves an operation that the other marks interrupted by its
heartbeat (never by a pid that is not its own) and rolls back from its Sync history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from ranchersync import jobs
from ranchersync.context import AppContext
from ranchersync.models import SyncOperation, SyncResult
from ranchersync.simulator import SimulatedRancher
from tests.e2e.helpers import AppServer, by_key, click, fill, new_page, open_page, wait_idle
from tests.postgres.conftest import postgres_url, settings, throwaway_postgres  # noqa: F401 - a schema per test
from ui.shell.deps import RECOVERY_INTERVAL

pytestmark = [pytest.mark.postgres, pytest.mark.browser]

STAGE_FRONTEND = "registry.example.com:5000/shop/frontend:3.8.1"
DEV_FRONTEND = "registry.example.com:5000/shop/frontend:3.9.0-rc.2"


@pytest.fixture
def replicas(demo: AppContext, tmp_path: Path) -> Iterator[tuple[AppServer, AppServer]]:
    """Replica A and replica B on the demo's database (Dev, Stage on one simulator; Prod on the other)."""
    stored = demo.settings
    servers = tuple(
        AppServer(stored.database_url, stored.secret_keys[0], tmp_path / name,
                  extra_env={"RANCHERSYNC_REPLICA_NAME": f"replica-{name}"})
        for name in ("a", "b")
    )
    errors: list[BaseException] = []

    def start(server: AppServer) -> None:
        try:
            server.start(timeout=90)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def review_frontend(page: Page, app: AppServer, source: str, source_id: int) -> None:
    """Services, one environment: pick `source`, select frontend, open the review into the next environment."""
    open_page(page, app.page_url("Services"))
    by_key(page, "svc_env").get_by_role("radio", name=source).click()
    wait_idle(page)
    fill(page, f"svc_search_{source_id}", "frontend")
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # the first row's tick box, under a 35 px header
    wait_idle(page)
    expect(by_key(page, "svc_sync")).to_contain_text("Sync 1 service (frontend)")
    click(page, "svc_review")
    expect(by_key(page, "sync_apply").locator("button")).to_be_enabled(timeout=30_000)


def open_history_row(page: Page, app: AppServer) -> None:
    """Sync history, newest operation opened."""
    open_page(page, app.page_url("Sync history"))
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
    wait_idle(page)


def frontend(server: SimulatedRancher, cluster: str, namespace: str) -> str:
    obj = server.get_object(cluster, "Deployment", namespace, "frontend")
    assert obj is not None
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def set_rollout(server: SimulatedRancher, seconds: float) -> None:
    """How long the simulator's rollouts take from now on (its controller settings are frozen: replaced whole)."""
    server.settings = dataclasses.replace(server.settings, rollout_seconds=seconds)
    for cluster in server.clusters.values():
        cluster.settings = server.settings


def operations(ctx: AppContext) -> list[SyncOperation]:
    with ctx.session() as session:
        found = list(session.scalars(select(SyncOperation).order_by(SyncOperation.id)))
        session.expunge_all()
        return found


def test_two_replicas_share_one_database(
    demo: AppContext, rancher: SimulatedRancher, rancher_us: SimulatedRancher, replicas: tuple[AppServer, AppServer],
    browser: Browser,
) -> None:
    app_a, app_b = replicas
    page_a, page_b = new_page(browser), new_page(browser)

    # (a) Stage → Prod from both replicas at the same moment: one runs, the other is refused, nothing twice.
    set_rollout(rancher_us, 5)  # the first sync still holds Prod when the second asks for it
    review_frontend(page_a, app_a, "Stage", 2)
    review_frontend(page_b, app_b, "Stage", 2)
    by_key(page_a, "sync_apply").locator("button").click()
    by_key(page_b, "sync_apply").locator("button").click()
    wait_idle(page_a, timeout=60_000)
    wait_idle(page_b, timeout=60_000)
    # The winner lands on the sync's live page (it runs on that replica's server); wait for it to end.
    winner = page_a if page_a.url.endswith("?operation=1") else page_b
    assert winner.url.endswith("?operation=1")
    assert jobs.wait_for_operation(demo, 1, timeout=60) == "complete"
    found = operations(demo)
    assert [(o.kind, o.target_environment_name, o.status) for o in found] == [("sync", "Prod", "complete")]
    assert (found[0].owner or "").startswith("replica-a:" if winner is page_a else "replica-b:")
    loser, loser_app = (page_b, app_b) if winner is page_a else (page_a, app_a)
    expect(winner.locator("[data-testid='stToast']", has_text="Sync #1 complete: 2 workloads updated in Prod.")
           ).to_be_visible(timeout=30_000)
    expect(by_key(winner, "hist_detail")).to_contain_text("complete")
    expect(loser.locator("[data-testid='stDialog']")).to_contain_text("Another sync is changing Prod")
    for cluster in ("c-m-7rb2kx9q", "c-7xk2p"):
        assert frontend(rancher_us, cluster, "shop-prod") == STAGE_FRONTEND

    # (b) The other replica's Sync history shows the sync it did not run.
    open_history_row(loser, loser_app)
    expect(by_key(loser, "hist_detail")).to_contain_text("Sync #1")
    expect(by_key(loser, "hist_detail")).to_contain_text("complete")

    # (c) Replica A dies (SIGKILL) while its Dev → Stage sync waits for a slow rollout.
    set_rollout(rancher, 120)
    page_a.close()
    page_a = new_page(browser)
    review_frontend(page_a, app_a, "Dev", 1)
    by_key(page_a, "sync_apply").locator("button").click()
    deadline = time.monotonic() + 30
    while True:
        with demo.session() as session:
            applied = session.scalars(select(SyncResult).where(SyncResult.applied.is_(True),
                                                               SyncResult.operation_id != 1)).all()
        if applied or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert applied, "replica A never patched Stage"
    assert app_a.process is not None
    app_a.process.send_signal(signal.SIGKILL)
    app_a.process.wait(10)
    assert frontend(rancher, "c-m-4hs9wz2t", "shop-stage") == DEV_FRONTEND
    killed = operations(demo)[-1]
    assert killed.status == "running" and (killed.owner or "").startswith("replica-a:")

    # B's recovery pass on page load: the heartbeat is fresh, so A might be alive on its host: left alone.
    open_page(page_b, app_b.page_url("Sync history"))
    assert operations(demo)[-1].status == "running"
    # Two minutes without a heartbeat (aged in the database rather than waited for): now it is A's death.
    with demo.session() as session:
        held = session.get_one(SyncOperation, killed.id)
        held.heartbeat_at = (held.heartbeat_at or held.started_at) - dt.timedelta(minutes=5)  # type: ignore[operator]
    time.sleep(RECOVERY_INTERVAL + 0.5)
    set_rollout(rancher, 1)
    open_history_row(page_b, app_b)
    assert operations(demo)[-1].status == "interrupted"
    detail = by_key(page_b, "hist_detail")
    expect(detail).to_contain_text(f"Sync #{killed.id}")
    expect(detail).to_contain_text("interrupted")
    click(page_b, "hist_rollback")
    by_key(page_b, "rollback_apply").locator("button").click()
    page_b.wait_for_url(lambda url: url.endswith(f"?operation={killed.id + 1}"))
    assert jobs.wait_for_operation(demo, killed.id + 1, timeout=60) == "complete"
    assert frontend(rancher, "c-m-4hs9wz2t", "shop-stage") == STAGE_FRONTEND
    # The original is marked rolled back in the transaction right after the rollback's own completion (undo.py):
    # read it once that one has committed too.
    deadline = time.monotonic() + 15
    while (statuses := [(o.kind, o.status) for o in operations(demo)])[-2][1] != "rolled_back" \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert statuses[-2:] == [("sync", "rolled_back"), ("rollback", "complete")]
