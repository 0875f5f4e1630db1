"""The date rules, each stated once: reset numbers, ISO 8601 times, waits against now."""

from __future__ import annotations

import math

import pytest

from retrykit._core._dates import (
    MAX_WAIT,
    MILLISECOND_TIMESTAMP_THRESHOLD,
    TIMESTAMP_THRESHOLD,
    bounded_wait,
    parse_http_date,
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
        (MAX_WAIT, MAX_WAIT),
        (TIMESTAMP_THRESHOLD - 1, MAX_WAIT),
        (NOW + 45, 45.0),
        (NOW + 86400, 86400.0),
        (MILLISECOND_TIMESTAMP_THRESHOLD - 1, MAX_WAIT),
        ((NOW + 45) * 1000, 45.0),
        (NOW - 100, 0.0),
    ],
)
def test_reset_number_is_seconds_or_a_timestamp(number: float, expected: float) -> None:
    """A reset below the threshold is seconds; above it a Unix timestamp, in s or ms.

    Either way the wait is at most MAX_WAIT.
    """
    assert reset_wait(number, NOW) == pytest.approx(expected)


def test_reset_at_the_threshold_is_a_timestamp() -> None:
    """The threshold itself (2001-09-09) is read as a Unix timestamp, so a past one waits 0."""
    assert reset_wait(TIMESTAMP_THRESHOLD, NOW) == 0.0


def test_millisecond_threshold_is_a_timestamp_in_milliseconds() -> None:
    """At the millisecond threshold the reset is milliseconds: 1973, long past."""
    assert reset_wait(MILLISECOND_TIMESTAMP_THRESHOLD, NOW) == 0.0
    in_seconds = MILLISECOND_TIMESTAMP_THRESHOLD / 1000
    assert reset_wait(MILLISECOND_TIMESTAMP_THRESHOLD, in_seconds - 50) == 50.0


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


def test_max_wait_is_one_year() -> None:
    """The ceiling on any wait a server asks for is one year, in seconds."""
    assert MAX_WAIT == 365 * 24 * 3600


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, 0.0),
        (30.0, 30.0),
        (MAX_WAIT, MAX_WAIT),
        (MAX_WAIT + 1, MAX_WAIT),
        (1e308, MAX_WAIT),
        (math.inf, MAX_WAIT),
        (-1.0, 0.0),
        (math.nan, 0.0),
    ],
)
def test_bounded_wait(seconds: float, expected: float) -> None:
    """A wait is kept up to MAX_WAIT, longer ones (inf included) become MAX_WAIT."""
    assert bounded_wait(seconds) == expected


def test_wait_until_a_far_moment_is_bounded() -> None:
    """A moment centuries away is a wait of MAX_WAIT, not centuries."""
    assert wait_until(NOW + 300 * MAX_WAIT, NOW) == MAX_WAIT


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
    ],
)
def test_dates_before_the_epoch_read_as_the_epoch(value: str) -> None:
    """A date before 1970 is 0.0 (the past for any now), never a negative Unix time."""
    assert parse_http_date(value, now=NOW) == 0.0


def test_iso_8601_before_the_epoch_reads_as_the_epoch() -> None:
    """An ISO 8601 time before 1970 is 0.0 as well."""
    assert parse_iso_8601("1969-07-20T20:17:40Z") == 0.0
