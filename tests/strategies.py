"""Shared hypothesis strategies for retrykit's tests: statuses, methods, headers, policies."""

from __future__ import annotations

import datetime
import string
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from retrykit import Backoff, FailureKind, RetryPolicy
from retrykit._core._headers import WAIT_HEADERS
from retrykit._core._policy import DEFAULT_RETRY_STATUSES

if TYPE_CHECKING:
    from retrykit._core._backoff import JitterKind

IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE")
UNSAFE_METHODS = ("POST", "PATCH")
JITTER_KINDS: tuple[JitterKind, ...] = ("none", "full", "equal", "proportional", "decorrelated")
RETRY_AFTER_NAMES = ("Retry-After", "retry-after", "RETRY-AFTER")
# Every rate-limit header the core reads, and two in other letter cases.
RATE_LIMIT_NAMES = (
    *(name for name in WAIT_HEADERS if name != "Retry-After"),
    "x-ratelimit-reset",
    "ratelimit",
)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LONG_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def imf_fixdate(moment: datetime.datetime) -> str:
    """Format an aware datetime as an IMF-fixdate, without depending on the locale."""
    moment = moment.astimezone(datetime.timezone.utc)
    return (
        f"{_DAY_NAMES[moment.weekday()]}, {moment.day:02d} {_MONTH_NAMES[moment.month - 1]} "
        f"{moment.year:04d} {moment:%H:%M:%S} GMT"
    )


def rfc850_date(moment: datetime.datetime) -> str:
    """Format an aware datetime in the obsolete RFC 850 form (two-digit year)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return (
        f"{_LONG_DAY_NAMES[moment.weekday()]}, {moment.day:02d}-{_MONTH_NAMES[moment.month - 1]}-"
        f"{moment.year % 100:02d} {moment:%H:%M:%S} GMT"
    )


def asctime_date(moment: datetime.datetime) -> str:
    """Format an aware datetime in the obsolete asctime form (day padded with a space)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return (
        f"{_DAY_NAMES[moment.weekday()]} {_MONTH_NAMES[moment.month - 1]} {moment.day:2d} "
        f"{moment:%H:%M:%S} {moment.year:04d}"
    )


def offset_date(moment: datetime.datetime, offset_minutes: int, *, lower: bool) -> str:
    """Format ``moment`` as servers do beside the grammar: a one-digit day, a numeric zone."""
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    local = moment.astimezone(zone)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = (
        f"{_DAY_NAMES[local.weekday()]}, {local.day} {_MONTH_NAMES[local.month - 1]} "
        f"{local.year:04d} {local:%H:%M:%S} {sign}{hours:02d}{minutes:02d}"
    )
    return text.lower() if lower else text


def utc_offsets() -> st.SearchStrategy[int]:
    """A UTC offset in minutes, from -12:00 to +14:00, as real zones have them."""
    return st.integers(min_value=-12 * 60, max_value=14 * 60)


def statuses() -> st.SearchStrategy[int]:
    """Any valid HTTP status code, 100 to 599."""
    return st.integers(min_value=100, max_value=599)


def error_statuses() -> st.SearchStrategy[int]:
    """Any 4xx or 5xx status, with the default retry statuses drawn often."""
    return st.one_of(st.sampled_from([408, 429, 500, 502, 503, 504]), st.integers(400, 599))


def methods() -> st.SearchStrategy[str]:
    """A request method: the common ones in any case, or an arbitrary token."""
    common = st.sampled_from(IDEMPOTENT_METHODS + UNSAFE_METHODS + ("CONNECT",))
    return st.one_of(
        common,
        common.map(str.lower),
        st.text(alphabet=string.ascii_letters, min_size=1, max_size=10),
    )


def unsafe_methods() -> st.SearchStrategy[str]:
    """POST or PATCH, in any letter case."""
    return st.sampled_from(UNSAFE_METHODS).flatmap(
        lambda method: st.sampled_from([method, method.lower(), method.title()])
    )


def failures() -> st.SearchStrategy[FailureKind]:
    """Either kind of attempt that produced no response."""
    return st.sampled_from(FailureKind)


def rands() -> st.SearchStrategy[float]:
    """A jitter draw, a float in [0, 1)."""
    return st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def nows() -> st.SearchStrategy[float]:
    """A Unix time between 1970 and 2100."""
    return st.floats(min_value=0.0, max_value=4_102_444_800.0)


