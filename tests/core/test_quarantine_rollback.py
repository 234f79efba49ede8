"""A rollback never puts back a quarantined digest: refused (exit 3) before anything is patched; once the quarantine is
lifted (audited, with a reason) the same rollback goes through."""

from __future__ import annotations

import pytest

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.governance import quarantine
from ranchersync.governance.quarantine import ImageQuarantined
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import new_request_id, rollback_operation
from tests.core.test_sync import EAST, WEST, apply, image, plan

ADMIN = Actor("ada@example.com", "admin", "cli")
BAD = "sha256:" + "b4d" * 21 + "b"


def test_a_rollback_to_a_quarantined_digest_is_refused_until_the_quarantine_is_lifted(
        demo: AppContext, rancher_us: SimulatedRancher) -> None:
    # Prod ran frontend pinned to a digest; the sync replaces it; then that digest is declared bad.
    for cluster in (EAST, WEST):
        obj = rancher_us.get_object(cluster, "Deployment", "shop-prod", "frontend")
        assert obj is not None
        container = obj["spec"]["template"]["spec"]["containers"][0]
        repository = container["image"].rsplit(":", 1)[0]
        container["image"] = f"{repository}:3.8.0@{BAD}"
        rancher_us.set_object(cluster, obj)
    operation = apply(demo, plan(demo, "frontend"), confirm_env="Prod")
    assert operation.status == "complete"
    assert image(rancher_us, EAST, "frontend").endswith(":3.8.1")
    with demo.session() as session:
        bad = quarantine.add(session, f"{repository}@{BAD}", reason="CVE-2026-1234", actor=ADMIN)

    before = len(rancher_us.requests_seen())
    with pytest.raises(ImageQuarantined, match="CVE-2026-1234") as refused:
        rollback_operation(demo, operation.id, actor=ADMIN, request_id=new_request_id(), confirm_env="Prod")
    assert refused.value.exit_code == 3 and f"rolling frontend back to {repository}:3.8.0@{BAD}" in str(refused.value)
    assert [m for m, _ in rancher_us.requests_seen()[before:] if m == "PATCH"] == [], "nothing was patched"
    assert image(rancher_us, EAST, "frontend").endswith(":3.8.1")

    with demo.session() as session:
        quarantine.lift(session, bad.id, reason="false positive: the CVE is in a test dependency", actor=ADMIN)
    rollback_operation(demo, operation.id, actor=ADMIN, request_id=new_request_id(), confirm_env="Prod")
    assert image(rancher_us, EAST, "frontend").endswith(f":3.8.0@{BAD}")
