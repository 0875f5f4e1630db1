"""The harness of the fault-injection suite: one client of each kind and mode, calls in turn.

A `Mode` is a client kind (``requests``, ``httpx``, ``asyncio``, ``trio``; see
tests/clients.py) with its body mode: ``reads_body`` is requests' ``stream=False`` or
httpx's ``read_body=True``. `run` makes its calls one after another through one client of
that mode (so a later call may meet what an earlier one left on a kept-alive connection)
and returns what each caller got, the body read the way a caller reads it. A
`ByteCounter` passed to `run` counts every body byte the client pulls off the network,
for the drain limits.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Final

import anyio
import attrs
import httpx
import requests

from retrykit import RetryHistory, get_history
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from requests import PreparedRequest, Response
    from urllib3 import BaseHTTPResponse

KINDS: Final = ("requests", "httpx", "asyncio", "trio")
ASYNC_KINDS: Final = ("asyncio", "trio")


@attrs.frozen
class Mode:
    """A client kind, and whether the retry loop reads the final body itself."""

    kind: str
    reads_body: bool

    def __str__(self) -> str:
        if self.kind == "requests":
            return "requests-stream" if not self.reads_body else "requests"
        return f"{self.kind}-read_body" if self.reads_body else self.kind


DEFAULT_MODES: Final = (
    Mode("requests", reads_body=True),
    Mode("httpx", reads_body=False),
    Mode("asyncio", reads_body=False),
    Mode("trio", reads_body=False),
)
"""Each kind as most code uses it: requests without stream=, httpx with read_body off."""

ALL_MODES: Final = (
    *DEFAULT_MODES,
    Mode("requests", reads_body=False),
    Mode("httpx", reads_body=True),
    Mode("asyncio", reads_body=True),
    Mode("trio", reads_body=True),
)


@attrs.frozen
class Call:
    """One call: method, URL, headers, body and the client-level timeout."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float = 5.0


@attrs.frozen
class Got:
    """What one caller got: a status and the body it read, or an exception; and how long."""

    status: int | None
    body: bytes
    error: BaseException | None
    history: RetryHistory | None
    elapsed: float

    @property
    def reasons(self) -> list[str]:
        """The reason each attempt of the history ended with, in order."""
        return [str(attempt.reason) for attempt in self.history.attempts] if self.history else []


