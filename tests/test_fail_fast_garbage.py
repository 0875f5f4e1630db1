"""A rejection by an open circuit leaves no garbage cycles behind, on all four client kinds.

The fail-fast path must cost what raising at once costs. An exception held by a frame of
its own traceback makes a cycle that only the garbage collector frees, later and at a
price; so each rejected call is compared with the same call through an inner transport
(or adapter) that raises a connection error at once: no more unreachable objects.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter

from retrykit import CircuitBreaker, origin_key
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

URL = "http://127.0.0.1:9/items"  # never reached: the circuit is open, or the inner raises
CALLS = 200


@pytest.fixture(autouse=True)
def _collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _cycles(calls: Callable[[], None]) -> int:
    """Return the unreachable objects ``calls`` left, per call."""
    calls()  # first-use allocations
    gc.collect()
    calls()
    return gc.collect() // CALLS


def _open_breaker() -> CircuitBreaker:
    breaker = CircuitBreaker()
    breaker.force_open(origin_key(URL))
    return breaker


class _RaisingAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("refused at once", request=request)


def _raising(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused at once", request=request)


async def _raising_async(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused at once", request=request)


def _sync_calls(get: Callable[[str], object]) -> Callable[[], None]:
    def calls() -> None:
        for _ in range(CALLS):
            with contextlib.suppress(httpx.TransportError, requests.RequestException):
                get(URL)

    return calls


def test_a_rejected_requests_call_leaves_no_cycles() -> None:
    """requests: no more garbage than an adapter raising ConnectionError at once."""
    with requests.Session() as ours, requests.Session() as bare:
        ours.mount("http://", RetryAdapter(breaker=_open_breaker()))
        bare.mount("http://", _RaisingAdapter())
        assert _cycles(_sync_calls(ours.get)) <= _cycles(_sync_calls(bare.get))


def test_a_rejected_httpx_call_leaves_no_cycles() -> None:
    """httpx: no more garbage than a transport raising ConnectError at once."""
    ours = RetryTransport(httpx.MockTransport(_raising), breaker=_open_breaker())
    with (
        httpx.Client(transport=ours) as client,
        httpx.Client(transport=httpx.MockTransport(_raising)) as bare,
    ):
        assert _cycles(_sync_calls(client.get)) <= _cycles(_sync_calls(bare.get))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_rejected_async_call_leaves_no_cycles(backend: str) -> None:
    """httpx async, under asyncio and trio: no more garbage than raising at once."""

    async def counts() -> tuple[int, int]:
        ours = AsyncRetryTransport(httpx.MockTransport(_raising_async), breaker=_open_breaker())
        async with (
            httpx.AsyncClient(transport=ours) as client,
            httpx.AsyncClient(transport=httpx.MockTransport(_raising_async)) as bare,
        ):
            return await _async_cycles(client), await _async_cycles(bare)

    ours, raising_at_once = anyio.run(counts, backend=backend)
    assert ours <= raising_at_once


async def _async_cycles(client: httpx.AsyncClient) -> int:
    async def calls() -> None:
        for _ in range(CALLS):
            with contextlib.suppress(httpx.TransportError):
                await client.get(URL)

    await calls()
    gc.collect()
    await calls()
    return gc.collect() // CALLS
