"""The rate limiter on the four client kinds, against real servers on 127.0.0.1.

`RateLimitServer` (tests/ratelimit_server.py) enforces 10 requests a second and says so in
``X-RateLimit-*`` or in the IETF ``RateLimit`` fields; `FlakyServer` plays scripted
refusals. The suite makes 30 calls per run (three windows); the benchmark (scenario 11)
makes 100 beside the peers.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import TYPE_CHECKING

import httpx
import pytest
import requests

import retrykit
from retrykit import AdaptiveThrottle, RateLimiter, RateLimitWaited, RetryPolicy, get_history
from retrykit.httpx import RetryTransport
from retrykit.testing import FlakyServer, Reply
from tests.clients import KINDS
from tests.ratelimit_server import STYLES, RateLimitServer, Style, drive

if TYPE_CHECKING:
    from collections.abc import Iterator

CALLS = 30
RATE = 10  # requests a second the server allows
SINGLE = RetryPolicy(max_attempts=1)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    with FlakyServer() as server:
        yield server


@pytest.mark.parametrize("style", STYLES)
def test_default_limiter_gets_no_429_and_keeps_the_pace(kind: str, style: Style) -> None:
    """30 calls (8 threads, or 30 tasks at once) at 10/s: no 429, within 10 % of 3 s."""
    with RateLimitServer(limit=RATE, window=1.0, style=style) as server:
        run = drive(kind, server.url("/items"), CALLS)
        assert run.errors == ()
        assert run.count(200) == CALLS
        assert server.refused() == 0
        assert server.hits() == CALLS
        assert server.most_in_a_window <= RATE
    assert run.elapsed <= 1.1 * CALLS / RATE


@pytest.mark.parametrize("offset", [-600.0, 600.0])
def test_a_server_clock_ten_minutes_off_is_still_obeyed(kind: str, offset: float) -> None:
    """Epoch resets from a server 10 minutes off: waits are reset minus Date, still no 429."""
    with RateLimitServer(limit=3, window=1.0, clock_offset=offset) as server:
        run = drive(kind, server.url("/skewed"), 7, threads=4)
        assert run.errors == ()
        assert server.refused() == 0
        assert run.count(200) == 7


def _cooldown_script(flaky: FlakyServer, path: str) -> str:
    flaky.script(path, [Reply(429, headers={"Retry-After": "120"}), Reply(200, body=b"ok")])
    return flaky.url(path)


def test_a_429s_retry_after_refuses_the_next_call_without_sending(
    kind: str, flaky: FlakyServer
) -> None:
    """Retry-After 120 > max_retry_after: the next call fails at once, telling the cooldown."""
    url = _cooldown_script(flaky, "/cooldown")
    run = drive(kind, url, 2, threads=1)
    assert run.count(429) == 1  # the call that got it returns the 429 at once
    assert flaky.hits("/cooldown") == 1  # the other was never sent
    (error,) = run.errors
    assert isinstance(error, retrykit.RateLimitExceededError)
    assert isinstance(error, retrykit.RateLimitError)
    assert error.retry_after == pytest.approx(120.0, abs=1.0)
    assert error.info.user_message == "Too many requests. Please try again in 2 minutes."
    history = get_history(error)
    assert history is not None
    assert history.reason == "rate_limited"
    assert history.attempts == ()  # no attempt was made
    client_error = requests.RequestException if kind == "requests" else httpx.TransportError
    assert isinstance(error, client_error)  # the client's own error type too


def test_limiter_none_sends_anyway(kind: str, flaky: FlakyServer) -> None:
    """limiter=None turns it off: the second call is sent and gets its 200."""
    url = _cooldown_script(flaky, "/off")
    run = drive(kind, url, 2, threads=1, limiter=None)
    assert run.errors == ()
    assert sorted(status or 0 for status in run.statuses) == [200, 429]
    assert flaky.hits("/off") == 2


def test_github_primary_limit_on_a_403(kind: str, flaky: FlakyServer) -> None:
    """A 403 with remaining 0 and an epoch reset an hour away: the next call fails fast."""
    reset = int(time.time()) + 3600
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    flaky.script("/repos", [Reply(403, headers=headers), Reply(200)])
    run = drive(kind, flaky.url("/repos"), 2, threads=1)
    assert run.count(403) == 1
    (error,) = run.errors
    assert isinstance(error, retrykit.RateLimitExceededError)
    assert error.retry_after == pytest.approx(reset - time.time(), abs=2.0)
    assert flaky.hits("/repos") == 1


def test_github_secondary_limit_retry_after_on_a_403(kind: str, flaky: FlakyServer) -> None:
    """A 403 with only retry-after (a secondary limit) blocks the origin for that long."""
    flaky.script("/search", [Reply(403, headers={"retry-after": "90"}), Reply(200)])
    run = drive(kind, flaky.url("/search"), 2, threads=1)
    (error,) = run.errors
    assert isinstance(error, retrykit.RateLimitExceededError)
    assert error.retry_after == pytest.approx(90.0, abs=1.0)
    assert error.info.user_message == "Too many requests. Please try again in 2 minutes."


def test_a_configured_rate_paces_a_server_that_says_nothing(kind: str, flaky: FlakyServer) -> None:
    """RateLimiter(rate=20, burst=2) on an origin without rate-limit fields: 6 calls take 0.2 s."""
    flaky.script("/quiet", Reply(200, body=b"ok"))
    limiter = RateLimiter(rate=20, per=1.0, burst=2)
    run = drive(kind, flaky.url("/quiet"), 6, threads=3, limiter=limiter)
    assert run.count(200) == 6
    assert run.elapsed >= 0.2 - 0.01  # burst of 2, then one every 50 ms


def test_the_limiters_holds_are_events(kind: str, flaky: FlakyServer) -> None:
    """Each attempt the limiter held is one RateLimitWaited, with the wait it made."""
    flaky.script("/quiet", Reply(200, body=b"ok"))
    waits: list[RateLimitWaited] = []
    hooks = [lambda event: waits.append(event) if isinstance(event, RateLimitWaited) else None]
    limiter = RateLimiter(rate=20, per=1.0, burst=1)
    run = drive(kind, flaky.url("/quiet"), 4, threads=1, limiter=limiter, hooks=hooks)
    assert run.count(200) == 4
    assert len(waits) >= 2  # the first goes at once; most of the others wait their 50 ms
    # One call at a time waits 50 ms each; four tasks at once wait 50, 100 and 150 ms.
    assert all(0.0 < event.wait <= 0.15 + 0.05 for event in waits)
    assert {event.attempt for event in waits} == {1}
    assert sum(event.wait for event in waits) >= 3 * 0.05 - 0.03


def test_the_throttle_sheds_load_a_refusing_server_cannot_take() -> None:
    """200 calls a second for 3 s to a server with room for 50: hits fall toward 2 x accepted.

    Unthrottled, 600 requests would reach it and three in four be refused.
    """
    offered = 600
    with RateLimitServer(limit=5, window=0.1) as server:
        transport = RetryTransport(limiter=None, throttle=AdaptiveThrottle(), policy=SINGLE)
        with httpx.Client(transport=transport) as client:

            def paced() -> list[int | None]:
                statuses: list[int | None] = []
                for _ in range(offered // 4):
                    try:
                        statuses.append(client.get(server.url("/hot")).status_code)
                    except retrykit.RateLimitExceededError:
                        statuses.append(None)  # shed: never sent
                    time.sleep(0.02)
                return statuses

            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                results = [
                    status for part in pool.map(lambda _: paced(), range(4)) for status in part
                ]
        accepted = server.hits() - server.refused()
        assert results.count(200) == accepted
        assert results.count(None) + server.hits() == offered
        assert accepted >= 100  # most of the room for 150 is used
        assert server.hits() <= 2.5 * accepted  # k = 2, with the first answers' lag
        assert server.hits() < 0.7 * offered


def test_the_throttle_rejects_nothing_from_a_healthy_server(kind: str) -> None:
    """A burst to a server that accepts everything: not one call is shed by the throttle."""
    with RateLimitServer(limit=10_000, window=60.0) as server:
        run = drive(kind, server.url("/healthy"), 40, throttle=AdaptiveThrottle())
        assert run.errors == ()
        assert run.count(200) == 40
