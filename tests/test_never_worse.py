"""A breaker and a deadline that never make an outage worse, on all four client kinds.

Each test runs against a real FlakyServer on 127.0.0.1 through requests, httpx, httpx
under asyncio and httpx under trio (see tests/clients.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from retrykit import (
    Backoff,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    CircuitStateChanged,
    Event,
    Metrics,
    Reason,
    RetryPolicy,
    origin_key,
)
from retrykit.testing import FlakyServer, Hang, Reply, Reset
from tests.clients import KINDS, Call, send, send_all

if TYPE_CHECKING:
    from collections.abc import Iterator

QUICK = RetryPolicy(backoff=Backoff(base=0.01, cap=0.05))


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as flaky:
        yield flaky


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def test_a_burst_that_retries_absorb_never_opens_the_circuit(
    server: FlakyServer, kind: str
) -> None:
    """20 GETs at once, each 503, reset, 200: with the default breaker all 20 get 200."""
    calls = []
    for index in range(20):
        server.script(f"/burst/{index}", [Reply(503), Reset(), Reply(200, body=b"ok")])
        calls.append(Call(server.url(f"/burst/{index}")))
    breaker = CircuitBreaker()
    outcomes = send_all(kind, calls, policy=QUICK, breaker=breaker)
    assert [outcome.status for outcome in outcomes] == [200] * 20
    assert breaker.state(origin_key(server.base_url)) is BreakerState.CLOSED


def test_counting_attempts_turns_the_same_burst_into_an_outage(
    server: FlakyServer, kind: str
) -> None:
    """With counts="attempts" (the classic rule) the burst opens the circuit: a one-line switch."""
    calls = []
    for index in range(20):
        server.script(f"/burst/{index}", [Reply(503), Reset(), Reply(200, body=b"ok")])
        calls.append(Call(server.url(f"/burst/{index}")))
    breaker = CircuitBreaker(counts="attempts")
    outcomes = send_all(kind, calls, policy=QUICK, breaker=breaker)
    assert sum(outcome.status == 200 for outcome in outcomes) < 20
    assert breaker.snapshot(origin_key(server.base_url)).openings >= 1


@pytest.mark.parametrize("timeout", [30.0, None])
def test_the_deadline_bounds_an_attempt_in_flight(
    server: FlakyServer, kind: str, timeout: float | None
) -> None:
    """deadline=1.0 against a server that hangs 10 s ends near 1 s, whatever timeout= says."""
    server.script("/hang", Hang(seconds=10.0))
    policy = RetryPolicy(deadline=1.0, backoff=Backoff(base=0.01))
    outcome = send(kind, Call(server.url("/hang"), timeout=timeout), policy=policy)
    assert outcome.error is not None
    # At least the deadline (the hang was waited on), far less than the hang or timeout=;
    # the upper margin is wide for a loaded 2-core machine.
    assert 1.0 <= outcome.elapsed < 2.5
    assert outcome.history is not None
    assert outcome.history.reason == Reason.DEADLINE


def test_one_opening_is_one_event_for_thirty_clients(
    server: FlakyServer, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """30 clients share a breaker: one opening is one event, one log line, one open counted."""
    server.script("/down", Reply(503))
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60.0)
    metrics = Metrics()
    events: list[Event] = []
    policy = RetryPolicy(max_attempts=1)
    with caplog.at_level(logging.WARNING, logger="retrykit"):
        for _ in range(30):
            send(
                kind,
                Call(server.url("/down")),
                policy=policy,
                breaker=breaker,
                hooks=[metrics, events.append],
            )
    opened = [e for e in events if isinstance(e, CircuitStateChanged)]
    assert len(opened) == 1
    assert sum("closed -> open" in record.getMessage() for record in caplog.records) == 1
    assert metrics.snapshot()["circuits"][origin_key(server.base_url)]["opens"] == 1
    assert breaker._listeners == ()
    assert server.hits("/down") == 1


def test_a_rejection_says_what_opened_the_circuit(server: FlakyServer, kind: str) -> None:
    """The caller's CircuitOpenError names the status that opened the circuit."""
    server.script("/down", Reply(503))
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60.0)
    policy = RetryPolicy(max_attempts=1)
    send(kind, Call(server.url("/down")), policy=policy, breaker=breaker)
    outcome = send(kind, Call(server.url("/down")), policy=policy, breaker=breaker)
    assert isinstance(outcome.error, CircuitOpenError)
    assert outcome.error.opened_by == 503
    assert outcome.error.retry_after == pytest.approx(60.0, abs=1.0)
