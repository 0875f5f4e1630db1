"""What a call an open circuit refuses raises, on all four client kinds.

The error is the client's own transport error (retrykit's `CircuitOpenError` too), and it
carries the request and a history of no attempts, whether a hook hears of the rejection
(the general way) or nothing does (the short way, which builds the least it can).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import requests

import retrykit
from retrykit import CircuitBreaker, Reason, origin_key
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter

if TYPE_CHECKING:
    from retrykit import Event

URL = "http://127.0.0.1:9/items"  # never reached: the circuit is open


def _open_breaker() -> CircuitBreaker:
    breaker = CircuitBreaker(recovery_timeout=30.0)
    breaker.force_open(origin_key(URL))
    return breaker


def _unreached(request: httpx.Request) -> httpx.Response:
    raise AssertionError("an open circuit sends nothing")


async def _unreached_async(request: httpx.Request) -> httpx.Response:
    raise AssertionError("an open circuit sends nothing")


def _hooks(observed: bool) -> tuple[list[Event], list[Any]]:
    events: list[Event] = []
    return events, [events.append] if observed else []


def _check(error: BaseException, events: list[Event], observed: bool) -> None:
    assert isinstance(error, retrykit.CircuitOpenError)
    assert error.key == origin_key(URL)
    assert 0 < error.retry_after <= 30.0
    history = error.retry_history  # type: ignore[attr-defined]
    assert history.reason == Reason.CIRCUIT_OPEN
    assert history.attempts == ()
    assert history.total_time >= 0
    assert bool(events) is observed


@pytest.mark.parametrize("observed", [False, True])
def test_requests_rejection_raises_its_connection_error(observed: bool) -> None:
    """requests: a ConnectionError naming the prepared request, with its history."""
    events, hooks = _hooks(observed)
    with requests.Session() as session:
        session.mount("http://", RetryAdapter(breaker=_open_breaker(), hooks=hooks))
        with pytest.raises(requests.ConnectionError) as info:
            session.get(URL)
    assert info.value.request is not None
    assert info.value.request.url == URL
    _check(info.value, events, observed)


@pytest.mark.parametrize("observed", [False, True])
def test_httpx_rejection_raises_its_transport_error(observed: bool) -> None:
    """httpx: a TransportError naming the request, with its history."""
    events, hooks = _hooks(observed)
    transport = RetryTransport(
        httpx.MockTransport(_unreached), breaker=_open_breaker(), hooks=hooks
    )
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.TransportError) as info:
        client.get(URL)
    assert str(info.value.request.url) == URL
    _check(info.value, events, observed)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("observed", [False, True])
def test_async_rejection_raises_its_transport_error(backend: str, observed: bool) -> None:
    """httpx async, under asyncio and trio: the same error as the sync transport."""
    events, hooks = _hooks(observed)

    async def rejected() -> httpx.TransportError:
        transport = AsyncRetryTransport(
            httpx.MockTransport(_unreached_async), breaker=_open_breaker(), hooks=hooks
        )
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                await client.get(URL)
            except httpx.TransportError as exc:
                return exc
        raise AssertionError("the open circuit let the call through")

    error = anyio.run(rejected, backend=backend)
    assert str(error.request.url) == URL
    _check(error, events, observed)