def http_dates() -> st.SearchStrategy[str]:
    """A valid HTTP-date in any of the three RFC 9110 forms."""
    moments = st.datetimes(
        min_value=datetime.datetime(1971, 1, 1),
        max_value=datetime.datetime(2099, 12, 31),
        timezones=st.just(datetime.timezone.utc),
    )
    return st.one_of(moments.map(imf_fixdate), moments.map(rfc850_date), moments.map(asctime_date))


def huge_digit_strings() -> st.SearchStrategy[str]:
    """Numbers far too large for a float: 309 to 4,000 digits (float() of them gives inf).

    int() still reads them (its limit is 4,300 digits), so they reach every code path that
    converts a server's number, and a parser that forgets to bound one returns inf.
    """
    return st.builds(
        lambda lead, digit, length: lead + digit * length,
        st.sampled_from("123456789"),
        st.sampled_from("0123456789"),
        st.integers(min_value=308, max_value=4_000),
    )


def retry_after_values() -> st.SearchStrategy[str]:
    """What a server may put in Retry-After: seconds, dates, near misses, huge numbers, noise."""
    seconds = st.integers(min_value=0, max_value=10**6).map(str)
    decimals = st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: f"{f:.3f}")
    single = st.one_of(
        seconds,
        decimals,
        http_dates(),
        huge_digit_strings(),
        seconds.map(lambda s: f"-{s}"),
        seconds.map(lambda s: f" {s} "),
        st.text(max_size=40),
    )
    # A header sent twice reaches the client joined by a comma.
    repeated = st.lists(single, min_size=2, max_size=3).map(", ".join)
    return st.one_of(single, repeated)


def header_mappings() -> st.SearchStrategy[dict[str, str]]:
    """A plain dict of response headers: known names in mixed case and arbitrary ones."""
    names = st.one_of(
        st.sampled_from(RETRY_AFTER_NAMES + RATE_LIMIT_NAMES),
        st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=20),
    )
    values = st.one_of(
        retry_after_values(),
        huge_digit_strings().map(lambda digits: f'"default";r=0;t={digits}'),
        st.integers(min_value=-(10**14), max_value=10**14).map(str),
        st.text(alphabet='"=;, ' + string.ascii_letters + string.digits, max_size=40),
        st.text(max_size=40),
    )
    return st.dictionaries(names, values, max_size=6)


def response_headers() -> st.SearchStrategy[dict[str, str]]:
    """Response headers that often ask for a wait (Retry-After, a rate-limit reset)."""
    asks = st.fixed_dictionaries(
        {},
        optional={
            "Retry-After": retry_after_values(),
            "x-ratelimit-reset": st.one_of(
                st.integers(min_value=0, max_value=120).map(str),
                st.integers(min_value=0, max_value=4_102_444_800).map(str),
            ),
            "RateLimit": st.integers(min_value=0, max_value=120).map(
                lambda t: f'"default";r=0;t={t}'
            ),
        },
    )
    return st.builds(lambda noise, ask: {**noise, **ask}, header_mappings(), asks)


def backoffs() -> st.SearchStrategy[Backoff]:
    """Any valid Backoff."""
    numbers = st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False)
    return st.builds(
        Backoff,
        base=numbers,
        multiplier=st.floats(min_value=0.0, max_value=10.0),
        cap=numbers,
        jitter=st.sampled_from(JITTER_KINDS),
        jitter_ratio=st.floats(min_value=0.0, max_value=2.0),
    )


def policies() -> st.SearchStrategy[RetryPolicy]:
    """Any valid RetryPolicy."""
    return st.builds(
        RetryPolicy,
        max_attempts=st.integers(min_value=1, max_value=10),
        backoff=backoffs(),
        retry_statuses=st.just(DEFAULT_RETRY_STATUSES)
        | st.frozensets(error_statuses(), max_size=8),
        idempotent_methods=st.frozensets(st.sampled_from(IDEMPOTENT_METHODS), max_size=6),
        respect_retry_after=st.booleans(),
        max_retry_after=st.floats(min_value=0.0, max_value=1e5),
        deadline=st.none() | st.floats(min_value=0.001, max_value=1e5),
        auto_idempotency_key=st.booleans(),
    )
