"""Freeze windows: the weekly rule in wall-clock time across daylight-saving changes, one-off and stop-all windows,
and the check a sync meets (refused naming the window, overridden by an admin with a reason, audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor
from ranchersync.catalogue import environments
from ranchersync.governance import freeze
from ranchersync.governance.freeze_schedule import WeeklyRule, WeeklyWindow, parse_instant, wall_to_utc, zone
from ranchersync.kernel.errors import EnvironmentFrozen, PermissionDenied, ValidationError

BERLIN = zone("Europe/Berlin")
ADMIN = Actor("alice@example.com", "admin", "dashboard")
OPERATOR = Actor("olga@example.com", "operator", "dashboard")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# ---- parsing ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shown", "span"), [
    ("Fri 16:00-Mon 08:00", "Fri 16:00-Mon 08:00", 3),
    ("friday 16:00 - monday 8:00", "Fri 16:00-Mon 08:00", 3),
    ("Mon 08:00-Fri 16:00", "Mon 08:00-Fri 16:00", 4),
    ("Sun 22:00-Sun 23:30", "Sun 22:00-Sun 23:30", 0),
    ("Mon 08:00-Mon 07:00", "Mon 08:00-Mon 07:00", 7),  # wraps the whole week round
])
def test_weekly_rules_parse(text: str, shown: str, span: int) -> None:
    rule = WeeklyRule.parse(text)
    assert (str(rule), rule.span_days) == (shown, span)


@pytest.mark.parametrize(("text", "complaint"), [
    ("Fri 16:00", "Fri 16:00-Mon 08:00"),
    ("Fry 16:00-Mon 08:00", "not a day"),
    ("Fri 24:00-Mon 08:00", "24-hour"),
    ("Fri 16:00-Fri 16:00", "same time"),
])
def test_bad_weekly_rules_are_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        WeeklyRule.parse(text)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        zone("Europe/Atlantis")


# ---- daylight saving: 2026-03-29 (02:00 → 03:00) and 2026-10-25 (03:00 → 02:00) in Europe/Berlin ---------------

WEEKEND = WeeklyWindow(WeeklyRule.parse("Fri 16:00-Mon 08:00"), BERLIN)


@pytest.mark.parametrize(("at", "inside", "ends_or_starts"), [
    # March: starts Fri 16:00 CET (15:00 UTC), ends Mon 08:00 CEST (06:00 UTC): 62 real hours, not 64.
    ("2026-03-27T14:59", False, "2026-03-27T15:00"),
    ("2026-03-27T15:00", True, "2026-03-30T06:00"),
    ("2026-03-29T00:59", True, "2026-03-30T06:00"),  # just before the jump
    ("2026-03-29T01:00", True, "2026-03-30T06:00"),  # just after
    ("2026-03-30T05:59", True, "2026-03-30T06:00"),
    ("2026-03-30T06:00", False, "2026-04-03T14:00"),  # the next one starts at 16:00 CEST
    ("2026-03-30T06:30", False, "2026-04-03T14:00"),  # 08:30 Berlin: open (07:00 UTC would be wrong by an hour)
    # October: starts Fri 16:00 CEST (14:00 UTC), ends Mon 08:00 CET (07:00 UTC): 65 real hours.
    ("2026-10-23T13:59", False, "2026-10-23T14:00"),
    ("2026-10-23T14:00", True, "2026-10-26T07:00"),
    ("2026-10-25T00:30", True, "2026-10-26T07:00"),  # 02:30 CEST, the first 02:30
    ("2026-10-25T01:30", True, "2026-10-26T07:00"),  # 02:30 CET, the second
    ("2026-10-26T06:30", True, "2026-10-26T07:00"),  # 07:30 Berlin: still frozen
    ("2026-10-26T07:00", False, "2026-10-30T15:00"),
])
def test_a_weekly_window_keeps_its_wall_clock_times_across_dst(at: str, inside: bool, ends_or_starts: str) -> None:
    moment = utc(at)
    assert WEEKEND.contains(moment) is inside
    if inside:
        assert WEEKEND.ends_after(moment) == utc(ends_or_starts)
    else:
        assert WEEKEND.ends_after(moment) is None
        assert WEEKEND.next_start(moment) == utc(ends_or_starts)


@pytest.mark.parametrize(("rule", "day", "start", "end"), [
    # 02:30 does not exist on 2026-03-29: the window starts when the clocks jump, at 03:00 CEST (01:00 UTC).
    ("Sun 02:30-Sun 05:00", "2026-03-29", "2026-03-29T01:00", "2026-03-29T03:00"),
    ("Sat 22:00-Sun 02:15", "2026-03-28", "2026-03-28T21:00", "2026-03-29T01:00"),  # ends at the jump
    # 02:30 exists twice on 2026-10-25: its first occurrence (CEST, 00:30 UTC) counts, for a start as for an end.
    ("Sun 02:30-Sun 04:00", "2026-10-25", "2026-10-25T00:30", "2026-10-25T03:00"),
    ("Sat 22:00-Sun 02:30", "2026-10-24", "2026-10-24T20:00", "2026-10-25T00:30"),
])
def test_missing_and_repeated_wall_times_follow_the_documented_rule(rule: str, day: str, start: str,
                                                                    end: str) -> None:
    window = WeeklyWindow(WeeklyRule.parse(rule), BERLIN)
    assert list(window.rule.occurrences(BERLIN, utc(f"{day}T12:00"), weeks=(0,))) == [(utc(start), utc(end))]
    assert not window.contains(utc(end) + dt.timedelta(minutes=30))  # no second freeze in the repeated hour


def test_wall_to_utc_resolves_gap_and_fold() -> None:
    assert wall_to_utc(dt.datetime(2026, 3, 29, 2, 30), BERLIN) == utc("2026-03-29T01:00")
    assert wall_to_utc(dt.datetime(2026, 10, 25, 2, 30), BERLIN) == utc("2026-10-25T00:30")
    assert wall_to_utc(dt.datetime(2026, 7, 1, 12, 0), BERLIN) == utc("2026-07-01T10:00")


# ---- properties of the weekly rule --------------------------------------------------------------------------------

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
MOMENTS = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31),
                       timezones=st.just(dt.UTC))


@st.composite
def rules(draw: st.DrawFn) -> WeeklyRule:
    start = (draw(st.integers(0, 6)), dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))))
    end = (draw(st.integers(0, 6)), dt.time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))))
    if start == end:
        end = ((end[0] + 1) % 7, end[1])
    return WeeklyRule(start[0], start[1], end[0], end[1])


@settings(max_examples=300, deadline=None)
@given(rule=rules(), tz=ZONES, at=MOMENTS)
def test_inside_agrees_with_its_end_and_next_start(rule: WeeklyRule, tz: str, at: dt.datetime) -> None:
    window = WeeklyWindow(rule, zone(tz))
    end = window.ends_after(at)
    if window.contains(at):
        assert end is not None and end > at
        assert window.contains(end - dt.timedelta(seconds=1)) and not window.contains(end)
    else:
        assert end is None
        start = window.next_start(at)
        assert at < start <= at + dt.timedelta(days=7, hours=3)
        assert window.contains(start)
        assert not window.contains(start - dt.timedelta(seconds=1)) or start - at <= dt.timedelta(seconds=1)
        assert not window.contains(at + (start - at) / 2)


@settings(max_examples=300, deadline=None)
@given(rule=rules(), tz=ZONES, at=MOMENTS)
def test_a_window_and_its_reverse_cover_the_week_exactly_once(rule: WeeklyRule, tz: str, at: dt.datetime) -> None:
    # "Fri 16:00-Mon 08:00" and "Mon 08:00-Fri 16:00" split the week between them, DST changes included.
    reverse = WeeklyRule(rule.end_day, rule.end, rule.start_day, rule.start)
    assert WeeklyWindow(rule, zone(tz)).contains(at) != WeeklyWindow(reverse, zone(tz)).contains(at)


@settings(max_examples=300, deadline=None)
@given(rule=rules(), at=MOMENTS)
def test_without_dst_inside_is_the_minute_of_the_week(rule: WeeklyRule, at: dt.datetime) -> None:
    def minute(day: int, time: dt.time) -> int:
        return day * 1440 + time.hour * 60 + time.minute

    now = at.weekday() * 1440 + at.hour * 60 + at.minute
    start, end = minute(rule.start_day, rule.start), minute(rule.end_day, rule.end)
    expected = start <= now < end if start < end else now >= start or now < end  # wraps over the week's end
    assert WeeklyWindow(rule, zone("UTC")).contains(at) is expected


# ---- use-cases ------------------------------------------------------------------------------------------------------


@pytest.fixture
def prod(session: Session) -> int:
    environments.add_environment(session, name="Stage", actor=ADMIN)
    return environments.add_environment(session, name="Prod", protected=True, actor=ADMIN).id


def test_a_weekly_window_freezes_prod_and_names_itself_in_the_refusal(session: Session, prod: int) -> None:
    window = freeze.add_window(session, ADMIN, environment="Prod", weekly="Fri 16:00-Mon 08:00",
                               timezone="Europe/Berlin", reason="weekend change freeze")
    friday = utc("2026-10-23T15:00")
    assert freeze.check_sync_allowed(session, OPERATOR, "Stage", friday) is None
    with pytest.raises(EnvironmentFrozen) as refused:
        freeze.check_sync_allowed(session, OPERATOR, "Prod", friday)
    message = str(refused.value)
    assert f"freeze window #{window.id}" in message and "Fri 16:00-Mon 08:00" in message
    assert "weekend change freeze" in message
    assert "reopens Mon 26 Oct 2026 08:00 CET (07:00 UTC)" in message
    assert refused.value.exit_code == 3
    assert freeze.check_sync_allowed(session, OPERATOR, "Prod", utc("2026-10-26T07:00")) is None


def test_an_admin_overrides_with_a_reason_and_it_is_audited(session: Session, prod: int) -> None:
    freeze.add_window(session, ADMIN, environment="Prod", starts_at=utc("2026-12-20T00:00"),
                      ends_at=utc("2027-01-04T00:00"), reason="holidays", now=utc("2026-12-01T00:00"))
    at = utc("2026-12-24T10:00")
    with pytest.raises(PermissionDenied):
        freeze.check_sync_allowed(session, OPERATOR, "Prod", at, override_reason="hotfix")
    with pytest.raises(EnvironmentFrozen):
        freeze.check_sync_allowed(session, ADMIN, "Prod", at, override_reason="   ")
    overridden = freeze.check_sync_allowed(session, ADMIN, "Prod", at, override_reason="hotfix INC-7")
    assert overridden is not None and overridden.reason == "holidays"
    events = audit.list_events(session, audit.AuditFilter(action="freeze.override")).items
    assert [(e.actor, e.object_name, e.detail) for e in events] == [("alice@example.com", "Prod", "hotfix INC-7")]
    assert audit.verify(session).ok


def test_only_an_admin_manages_windows(session: Session, prod: int) -> None:
    with pytest.raises(PermissionDenied):
        freeze.add_window(session, OPERATOR, environment="Prod", weekly="Fri 16:00-Mon 08:00", reason="x")
    with pytest.raises(PermissionDenied):
        freeze.stop_all(session, OPERATOR, "incident")
    assert freeze.list_windows(session) == []


def test_stop_all_freezes_every_environment_until_lifted(session: Session, prod: int) -> None:
    now = utc("2026-06-01T12:00")
    freeze.stop_all(session, ADMIN, "INC-42: database failover", now=now)
    later = now + dt.timedelta(days=30)
    for env in ("Stage", "Prod"):
        with pytest.raises(EnvironmentFrozen, match="stop-all .*INC-42.*until an admin lifts it"):
            freeze.check_sync_allowed(session, OPERATOR, env, later)
    with pytest.raises(ValidationError, match="already in force"):
        freeze.stop_all(session, ADMIN, "again", now=later)
    freeze.lift_all(session, ADMIN, "failover done", now=later)
    assert freeze.check_sync_allowed(session, OPERATOR, "Prod", later) is None
    actions = [e.action for e in audit.list_events(session, audit.AuditFilter(action="freeze")).items]
    assert actions == ["freeze.lift_all", "freeze.stop_all"]
    with pytest.raises(ValidationError, match="no stop-all"):
        freeze.lift_all(session, ADMIN)


def test_touching_windows_reopen_when_the_last_one_ends(session: Session, prod: int) -> None:
    now = utc("2026-06-01T00:00")
    freeze.add_window(session, ADMIN, environment="Prod", starts_at=utc("2026-06-05T10:00"),
                      ends_at=utc("2026-06-05T16:00"), reason="release train", now=now)
    freeze.add_window(session, ADMIN, environment="Prod", weekly="Fri 16:00-Mon 08:00", reason="weekend", now=now)
    frozen = freeze.active_freeze(session, "Prod", utc("2026-06-05T12:00"))
    assert frozen is not None and frozen.kind == "once"
    assert frozen.reopens_at == utc("2026-06-08T08:00")  # the weekend window follows on at 16:00
    assert freeze.frozen_environments(session, utc("2026-06-05T12:00")).keys() == {prod}


def test_removing_a_window_reopens_and_is_audited(session: Session, prod: int) -> None:
    window = freeze.add_window(session, ADMIN, environment="Prod", weekly="Mon 00:00-Sun 23:59", reason="always")
    assert freeze.active_freeze(session, "Prod", utc("2026-06-03T12:00")) is not None
    freeze.remove_window(session, ADMIN, window.id)
    assert freeze.active_freeze(session, "Prod", utc("2026-06-03T12:00")) is None
    assert [e.action for e in audit.list_events(session, audit.AuditFilter(action="freeze")).items] == [
        "freeze.remove", "freeze.add"]
    with pytest.raises(ValidationError, match="no freeze window"):
        freeze.remove_window(session, ADMIN, window.id)


@pytest.mark.parametrize(("kwargs", "complaint"), [
    ({"weekly": "Fri 16:00-Mon 08:00", "reason": " "}, "reason"),
    ({"starts_at": utc("2026-06-02T00:00"), "ends_at": utc("2026-06-01T00:00"), "reason": "x"}, "end after"),
    ({"starts_at": utc("2020-01-01T00:00"), "ends_at": utc("2020-01-02T00:00"), "reason": "x"}, "already over"),
    ({"weekly": "Fri 16:00-Mon 08:00", "starts_at": utc("2026-06-02T00:00"), "reason": "x"}, "not both"),
    ({"weekly": "Fri 16:00-Mon 08:00", "timezone": "Nowhere/City", "reason": "x"}, "time zone"),
])
def test_bad_windows_are_refused_and_nothing_is_written(session: Session, prod: int, kwargs: dict,
                                                        complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        freeze.add_window(session, ADMIN, environment="Prod", now=utc("2026-05-01T00:00"), **kwargs)
    assert freeze.list_windows(session) == []
    assert audit.list_events(session, audit.AuditFilter(action="freeze")).total == 0


def test_one_off_times_without_an_offset_are_read_in_the_zone() -> None:
    assert parse_instant("2026-12-24T16:00", "Europe/Berlin") == utc("2026-12-24T15:00")
    assert parse_instant("2026-12-24 16:00+00:00", "Europe/Berlin") == utc("2026-12-24T16:00")
    with pytest.raises(ValidationError, match="date and time"):
        parse_instant("christmas")
