"""Parsing of the ``since`` query parameter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from logradar.web.params import parse_since

S = 10**9
NOW = int(datetime(2024, 3, 1, 12, 0, tzinfo=UTC).timestamp()) * S


@pytest.mark.parametrize(
    ("text", "seconds_back"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 7 * 86400), ("0m", 0)],
)
def test_durations_count_back_from_now(text, seconds_back):
    assert parse_since(text, NOW) == NOW - seconds_back * S


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01T11:00:00Z",
        "2024-03-01T11:00:00+00:00",
        "2024-03-01T12:00:00+01:00",
        "2024-03-01T12:00:00 01:00",  # '+' decoded to ' ' by a query string
        "2024-03-01 06:00:00-05:00",
        "1709290800",
    ],
)
def test_absolute_times_in_any_zone(text):
    assert parse_since(text, NOW) == NOW - 3600 * S


def test_fractional_epoch_seconds_keep_their_fraction():
    assert parse_since("1709290800.25", NOW) == NOW - 3600 * S + S // 4


def test_before_the_epoch_means_everything():
    assert parse_since("1969-12-31T00:00:00Z", NOW) == 0
    assert parse_since("100000w", NOW) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-03-01T11:00:00", "no time zone"),
        ("yesterday", "not ISO-8601"),
        ("15 minutes", "not ISO-8601"),
        ("-5m", "not ISO-8601"),
        ("999999999999", "after the year 9999"),
    ],
)
def test_unreadable_values_are_rejected_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_since(text, NOW)
