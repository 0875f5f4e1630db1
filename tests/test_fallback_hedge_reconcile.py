"""Fallback origins, hedged reads and reconciled writes, on all four client kinds.

Each test runs against real FlakyServers on 127.0.0.1 through requests, httpx, httpx
under asyncio and httpx under trio (see tests/clients.py).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests

from retrykit import (
    Backoff,
    CircuitBreaker,
    Event,
    FallbackUsed,
    Reason,
    RetryBudget,
    RetryPolicy,
    WriteAppliedError,
    origin_key,
)
from retrykit.testing import FakeClock, FlakyServer, Reply, Reset
from tests.clients import KINDS, Call, send

if TYPE_CHECKING:
    from collections.abc import Iterator

QUICK = RetryPolicy(backoff=Backoff(base=0.001, cap=0.01))


@pytest.fixture
def primary() -> Iterator[FlakyServer]:
    with FlakyServer() as server:
        yield server


@pytest.fixture
def fallback() -> Iterator[FlakyServer]:
    with FlakyServer() as server:
        yield server


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- fallback origins ---------------------------------------------------------------------


def test_a_502_sends_the_next_attempt_to_the_fallback(
    primary: FlakyServer, fallback: FlakyServer, kind: str
) -> None:
    """After a 502 the retry goes to the fallback origin, path, query and headers kept."""
    primary.script("/v1/items", Reply(502))
    fallback.script("/v1/items", Reply(200, body=b"from the fallback"))
    events: list[Event] = []
    call = Call(primary.url("/v1/items?page=2"), headers=(("Authorization", "Bearer t0k3n"),))
    outcome = send(
        kind,
        call,
        policy=QUICK,
        fallbacks={primary.base_url: [fallback.base_url]},
        hooks=[events.append],
    )
    assert (outcome.status, outcome.body) == (200, b"from the fallback")
    assert outcome.history is not None
    assert [a.origin for a in outcome.history.attempts] == [
        origin_key(primary.base_url),
        origin_key(fallback.base_url),
    ]
    received = fallback.received("/v1/items")[0]
    assert received.target == "/v1/items?page=2"
    assert received.header("Authorization") == "Bearer t0k3n"
    assert received.header("Host") == f"127.0.0.1:{fallback.port}"
    assert any(isinstance(event, FallbackUsed) for event in events)


def test_a_refused_connection_moves_to_the_fallback(fallback: FlakyServer, kind: str) -> None:
    """A primary that refuses connections is replaced by the fallback at once."""
    dead = f"http://127.0.0.1:{closed_port()}"
    outcome = send(kind, Call(dead + "/ping"), policy=QUICK, fallbacks={dead: [fallback.base_url]})
    assert outcome.status == 200
    assert fallback.hits("/ping") == 1


def test_an_open_primary_circuit_sends_calls_to_the_fallback_until_it_closes(
    primary: FlakyServer, fallback: FlakyServer, kind: str
) -> None:
    """While the primary's circuit is open calls go to the fallback; once closed, back."""
    primary.script("/a", [Reply(503), Reply(200, body=b"primary")])
    clock = FakeClock()  # the break passes on this clock: no real wait
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0.5, clock=clock)
    settings: dict[str, Any] = {
        "policy": RetryPolicy(max_attempts=1),
        "breaker": breaker,
        "fallbacks": {primary.base_url: [fallback.base_url]},
    }
    send(kind, Call(primary.url("/a")), **settings)  # the 503 opens the primary's circuit
    during = send(kind, Call(primary.url("/a")), **settings)
    assert during.status == 200
    assert fallback.hits("/a") == 1
    clock.advance(0.6)
    after = send(kind, Call(primary.url("/a")), **settings)
    assert (after.status, after.body) == (200, b"primary")
    assert primary.hits("/a") == 2


def test_an_unknown_outcome_is_never_sent_to_the_fallback(
    primary: FlakyServer, fallback: FlakyServer, kind: str
) -> None:
    """A POST reset after it was sent may have been applied: no fallback repeats it."""
    primary.script("/pay", Reset())
    outcome = send(
        kind,
        Call(primary.url("/pay"), method="POST", body=b"{}"),
        policy=QUICK,
        fallbacks={primary.base_url: [fallback.base_url]},
    )
    assert outcome.error is not None
    assert fallback.hits("/pay") == 0


def test_fallbacks_are_checked_when_the_adapter_is_built() -> None:
    """A fallback with a path, or not a mapping of origins, is refused at construction."""
    from retrykit.requests import RetryAdapter

    with pytest.raises(ValueError, match="fallbacks"):
        RetryAdapter(fallbacks={"https://a.example": ["https://b.example/v1"]})
    with pytest.raises(TypeError, match="fallbacks"):
        RetryAdapter(fallbacks=["https://b.example"])  # type: ignore[arg-type]


# -- hedged reads -----------------------------------------------------------------------------


