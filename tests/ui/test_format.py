"""The formatting behind the screens: token expiry levels, ages and plurals (the core's rules, which the screens
print), times in the user's zone, chip contrast."""

from __future__ import annotations

import datetime as dt

import pytest

from ranchersync.catalogue.rules import namespaces_for_picking, token_state
from ranchersync.kernel.humanize import ago, plural
from ui.shell import format as fmt

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expires_in", "tested", "level", "text"),
    [
        (None, True, "never", "never expires"),
        (None, False, "unknown", "expiry unknown: test it"),
        (dt.timedelta(days=30), True, "ok", "valid until 2026-12-26"),
        (dt.timedelta(days=14, minutes=1), True, "ok", "valid until 2026-12-10"),
        (dt.timedelta(days=14), True, "warning", "expires in 14 days"),
        (dt.timedelta(days=13, hours=23), True, "warning", "expires in 14 days"),
        (dt.timedelta(days=5), True, "warning", "expires in 5 days"),
        (dt.timedelta(hours=20), True, "warning", "expires in 20 h"),
        (dt.timedelta(minutes=10), True, "warning", "expires in 1 h"),
        (dt.timedelta(seconds=0), True, "expired", "expired just now"),
        (-dt.timedelta(days=3), True, "expired", "expired 3 days ago"),
    ],
)
def test_token_state(expires_in: dt.timedelta | None, tested: bool, level: str, text: str) -> None:
    expires_at = None if expires_in is None else NOW + expires_in

    state = token_state(expires_at, NOW, tested=tested)

    assert (state.level, state.text) == (level, text)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (None, "never"),
        (dt.timedelta(seconds=10), "just now"),
        (dt.timedelta(minutes=5), "5 min ago"),
        (dt.timedelta(hours=3), "3 h ago"),
        (dt.timedelta(days=1), "1 day ago"),
        (dt.timedelta(days=9), "9 days ago"),
        (-dt.timedelta(seconds=5), "just now"),
    ],
)
def test_ago(before: dt.timedelta | None, text: str) -> None:
    assert ago(None if before is None else NOW - before, NOW) == text


def test_times_are_shown_in_the_users_zone_or_in_labelled_utc() -> None:
    assert fmt.when(NOW, fmt.zone("Europe/Paris")) == "2026-11-26 13:00 CET"
    assert fmt.when(NOW, fmt.zone(None)) == "2026-11-26 12:00 UTC"
    assert fmt.when(NOW, fmt.zone("Not/AZone")) == "2026-11-26 12:00 UTC"
    assert fmt.when(None, dt.UTC) == "—"
    assert fmt.zone_label(fmt.zone("Europe/Paris")) == "Europe/Paris"
    assert fmt.zone_label(fmt.zone(None)) == "UTC"


@pytest.mark.parametrize(
    ("background", "text"),
    [
        ("#000000", "#FFFFFF"),
        ("#FFFFFF", "#000000"),
        ("#0072B2", "#FFFFFF"),
        ("#E69F00", "#000000"),
        ("bad", "#000000"),
    ],
)
def test_chip_text_colour_keeps_contrast(background: str, text: str) -> None:
    assert fmt.text_color_for(background) == text


def test_plural() -> None:
    assert [plural(n, "site") for n in (0, 1, 2)] == ["0 sites", "1 site", "2 sites"]


def test_application_namespaces_come_before_system_ones() -> None:
    names = ["kube-system", "shop-prod", "cattle-system", "default", "billing", "fleet-default"]

    assert namespaces_for_picking(names) == [
        "billing", "shop-prod", "cattle-system", "default", "fleet-default", "kube-system"
    ]


@pytest.mark.parametrize(("text", "markdown"), [
    ("alice@corp.test", "`alice@corp.test`"),
    ("https://evil.example/x", "`https://evil.example/x`"),
    ("a`b", "``a`b``"),
    ("", ""),
])
def test_an_identity_in_a_sentence_is_a_code_span_that_copies_as_written(text: str, markdown: str) -> None:
    assert fmt.literal(text) == markdown and "\u2060" not in fmt.literal(text)
