"""The date rules, each stated once: reset numbers, ISO 8601 times, waits against now."""

from __future__ import annotations

import math

import pytest

from retrykit._core._dates import (
    MILLISECOND_TIMESTAMP_THRESHOLD,
    TIMESTAMP_THRESHOLD,
    parse_iso_8601,
    reset_wait,
    wait_until,
)

NOW = 1_714_521_600.0  # 2024-05-01T00:00:00Z


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0.0, 0.0),
        (30.0, 30.0),
        (TIMESTAMP_THRESHOLD - 1, TIMESTAMP_THRESHOLD - 1),
        (NOW + 45, 45.0),
        (MILLISECOND_TIMESTAMP_THRESHOLD - 1, MILLISECOND_TIMESTAMP_THRESHOLD - 1 - NOW),
        ((NOW + 45) * 1000, 45.0),
        (NOW - 100, 0.0),
    ],
)
def test_reset_number_is_seconds_or_a_timestamp(number: float, expected: float) -> None:
    """A reset below the threshold is seconds; above it a Unix timestamp, in s or ms."""
    assert reset_wait(number, NOW) == pytest.approx(expected)


def test_reset_at_the_threshold_is_a_timestamp() -> None:
    """The threshold itself (2001-09-09) is read as a Unix timestamp, so a past one waits 0."""
    assert reset_wait(TIMESTAMP_THRESHOLD, NOW) == 0.0


def test_millisecond_threshold_is_a_timestamp_in_milliseconds() -> None:
    """At the millisecond threshold the reset is milliseconds: 1973, long past."""
    assert reset_wait(MILLISECOND_TIMESTAMP_THRESHOLD, NOW) == 0.0
    assert (
        reset_wait(MILLISECOND_TIMESTAMP_THRESHOLD, 0.0) == MILLISECOND_TIMESTAMP_THRESHOLD / 1000
    )


@pytest.mark.parametrize("now", [None, math.nan, math.inf])
def test_timestamp_without_a_clock_gives_none(now: float | None) -> None:
    """Without a usable now a timestamp gives no wait; seconds still count."""
    assert reset_wait(NOW + 45, now) is None
    assert reset_wait(45.0, now) == 45.0


def test_wait_until_a_past_moment_is_zero() -> None:
    """A moment already past asks for no wait: 0.0, never a negative number."""
    assert wait_until(NOW - 1, NOW) == 0.0
    assert wait_until(NOW + 2.5, NOW) == 2.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T00:00:30Z", NOW + 30),
        ("2024-05-01T00:00:30", NOW + 30),
        ("2024-05-01 00:00:30z", NOW + 30),
        ("2024-05-01T02:00:30+02:00", NOW + 30),
        ("2024-04-30T19:00:30-0500", NOW + 30),
        ("2024-05-01T00:00:30.250Z", NOW + 30.25),
        ("2024-05-01T00:01Z", NOW + 60),
        ("2016-12-31T23:59:60Z", 1_483_228_799.0),
    ],
)
def test_iso_8601(value: str, expected: float) -> None:
    """An ISO 8601 date-time is read at its offset; no zone is UTC; a leap second is :59."""
    assert parse_iso_8601(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    ["2024-02-30T00:00:00Z", "2024-05-01T00:00:61Z", "2024-05-01T00:00:00+24:00", "tomorrow"],
)
def test_iso_8601_that_names_no_time(value: str) -> None:
    """A day, second or offset that does not exist, or no date at all, gives None."""
    assert parse_iso_8601(value) is None
