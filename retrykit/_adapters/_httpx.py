"""The httpx transports, written once for httpx and for its fork httpx2.

This file is loaded twice: as ``retrykit._adapters._httpx`` against ``httpx`` (imported
by `retrykit.httpx`), and by `retrykit.httpx2` as ``retrykit._adapters._httpx2`` with
``HTTPX_MODULE = "httpx2"`` set before it runs. The two clients share one API, so the
only difference is the module bound to the name ``httpx`` below.

Every decision comes from `retrykit._core` through the driver in `retrykit._driver`;
this module translates requests, responses and exceptions. How an httpx exception maps
onto the core (`FAILURES`, most specific first):

- `FailureKind.CONNECT` (the request never left): ``ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``.
- Never retried, propagated untouched: ``ProxyError``, ``UnsupportedProtocol`` and
  ``LocalProtocolError`` (they fail the same way again), an open circuit of a nested
  retry transport, and every exception that is not an httpx ``TransportError``.
- `FailureKind.UNKNOWN_OUTCOME` (the server may have acted on it): ``ReadTimeout``,
  ``WriteTimeout``, ``ReadError``, ``WriteError``, ``CloseError``, ``RemoteProtocolError``
  (a reset, a garbage status line, a body cut short), and any other ``TimeoutException``
  or ``NetworkError``.
"""

from __future__ import annotations

import collections
import importlib
import random
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Final

import attrs

import retrykit._errors
from retrykit._adapters._headers import HttpxHeaders, header_names
from retrykit._core._endpoint import route_endpoint
from retrykit._core._memo import remember
from retrykit._core._origin import origin_key, origin_of
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._core._ratelimit import mentions_rate_limit
from retrykit._driver._endings import ErrorClasses, applied_error, rejection_error
from retrykit._driver._first import call_first, call_first_async
from retrykit._driver._history import attach_history
from retrykit._driver._reconcile import reconcile_async, reconcile_in_thread
from retrykit._driver._settings import DEFAULT, UseDefault, build_runner, resolve_sleep

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterator,
        Awaitable,
        Callable,
        Hashable,
        Iterator,
        Mapping,
        Sequence,
    )

    import httpx

    from retrykit._clock import Clock
    from retrykit._driver._call import Attempt, Rejection, RetryRunner
    from retrykit._driver._history import RetryHistory
    from retrykit._driver._trace import Tracer
    from retrykit._observe._events import Hook
    from retrykit._state._breaker import CircuitBreaker
    from retrykit._state._budget import RetryBudget
    from retrykit._state._limiter import AdaptiveThrottle, RateLimiter
else:
    # retrykit.httpx2 sets HTTPX_MODULE before running this file a second time.
    httpx = importlib.import_module(globals().get("HTTPX_MODULE", "httpx"))

__all__ = [
    "ENDPOINT_EXTENSION",
    "HISTORY_EXTENSION",
    "POLICY_EXTENSION",
    "READ_BODY_EXTENSION",
    "AsyncRetryTransport",
    "CircuitOpenError",
    "DeadlineExceededError",
    "RateLimitExceededError",
    "RetryTransport",
]

POLICY_EXTENSION: Final = "retry_policy"
"""``request.extensions`` key: a `RetryPolicy` for this request, or None for one attempt."""

READ_BODY_EXTENSION: Final = "retry_read_body"
"""``request.extensions`` key: True or False, overriding the transport's ``read_body``."""

ENDPOINT_EXTENSION: Final = "retry_endpoint"
"""``request.extensions`` key: the request's route template (``"/v1/users/{id}"``), naming
its endpoint in events, logs and metrics instead of the guess from its path."""

HISTORY_EXTENSION: Final = "retry_history"
"""``response.extensions`` key of the final response's `RetryHistory`."""

_TIMEOUT_EXTENSION: Final = "timeout"
_ORIGINS_REMEMBERED: Final = 1024
_TIMEOUT_PARTS: Final = ("connect", "read", "write", "pool")
# The extensions `_Settings.options` reads: a request with none of them has the defaults.
_EXTENSIONS: Final = frozenset((POLICY_EXTENSION, READ_BODY_EXTENSION, ENDPOINT_EXTENSION))


