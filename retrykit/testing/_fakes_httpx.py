"""A scripted httpx transport, sync and async, for users' unit tests (see `_fakes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from retrykit.testing._fakes import Body, Headers, Script, as_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable

HttpxStep = httpx.Response | int | tuple[int, Headers, Body] | BaseException | type[BaseException]
"""What a `ScriptedTransport` or `AsyncScriptedTransport` list may hold."""


def _httpx_answer(step: HttpxStep, request: httpx.Request) -> httpx.Response:
    if isinstance(step, type) and issubclass(step, BaseException):
        if issubclass(step, httpx.RequestError):
            raise step(f"scripted {step.__name__}", request=request)
        raise step(f"scripted {step.__name__}")
    if isinstance(step, BaseException):
        if isinstance(step, httpx.RequestError):
            try:
                _ = step.request
            except RuntimeError:
                step.request = request
        raise step
    if isinstance(step, httpx.Response):
        step.request = request
        return step
    if isinstance(step, int):
        return httpx.Response(step, request=request)
    status, headers, body = step
    return httpx.Response(status, headers=headers, content=as_bytes(body), request=request)


class ScriptedTransport(httpx.BaseTransport):
    """An httpx transport answering each request with the next item of ``steps``.

    Items: an `httpx.Response` (returned as is), an int status (empty body), a
    ``(status, headers, body)`` tuple, or an exception class or instance, raised with the
    request attached (``httpx.ConnectError`` and friends get ``request=``). Responses are
    real, streamable `httpx.Response` objects, so the transport can sit beneath a client
    or another transport (``RetryTransport(transport=ScriptedTransport([...]))``).

    ``requests`` lists every request received, body read; `remaining` counts the answers
    left. A request after the last answer raises `ScriptExhaustedError`.
    """

    def __init__(self, steps: Iterable[HttpxStep]) -> None:
        self._script = Script(type(self).__name__, steps)
        self.requests: list[httpx.Request] = []

    @property
    def remaining(self) -> int:
        """How many scripted answers are still unused."""
        return self._script.remaining

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record ``request`` (its body read) and play the next scripted answer."""
        request.read()
        self.requests.append(request)
        step = self._script.take(request.method, str(request.url))
        return _httpx_answer(step, request)


class AsyncScriptedTransport(httpx.AsyncBaseTransport):
    """The async twin of `ScriptedTransport`, for `httpx.AsyncClient`.

    Same items, same recording in ``requests``, same `ScriptExhaustedError`.
    """

    def __init__(self, steps: Iterable[HttpxStep]) -> None:
        self._script = Script(type(self).__name__, steps)
        self.requests: list[httpx.Request] = []

    @property
    def remaining(self) -> int:
        """How many scripted answers are still unused."""
        return self._script.remaining

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record ``request`` (its body read) and play the next scripted answer."""
        await request.aread()
        self.requests.append(request)
        step = self._script.take(request.method, str(request.url))
        return _httpx_answer(step, request)
