"""A sync whose gate fails, in a real browser against a real Prometheus (Debian's) scraping the tests' exporter at
20 % errors: the sync's live progress shows the failing gate's values as they are measured, the sync is rolled back
on the cluster, and the history detail keeps every measurement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect

from ranchersync import jobs
from ranchersync.simulator import SimulatedRancher
from ranchersync.verification import gates
from tests.builders import ADMIN
from tests.core.prometheus_fixtures import Exporter, set_ratio
from tests.e2e.helpers import AppServer, by_key, new_page, open_page, screenshot
from tests.e2e.test_operations import Shop, apply, review
from tests.e2e.world import e2e_world, seed_showcase

pytestmark = pytest.mark.browser
pytest_plugins = ["tests.core.prometheus_fixtures"]

QUERY = 'max(app_error_ratio{namespace="{namespace}",service="{service}"})'


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, exporter: Exporter, prometheus: str) -> Iterator[Shop]:
    """The showcase (Stage 1.4.2 → Prod 1.4.1, Prod protected) with an error-rate gate on Prod, measured 5 times
    2 s apart, 4 failures tolerated: long enough to watch the values come in, even on a busy machine."""
    home = tmp_path_factory.mktemp("verification")
    exporter.series = [("shop-prod", "web")]
    with SimulatedRancher(e2e_world(), rollout_seconds=1) as rancher:
        app = AppServer(database_url=f"sqlite:///{home / 'app.db'}", secret_key=Fernet.generate_key().decode(),
                        data_dir=home / "server")
        ctx = app.context()
        ctx.upgrade_database()
        seed_showcase(ctx, rancher)
        with ctx.session() as session:
            gates.add_gate(session, ADMIN, "Prod", gates.GateSpec(
                name="error-rate", prometheus_url=prometheus, query=QUERY, success="result < 0.05",
                interval_seconds=2, count=5, failure_limit=4))
        with app:
            yield Shop(app, ctx, rancher)
        ctx.engine.dispose()


def test_a_failing_gate_shows_its_values_live_and_in_the_history(
        browser: Browser, gated: Shop, exporter: Exporter, prometheus: str, artifacts: Path) -> None:
    set_ratio(exporter, prometheus, 0.2)
    page = new_page(browser)
    try:
        review(page, gated, "web")
        expect(by_key(page, "sync_verification")).to_contain_text("After each rollout into Prod")
        expect(by_key(page, "sync_verification")).to_contain_text("error-rate")
        operation_id = apply(page)

        # Live: the measurements as they come, before the sync has ended.
        live = by_key(page, "live_measurements")
        expect(live).to_contain_text("· error-rate: 0.2", timeout=30_000)
        expect(live).to_contain_text("result < 0.05: 0.2")
        expect(live).to_contain_text("did not pass")
        screenshot(page, artifacts / "verification-live.png")

        assert jobs.wait_for_operation(gated.ctx, operation_id, timeout=60) == "rolled_back"
        assert gated.image("shop-prod", "web") == "registry.example.com/shop/web:1.4.1", "rolled back"

        open_page(page, f"{gated.app.page_url('Sync history')}?operation={operation_id}")
        detail = by_key(page, "hist_measurements")
        expect(detail).to_contain_text("5 measurement(s) did not pass")
        expect(detail).to_contain_text("✗ web (rancher-east · prod-east · shop-prod) · error-rate: "
                                       "0.2, 0.2, 0.2, 0.2, 0.2 — result < 0.05: 0.2")
        expect(detail).to_contain_text("result < 0.05: 0.2")  # the table's rows, one per measurement
        expect(by_key(page, "hist_detail")).to_contain_text("every change was rolled back")
        screenshot(page, artifacts / "verification-history.png")
    finally:
        page.context.close()