class CircuitOpenError(retrykit._errors.CircuitOpenError, httpx.TransportError):
    """The circuit of the request's origin is open: the request was not sent at all.

    It is both a `retrykit.CircuitOpenError` (with ``key``, ``retry_after``,
    ``opened_by`` and ``opened_at``) and an httpx ``TransportError`` (with
    ``request``), so code that already handles httpx's transport errors handles it too.
    ``retry_history`` holds the attempts made before the rejection. It pickles
    (without its request and history).
    """

    def __init__(
        self,
        key: str,
        retry_after: float,
        *,
        opened_by: object = None,
        opened_at: float | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        # What the chain of __init__ up the MRO does, without its three calls (a
        # rejection is the fail-fast path): httpx's RequestError keeps the message and
        # the request (None reads as "not set", as in httpx), nothing more.
        retrykit._errors.set_circuit_fields(self, key, retry_after, opened_by, opened_at)
        Exception.__init__(self, key)
        self.request = request  # type: ignore[assignment]


class RateLimitExceededError(retrykit._errors.RateLimitExceededError, httpx.TransportError):
    """The client's rate limiter refused the request: nothing was sent (an httpx error).

    Both a `retrykit.RateLimitExceededError` (a `retrykit.RateLimitError`, with
    ``retry_after`` and ``info.user_message``) and an httpx ``TransportError``.
    """


class DeadlineExceededError(retrykit._errors.DeadlineExceededError, httpx.TimeoutException):
    """The call's deadline passed before it could end with a response (an httpx timeout)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        if request is not None:
            self.request = request


_ERRORS: Final = ErrorClasses(CircuitOpenError, RateLimitExceededError, DeadlineExceededError)

FAILURES: Final[tuple[tuple[type[BaseException], FailureKind | None], ...]] = (
    (retrykit._errors.CircuitOpenError, None),
    (httpx.ConnectError, FailureKind.CONNECT),
    (httpx.ConnectTimeout, FailureKind.CONNECT),
    (httpx.PoolTimeout, FailureKind.CONNECT),
    (httpx.ProxyError, None),
    (httpx.UnsupportedProtocol, None),
    (httpx.LocalProtocolError, None),
    (httpx.TimeoutException, FailureKind.UNKNOWN_OUTCOME),
    (httpx.NetworkError, FailureKind.UNKNOWN_OUTCOME),
    (httpx.RemoteProtocolError, FailureKind.UNKNOWN_OUTCOME),
)
"""Exception type to `FailureKind` (None: never retried), most specific first."""


def failure_kind(exc: BaseException) -> FailureKind | None:
    """Return the FailureKind of an exception from sending or reading, or None to propagate."""
    for kind, failure in FAILURES:
        if isinstance(exc, kind):
            return failure
    return None


class _Settings:
    """What both transports hold: the driver, and the defaults a request may override."""

    __slots__ = ("_origins", "read_body", "runner", "single_attempt")

    def __init__(self, runner: RetryRunner, read_body: object) -> None:
        runner.circuit_error = CircuitOpenError
        self.runner = runner
        self.read_body = _check_read_body(read_body)
        self.single_attempt = attrs.evolve(runner.policy, max_attempts=1)
        # Origin keys by the parts of a URL they depend on, when keys are origin keys.
        self._origins: collections.OrderedDict[tuple[object, ...], str] | None = (
            collections.OrderedDict() if runner.keyed and runner.key_func is origin_key else None
        )

    def origin(self, url: httpx.URL) -> str | None:
        """Return ``origin_key(str(url))`` from the URL's parts (remembered), or None.

        None when keys are not origin keys (a custom ``key_func``), or none is needed.
        Making the URL's text costs more than the rest of a call's bookkeeping.
        """
        origins = self._origins
        if origins is None:
            return None
        try:
            parts = url._uri_reference[:4]  # (scheme, userinfo, host, port)
        except AttributeError:  # pragma: no cover - an httpx without it
            return None
        key = origins.get(parts)
        if key is None:
            key = remember(
                origins, parts, origin_of(parts[0], parts[2], parts[3]), _ORIGINS_REMEMBERED
            )
        return key

    def options(self, request: httpx.Request) -> tuple[RetryPolicy, bool, str | None]:
        """Return the policy, the read-body switch and the endpoint name of ``request``.

        Its extensions first, the transport's settings else (None: the endpoint is named
        from the URL when an event needs it).
        """
        extensions = request.extensions
        if _EXTENSIONS.isdisjoint(extensions):
            return self.runner.policy, self.read_body, None
        policy = extensions.get(POLICY_EXTENSION, self.runner.policy)
        if policy is None:
            policy = self.single_attempt
        elif not isinstance(policy, RetryPolicy):
            raise TypeError(f"extensions[{POLICY_EXTENSION!r}] must be a RetryPolicy or None")
        route = extensions.get(ENDPOINT_EXTENSION)
        endpoint = None
        if route is not None:
            endpoint = route_endpoint(request.method, str(request.url), route)
        read_body = _check_read_body(extensions.get(READ_BODY_EXTENSION, self.read_body))
        return policy, read_body, endpoint


def _check_read_body(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"read_body must be True or False, got {value!r}")
    return value


def _check_transport(transport: object, kind: type[Any]) -> None:
    if not isinstance(transport, kind):
        raise TypeError(
            f"transport must be an {kind.__module__}.{kind.__qualname__} (such as "
            f"HTTPTransport()), or None for a new default one; got {transport!r}"
        )
    # HTTPTransport(retries=N) retries connection failures inside the pool (httpcore).
    retries = getattr(getattr(transport, "_pool", None), "_retries", 0)
    if isinstance(retries, int) and retries > 0:
        warnings.warn(
            f"the inner transport retries too (retries={retries}): its attempts multiply "
            "retrykit's; build it with retries=0",
            UserWarning,
            stacklevel=4,
        )


def _capped_timeouts(request: httpx.Request, time_left: float | None) -> None:
    """Cut each of the request's timeouts to the time left before the deadline."""
    if time_left is None:
        return
    current = request.extensions.get(_TIMEOUT_EXTENSION) or {}
    if len(current) == len(_TIMEOUT_PARTS):
        try:
            if max(current.values()) <= time_left:
                return  # every timeout already ends before the deadline: nothing to cut
        except TypeError:
            pass  # one of them is None: no timeout, so the deadline's is needed
    left = max(time_left, 0.001)
    capped = {}
    for part in _TIMEOUT_PARTS:
        value = current.get(part)
        capped[part] = left if value is None else min(value, left)
    request.extensions[_TIMEOUT_EXTENSION] = capped


