"""The httpx transports, written once for httpx and for its fork httpx2.

This file is loaded twice: as ``retrykit._adapters._httpx`` against ``httpx`` (imported
by `retrykit.httpx`), and by `retrykit.httpx2` as ``retrykit._httpx2_transport`` with
``HTTPX_MODULE = "httpx2"`` set before it runs. The two clients share one API, so the
only difference is the module bound to the name ``httpx`` below.

Every decision comes from `retrykit._core` through the driver in `retrykit._driver._call`;
this module only translates. How an httpx exception maps onto the core:

- `FailureKind.CONNECT` (the request never left): ``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``.
- `FailureKind.UNKNOWN_OUTCOME` (the server may have acted on it): ``ReadTimeout``,
  ``WriteTimeout``, ``ReadError``, ``WriteError``, ``CloseError``, ``RemoteProtocolError``
  (a reset, a garbage status line, a body cut short), and any other ``TimeoutException``
  or ``NetworkError``.
- Anything else propagates untouched and is never retried: ``ProxyError``,
  ``UnsupportedProtocol`` and ``LocalProtocolError`` (they fail the same way again), an
  open circuit of a nested retry transport, and every exception that is not an httpx
  ``TransportError``.
"""

from __future__ import annotations

import importlib
import random
import time
from typing import TYPE_CHECKING, Final

import anyio
import attrs

import retrykit._errors
from retrykit._core._endpoint import endpoint_template
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._driver._call import RetryCall, RetryRunner, attach_history, origin_key
from retrykit._state._breaker import CircuitBreaker
from retrykit._state._budget import RetryBudget

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    import httpx

    from retrykit._observe._events import Hook
else:
    # retrykit.httpx2 sets HTTPX_MODULE before running this file a second time.
    httpx = importlib.import_module(globals().get("HTTPX_MODULE", "httpx"))

__all__ = [
    "HISTORY_EXTENSION",
    "POLICY_EXTENSION",
    "READ_BODY_EXTENSION",
    "AsyncRetryTransport",
    "CircuitOpenError",
    "RetryTransport",
]

POLICY_EXTENSION: Final = "retry_policy"
"""``request.extensions`` key: a `RetryPolicy` for this request, or None for one attempt."""

READ_BODY_EXTENSION: Final = "retry_read_body"
"""``request.extensions`` key: True or False, overriding the transport's ``read_body``."""

HISTORY_EXTENSION: Final = "retry_history"
"""``response.extensions`` key of the final response's `RetryHistory`."""

