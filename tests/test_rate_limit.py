"""parse_rate_limit: every header family it reads, the reset forms, and what it ignores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import RateLimitInfo, parse_rate_limit
from retrykit._core._headers import _parse_rate_limit
from tests.strategies import header_mappings, nows

NOW = 1_714_521_600.0  # 2024-05-01T00:00:00Z


@pytest.mark.parametrize("prefix", ["X-RateLimit-", "RateLimit-"])
def test_limit_remaining_reset_family(prefix: str) -> None:
    """X-RateLimit-* and RateLimit-* give the limit, the remaining calls and the reset."""
    headers = {f"{prefix}Limit": "100", f"{prefix}Remaining": "7", f"{prefix}Reset": "30"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=100, remaining=7, reset_after=30.0
    )


def test_ietf_structured_field_with_policy() -> None:
    """The IETF RateLimit field gives remaining and reset; RateLimit-Policy gives the limit."""
    headers = {"RateLimit": '"default";r=50;t=30', "RateLimit-Policy": '"default";q=100;w=60'}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=100, remaining=50, reset_after=30.0
    )


def test_ietf_structured_field_without_policy() -> None:
    """Without RateLimit-Policy the structured field still gives remaining and reset."""
    headers = {"RateLimit": '"default";r=0;t=12'}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(remaining=0, reset_after=12.0)


def test_ietf_policy_matched_by_name() -> None:
    """With several policies, the limit comes from the one the RateLimit field names."""
    headers = {
        "RateLimit": '"day";r=50;t=30',
        "RateLimit-Policy": '"burst";q=10;w=1, "day";q=1000;w=86400',
    }
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=1000, remaining=50, reset_after=30.0
    )


def test_ietf_unquoted_token_name() -> None:
    """A policy name given as a bare token is read like a quoted one."""
    headers = {"RateLimit": "default;r=5;t=2", "RateLimit-Policy": "default;q=10;w=1"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=10, remaining=5, reset_after=2.0
    )


def test_older_draft_single_field() -> None:
    """The older draft's 'RateLimit: limit=100, remaining=50, reset=30' is read."""
    headers = {"RateLimit": "limit=100, remaining=50, reset=30"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=100, remaining=50, reset_after=30.0
    )


def test_structured_field_preferred_over_the_other_families() -> None:
    """When several families are sent, the IETF field wins, then RateLimit-*, then X-."""
    headers = {
        "RateLimit": '"default";r=1;t=2',
        "RateLimit-Remaining": "3",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Limit": "60",
    }
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=60, remaining=1, reset_after=2.0
    )


def test_ratelimit_prefix_preferred_over_x_prefix() -> None:
    """RateLimit-Remaining wins over X-RateLimit-Remaining; missing fields fall back to X-."""
    headers = {"RateLimit-Remaining": "3", "X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "9"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(remaining=3, reset_after=9.0)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-limit": "10", "X-RATELIMIT-REMAINING": "2", "X-Ratelimit-Reset": "5"},
        {"X-RateLimit-Limit": "10", "x-ratelimit-remaining": "2", "x-RateLimit-RESET": "5"},
        {"ratelimit-limit": "10", "RATELIMIT-REMAINING": "2", "RateLimit-Reset": "5"},
    ],
)
def test_names_case_insensitive_in_a_plain_dict(headers: dict[str, str]) -> None:
    """Header names match in any letter case, even in a plain dict."""
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=10, remaining=2, reset_after=5.0
    )


def test_structured_name_case_insensitive() -> None:
    """The IETF field is found whatever the case of its name."""
    headers = {"ratelimit": '"default";r=50;t=30', "RATELIMIT-POLICY": '"default";q=100;w=60'}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(
        limit=100, remaining=50, reset_after=30.0
    )


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        ("0", 0.0),
        ("30", 30.0),
        ("2.5", 2.5),
        ("86400", 86400.0),  # a day in seconds is still "seconds from now"
        (str(int(NOW) + 45), 45.0),  # Unix timestamp in seconds
        (f"{NOW + 45.5:.1f}", 45.5),  # Unix timestamp with a fraction
        (str(int(NOW + 45) * 1000), 45.0),  # Unix timestamp in milliseconds
        (str(int(NOW) - 100), 0.0),  # a timestamp in the past asks for no wait
        (str(int(NOW - 100) * 1000), 0.0),  # in the past, in milliseconds
        ("Wed, 01 May 2024 00:01:00 GMT", 60.0),  # an HTTP-date
    ],
)
def test_reset_forms(reset: str, expected: float) -> None:
    """A reset is seconds from now, whether sent as seconds, a timestamp (s or ms) or a date."""
    info = parse_rate_limit({"X-RateLimit-Reset": reset}, now=NOW)
    assert info == RateLimitInfo(reset_after=expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100, 1000;w=3600", 100),  # several limits: the first is in force
        ("100;w=60", 100),
        (" 42 ", 42),
    ],
)
def test_limit_lists_and_parameters(value: str, expected: int) -> None:
    """A limit with parameters, or a list of limits, gives the first number."""
    assert parse_rate_limit({"X-RateLimit-Limit": value}, now=NOW) == RateLimitInfo(limit=expected)


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        "-1",
        "1.5",
        "",
        "  ",
        "\u0661\u0660",
        "\uff11\uff10",
        "1e3",
        pytest.param("9" * 5000, id="5000-digits"),
    ],
)
def test_malformed_field_ignored(bad: str) -> None:
    """A malformed field is left out; the well-formed ones beside it are still read."""
    headers = {"X-RateLimit-Limit": bad, "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "4"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(remaining=3, reset_after=4.0)


@pytest.mark.parametrize("bad", ["soon", "-5", "1e3", "Sun, 31 Feb 2024 00:00:00 GMT", ""])
def test_malformed_reset_ignored(bad: str) -> None:
    """A reset that is neither a number nor a date is left out."""
    headers = {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": bad}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(remaining=3)


@pytest.mark.parametrize(
    "value", ['"default";r=abc;t=-1', "garbage", '"default"', ";;;", ",,,", "limit=x, remaining=y"]
)
def test_malformed_structured_field_ignored(value: str) -> None:
    """A structured field that cannot be read adds nothing, and the X- family still counts."""
    headers = {"RateLimit": value, "X-RateLimit-Remaining": "3"}
    assert parse_rate_limit(headers, now=NOW) == RateLimitInfo(remaining=3)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Retry-After": "5"},
        {"X-RateLimit-Limit": "abc"},
        {"RateLimit": ""},
        {"RateLimit-Policy": '"default";q=100;w=60'},
    ],
)
def test_nothing_said_gives_none(headers: dict[str, str]) -> None:
    """Headers that say nothing readable about a rate limit give None."""
    assert parse_rate_limit(headers, now=NOW) is None


@given(header_mappings(), nows())
def test_never_raises(headers: dict[str, str], now: float) -> None:
    """Any headers give None or a RateLimitInfo with no negative number, never an exception."""
    info = parse_rate_limit(headers, now=now)
    if info is not None:
        assert info.limit is None or info.limit >= 0
        assert info.remaining is None or info.remaining >= 0
        assert info.reset_after is None or info.reset_after >= 0.0


@given(header_mappings(), st.one_of(nows(), st.floats()))
def test_parsing_itself_never_raises(headers: dict[str, str], now: float) -> None:
    """The parser reads any headers without needing its last-resort exception guard."""
    _parse_rate_limit(headers, now=now)
