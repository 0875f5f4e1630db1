"""The four client kinds every adapter behaviour is tested on, behind one small interface.

``requests`` (a Session with `RetryAdapter`), ``httpx`` (a Client with `RetryTransport`),
and ``asyncio`` / ``trio`` (an AsyncClient with `AsyncRetryTransport` under that event
loop). `send_all` makes calls concurrently through one client of the kind (threads for
the blocking clients, tasks for the async ones) and returns each caller's `Outcome`.
The retrykit arguments are the same for every kind; ``read_body`` applies to httpx only
(requests reads the body inside the loop unless the caller streams).
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
    from collections.abc import Callable, Sequence

KINDS: Final = ("requests", "httpx", "asyncio", "trio")


@attrs.frozen
class Call:
    """One call a test makes: method, URL, headers, body, and the client-level timeout."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float | None = 5.0


@attrs.frozen
class Outcome:
    """What one caller got: a response's status and body, or an exception; and how long."""

    status: int | None
    body: bytes
    error: BaseException | None
    history: RetryHistory | None
    elapsed: float
    started: float


def _outcome(started: float, response: Any = None, error: BaseException | None = None) -> Outcome:
    elapsed = time.monotonic() - started
    if error is not None:
        return Outcome(None, b"", error, get_history(error), elapsed, started)
    return Outcome(
        response.status_code, response.content, None, get_history(response), elapsed, started
    )


def _requests_calls(calls: Sequence[Call], settings: dict[str, Any]) -> list[Outcome]:
    settings = {key: value for key, value in settings.items() if key != "read_body"}
    adapter = RetryAdapter(**settings)
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", adapter)

    def one(call: Call) -> Outcome:
        started = time.monotonic()
        try:
            response = session.request(
                call.method,
                call.url,
                headers=dict(call.headers),
                data=call.body,
                timeout=call.timeout,
            )
        except Exception as exc:
            return _outcome(started, error=exc)
        return _outcome(started, response)

    try:
        return _threaded(one, calls)
    finally:
        session.close()


def _httpx_calls(calls: Sequence[Call], settings: dict[str, Any]) -> list[Outcome]:
    client = httpx.Client(transport=RetryTransport(**settings), trust_env=False, timeout=None)  # noqa: S113 - each call passes its own

    def one(call: Call) -> Outcome:
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
            return _outcome(started, error=exc)
        return _outcome(started, response)

    try:
        return _threaded(one, calls)
    finally:
        client.close()


def _threaded(one: Callable[[Call], Outcome], calls: Sequence[Call]) -> list[Outcome]:
    if len(calls) == 1:
        return [one(calls[0])]
    results: list[Outcome | None] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        results[index] = one(calls[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [result for result in results if result is not None]


async def _async_calls(calls: Sequence[Call], settings: dict[str, Any]) -> list[Outcome]:
    results: list[Outcome | None] = [None] * len(calls)
    async with httpx.AsyncClient(
        transport=AsyncRetryTransport(**settings),
        trust_env=False,
        timeout=None,  # noqa: S113
    ) as client:

        async def one(index: int, call: Call) -> None:
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
                results[index] = _outcome(started, error=exc)
            else:
                results[index] = _outcome(started, response)

        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(one, index, call)
    return [result for result in results if result is not None]


def send_all(kind: str, calls: Sequence[Call], **settings: Any) -> list[Outcome]:
    """Make ``calls`` at once through one client of ``kind``; return each caller's outcome.

    ``settings`` are the retrykit arguments of the adapter or transport.
    """
    if kind == "requests":
        return _requests_calls(calls, settings)
    if kind == "httpx":
        return _httpx_calls(calls, settings)
    if "sleep" in settings and not _is_async(settings["sleep"]):
        raise ValueError("give an async sleep for the async kinds")
    return anyio.run(_async_calls, calls, settings, backend=kind)


def send(kind: str, call: Call, **settings: Any) -> Outcome:
    """Make one call through a new client of ``kind``; return what the caller got."""
    return send_all(kind, [call], **settings)[0]


def _is_async(function: object) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)
