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


def test_an_admin_may_roll_back_to_a_quarantined_digest_with_a_reason_and_it_is_audited(
        demo: AppContext, rancher_us: SimulatedRancher, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from ranchersync.access import audit
    from ranchersync.kernel.errors import PermissionDenied
    from tests.builders import cli_runner

    for cluster in (EAST, WEST):
        obj = rancher_us.get_object(cluster, "Deployment", "shop-prod", "frontend")
        assert obj is not None
        container = obj["spec"]["template"]["spec"]["containers"][0]
        repository = container["image"].rsplit(":", 1)[0]
        container["image"] = f"{repository}:3.8.0@{BAD}"
        rancher_us.set_object(cluster, obj)
    operation = apply(demo, plan(demo, "frontend"), confirm_env="Prod")
    with demo.session() as session:
        quarantine.add(session, f"{repository}@{BAD}", reason="CVE-2026-1234", actor=ADMIN)

    releaser = Actor("rel@example.com", "releaser", "cli")
    with pytest.raises(PermissionDenied):
        rollback_operation(demo, operation.id, actor=releaser, request_id=new_request_id(), confirm_env="Prod",
                           override_quarantine="the outage is worse than the CVE")
    run = cli_runner(demo, monkeypatch, capsys)
    status, _, err = run("ada@example.com", "rollback", str(operation.id), "--yes",
                         "--override-quarantine")
    assert status == 2 and "--override-quarantine needs --reason" in err
    status, _, err = run("ada@example.com", "rollback", str(operation.id), "--yes")
    assert status == 3 and "CVE-2026-1234" in err
    assert image(rancher_us, EAST, "frontend").endswith(":3.8.1")
    status, out, err = run("ada@example.com", "rollback", str(operation.id), "--yes",
                           "--override-quarantine", "--reason", "the outage is worse than the CVE", "--json")
    assert status == 0, err
    assert image(rancher_us, EAST, "frontend").endswith(f":3.8.0@{BAD}")
    with demo.session() as session:
        events = [e for e in audit.list_events(session).items if e.action == "quarantine.override"]
    assert len(events) == 1 and events[0].actor == "ada@example.com"
    assert events[0].detail == "the outage is worse than the CVE" and BAD in str(events[0].after)
