"""unreadable_wait_headers: the wait headers a server sent that could not be read."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given

from retrykit._core._headers import WAIT_HEADERS, unreadable_wait_headers
from tests.strategies import header_mappings

NOW = 1_714_521_600.0


@pytest.mark.parametrize(
    ("headers", "names"),
    [
        ({"Retry-After": "soon"}, ("Retry-After",)),
        ({"retry-after": ""}, ("Retry-After",)),
        ({"Retry-After": "Sun, 06 Nov 1994 08:49:37 CET"}, ("Retry-After",)),
        ({"X-RateLimit-Reset": "later"}, ("X-RateLimit-Reset",)),
        ({"x-ratelimit-remaining": "-1"}, ("X-RateLimit-Remaining",)),
        ({"RateLimit-Limit": "lots"}, ("RateLimit-Limit",)),
        ({"RateLimit": '"default";r=abc;t=-1'}, ("RateLimit",)),
        ({"RateLimit": "garbage"}, ("RateLimit",)),
        ({"RateLimit-Policy": '"default";w=60'}, ("RateLimit-Policy",)),
        (
            {"X-RateLimit-Reset": "x", "Retry-After": "y", "X-RateLimit-Limit": "10"},
            ("Retry-After", "X-RateLimit-Reset"),
        ),
    ],
)
def test_unreadable_headers_are_named(headers: dict[str, str], names: tuple[str, ...]) -> None:
    """Each wait header present whose value cannot be read is named, in WAIT_HEADERS order."""
    assert unreadable_wait_headers(headers, now=NOW) == names


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Retry-After": "120"},
        {"Retry-After": "1, 1"},
        {"Retry-After": "Sun, 6 Nov 1994 08:49:37 UTC"},
        {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"},
        {"RateLimit": '"default";r=0;t=30', "RateLimit-Policy": '"default";q=100;w=60'},
        {"RateLimit": "limit=100, remaining=0, reset=30"},
        {"Retry-After": "9" * 400},
    ],
)
def test_readable_or_absent_headers_are_not_named(headers: dict[str, str]) -> None:
    """Headers that are readable, or absent, are never named."""
    assert unreadable_wait_headers(headers, now=NOW) == ()


def test_names_in_any_letter_case_and_header_type() -> None:
    """Header names match in any case, in plain dicts and in httpx.Headers alike."""
    headers = httpx.Headers({"retry-after": "soon", "x-RATELIMIT-reset": "x"})
    assert unreadable_wait_headers(headers, now=NOW) == ("Retry-After", "X-RateLimit-Reset")


@given(header_mappings())
def test_only_wait_headers_are_ever_named(headers: dict[str, str]) -> None:
    """Any headers give a subset of WAIT_HEADERS, and never an exception."""
    assert set(unreadable_wait_headers(headers, now=NOW)) <= set(WAIT_HEADERS)
