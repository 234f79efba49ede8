"""The rules the dashboard and the CLI share: system namespaces, the default target, token warnings, site health,
the comparison's drift and health rules, and the words for durations and statuses."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from ranchersync.catalogue.rules import (
    TOKEN_WARNING_DAYS,
    is_system_namespace,
    namespaces_for_picking,
    next_in_pipeline,
    site_health,
    token_state,
    unreachable_sites,
)
from ranchersync.inventory.compare import (
    Cell,
    Comparison,
    ComparisonRow,
    cell_state,
    drift_counts,
    is_unhealthy,
    status_counts,
)
from ranchersync.inventory.reading import EnvironmentRef
from ranchersync.kernel.humanize import ago, compact_duration, duration_text, plural, status_word
from tests.builders import service

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("name", "system"), [
    ("kube-system", True), ("cattle-fleet-system", True), ("default", True), ("ingress-nginx", True),
    ("shop-prod", False), ("kubernetes-dashboard", False), ("my-default", False),
])
def test_system_namespaces(name: str, system: bool) -> None:
    assert is_system_namespace(name) is system


def test_application_namespaces_are_offered_first() -> None:
    assert namespaces_for_picking(["kube-system", "shop", "default", "api"]) == ["api", "shop", "default",
                                                                                 "kube-system"]


@pytest.mark.parametrize(("ids", "source", "target"), [
    ([1, 2, 3], 1, 2), ([1, 2, 3], 2, 3), ([1, 2, 3], 3, 2), ([1], 1, None), ([1, 2], 9, None),
])
def test_the_default_target_is_the_next_environment(ids: list[int], source: int, target: int | None) -> None:
    assert next_in_pipeline(ids, source) == target


@pytest.mark.parametrize(("expires", "tested", "level", "text"), [
    (None, True, "never", "never expires"),
    (None, False, "unknown", "expiry unknown: test it"),
    (NOW - dt.timedelta(days=2), True, "expired", "expired 2 days ago"),
    (NOW + dt.timedelta(hours=5), True, "warning", "expires in 5 h"),
    (NOW + dt.timedelta(days=TOKEN_WARNING_DAYS), True, "warning", "expires in 14 days"),
    (NOW + dt.timedelta(days=TOKEN_WARNING_DAYS, seconds=1), True, "ok", "valid until 2026-03-16"),
])
def test_token_warnings_start_fourteen_days_before(expires, tested: bool, level: str, text: str) -> None:
    state = token_state(expires, NOW, tested=tested)
    assert (state.level, state.text) == (level, text)
    assert state.needs_attention is (level in ("warning", "expired"))


def site(active: bool = True, error: str | None = None, contact: dt.datetime | None = NOW) -> SimpleNamespace:
    return SimpleNamespace(active=active, last_error=error, last_contact_at=contact)


@pytest.mark.parametrize(("the_site", "health"), [
    (site(active=False, error="refused"), "deactivated"), (site(error="timed out"), "unreachable"),
    (site(contact=None), "not tested"), (site(), "connected"),
])
def test_site_health(the_site: SimpleNamespace, health: str) -> None:
    assert site_health(the_site) == health


def test_only_active_sites_count_as_unreachable() -> None:
    down = site(error="timed out")
    assert unreachable_sites([down, site(active=False, error="x"), site()]) == [down]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "—"), (4.25, "4.2 s"), (45, "45 s"), (60, "1 min"), (125, "2 min 5 s"), (3600, "1 h"), (3780, "1 h 3 min"),
])
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def test_words() -> None:
    assert status_word("rolled_back") == "rolled back"
    assert (plural(1, "site"), plural(3, "site"), plural(2, "entry", "entries")) == ("1 site", "3 sites", "2 entries")
    assert [ago(NOW - dt.timedelta(seconds=s), NOW) for s in (-5, 30, 300, 7200, 86400)] == [
        "just now", "just now", "5 min ago", "2 h ago", "1 day ago"]


DEV, STAGE = EnvironmentRef(1, "Dev", "#000000", 0), EnvironmentRef(2, "Stage", "#000000", 1)


def cell(env: EnvironmentRef, *tags: str, unreadable: tuple[str, ...] = ()) -> Cell:
    return Cell(env, tuple(service(env.id, f"i{i}", "web", f"reg/web:{tag}") for i, tag in enumerate(tags)),
                unreadable)


@pytest.mark.parametrize(("the_cell", "before", "state"), [
    (cell(STAGE), cell(DEV, "1"), "missing"),
    (cell(STAGE, unreadable=("i0",)), cell(DEV, "1"), "unreadable"),
    (cell(STAGE, "1", "2"), cell(DEV, "1"), "inconsistent"),
    (cell(STAGE, "1"), cell(DEV, "2"), "drift"),
    (cell(STAGE, "1"), cell(DEV, "1"), "same"),
    (cell(STAGE, "1"), cell(DEV), "same"),  # nothing to promote from an environment that lacks it
    (cell(DEV, "1"), None, "same"),
])
def test_cell_states(the_cell: Cell, before: Cell | None, state: str) -> None:
    assert cell_state(the_cell, before) == state


def test_drift_counts_the_promotions_pending_into_each_environment() -> None:
    rows = (
        ComparisonRow("Deployment", "a", (cell(DEV, "2"), cell(STAGE, "1"))),  # pending
        ComparisonRow("Deployment", "b", (cell(DEV, "1"), cell(STAGE))),  # missing: pending
        ComparisonRow("Deployment", "c", (cell(DEV, "1"), cell(STAGE, "1"))),  # same
        ComparisonRow("Deployment", "d", (cell(DEV, "1"), cell(STAGE, unreadable=("i0",)))),  # unknown
        ComparisonRow("Deployment", "e", (cell(DEV), cell(STAGE, "1"))),  # nothing to promote
    )
    assert drift_counts(Comparison((DEV, STAGE), rows)) == {2: 2}


def test_unhealthy_statuses_and_counts_worst_first() -> None:
    assert [s for s in ("running", "failed", "degraded", "unknown", "paused", "stopped", "updating")
            if is_unhealthy(s)] == ["failed", "degraded", "unknown"]
    assert status_counts(["running", "failed", "running", "paused"]) == {"failed": 1, "paused": 1, "running": 2}


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "—"), (45.4, "45 s"), (60, "1 min"), (65, "1.1 min"), (3600, "1 h"), (9000, "2.5 h"), (86400, "1 day"),
    (3 * 86400, "3 days"),
])
def test_compact_duration_fits_a_metric_card(seconds: float | None, text: str) -> None:
    assert compact_duration(seconds) == text