class ByteCounter:
    """The body bytes a client read off the network, over every response (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0

    def add(self, count: int) -> None:
        with self._lock:
            self.total += count


# -- counting what the clients read -------------------------------------------------------


class _CountingAdapter(RetryAdapter):
    """A RetryAdapter whose responses count the raw bytes read from them."""

    counter: ByteCounter | None = None

    def build_response(self, req: PreparedRequest, resp: BaseHTTPResponse) -> Response:
        response = super().build_response(req, resp)
        counter = self.counter
        if counter is not None:
            raw = response.raw
            for name in ("read", "read1"):
                original = getattr(raw, name)

                def counted(*args: Any, _read: Any = original, **kwargs: Any) -> bytes:
                    data: bytes = _read(*args, **kwargs)
                    counter.add(len(data))
                    return data

                setattr(raw, name, counted)
        return response


class _CountedStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._counter.add(len(chunk))
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _CountingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        response.stream = _CountedStream(response.stream, self._counter)
        return response

    def close(self) -> None:
        self._inner.close()


class _CountedAsyncIterator:
    """A plain async iterator (no async generator left for trio to finalize)."""

    def __init__(self, inner: AsyncIterator[bytes], counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    def __aiter__(self) -> _CountedAsyncIterator:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._inner.__anext__()
        self._counter.add(len(chunk))
        return chunk


class _CountedAsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _CountedAsyncIterator(self._inner.__aiter__(), self._counter)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CountingAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, counter: ByteCounter) -> None:
        self._inner = inner
        self._counter = counter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        response.stream = _CountedAsyncStream(response.stream, self._counter)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- running calls ----------------------------------------------------------------------------


def _got(started: float, response: Any = None, error: BaseException | None = None) -> Got:
    elapsed = time.monotonic() - started
    if error is not None:
        # A kept traceback keeps its frames' locals, the last response and its socket
        # among them: the resource checks would count the test's own references.
        return Got(None, b"", error.with_traceback(None), get_history(error), elapsed)
    return Got(response.status_code, response.content, None, get_history(response), elapsed)


def _requests_run(
    mode: Mode, calls: Sequence[Call], counter: ByteCounter | None, pool: int, settings: Any
) -> list[Got]:
    adapter = _CountingAdapter(pool_connections=1, pool_maxsize=pool, **settings)
    adapter.counter = counter
    with requests.Session() as session:
        session.trust_env = False
        session.mount("http://", adapter)
        results = []
        for call in calls:
            started = time.monotonic()
            try:
                response = session.request(
                    call.method,
                    call.url,
                    headers=dict(call.headers),
                    data=call.body,
                    timeout=call.timeout,
                    stream=not mode.reads_body,
                )
                # A streaming caller reads the body itself, after the retry loop.
                with response:
                    _ = response.content
            except Exception as exc:
                results.append(_got(started, error=exc))
            else:
                results.append(_got(started, response))
        return results


def _limits(pool: int) -> httpx.Limits:
    return httpx.Limits(max_connections=pool, max_keepalive_connections=pool)


def _httpx_run(
    mode: Mode, calls: Sequence[Call], counter: ByteCounter | None, pool: int, settings: Any
) -> list[Got]:
    inner: httpx.BaseTransport = httpx.HTTPTransport(limits=_limits(pool))
    if counter is not None:
        inner = _CountingTransport(inner, counter)
    transport = RetryTransport(inner, read_body=mode.reads_body, **settings)
    results = []
    with httpx.Client(transport=transport, trust_env=False) as client:
        for call in calls:
            started = time.monotonic()
            try:
                response = client.request(
                    call.method,
                    call.url,
                    headers=dict(call.headers),
                    content=call.body,
                    timeout=call.timeout,
                )
            except Exception as exc:
                results.append(_got(started, error=exc))
            else:
                results.append(_got(started, response))
    return results


async def _async_run(
    mode: Mode, calls: Sequence[Call], counter: ByteCounter | None, pool: int, settings: Any
) -> list[Got]:
    inner: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=_limits(pool))
    if counter is not None:
        inner = _CountingAsyncTransport(inner, counter)
    transport = AsyncRetryTransport(inner, read_body=mode.reads_body, **settings)
    results = []
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        for call in calls:
            started = time.monotonic()
            try:
                response = await client.request(
                    call.method,
                    call.url,
                    headers=dict(call.headers),
                    content=call.body,
                    timeout=call.timeout,
                )
            except Exception as exc:
                results.append(_got(started, error=exc))
            else:
                results.append(_got(started, response))
    return results


def run(
    mode: Mode,
    calls: Sequence[Call],
    *,
    counter: ByteCounter | None = None,
    pool: int = 10,
    **settings: Any,
) -> list[Got]:
    """Make ``calls`` in turn through one new client of ``mode``; return what each caller got.

    ``settings`` are the retrykit arguments of the adapter or transport; ``pool`` is the
    client's connection pool size.
    """
    if mode.kind == "requests":
        return _requests_run(mode, calls, counter, pool, settings)
    if mode.kind == "httpx":
        return _httpx_run(mode, calls, counter, pool, settings)
    return anyio.run(_async_run, mode, calls, counter, pool, settings, backend=mode.kind)


def one(mode: Mode, call: Call, **settings: Any) -> Got:
    """Make one call through a new client of ``mode``; return what the caller got."""
    return run(mode, [call], **settings)[0]


def concurrently(
    kind: str, calls: Sequence[Call], *, workers: int, pool: int, **settings: Any
) -> list[Got]:
    """Make ``calls`` through one client of ``kind``, ``workers`` at a time; return each result.

    The body is read inside the retry loop (the default mode of each kind but httpx's,
    which reads it through ``client.request``).
    """
    if kind in ASYNC_KINDS:
        return anyio.run(_async_concurrently, calls, workers, pool, settings, backend=kind)
    results: list[Got | None] = [None] * len(calls)
    lock = threading.Lock()
    pending = iter(range(len(calls)))
    if kind == "requests":
        adapter = RetryAdapter(pool_connections=1, pool_maxsize=pool, **settings)
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", adapter)

        def send(call: Call) -> Got:
            started = time.monotonic()
            try:
                response = session.request(call.method, call.url, timeout=call.timeout)
            except Exception as exc:
                return _got(started, error=exc)
            return _got(started, response)

        close: Callable[[], None] = session.close
    else:
        transport = RetryTransport(httpx.HTTPTransport(limits=_limits(pool)), **settings)
        client = httpx.Client(transport=transport, trust_env=False)

        def send(call: Call) -> Got:
            started = time.monotonic()
            try:
                response = client.request(call.method, call.url, timeout=call.timeout)
            except Exception as exc:
                return _got(started, error=exc)
            return _got(started, response)

        close = client.close

    def work() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            results[index] = send(calls[index])

    threads = [threading.Thread(target=work) for _ in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        close()
    return [result for result in results if result is not None]


async def _async_concurrently(
    calls: Sequence[Call], workers: int, pool: int, settings: Any
) -> list[Got]:
    results: list[Got | None] = [None] * len(calls)
    pending = iter(range(len(calls)))
    transport = AsyncRetryTransport(httpx.AsyncHTTPTransport(limits=_limits(pool)), **settings)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:

        async def work() -> None:
            for index in pending:
                call = calls[index]
                started = time.monotonic()
                try:
                    response = await client.request(call.method, call.url, timeout=call.timeout)
                except Exception as exc:
                    results[index] = _got(started, error=exc)
                else:
                    results[index] = _got(started, response)

        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(work)
    return [result for result in results if result is not None]
