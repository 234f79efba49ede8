"""Several browser sessions open the Services page at once: each gets its table, and the simulated Rancher sees one
list request per app instance and workload kind (the services cache is shared, not one per session). A behaviour
check on the load benchmark (bench/services_load.py, 20 sessions) in small."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.services_load import run
from tests.conftest import require
from tests.e2e.helpers import chromium_available

pytestmark = pytest.mark.browser


def test_five_sessions_at_once_share_one_read_per_instance_and_kind(tmp_path: Path) -> None:
    require("browser", chromium_available(), "Debian's chromium is not installed (apt-get install chromium)")
    result = run(sessions=5, instance_count=3, workdir=tmp_path)
    assert result.tables == 5 and result.errors == 0
    assert set(result.list_reads) == result.expected_keys  # every app instance and kind was read…
    assert set(result.list_reads.values()) == {1}, result.list_reads  # …once, for all five sessions
