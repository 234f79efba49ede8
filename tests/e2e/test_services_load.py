"""Several browser sessions open the Services page at once: each gets its table, and the simulated Rancher answers
each list request of the inventory once per cache period — the services cache is shared by every session, not one
per browser. A behaviour check on the load benchmark (bench/services_load.py, 20 sessions) in small: a wave inside
one cache period costs one read of each list; a second wave after the period costs exactly one more."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from bench.services_load import bench
from ui.shell.queries import SERVICES_TTL

pytestmark = pytest.mark.browser


def test_sessions_share_one_read_of_each_list_per_cache_period(tmp_path: Path, browser: Browser) -> None:
    with bench(instance_count=4, workdir=tmp_path, browser=browser) as load:
        # dev-eu-1 holds two app instances: listed whole, once per kind; the two other clusters per namespace.
        assert {(cluster, ns) for cluster, ns, _ in load.expected} == {
            ("c-m-8x2kq4vd", "*"), ("c-m-4hs9wz2t", "shop-stage"), ("local", "cattle-system")}
        first = load.wave(5)
        assert first.tables == 5 and first.errors == 0
        assert first.wall < SERVICES_TTL  # the whole wave fell inside one cache period…
        assert first.list_reads == dict.fromkeys(first.expected_keys, 1)  # …and read each list once, for five
        time.sleep(SERVICES_TTL + 0.5)  # the entry is stale now
        second = load.wave(3)
        assert second.tables == 3 and second.errors == 0
        assert second.list_reads == dict.fromkeys(second.expected_keys, 1)  # exactly one more read of each list