def test_a_slow_first_attempt_is_hedged(primary: FlakyServer, kind: str) -> None:
    """No answer after hedge_after: a second attempt goes out and its answer wins."""
    # The slow answer is far off, so "fast" won by order and the bound has room on a
    # loaded machine (the server's close ends the slow one's wait at teardown).
    primary.script("/slow", [Reply(200, body=b"late", delay=5.0), Reply(200, body=b"fast")])
    policy = RetryPolicy(hedge_after=0.05)
    outcome = send(kind, Call(primary.url("/slow")), policy=policy)
    assert (outcome.status, outcome.body) == (200, b"fast")
    assert outcome.elapsed < 3.0
    assert outcome.history is not None
    reasons = sorted(str(a.reason) for a in outcome.history.attempts)
    assert reasons == [Reason.HEDGE_LOST, Reason.SUCCESS]
    assert all(a.hedged for a in outcome.history.attempts)


def test_a_write_is_never_hedged(primary: FlakyServer, kind: str) -> None:
    """A POST is not safe to repeat: it is sent once, however slow."""
    primary.script("/slow", Reply(201, delay=0.3))
    policy = RetryPolicy(hedge_after=0.05)
    outcome = send(kind, Call(primary.url("/slow"), method="POST", body=b"x"), policy=policy)
    assert outcome.status == 201
    assert primary.hits("/slow") == 1


def test_hedges_are_paid_from_the_retry_budget(primary: FlakyServer, kind: str) -> None:
    """With the budget spent no hedge goes out: the first attempt is simply awaited."""
    primary.script("/slow", [Reply(200, body=b"late", delay=0.3), Reply(200, body=b"fast")])
    empty = RetryBudget(ratio=0.0, min_per_second=0.0)
    outcome = send(
        kind, Call(primary.url("/slow")), policy=RetryPolicy(hedge_after=0.05), budget=empty
    )
    assert outcome.body == b"late"
    assert primary.hits("/slow") == 1


# -- reconciling writes ---------------------------------------------------------------------


def _lookup(kind: str, server: FlakyServer) -> Any:
    """A reconcile that asks the server whether the order with our reference exists."""
    url = server.url("/orders/ref-1")
    if kind == "requests":
        return lambda _request: requests.get(url, timeout=5).status_code == 200
    if kind == "httpx":
        return lambda _request: httpx.get(url, timeout=5).status_code == 200

    async def lookup(_request: object) -> bool:
        async with httpx.AsyncClient() as client:
            return (await client.get(url, timeout=5)).status_code == 200

    return lookup


def _applied(server: FlakyServer) -> int:
    """Writes the server applied: POSTs whose body it read before answering or resetting."""
    return sum(1 for request in server.received("/orders") if request.body)


def test_a_write_applied_before_a_reset_is_reconciled_not_repeated(
    primary: FlakyServer, kind: str
) -> None:
    """The server applied the POST, then reset: reconcile finds it, nothing is resent."""
    primary.script("/orders", Reset())
    primary.script("/orders/ref-1", Reply(200, body=b'{"id": 7}'))
    outcome = send(
        kind,
        Call(primary.url("/orders"), method="POST", body=b'{"ref": "ref-1"}'),
        policy=QUICK,
        reconcile=_lookup(kind, primary),
    )
    assert isinstance(outcome.error, WriteAppliedError)
    assert outcome.history is not None
    assert outcome.history.reason == Reason.RECONCILED_APPLIED
    assert _applied(primary) == 1


def test_a_write_reset_before_it_was_applied_is_sent_again(primary: FlakyServer, kind: str) -> None:
    """The reset came before the server read the POST: reconcile says no, it is retried."""
    primary.script("/orders", [Reset(after_read=False), Reply(201, body=b"created")])
    primary.script("/orders/ref-1", Reply(404))
    outcome = send(
        kind,
        Call(primary.url("/orders"), method="POST", body=b'{"ref": "ref-1"}'),
        policy=QUICK,
        reconcile=_lookup(kind, primary),
    )
    assert outcome.status == 201
    assert _applied(primary) == 1


def test_a_reconcile_that_raises_changes_nothing(primary: FlakyServer, kind: str) -> None:
    """A broken reconcile counts as 'cannot tell': the call ends as it would have."""
    primary.script("/orders", Reset())

    def broken(_request: object) -> bool:
        raise RuntimeError("lookup failed")

    async def broken_async(_request: object) -> bool:
        raise RuntimeError("lookup failed")

    outcome = send(
        kind,
        Call(primary.url("/orders"), method="POST", body=b"{}"),
        policy=QUICK,
        reconcile=broken if kind in ("requests", "httpx") else broken_async,
    )
    assert outcome.error is not None
    assert not isinstance(outcome.error, WriteAppliedError)
    assert outcome.history is not None
    assert outcome.history.reason == Reason.UNSAFE_METHOD
    assert primary.hits("/orders") == 1
