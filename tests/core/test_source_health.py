"""A failing source is not promoted silently: refused (exit 3) naming why, overridden by a releaser with a reason
(audited); the review says since when each source has been healthy."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.approvals.promote import Applied, promote
from ranchersync.context import AppContext
from ranchersync.inventory.digests import RunningImages
from ranchersync.kernel.errors import PermissionDenied
from ranchersync.models import SyncOperation
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import (
    Confirmation,
    SourceUnhealthy,
    SyncOptions,
    health_lines,
    new_request_id,
    source_problems,
)
from tests.core.test_sync import EAST, image, plan

OPERATOR = Actor("olga@example.com", "operator", "cli")
RELEASER = Actor("rita@example.com", "releaser", "cli")
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)


def operations(ctx: AppContext) -> int:
    with ctx.session() as session:
        return session.scalar(select(func.count()).select_from(SyncOperation)) or 0


def test_an_updating_source_is_refused_naming_why(demo: AppContext, rancher_us: SimulatedRancher) -> None:
    the_plan = plan(demo, "checkout")  # checkout 4.0.3 is still rolling out in Stage
    with pytest.raises(SourceUnhealthy) as refused:
        promote(demo, OPERATOR, the_plan, request_id=new_request_id(), options=FAST)
    assert refused.value.exit_code == 3
    assert "checkout in Stage (shop-stage) is updating" in str(refused.value)
    assert operations(demo) == 0
    assert image(rancher_us, EAST, "checkout").endswith("checkout:4.0.2")


def test_an_operator_may_not_override_it(demo: AppContext) -> None:
    with pytest.raises(PermissionDenied, match="only a releaser or higher may override a promotion policy"):
        promote(demo, OPERATOR, plan(demo, "checkout"), request_id=new_request_id(), options=FAST,
                confirmed=Confirmation(override_policy="hotfix for INC-42"))
    assert operations(demo) == 0


def test_a_releaser_overrides_with_a_reason_and_it_is_audited(demo: AppContext,
                                                               rancher_us: SimulatedRancher) -> None:
    outcome = promote(demo, RELEASER, plan(demo, "checkout"), request_id=new_request_id(), options=FAST,
                      confirmed=Confirmation(override_policy="hotfix for INC-42"))
    assert isinstance(outcome, Applied)
    assert image(rancher_us, EAST, "checkout").endswith("checkout:4.0.3")
    with demo.session() as session:
        events = audit.list_events(session, audit.AuditFilter(action="policy.override")).items
        assert [(e.actor, e.detail, e.object_name) for e in events] == [
            ("rita@example.com", "hotfix for INC-42", "Prod")]
        assert events[0].after["problems"] == ["checkout in Stage (shop-stage) is updating"]


def test_a_healthy_source_goes_through_and_says_since_when(demo: AppContext) -> None:
    the_plan = plan(demo, "frontend")
    assert source_problems(the_plan) == ()
    [line] = health_lines(the_plan)
    assert line.startswith("frontend: healthy in Stage since ") and line.endswith(" UTC")
    outcome = promote(demo, OPERATOR, the_plan, request_id=new_request_id(), options=FAST)
    assert isinstance(outcome, Applied)


def test_pods_running_different_digests_are_refused(demo: AppContext) -> None:
    the_plan = plan(demo, "frontend")
    item = the_plan.to_apply[0]
    assert item.source is not None
    mixed = dataclasses.replace(item.source, running=RunningImages((("web", ("sha256:" + "a" * 64,
                                                                             "sha256:" + "b" * 64)),), 2))
    the_plan = dataclasses.replace(the_plan, items=tuple(dataclasses.replace(i, source=mixed)
                                                         for i in the_plan.items))
    [problem] = source_problems(the_plan)
    assert problem.reason == "running pods with different digests (web: aaaaaaaaaaaa…, bbbbbbbbbbbb…)"
    with pytest.raises(SourceUnhealthy, match="different digests"):
        promote(demo, OPERATOR, the_plan, request_id=new_request_id(), options=FAST)