def _late_body(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(
        "the response body was still coming in at the call's deadline", request=request
    )


def _buffered(response: httpx.Response, raw: bytes) -> httpx.Response:
    """Return an unread copy of ``response`` whose body is ``raw``, held in memory."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(raw),
        extensions=response.extensions,
    )


def _request_for(request: httpx.Request, attempt: Attempt) -> httpx.Request:
    """Return the request to send for ``attempt``: a copy for a fallback origin or a hedge."""
    if attempt.target is None and not attempt.hedge:
        return request
    url = httpx.URL(attempt.url)
    headers = request.headers.copy()
    headers["Host"] = url.netloc.decode("ascii")
    return httpx.Request(
        request.method,
        url,
        headers=headers,
        stream=request.stream,
        extensions=dict(request.extensions),
    )


class _OnceAsync:
    """An async iterator over one chunk that is a plain object, not an async generator."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _OnceAsync:
        return self

    async def __anext__(self) -> bytes:
        data = self._data
        if data is None:
            raise StopAsyncIteration
        self._data = None
        return data


class _ReplayableBytes(httpx.ByteStream):
    """A request body of bytes whose async iteration leaves no async generator behind.

    An attempt cut off while it writes the body drops its iterator half-way; an async
    generator dropped so is finalized by the event loop's hooks, which under trio may
    already be gone. A plain iterator object needs no finalizing.
    """

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _OnceAsync(b"".join(self))


def _already_read(response: httpx.Response) -> bytes | None:
    """Return the body of a response its transport has read already (MockTransport...)."""
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


class _Exchange:
    """The steps of one call that both transports share (see `retrykit._driver._loop`)."""

    __slots__ = ("_sleep", "reads_body", "reconcile_func", "request", "transport")

    def __init__(
        self,
        request: httpx.Request,
        reads_body: bool,
        reconcile: Callable[..., Any] | None,
        transport: Any,
        sleep: Callable[[float], Any],
    ) -> None:
        self.request = request
        self.reads_body = reads_body
        self.reconcile_func = reconcile
        self.transport = transport
        self._sleep = sleep

    def request_headers(self) -> Mapping[str, str]:
        return HttpxHeaders(self.request.headers)

    def url_key(self) -> Hashable:
        # Its parsed parts: making the URL's text costs more than the rest of an event.
        return getattr(self.request.url, "_uri_reference", None) or str(self.request.url)

    @staticmethod
    def head(response: httpx.Response) -> tuple[int, Mapping[str, str]]:
        return response.status_code, HttpxHeaders(response.headers)

    @staticmethod
    def failure_kind(exc: BaseException) -> FailureKind | None:
        return failure_kind(exc)

    @staticmethod
    def deliver(
        response: httpx.Response, body: bytes | None, history: RetryHistory
    ) -> httpx.Response:
        if body is not None and _already_read(response) is None:
            response = _buffered(response, body)
        response.extensions = {**response.extensions, HISTORY_EXTENSION: history}
        return response

    @staticmethod
    def attach(exc: BaseException, history: RetryHistory) -> None:
        attach_history(exc, history)

    def rejected(self, rejection: Rejection) -> BaseException:
        return rejection_error(rejection, self.request, _ERRORS)

    def applied(self, history: RetryHistory, response: httpx.Response | None) -> BaseException:
        return applied_error(history, self.request, response)

    @staticmethod
    def rewind() -> None:
        """Bytes content replays as it is."""

    def stamp(self, name: str, value: str) -> None:
        self.request.headers[name] = value


class _SyncExchange(_Exchange):
    __slots__ = ()

    transport: httpx.BaseTransport
    _sleep: Callable[[float], object]

    def send_first(self, time_left: float | None, limits: bool) -> tuple[httpx.Response, int, bool]:
        request = self.request
        _capped_timeouts(request, time_left)
        response = self.transport.handle_request(request)
        return (
            response,
            response.status_code,
            limits and mentions_rate_limit(header_names(response.headers)),
        )

    def send(self, time_left: float | None, attempt: Attempt) -> httpx.Response:
        request = _request_for(self.request, attempt)
        _capped_timeouts(request, time_left)
        response = self.transport.handle_request(request)
        if request is not self.request:
            response.request = request  # whose timeouts a drain of this response cuts
        return response

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def reconcile(self, time_left: float | None) -> bool | None:
        return reconcile_in_thread(self.reconcile_func, self.request, time_left)

    @staticmethod
    def submit(work: Callable[[], None]) -> None:
        threading.Thread(target=work, name="retrykit-hedge", daemon=True).start()

    def read(
        self, response: httpx.Response, until: float | None, clock: Callable[[], float]
    ) -> bytes | None:
        if not self.reads_body:
            return None
        content = _already_read(response)
        if content is not None:
            return content
        try:
            if until is None:
                return b"".join(response.iter_raw())
            parts: list[bytes] = []
            for chunk in response.iter_raw():
                if parts and clock() >= until:
                    raise _late_body(self.request)
                parts.append(chunk)
            return b"".join(parts)
        finally:
            response.close()

    def chunks(self, response: httpx.Response, timeout: float) -> Iterator[bytes]:
        content = _already_read(response)
        if content is not None:
            return iter((content,))
        # httpcore reads the read timeout from the request's extensions at every read.
        request = getattr(response, "_request", None) or self.request
        timeouts = dict(request.extensions.get(_TIMEOUT_EXTENSION) or {})
        read = timeouts.get("read")
        timeouts["read"] = timeout if read is None else min(read, timeout)
        request.extensions[_TIMEOUT_EXTENSION] = timeouts
        return response.iter_raw()

    @staticmethod
    def close(response: httpx.Response) -> None:
        response.close()


class _AsyncExchange(_Exchange):
    __slots__ = ()

    transport: httpx.AsyncBaseTransport
    _sleep: Callable[[float], Awaitable[object]]

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def reconcile(self, time_left: float | None) -> bool | None:
        return await reconcile_async(self.reconcile_func, self.request, time_left)

    async def send_first(
        self, time_left: float | None, limits: bool
    ) -> tuple[httpx.Response, int, bool]:
        request = self.request
        _capped_timeouts(request, time_left)
        response = await self.transport.handle_async_request(request)
        return (
            response,
            response.status_code,
            limits and mentions_rate_limit(header_names(response.headers)),
        )

    async def send(self, time_left: float | None, attempt: Attempt) -> httpx.Response:
        request = _request_for(self.request, attempt)
        _capped_timeouts(request, time_left)
        return await self.transport.handle_async_request(request)

    async def read(
        self, response: httpx.Response, until: float | None, clock: Callable[[], float]
    ) -> bytes | None:
        if not self.reads_body:
            return None
        content = _already_read(response)
        if content is not None:
            return content
        try:
            parts: list[bytes] = []
            async for chunk in response.aiter_raw():
                if until is not None and parts and clock() >= until:
                    raise _late_body(self.request)
                parts.append(chunk)
            return b"".join(parts)
        finally:
            await response.aclose()

    @staticmethod
    def chunks(response: httpx.Response) -> AsyncIterator[bytes]:
        content = _already_read(response)
        if content is not None:
            return _one_chunk(content)
        return response.aiter_raw()

    @staticmethod
    async def close(response: httpx.Response) -> None:
        await response.aclose()


async def _one_chunk(content: bytes) -> AsyncIterator[bytes]:
    yield content


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that retries, beneath any other transport.

    - ``transport``: the transport that sends (default: a new ``httpx.HTTPTransport()``;
      pass ``HTTPTransport(retries=0, ...)`` of your own to set TLS, limits or HTTP/2).
    - ``policy``: the `RetryPolicy` (default: ``RetryPolicy()``).
    - ``breaker``, ``budget``: a `CircuitBreaker` and a `RetryBudget`; by default
      (`retrykit.DEFAULT`) new ones with their defaults, None turns them off. Share one
      between transports to share state.
    - ``limiter``: a `RateLimiter`, by default a new ``RateLimiter()`` that follows what
      the server says about its rate limit; None turns it off. ``throttle``: an
      `AdaptiveThrottle` (off by default). A request they refuse raises
      `RateLimitExceededError` without being sent.
    - ``fallbacks``: ``{"https://api.example.com": ["https://eu.api.example.com"]}``:
      after a 502, 503, 504 or a failed connection, or while the primary's circuit is
      open, the next attempt goes to the next origin (scheme, host and port change;
      path, query, body and headers stay).
    - ``reconcile(request) -> bool | None`` (an async function for
      `AsyncRetryTransport`): asked when a request not safe to repeat ends with an
      unknown outcome. True: it took effect, `retrykit.WriteAppliedError` is raised;
      False: it certainly did not, one more attempt is made; None: as without it.
    - ``tracer``: spans for each call and attempt, such as
      `retrykit.otel.OpenTelemetryTracing()`; None (the default) traces nothing.
    - ``hooks``: callables receiving every event; one that raises is logged and skipped.
    - ``read_body``: read each response's body inside the retry loop (default False).
      A transport cannot tell whether its caller streams, and reading would hold a
      streamed download in memory, so by default the final response is returned unread
      and an error in its body reaches the caller unretried. Turn it on when your callers
      do not stream: a body cut short or a read timeout in the middle of the body is then
      retried like any other failure of a safe request. ``request.extensions
      ["retry_read_body"]`` overrides it per request.
    - ``clock``: monotonic seconds, or a `Clock` object (such as
      `retrykit.testing.FakeClock`) that also gives the wall clock and the waits;
      ``sleep``, ``wall_clock`` and ``rand`` replace the waits, the Unix clock and the
      jitter source one by one (for tests).
    - ``key_func(url)``: the circuit key (default: `retrykit.origin_key`, the origin
      ``scheme://host:port``); ``endpoint_func(method, url)``: the endpoint label in
      events and logs (default: `retrykit.endpoint_template`).

    Every argument is checked here: a wrong one raises TypeError or ValueError naming it.
    Per request, ``extensions={"retry_policy": policy}`` replaces the policy, and
    ``{"retry_policy": None}`` makes one attempt only. A request with bytes content is
    re-sent byte for byte; one whose body is an iterator is sent once (reason
    ``"body_not_replayable"``). The final response carries its `RetryHistory` in
    ``response.extensions["retry_history"]``; the last exception is raised unchanged,
    with ``exc.retry_history``. An open circuit raises `CircuitOpenError` without any
    I/O. The policy's deadline bounds every attempt: each of the request's timeouts is
    cut to the time left. A response that will be retried is read up to 1 MiB (and its
    connection dropped past that) and closed first, so its connection goes back to the
    pool. Closing this transport closes the inner one. One transport may serve many
    threads at once.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | UseDefault | None = DEFAULT,
        budget: RetryBudget | UseDefault | None = DEFAULT,
        limiter: RateLimiter | UseDefault | None = DEFAULT,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        reconcile: Callable[[httpx.Request], bool | None] | None = None,
        tracer: Tracer | None = None,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        clock: Callable[[], float] | Clock = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
    ) -> None:
        if transport is None:
            transport = httpx.HTTPTransport()
        _check_transport(transport, httpx.BaseTransport)
        self._transport = transport
        self._sleep = resolve_sleep(sleep, clock, asynchronous=False)
        self._settings = _Settings(
            build_runner(
                policy=policy,
                breaker=breaker,
                budget=budget,
                limiter=limiter,
                throttle=throttle,
                fallbacks=fallbacks,
                reconcile=reconcile,
                tracer=tracer,
                hooks=hooks,
                clock=clock,
                wall_clock=wall_clock,
                rand=rand,
                key_func=key_func,
                endpoint_func=endpoint_func,
            ),
            read_body,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
        settings = self._settings
        runner = settings.runner
        if _EXTENSIONS.isdisjoint(request.extensions):
            policy, read_body, endpoint = runner.policy, settings.read_body, None
        else:
            policy, read_body, endpoint = settings.options(request)
        return call_first(
            runner,
            _SyncExchange(request, read_body, runner.reconcile, self._transport, self._sleep),
            request.method,
            request.url,
            policy=policy,
            # Bytes content (content=, json=, data=) replays exactly; an iterator is spent.
            replayable=isinstance(request.stream, httpx.ByteStream),
            endpoint=endpoint,
            key=settings.origin(request.url),
        )

    def close(self) -> None:
        """Close the inner transport."""
        self._transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The async twin of `RetryTransport`, for ``httpx.AsyncClient``; the same arguments.

    ``transport`` defaults to a new ``httpx.AsyncHTTPTransport()``, and ``sleep`` must
    be an async function (default ``anyio.sleep``, or a `Clock`'s ``async_sleep``), so
    it runs under asyncio and under trio. Cancelling the task while it waits between
    attempts cancels at once: the discarded response is already closed, and nothing is
    left checked out of the pool.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | UseDefault | None = DEFAULT,
        budget: RetryBudget | UseDefault | None = DEFAULT,
        limiter: RateLimiter | UseDefault | None = DEFAULT,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        reconcile: Callable[[httpx.Request], Awaitable[bool | None]] | None = None,
        tracer: Tracer | None = None,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        clock: Callable[[], float] | Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
    ) -> None:
        if transport is None:
            transport = httpx.AsyncHTTPTransport()
        _check_transport(transport, httpx.AsyncBaseTransport)
        self._transport = transport
        self._sleep: Callable[[float], Awaitable[object]] = resolve_sleep(  # type: ignore[assignment]
            sleep, clock, asynchronous=True
        )
        self._settings = _Settings(
            build_runner(
                policy=policy,
                breaker=breaker,
                budget=budget,
                limiter=limiter,
                throttle=throttle,
                fallbacks=fallbacks,
                reconcile=reconcile,
                tracer=tracer,
                asynchronous=True,
                hooks=hooks,
                clock=clock,
                wall_clock=wall_clock,
                rand=rand,
                key_func=key_func,
                endpoint_func=endpoint_func,
            ),
            read_body,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
        if type(request.stream) is httpx.ByteStream:
            request.stream = _ReplayableBytes(b"".join(request.stream))
        settings = self._settings
        runner = settings.runner
        if _EXTENSIONS.isdisjoint(request.extensions):
            policy, read_body, endpoint = runner.policy, settings.read_body, None
        else:
            policy, read_body, endpoint = settings.options(request)
        return await call_first_async(
            runner,
            _AsyncExchange(request, read_body, runner.reconcile, self._transport, self._sleep),
            request.method,
            request.url,
            policy=policy,
            replayable=isinstance(request.stream, httpx.ByteStream),
            endpoint=endpoint,
            key=settings.origin(request.url),
        )

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._transport.aclose()