# A discarded response is read, to keep its connection, only when it says it is this small.
_DRAIN_LIMIT: Final = 1024 * 1024

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_NOT_RETRYABLE = (httpx.ProxyError, httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_UNKNOWN_OUTCOME_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _Default:
    """The type of `_DEFAULT`: "a new one with its defaults", where None means "off"."""

    def __repr__(self) -> str:
        return "<default>"


_DEFAULT: Final = _Default()


class CircuitOpenError(retrykit._errors.CircuitOpenError, httpx.TransportError):
    """The circuit of the request's origin is open: the request was not sent at all.

    It is both a `retrykit.CircuitOpenError` (with ``key`` and ``retry_after``) and an
    httpx ``TransportError`` (with ``request``), so code that already handles httpx's
    transport errors handles it too. ``retry_history`` holds the attempts made before
    the rejection. It pickles (without its request and history).
    """

    def __init__(
        self, key: str, retry_after: float, *, request: httpx.Request | None = None
    ) -> None:
        # The base class passes its message along the MRO to httpx's RequestError.
        super().__init__(key, retry_after)
        if request is not None:
            self.request = request


def failure_kind(exc: httpx.TransportError) -> FailureKind | None:
    """Return the FailureKind of an httpx transport error, or None when it must propagate."""
    if isinstance(exc, _CONNECT_ERRORS):
        return FailureKind.CONNECT
    if isinstance(exc, (*_NOT_RETRYABLE, retrykit._errors.CircuitOpenError)):
        return None
    if isinstance(exc, _UNKNOWN_OUTCOME_ERRORS):
        return FailureKind.UNKNOWN_OUTCOME
    return None


class _Settings:
    """What both transports hold: the driver, and the defaults a request may override."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None,
        breaker: CircuitBreaker | _Default | None,
        budget: RetryBudget | _Default | None,
        hooks: Sequence[Hook],
        read_body: bool,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rand: Callable[[], float],
        key_func: Callable[[str], str],
        endpoint_func: Callable[[str, str], str],
    ) -> None:
        policy = policy if policy is not None else RetryPolicy()
        self.read_body = _check_read_body(read_body)
        self.single_attempt = attrs.evolve(policy, max_attempts=1)
        self.runner = RetryRunner(
            policy=policy,
            breaker=CircuitBreaker() if isinstance(breaker, _Default) else breaker,
            budget=RetryBudget() if isinstance(budget, _Default) else budget,
            hooks=hooks,
            circuit_error=CircuitOpenError,
            clock=clock,
            wall_clock=wall_clock,
            rand=rand,
            key_func=key_func,
            endpoint_func=endpoint_func,
        )

    def start(self, request: httpx.Request) -> tuple[RetryCall, bool]:
        """Begin the call of ``request``; return its driver and whether to read the body."""
        extensions = request.extensions
        policy = extensions.get(POLICY_EXTENSION, self.runner.policy)
        if policy is None:
            policy = self.single_attempt
        elif not isinstance(policy, RetryPolicy):
            raise TypeError(f"extensions[{POLICY_EXTENSION!r}] must be a RetryPolicy or None")
        read_body = _check_read_body(extensions.get(READ_BODY_EXTENSION, self.read_body))
        call = self.runner.start(
            request.method,
            str(request.url),
            request.headers,
            policy=policy,
            # Bytes content (content=, json=, data=) replays exactly; an iterator is spent.
            replayable=isinstance(request.stream, httpx.ByteStream),
        )
        if call.idempotency_key is not None:
            request.headers[policy.idempotency_header] = call.idempotency_key
        return call, read_body


def _check_read_body(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"read_body must be True or False, got {value!r}")
    return value


def _before_attempt(call: RetryCall, request: httpx.Request) -> None:
    try:
        call.before_attempt()
    except CircuitOpenError as exc:
        exc.request = request
        raise


def _buffered(response: httpx.Response, raw: bytes) -> httpx.Response:
    """Return an unread copy of ``response`` whose body is ``raw``, held in memory."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
    )


def _finished(response: httpx.Response, call: RetryCall) -> httpx.Response:
    response.extensions = {**response.extensions, HISTORY_EXTENSION: call.finish()}
    return response


