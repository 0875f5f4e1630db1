"""parse_retry_after: delay-seconds, the three RFC 9110 date forms, and everything it refuses."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import parse_retry_after
from retrykit._core._dates import MAX_WAIT, parse_http_date
from tests.strategies import (
    asctime_date,
    http_dates,
    imf_fixdate,
    nows,
    offset_date,
    retry_after_values,
    utc_offsets,
)

# Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110, section 5.6.7.
RFC_EXAMPLE = 784_111_777.0
UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("0.5", 0.5),
        (" 5 ", 5.0),
        ("\t7\r\n", 7.0),
        ("007", 7.0),
        ("86400", 86400.0),
    ],
)
def test_delay_seconds(value: str, expected: float) -> None:
    """A number of seconds is read as that many seconds, whatever the clock says."""
    assert parse_retry_after(value, now=RFC_EXAMPLE) == expected


@pytest.mark.parametrize(
    "value",
    [
        "\u0661\u0662",  # Arabic-Indic "12"
        "\uff11\uff12",  # fullwidth "12"
        "\u0967\u0968",  # Devanagari "12"
        "1\u00b2",  # superscript two
    ],
)
def test_non_ascii_digits_rejected(value: str) -> None:
    """Only ASCII digits count: digits from other scripts give None, not a number."""
    assert parse_retry_after(value, now=RFC_EXAMPLE) is None


@pytest.mark.parametrize(
    "value",
    ["-5", "-0.5", "+5", "1e3", "1E3", "0x10", "1_000", "5.", ".5", "inf", "nan", "1 2", "5s"],
)
def test_malformed_number_rejected(value: str) -> None:
    """Negative numbers, exponents, signs and other near-numbers give None."""
    assert parse_retry_after(value, now=RFC_EXAMPLE) is None


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "tomorrow", "\x00", "\u2603"])
def test_missing_or_garbage_gives_none(value: str | None) -> None:
    """A missing, empty or unreadable header gives None."""
    assert parse_retry_after(value, now=RFC_EXAMPLE) is None


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate, the preferred form
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 form
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime form
    ],
)
@pytest.mark.parametrize("wait", [0.5, 1.0, 37.0, 3600.0])
def test_every_http_date_form(value: str, wait: float) -> None:
    """Each of the three RFC 9110 HTTP-date forms gives the seconds from now to that date."""
    assert parse_retry_after(value, now=RFC_EXAMPLE - wait) == wait


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ],
)
@pytest.mark.parametrize("later", [0.0, 0.25, 1.0, 86400.0, 30 * 365 * 86400.0])
def test_date_in_the_past_gives_zero(value: str, later: float) -> None:
    """A date at or before now asks for no wait at all: 0.0, not a negative number."""
    assert parse_retry_after(value, now=RFC_EXAMPLE + later) == 0.0


def test_asctime_two_digit_day() -> None:
    """The asctime form with a two-digit day is read too."""
    assert parse_retry_after("Wed Nov 16 08:49:37 1994", now=RFC_EXAMPLE) == 10 * 86400.0


def test_month_name_case_insensitive() -> None:
    """Month names are matched without regard to case."""
    assert parse_retry_after("Sun, 06 NOV 1994 08:49:37 GMT", now=RFC_EXAMPLE - 3) == 3.0


def test_leap_second_read_as_last_second_of_the_minute() -> None:
    """A leap second (:60) is accepted and read as :59."""
    assert parse_retry_after("Sat, 31 Dec 2016 23:59:60 GMT", now=1_483_228_799.0 - 9) == 9.0


@pytest.mark.parametrize(
    "value",
    [
        "Tue, 31 Feb 1995 08:49:37 GMT",  # no 31 February
        "Sun, 06 Foo 1994 08:49:37 GMT",  # no month Foo
        "Sun, 06 Nov 1994 25:49:37 GMT",  # no hour 25
        "Sun, 06 Nov 1994 24:00:00 GMT",  # 24:00 is not a time of day here
        "Sun, 06 Nov 1994 08:60:37 GMT",  # no minute 60
        "Sun, 06 Nov 1994 08:49:61 GMT",  # no second 61, leap or not
        "Sun, 00 Nov 1994 08:49:37 GMT",  # no day 0
        "Sun, 06 Nov 0000 08:49:37 GMT",  # no year 0
        "Sunday, 31-Feb-95 08:49:37 GMT",
        "Sun Feb 31 08:49:37 1995",
        "Sun Nov  6 08:49:37",  # asctime without its year
        "06 Nov 08:49:37 GMT",  # no year
        "Sun, 06 Nov 1994",  # no time
        "1994-11-06T08:49:37Z",  # ISO 8601 is not an HTTP-date
    ],
)
def test_invalid_date_gives_none(value: str) -> None:
    """A date that does not exist, or is not in an RFC 9110 form, gives None."""
    assert parse_retry_after(value, now=RFC_EXAMPLE - 100) is None


# urllib3's Retry-After date table (test/test_retry.py), read at 2019-06-03 11:00:00 UTC.
URLLIB3_NOW = 1_559_559_600.0


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        ("Mon, 3 Jun 2019 12:00:00 UTC", 3600.0),  # one-digit day, zone UTC
        ("Mon, 3 Jun 2019 11:00:00 UTC", 0.0),  # the date is now
        ("Mon, 03 Jun 2019 11:30:12 GMT", 1812.0),  # IMF-fixdate
        ("Monday, 03-Jun-19 11:30:12 GMT", 1812.0),  # RFC 850
        ("Mon Jun  3 11:30:12 2019", 1812.0),  # asctime: no zone, so UTC
    ],
)
def test_the_date_forms_urllib3_reads(value: str, wait: float) -> None:
    """Every Retry-After date urllib3 honours gives the same wait here."""
    assert parse_retry_after(value, now=URLLIB3_NOW) == wait


HOUR = 3600.0


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        # Outside the strict grammar, as servers send it (RFC 9110, section 5.6.7: be robust).
        ("Sun, 6 Nov 1994 08:49:37 GMT", 0.0),
        ("sun, 06 nov 1994 08:49:37 gmt", 0.0),
        ("SUN, 06 NOV 1994 08:49:37 GMT", 0.0),
        ("Sun,  06  Nov  1994  08:49:37  GMT", 0.0),
        ("Sun,06 Nov 1994 08:49:37 GMT", 0.0),
        ("06 Nov 1994 08:49:37 GMT", 0.0),
        ("Sun, 06 Nov 1994 08:49:37", 0.0),
        ("Sun, 06 Nov 1994 08:49 GMT", -37.0),
        ("Sun, 06 Nov 1994 8:49:37 GMT", 0.0),
        ("Sun, 06 Nov 94 08:49:37 GMT", 0.0),
        ("Sunday, 6-Nov-94 08:49:37 GMT", 0.0),
        ("Sun Nov 6 08:49:37 1994", 0.0),
        ("Sun Nov  6 08:49:37 1994 GMT", 0.0),
        # Zones other than GMT, numeric and named (RFC 5322, section 4.3).
        ("Sun, 06 Nov 1994 08:49:37 UTC", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 UT", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 Z", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 +0000", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 -0000", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 +0200", -2 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 -0500", 5 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 +05:30", -5.5 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 +1400", -14 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 -1200", 12 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 EST", 5 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 EDT", 4 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 CST", 6 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 MDT", 6 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 PST", 8 * HOUR),
        ("Sun, 06 Nov 1994 08:49:37 pdt", 7 * HOUR),
        ("Sunday, 06-Nov-94 08:49:37 EST", 5 * HOUR),
        ("Sun Nov  6 08:49:37 1994 +0100", -1 * HOUR),
    ],
)
def test_dates_beside_the_grammar(value: str, offset: float) -> None:
    """Dates real servers send outside the strict grammar are read, each at its own zone."""
    day_before = RFC_EXAMPLE - 86400.0
    assert parse_retry_after(value, now=day_before) == 86400.0 + offset


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 CET",  # a zone RFC 5322 does not name
        "Sun, 06 Nov 1994 08:49:37 XYZ",
        "Sun, 06 Nov 1994 08:49:37 +2400",  # no such offset
        "Sun, 06 Nov 1994 08:49:37 +0060",
        "Sun, 06 Nov 1994 08:49:37 +9999",
    ],
)
def test_date_in_an_unknown_zone_gives_none(value: str) -> None:
    """A zone that cannot be read gives None rather than a guess: the backoff applies."""
    assert parse_retry_after(value, now=RFC_EXAMPLE - 100) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1, 1", 1.0),
        ("1,1", 1.0),
        ("1, 5", 5.0),
        ("5, 1", 5.0),
        ("0.5, 2, 1", 2.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:47 GMT", 110.0),
        ("Sun, 06 Nov 1994 08:49:47 GMT, Sun, 06 Nov 1994 08:49:37 GMT", 110.0),
        ("30, Sun, 06 Nov 1994 08:49:37 GMT", 100.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT, 300", 300.0),
        ("soon, 5", 5.0),
        ("5, -1", 5.0),
    ],
)
def test_repeated_header_takes_the_longest_valid_wait(value: str, expected: float) -> None:
    """A Retry-After sent twice, joined by a comma, waits the longest of its valid parts."""
    assert parse_retry_after(value, now=RFC_EXAMPLE - 100) == expected


@pytest.mark.parametrize("value", ["soon, later", ", ,", "-1, -2", "Sun, Mon"])
def test_repeated_header_with_no_valid_part_gives_none(value: str) -> None:
    """Joined values of which none is valid on its own give None."""
    assert parse_retry_after(value, now=RFC_EXAMPLE - 100) is None


def test_repeated_dates_need_a_clock() -> None:
    """Without now, repeated dates give None while repeated seconds still count."""
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT, 7", now=None) == 7.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=None) is None


@pytest.mark.parametrize(
    "tz",
    [
        UTC,
        datetime.timezone(datetime.timedelta(hours=14)),
        datetime.timezone(datetime.timedelta(hours=-12)),
        datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
        datetime.timezone(datetime.timedelta(hours=-3, minutes=-30)),
    ],
)
def test_now_from_any_timezone(tz: datetime.timezone) -> None:
    """now is a Unix time: computing it from an aware datetime in any zone gives the same wait."""
    now = datetime.datetime(1994, 11, 6, 8, 48, 37, tzinfo=UTC).astimezone(tz).timestamp()
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=now) == 60.0


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (RFC_EXAMPLE - 1, 1.0),
        (int(RFC_EXAMPLE) - 2, 2.0),
        (RFC_EXAMPLE - 0.75, 0.75),
        (RFC_EXAMPLE - 86400, 86400.0),
        (0.0, MAX_WAIT),  # 24 years away: no wait is longer than MAX_WAIT
        (RFC_EXAMPLE + 1e9, 0.0),
    ],
)
def test_several_nows(now: float, expected: float) -> None:
    """The wait is the date minus now, for int and float nows near and far from the date."""
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=now) == expected


@pytest.mark.parametrize(
    ("value", "now", "expected_year"),
    [
        # Read as 2026 from 2024: less than 50 years ahead.
        ("Thursday, 01-Jan-26 00:00:00 GMT", 1_714_521_600.0, 2026),
        # Read as 1980, not 2080: more than 50 years ahead is the past century.
        ("Tuesday, 01-Jan-80 00:00:00 GMT", 1_714_521_600.0, 1980),
        # Read as 1994 from 1994.
        ("Saturday, 01-Jan-94 00:00:00 GMT", 757_382_400.0 - 60, 1994),
        # Read as 2019 from 1994: 25 years ahead is not "more than 50 years in the future".
        ("Tuesday, 01-Jan-19 00:00:00 GMT", 757_382_400.0, 2019),
        # Read as 2105 from 2060, and as 2011, not 2111, from 2060 (51 years ahead).
        ("Thursday, 01-Jan-05 00:00:00 GMT", 2_840_140_800.0, 2105),
        ("Sunday, 01-Jan-11 00:00:00 GMT", 2_840_140_800.0, 2011),
    ],
)
def test_rfc850_two_digit_year(value: str, now: float, expected_year: int) -> None:
    """An RFC 850 two-digit year more than 50 years ahead of now is read as the past century."""
    moment = datetime.datetime(expected_year, 1, 1, tzinfo=UTC).timestamp()
    assert parse_http_date(value, now=now) == moment


@given(
    st.datetimes(
        min_value=datetime.datetime(1971, 1, 1),
        max_value=datetime.datetime(2099, 12, 31),
        timezones=st.just(UTC),
    ),
    st.floats(min_value=0.0, max_value=MAX_WAIT),
)
def test_imf_and_asctime_dates_round_trip(moment: datetime.datetime, wait: float) -> None:
    """Any date written as IMF-fixdate or asctime is read back to the second."""
    target = float(int(moment.timestamp()))
    for value in (imf_fixdate(moment), asctime_date(moment)):
        assert parse_retry_after(value, now=target - wait) == pytest.approx(wait, abs=1e-6)


@given(
    st.datetimes(
        min_value=datetime.datetime(1971, 1, 2),
        max_value=datetime.datetime(2099, 12, 30),
        timezones=st.just(UTC),
    ),
    utc_offsets(),
    st.booleans(),
)
def test_dates_with_an_offset_round_trip(
    moment: datetime.datetime, offset_minutes: int, lower: bool
) -> None:
    """A date written at any UTC offset, in any case, is read back to the same instant."""
    target = float(int(moment.timestamp()))
    value = offset_date(moment, offset_minutes, lower=lower)
    assert parse_retry_after(value, now=target - 60.0) == pytest.approx(60.0, abs=1e-6)


@given(http_dates(), nows())
def test_valid_date_never_negative(value: str, now: float) -> None:
    """A valid date always gives a wait of zero or more."""
    result = parse_retry_after(value, now=now)
    assert result is not None
    assert result >= 0.0


@given(st.one_of(retry_after_values(), st.text()), nows())
def test_never_raises(value: str, now: float) -> None:
    """Any text a server sends gives None or a wait of zero or more, never an exception."""
    result = parse_retry_after(value, now=now)
    assert result is None or result >= 0.0


@given(st.text(), st.floats())
def test_never_raises_whatever_now(value: str, now: float) -> None:
    """Even a NaN or infinite now never makes the parser raise or return a negative wait."""
    result = parse_retry_after(value, now=now)
    assert result is None or not result < 0.0
