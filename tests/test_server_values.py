"""Every parser of a server's value: never raises, never gives inf, NaN or a negative number.

Servers send anything: a 400-digit Retry-After, a reset timestamp in the year 10**300, a
NaN in a JSON body. Each parser reads a value it can bound, or gives None; so every wait
is a finite number from 0 to MAX_WAIT that the retry loop can compare, add and sleep.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from retrykit import RetryPolicy, decide, parse_error, parse_rate_limit, parse_retry_after
from retrykit._core._dates import MAX_WAIT, parse_http_date, parse_iso_8601
from tests.strategies import header_mappings, huge_digit_strings, nows, retry_after_values

HUGE = "9" * 400
NOW = 1_714_521_600.0

any_now = st.one_of(nows(), st.floats(), st.none())


def _is_wait(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and 0.0 <= value <= MAX_WAIT)


@given(st.one_of(retry_after_values(), huge_digit_strings(), st.text()), any_now)
@example(HUGE, 0.0)
@example(HUGE, None)
@example(f"{HUGE}.5", NOW)
@example(f"1, {HUGE}", NOW)
@example("Sun, 06 Nov 9999 08:49:37 GMT", 0.0)
@example("Sun, 06 Nov 1994 08:49:37 GMT", -1e300)
def test_retry_after_is_a_bounded_wait(value: str, now: float | None) -> None:
    """parse_retry_after gives None or a finite wait from 0 to MAX_WAIT."""
    assert _is_wait(parse_retry_after(value, now=now))


def test_a_400_digit_retry_after_is_max_wait() -> None:
    """A Retry-After of 400 nines asks for the longest wait there is: MAX_WAIT, not inf."""
    assert parse_retry_after(HUGE, now=NOW) == MAX_WAIT


@given(header_mappings(), any_now)
@example({"X-RateLimit-Reset": HUGE}, NOW)
@example({"RateLimit-Reset": HUGE}, None)
@example({"RateLimit": f'"default";r=0;t={HUGE}'}, NOW)
@example({"RateLimit": f"limit=10, remaining=0, reset={HUGE}"}, NOW)
@example({"X-RateLimit-Limit": HUGE, "X-RateLimit-Remaining": HUGE}, NOW)
@example({"X-RateLimit-Reset": "1e400"}, NOW)
def test_rate_limit_is_bounded(headers: dict[str, str], now: float | None) -> None:
    """parse_rate_limit gives counts >= 0 and a reset that is a bounded wait, or None."""
    info = parse_rate_limit(headers, now=now)
    if info is not None:
        assert info.limit is None or info.limit >= 0
        assert info.remaining is None or info.remaining >= 0
        assert _is_wait(info.reset_after)


def test_a_400_digit_reset_is_max_wait() -> None:
    """An X-RateLimit-Reset or IETF t= of 400 digits is read as MAX_WAIT, not inf."""
    for headers in ({"X-RateLimit-Reset": HUGE}, {"RateLimit": f'"default";r=0;t={HUGE}'}):
        info = parse_rate_limit(headers, now=NOW)
        assert info is not None
        assert info.reset_after == MAX_WAIT


@given(st.one_of(retry_after_values(), st.text()), any_now)
@example("Mon, 01 Jan 0001 00:00:00 GMT", NOW)
@example("Fri, 31 Dec 9999 23:59:59 -1200", NOW)
@example("Thursday, 01-Jan-70 00:00:00 GMT", math.inf)
def test_http_date_is_a_finite_non_negative_time(value: str, now: float | None) -> None:
    """parse_http_date gives None or a finite Unix time >= 0."""
    moment = parse_http_date(value, now=now)
    assert moment is None or (math.isfinite(moment) and moment >= 0.0)


@given(st.text(max_size=60))
@example("0001-01-01T00:00:00Z")
@example("9999-12-31T23:59:59.999999999-23:59")
def test_iso_8601_is_a_finite_non_negative_time(value: str) -> None:
    """parse_iso_8601 gives None or a finite Unix time >= 0."""
    moment = parse_iso_8601(value)
    assert moment is None or (math.isfinite(moment) and moment >= 0.0)


body_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),
    huge_digit_strings(),
    st.text(max_size=20),
)
body_waits = st.fixed_dictionaries(
    {},
    optional={
        "retry_after": body_numbers,
        "retryAfter": body_numbers,
        "relatedInfo": st.fixed_dictionaries({"resetsAt": body_numbers}),
    },
)


@given(body_waits, st.one_of(nows(), st.none()))
@example({"retry_after": 10**400}, None)
@example({"retryAfter": HUGE}, None)
@example({"retry_after": math.inf}, None)
@example({"retry_after": math.nan}, None)
@example({"relatedInfo": {"resetsAt": 10**400}}, NOW)
@example({"relatedInfo": {"resetsAt": HUGE}}, NOW)
@example({"relatedInfo": {"resetsAt": "9999-12-31T23:59:59Z"}}, 0.0)
def test_body_waits_are_bounded(body: dict[str, Any], now: float | None) -> None:
    """A wait read from a JSON body, in any form, is a bounded wait or None."""
    info = parse_error(429, {}, json.dumps(body).encode(), now=now)
    assert _is_wait(info.retry_after)


@given(
    st.integers(min_value=-1000, max_value=1000),
    header_mappings(),
    st.binary(max_size=200),
    st.one_of(nows(), st.floats(), st.none()),
)
@example(429, {"Retry-After": HUGE}, b"", None)
@example(429, {"X-RateLimit-Reset": HUGE}, b"", NOW)
@example(503, {"Retry-After": HUGE}, b'{"retry_after": 1e999}', NOW)
def test_parse_error_waits_are_bounded(
    status: int, headers: dict[str, str], body: bytes, now: float | None
) -> None:
    """parse_error never raises and its retry_after is a bounded wait or None."""
    assert _is_wait(parse_error(status, headers, body, now=now).retry_after)


def test_a_400_digit_retry_after_tells_the_user_later() -> None:
    """A 429 asking for 400 digits of seconds waits MAX_WAIT and says "later", not "shortly"."""
    info = parse_error(429, {"Retry-After": HUGE}, b"")
    assert info.retry_after == MAX_WAIT
    assert info.user_message == "Too many requests. Please try again later."


def test_a_400_digit_retry_after_is_too_long_to_wait() -> None:
    """decide refuses to wait for a 400-digit Retry-After: it is longer than max_retry_after."""
    decision = decide(
        RetryPolicy(), attempt=1, method="GET", status=503, headers={"Retry-After": HUGE}
    )
    assert (decision.retry, decision.reason, decision.server_wait) == (
        False,
        "retry_after_too_long",
        MAX_WAIT,
    )