def _worth_draining(response: httpx.Response) -> bool:
    length = response.headers.get("content-length", "")
    return length.isdigit() and int(length) <= _DRAIN_LIMIT


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries, beneath any other transport.

    - ``transport``: the transport that sends (default: a new ``httpx.HTTPTransport()``;
      pass ``HTTPTransport(retries=0, ...)`` of your own to set TLS, limits or HTTP/2).
    - ``policy``: the `RetryPolicy` (default: ``RetryPolicy()``).
    - ``breaker``, ``budget``: a `CircuitBreaker` and a `RetryBudget`; by default new ones
      with their defaults, None turns them off. Share one between transports to share state.
    - ``hooks``: callables receiving every event; one that raises is logged and skipped.
    - ``read_body``: read each response's body inside the retry loop (default False).
      A transport cannot tell whether its caller streams, and reading would hold a
      streamed download in memory, so by default the final response is returned unread
      and an error in its body reaches the caller unretried. Turn it on when your callers
      do not stream: a body cut short or a read timeout in the middle of the body is then
      retried like any other failure of a safe request. ``request.extensions
      ["retry_read_body"]`` overrides it per request.
    - ``sleep``, ``clock``, ``wall_clock``, ``rand``: the waits, the monotonic and Unix
      clocks and the jitter source (replace them in tests).
    - ``key_func(url)``: the circuit key (default: the origin ``scheme://host:port``);
      ``endpoint_func(method, url)``: the endpoint label in events and logs.

    Per request, ``extensions={"retry_policy": policy}`` replaces the policy, and
    ``{"retry_policy": None}`` makes one attempt only. A request with bytes content is
    re-sent byte for byte; one whose body is an iterator is sent once (reason
    ``"body_not_replayable"``). The final response carries its `RetryHistory` in
    ``response.extensions["retry_history"]``; the last exception is raised unchanged,
    with ``exc.retry_history``. An open circuit raises `CircuitOpenError` without any
    I/O. A response that will be retried is read (when it declares at most 1 MiB) and
    closed first, so its connection goes back to the pool. Closing this transport closes
    the inner one. One transport may serve many threads at once.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | _Default | None = _DEFAULT,
        budget: RetryBudget | _Default | None = _DEFAULT,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] = origin_key,
        endpoint_func: Callable[[str, str], str] = endpoint_template,
    ) -> None:
        self._transport = transport if transport is not None else httpx.HTTPTransport()
        self._sleep = sleep
        self._settings = _Settings(
            policy=policy,
            breaker=breaker,
            budget=budget,
            hooks=hooks,
            read_body=read_body,
            clock=clock,
            wall_clock=wall_clock,
            rand=rand,
            key_func=key_func,
            endpoint_func=endpoint_func,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
        call, read_body = self._settings.start(request)
        while True:
            _before_attempt(call, request)
            try:
                response, body = self._send(request, read_body=read_body)
            except httpx.TransportError as exc:
                failure = failure_kind(exc)
                if failure is None:
                    attach_history(exc, call.abandon())
                    raise
                decision = call.after_failure(failure)
                if not decision.retry:
                    attach_history(exc, call.finish())
                    raise
            except BaseException as exc:
                attach_history(exc, call.abandon())
                raise
            else:
                decision = call.after_response(response.status_code, response.headers, body)
                if not decision.retry:
                    return _finished(response, call)
                self._discard(response)
            if decision.delay > 0:
                self._sleep(decision.delay)

    def _send(
        self, request: httpx.Request, *, read_body: bool
    ) -> tuple[httpx.Response, bytes | None]:
        response = self._transport.handle_request(request)
        if not read_body:
            return response, None
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        return _buffered(response, raw), raw

    @staticmethod
    def _discard(response: httpx.Response) -> None:
        """Release a response that will not be returned, keeping its connection when cheap."""
        try:
            if _worth_draining(response):
                for _ in response.iter_raw():
                    pass
        except httpx.TransportError:
            pass  # A broken body: close() drops the connection.
        finally:
            response.close()

    def close(self) -> None:
        """Close the inner transport."""
        self._transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of `RetryTransport`, for ``httpx.AsyncClient``; the same arguments.

    ``transport`` defaults to a new ``httpx.AsyncHTTPTransport()``, and ``sleep`` is an
    async callable (default ``anyio.sleep``), so it runs under asyncio and under trio.
    Cancelling the task while it waits between attempts cancels at once: the discarded
    response is already closed, and nothing is left checked out of the pool.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | _Default | None = _DEFAULT,
        budget: RetryBudget | _Default | None = _DEFAULT,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] = origin_key,
        endpoint_func: Callable[[str, str], str] = endpoint_template,
    ) -> None:
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._sleep = sleep
        self._settings = _Settings(
            policy=policy,
            breaker=breaker,
            budget=budget,
            hooks=hooks,
            read_body=read_body,
            clock=clock,
            wall_clock=wall_clock,
            rand=rand,
            key_func=key_func,
            endpoint_func=endpoint_func,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
        call, read_body = self._settings.start(request)
        while True:
            _before_attempt(call, request)
            try:
                response, body = await self._send(request, read_body=read_body)
            except httpx.TransportError as exc:
                failure = failure_kind(exc)
                if failure is None:
                    attach_history(exc, call.abandon())
                    raise
                decision = call.after_failure(failure)
                if not decision.retry:
                    attach_history(exc, call.finish())
                    raise
            except BaseException as exc:
                attach_history(exc, call.abandon())
                raise
            else:
                decision = call.after_response(response.status_code, response.headers, body)
                if not decision.retry:
                    return _finished(response, call)
                await self._discard(response)
            if decision.delay > 0:
                await self._sleep(decision.delay)

    async def _send(
        self, request: httpx.Request, *, read_body: bool
    ) -> tuple[httpx.Response, bytes | None]:
        response = await self._transport.handle_async_request(request)
        if not read_body:
            return response, None
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        return _buffered(response, raw), raw

    @staticmethod
    async def _discard(response: httpx.Response) -> None:
        """Release a response that will not be returned, keeping its connection when cheap."""
        try:
            if _worth_draining(response):
                async for _ in response.aiter_raw():
                    pass
        except httpx.TransportError:
            pass  # A broken body: aclose() drops the connection.
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._transport.aclose()
