"""Properties of the rate limiter, by hypothesis: the GCRA bound, and parsers fed garbage."""

from __future__ import annotations

import heapq
import math
import string
from typing import TYPE_CHECKING

from hypothesis import given
from hypothesis import strategies as st

from retrykit import RateLimiter, RateLimitExceededError
from retrykit._core._ratelimit import LONGEST_WAIT, read_server_limit
from tests.strategies import header_mappings, http_dates, nows

if TYPE_CHECKING:
    from collections.abc import Callable

ORIGIN = "http://127.0.0.1:8080"
RATE = 5.0


class _Clock:
    """A monotonic clock a test sets by hand (the wall clock follows it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


# Arrivals anywhere, and just before or after the moments a slot opens (multiples of 0.2 s).
near_a_slot = st.tuples(
    st.integers(min_value=0, max_value=100), st.sampled_from([-1e-3, -1e-5, 0.0, 1e-5])
).map(lambda pair: max(0.0, pair[0] / RATE + pair[1]))


def _ask(
    limiter: RateLimiter, caller: Callable[[], str | None], max_wait: float
) -> tuple[float, RateLimitExceededError | None]:
    """Return the limiter's answer: a wait (0.0: go), or its refusal."""
    try:
        return limiter.acquire(ORIGIN, caller, max_wait=max_wait), None
    except RateLimitExceededError as exc:
        return 0.0, exc


arrivals = st.lists(
    st.one_of(st.floats(min_value=0.0, max_value=20.0), near_a_slot), min_size=1, max_size=60
)


@given(
    times=arrivals,
    burst=st.integers(min_value=1, max_value=6),
    probe_wait=st.sampled_from([0.0, 0.5]),
    max_wait=st.sampled_from([60.0, 0.5, 0.1]),
)
def test_configured_rate_bounds_every_window(
    times: list[float], burst: int, probe_wait: float, max_wait: float
) -> None:
    """rate=5, per=1: in any window of t seconds at most burst + 5 t requests go out.

    Callers arrive at random times, each asking again after the wait it was given (the
    driver's protocol), or giving up when refused. Times are floats, so the bound holds
    to a microsecond.
    """
    clock = _Clock()
    limiter = RateLimiter(
        rate=RATE,
        per=1.0,
        burst=burst,
        probe_wait=probe_wait,
        clock=clock,
        wall_clock=clock.wall,
        rand=lambda: 0.5,
    )
    callers = [lambda: None for _ in times]
    queue = [(at, index) for index, at in enumerate(times)]
    heapq.heapify(queue)
    granted: list[float] = []
    while queue:
        at, index = heapq.heappop(queue)
        clock.now = at
        wait, refusal = _ask(limiter, callers[index], max_wait)
        if refusal is not None:
            assert refusal.retry_after is not None
            assert refusal.retry_after > max_wait
            continue
        if wait == 0.0:
            granted.append(at)
        else:
            assert 0.0 < wait <= max_wait
            heapq.heappush(queue, (at + wait, index))
    granted.sort()
    for first in range(len(granted)):
        for last in range(first, len(granted)):
            span = granted[last] - granted[first]
            assert last - first + 1 <= burst + RATE * span + 1e-6


huge_digits = st.integers(min_value=300, max_value=5000).map(lambda n: "9" * n)
rate_limit_names = st.sampled_from(
    [
        "RateLimit",
        "RateLimit-Policy",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Limit",
        "Retry-After",
        "Date",
    ]
)
values = st.one_of(
    huge_digits,
    huge_digits.map(lambda d: d + ".5"),
    huge_digits.map(lambda d: f'"default";r={d};t={d}'),
    huge_digits.map(lambda d: f'"default";r=0;t={d}'),
    huge_digits.map(lambda d: d + "h" + d + "ms"),
    http_dates(),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet='"=;,:() ' + string.ascii_letters + string.digits, max_size=60),
    st.text(max_size=60),
)
garbage = st.one_of(header_mappings(), st.dictionaries(rate_limit_names, values, max_size=6))


@given(headers=garbage, status=st.sampled_from([200, 403, 429, 503]), now=nows())
def test_reading_never_raises_and_waits_are_bounded(
    headers: dict[str, str], status: int, now: float
) -> None:
    """Whatever the headers hold, reading them never raises; waits are in [0, one day]."""
    limit = read_server_limit(status, headers, now=now)
    for wait in (limit.blocked_for, limit.reset_in):
        assert wait is None or (math.isfinite(wait) and 0.0 <= wait <= LONGEST_WAIT)
    assert limit.remaining is None or limit.remaining >= 0


@given(
    answers=st.lists(st.tuples(st.sampled_from([200, 403, 429, 503]), garbage), max_size=5),
    max_wait=st.floats(min_value=0.001, max_value=120.0),
)
def test_limiter_waits_are_finite_whatever_servers_say(
    answers: list[tuple[int, dict[str, str]]], max_wait: float
) -> None:
    """After any answers, a wait is finite, positive and at most max_wait, or a refusal."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, wall_clock=clock.wall, rand=lambda: 0.999)
    caller = lambda: None  # noqa: E731 - one call
    for status, headers in answers:
        limiter.acquire(ORIGIN, caller, max_wait=LONGEST_WAIT * 2)
        limiter.observe(ORIGIN, caller, status, headers)
        clock.now += 0.5
    wait, refusal = _ask(limiter, lambda: None, max_wait)
    if refusal is not None:
        assert refusal.retry_after is not None
        assert math.isfinite(refusal.retry_after)
        assert max_wait < refusal.retry_after <= LONGEST_WAIT
    else:
        assert wait == 0.0 or 0.0 < wait <= max_wait
