"""The requests adapter: an `HTTPAdapter` that retries beneath a Session.

Every decision comes from `retrykit._core` through the driver in `retrykit._driver`;
this module translates. How the outcome of an attempt maps onto the core:

- a response: its status and headers (and, when the Session does not stream, its body,
  read inside the retry loop);
- `FailureKind.CONNECT`: a connect timeout, a refused connection, a DNS failure (the
  request never left);
- `FailureKind.UNKNOWN_OUTCOME`: a read timeout, a reset, a closed connection, a garbage
  status line, a body cut short (the server may have acted on the request);
- anything else propagates untouched and is never retried: TLS errors (a certificate
  that fails today fails again), proxy errors, invalid URLs and headers, content
  decoding errors, and exceptions that are not requests'.
"""

from __future__ import annotations

import random
import threading
import time
import warnings
from typing import IO, TYPE_CHECKING, Any, Final

import requests
import urllib3
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, BaseAdapter, HTTPAdapter
from urllib3.exceptions import NewConnectionError

import retrykit._errors
from retrykit._adapters._headers import RequestsHeaders, header_names
from retrykit._core._bodies import DRAIN_CHUNK
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._core._ratelimit import mentions_rate_limit
from retrykit._driver._endings import ErrorClasses, applied_error, rejection_error
from retrykit._driver._first import call_first
from retrykit._driver._history import attach_history
from retrykit._driver._reconcile import reconcile_in_thread
from retrykit._driver._settings import DEFAULT, UseDefault, build_runner, resolve_sleep

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence

    from requests import PreparedRequest, Response

    from retrykit._clock import Clock
    from retrykit._driver._call import Attempt, Rejection
    from retrykit._driver._history import RetryHistory
    from retrykit._driver._trace import Tracer
    from retrykit._observe._events import Hook
    from retrykit._state._breaker import CircuitBreaker
    from retrykit._state._budget import RetryBudget
    from retrykit._state._limiter import AdaptiveThrottle, RateLimiter

__all__ = [
    "CircuitOpenError",
    "DeadlineExceededError",
    "RateLimitExceededError",
    "RetryAdapter",
    "mount_retries",
]


class CircuitOpenError(retrykit._errors.CircuitOpenError, requests.exceptions.ConnectionError):
    """The circuit of the request's origin is open: the request was not sent at all.

    It is both a `retrykit.CircuitOpenError` (with ``key``, ``retry_after``,
    ``opened_by`` and ``opened_at``) and a `requests.exceptions.ConnectionError`, so code
    that already handles connection errors handles it too. ``retry_history`` holds the
    attempts made before the rejection.
    """


class RateLimitExceededError(
    retrykit._errors.RateLimitExceededError, requests.exceptions.RequestException
):
    """The client's rate limiter refused the request: nothing was sent (a requests error).

    Both a `retrykit.RateLimitExceededError` (a `retrykit.RateLimitError`, with
    ``retry_after`` and ``info.user_message``) and a `requests.RequestException`.
    """


class DeadlineExceededError(retrykit._errors.DeadlineExceededError, requests.exceptions.Timeout):
    """The call's deadline passed before it could end with a response (a requests Timeout)."""


_ERRORS: Final = ErrorClasses(CircuitOpenError, RateLimitExceededError, DeadlineExceededError)

_CONNECTION_ERROR: Final = object()
"""A `FAILURES` entry: CONNECT when urllib3's NewConnectionError caused it, else UNKNOWN."""

FAILURES: Final[tuple[tuple[type[BaseException], object], ...]] = (
    (retrykit._errors.CircuitOpenError, None),
    (requests.exceptions.ConnectTimeout, FailureKind.CONNECT),
    (requests.exceptions.SSLError, None),
    (requests.exceptions.ProxyError, None),
    (requests.exceptions.ReadTimeout, FailureKind.UNKNOWN_OUTCOME),
    (requests.exceptions.ChunkedEncodingError, FailureKind.UNKNOWN_OUTCOME),
    (requests.exceptions.ConnectionError, _CONNECTION_ERROR),
)
"""Exception type to `FailureKind` (None: never retried), most specific first."""


def _failure_kind(exc: BaseException) -> FailureKind | None:
    """Return the FailureKind of an exception from sending or reading, or None to propagate."""
    for kind, failure in FAILURES:
        if isinstance(exc, kind):
            if failure is _CONNECTION_ERROR:
                # requests wraps both "never connected" and "connection lost" in one class.
                if _caused_by(exc, NewConnectionError):
                    return FailureKind.CONNECT
                return FailureKind.UNKNOWN_OUTCOME
            return failure  # type: ignore[return-value]
    return None


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Return True if ``kind`` is in the chain of ``exc``'s args, reasons and causes."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        pending.extend(current.args)
        pending.extend((getattr(current, "reason", None), current.__cause__, current.__context__))
    return False


def _check_inner(adapter: object) -> None:
    """Check ``adapter=``: a requests adapter that does not retry itself."""
    if not isinstance(adapter, BaseAdapter):
        raise TypeError(
            f"adapter must be a requests adapter (an HTTPAdapter or BaseAdapter), got {adapter!r}"
        )
    if isinstance(adapter, RetryAdapter):
        raise ValueError(  # noqa: TRY004 - the type is right; wrapping it is the mistake
            "adapter is a RetryAdapter already: its retries would multiply these"
        )
    retries = getattr(adapter, "max_retries", None)
    if isinstance(retries, urllib3.Retry) and retries_enabled(retries):
        warnings.warn(
            f"the inner adapter retries too ({retries!r}): its attempts multiply "
            "retrykit's; mount it with max_retries=0",
            UserWarning,
            stacklevel=4,
        )


def retries_enabled(retry: urllib3.Retry) -> bool:
    """Return True if a urllib3 ``Retry`` repeats anything at all."""
    counts = (retry.total, retry.connect, retry.read, retry.status, retry.other)
    return any(count not in (None, 0, False) for count in counts)


def mount_retries(
    session: requests.Session, prefix: str = "https://", **settings: Any
) -> RetryAdapter:
    """Wrap the adapter mounted on ``session`` for ``prefix`` in a `RetryAdapter`; return it.

    Every attempt still goes through the adapter that was mounted (a TLS or
    source-address adapter from requests-toolbelt, a unix-socket adapter, a scripted
    adapter in tests); ``settings`` are the `RetryAdapter` keyword arguments.
    """
    inner = session.adapters.get(prefix) or session.get_adapter(prefix)
    adapter = RetryAdapter(adapter=inner, **settings)
    session.mount(prefix, adapter)
    return adapter


def _body_position(body: object) -> tuple[bool, int | None]:
    """Return whether a body can be sent again, and where to rewind it to (None: no need)."""
    if body is None or isinstance(body, (bytes, str, bytearray)):
        return True, None
    if hasattr(body, "seek") and hasattr(body, "tell"):
        stream: IO[Any] = body  # type: ignore[assignment]
        try:
            if getattr(stream, "seekable", lambda: True)():
                return True, stream.tell()
        except (OSError, ValueError):
            pass
    # Generators, iterators, pipes: sending them consumes them.
    return False, None


def _cap(value: object, left: float) -> float:
    return min(value, left) if isinstance(value, (int, float)) else left


def _capped_timeout(timeout: Any, time_left: float | None) -> Any:
    """Cut the connect and read timeouts of ``timeout`` (any form of it) to ``time_left``."""
    if time_left is None:
        return timeout
    left = max(time_left, 0.001)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (_cap(connect, left), _cap(read, left))
    if isinstance(timeout, urllib3.Timeout):
        return urllib3.Timeout(
            connect=_cap(timeout.connect_timeout, left), read=_cap(timeout.read_timeout, left)
        )
    return (_cap(timeout, left), _cap(timeout, left))


def _read_by(response: Response, until: float | None, clock: Callable[[], float]) -> bytes:
    """Return the body, read whole; raise `requests.ReadTimeout` still reading at ``until``.

    One network read at a time (urllib3's ``read1``), so that a body trickling in, every
    read in time, is cut at the deadline all the same.
    """
    read1 = getattr(response.raw, "read1", None)
    if until is None or read1 is None:
        return response.content
    parts: list[bytes] = []
    while chunk := _read1(read1):
        if parts and clock() >= until:
            raise requests.ReadTimeout(
                "the response body was still coming in at the call's deadline",
                request=response.request,
                response=response,
            )
        parts.append(chunk)
    return b"".join(parts)


def _read1(read1: Callable[..., bytes]) -> bytes:
    """Make one read of the body, its errors raised as `Response.iter_content` raises them."""
    try:
        return read1(DRAIN_CHUNK, decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.ConnectionError(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc


def _check_head(response: Response) -> None:
    """Raise `requests.ConnectionError` for a head the server cut off (or left unreadable).

    http.client takes ``HTTP/1.1 200 OK`` and half a header line, then a closed
    connection, for a whole response with an empty body; urllib3 only logs it. Header
    lines it could not read are left over in the parsed message's payload: a response
    that lost them is no answer to rely on, so the loop judges it as a lost connection.
    """
    message = getattr(getattr(response.raw, "_original_response", None), "msg", None)
    get_payload = getattr(message, "get_payload", None)
    if get_payload is None:
        return
    unparsed = get_payload()
    if unparsed:
        response.close()
        raise requests.ConnectionError(
            f"the response head was cut off or unreadable ({len(unparsed)} characters "
            "of it could not be read as headers)",
            request=response.request,
        )


class _Exchange:
    """The steps of one call through `RetryAdapter` (see `retrykit._driver._loop`)."""

    __slots__ = ("adapter", "options", "reads_body", "request", "rewind_to")

    def __init__(
        self,
        adapter: RetryAdapter,
        request: PreparedRequest,
        stream: bool,
        options: dict[str, Any],
        rewind_to: int | None,
    ) -> None:
        self.adapter = adapter
        self.request = request
        self.reads_body = not stream
        self.options = options
        self.rewind_to = rewind_to

    def request_headers(self) -> Mapping[str, str]:
        return RequestsHeaders(self.request.headers)

    def url_key(self) -> Hashable:
        return self.request.url

    def send_first(self, time_left: float | None, limits: bool) -> tuple[Response, int, bool]:
        response = self._sent(self.request, time_left)
        speaks = limits and mentions_rate_limit(header_names(response.headers))
        return response, response.status_code, speaks

    def send(self, time_left: float | None, attempt: Attempt) -> Response:
        request = self.request
        if attempt.target is not None or attempt.hedge:
            # A fallback origin or a hedge beside the first attempt: a copy of its own.
            request = request.copy()
            request.url = attempt.url
            request.headers.pop("Host", None)
        return self._sent(request, time_left)

    def _sent(self, request: PreparedRequest, time_left: float | None) -> Response:
        options = self.options
        timeout = _capped_timeout(options["timeout"], time_left)
        # Always streamed here: the loop reads a body only when it knows what is needed.
        inner = self.adapter.inner
        if inner is None:
            response = HTTPAdapter.send(
                self.adapter,
                request,
                stream=True,
                timeout=timeout,
                verify=options["verify"],
                cert=options["cert"],
                proxies=options["proxies"],
            )
        else:
            response = inner.send(
                request,
                stream=True,
                timeout=timeout,
                verify=options["verify"],
                cert=options["cert"],
                proxies=options["proxies"],
            )
        _check_head(response)
        return response

    @staticmethod
    def head(response: Response) -> tuple[int, Mapping[str, str]]:
        return response.status_code, RequestsHeaders(response.headers)

    def read(
        self, response: Response, until: float | None, clock: Callable[[], float]
    ) -> bytes | None:
        if not self.reads_body:
            return None
        try:
            return _read_by(response, until, clock)
        except BaseException:
            response.close()
            raise

    @staticmethod
    def chunks(response: Response, timeout: float) -> Iterator[bytes]:
        raw = response.raw
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            # The pool sets the socket's timeout again before the connection's next use.
            sock.settimeout(max(timeout, 0.001))
        read = getattr(raw, "read1", None) or raw.read
        while True:
            chunk = read(DRAIN_CHUNK, decode_content=False)
            if not chunk:
                return
            yield chunk

    @staticmethod
    def close(response: Response) -> None:
        response.close()

    @staticmethod
    def failure_kind(exc: BaseException) -> FailureKind | None:
        return _failure_kind(exc)

    @staticmethod
    def deliver(response: Response, body: bytes | None, history: RetryHistory) -> Response:
        if body is not None and getattr(response, "_content", None) is False:
            # requests' own flags for a body read into memory.
            response._content = body
            response._content_consumed = True  # type: ignore[attr-defined]
        attach_history(response, history)
        return response

    @staticmethod
    def attach(exc: BaseException, history: RetryHistory) -> None:
        attach_history(exc, history)

    def rejected(self, rejection: Rejection) -> BaseException:
        return rejection_error(rejection, self.request, _ERRORS)

    def applied(self, history: RetryHistory, response: Response | None) -> BaseException:
        return applied_error(history, self.request, response)

    def stamp(self, name: str, value: str) -> None:
        self.request.headers[name] = value

    def rewind(self) -> None:
        if self.rewind_to is not None:
            self.request.body.seek(self.rewind_to)  # type: ignore[union-attr]

    def sleep(self, seconds: float) -> None:
        self.adapter._sleep(seconds)

    def reconcile(self, time_left: float | None) -> bool | None:
        return reconcile_in_thread(self.adapter._reconcile, self.request, time_left)

    @staticmethod
    def submit(work: Callable[[], None]) -> None:
        threading.Thread(target=work, name="retrykit-hedge", daemon=True).start()


class RetryAdapter(HTTPAdapter):
    """An `HTTPAdapter` that retries what the policy says is safe and worth retrying.

    The positional parameters are `HTTPAdapter`'s, in its order: ``pool_connections``,
    ``pool_maxsize``, ``max_retries`` (must stay 0: retries are retrykit's) and
    ``pool_block``. Every retrykit parameter is keyword-only:

    - ``policy``: the `RetryPolicy` (default: ``RetryPolicy()``).
    - ``breaker``, ``budget``: a `CircuitBreaker` and a `RetryBudget`; by default
      (`retrykit.DEFAULT`) new ones with their defaults, None turns them off. Share one
      between adapters to share state.
    - ``limiter``: a `RateLimiter`, by default a new ``RateLimiter()`` that follows what
      the server says about its rate limit; None turns it off. ``throttle``: an
      `AdaptiveThrottle` (off by default). A request they refuse raises
      `RateLimitExceededError` without being sent.
    - ``fallbacks``: ``{"https://api.example.com": ["https://eu.api.example.com"]}``:
      after a 502, 503, 504 or a failed connection, or while the primary's circuit is
      open, the next attempt goes to the next origin (scheme, host and port change;
      path, query, body and headers stay).
    - ``reconcile(request) -> bool | None``: asked when a request not safe to repeat
      ends with an unknown outcome. True: it took effect, `retrykit.WriteAppliedError`
      is raised; False: it certainly did not, one more attempt is made; None: as
      without it.
    - ``tracer``: spans for each call and attempt, such as
      `retrykit.otel.OpenTelemetryTracing()`; None (the default) traces nothing.
    - ``hooks``: callables receiving every event; one that raises is logged and skipped.
    - ``clock``: monotonic seconds, or a `Clock` object (such as
      `retrykit.testing.FakeClock`) that also gives the wall clock and the waits;
      ``sleep``, ``wall_clock`` and ``rand`` replace the waits, the Unix clock and the
      jitter source one by one (for tests).
    - ``key_func(url)``: the circuit key (default: `retrykit.origin_key`, the origin
      ``scheme://host:port``); ``endpoint_func(method, url)``: the endpoint label in
      events and logs (default: `retrykit.endpoint_template`).
    - ``adapter``: send every attempt through this adapter instead of this one's own
      pool (an adapter you already mount: TLS settings, a source address, a unix
      socket, a scripted fake); its pool settings then apply. `mount_retries` wraps
      whatever a Session has mounted for a prefix.

    Every argument is checked here: a wrong one raises TypeError or ValueError naming it.
    urllib3's own retries are off, so nothing is retried twice. The final response is
    returned (never raised for its status), or the last requests exception is raised,
    unchanged in type; either carries ``retry_history`` (read it with
    `retrykit.get_history`). The policy's deadline bounds every attempt: the connect and
    read timeouts given to ``send`` (the Session's ``timeout=``, or none) are cut to the
    time left. A response that will be retried is read up to 1 MiB (its connection
    dropped past that) and closed. One adapter may serve many threads at once, and a
    Session holding it pickles.
    """

    __attrs__: list[str] = [  # noqa: RUF012 - HTTPAdapter declares it as a mutable class attribute
        *HTTPAdapter.__attrs__,
        "_policy",
        "_breaker",
        "_budget",
        "_limiter",
        "_throttle",
        "_fallbacks",
        "_reconcile",
        "_tracer",
        "_hooks",
        "_sleep_arg",
        "_clock",
        "_wall_clock",
        "_rand",
        "_key_func",
        "_endpoint_func",
        "_inner",
    ]

    def __init__(
        self,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int = DEFAULT_POOLSIZE,
        max_retries: int = 0,
        pool_block: bool = DEFAULT_POOLBLOCK,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | UseDefault | None = DEFAULT,
        budget: RetryBudget | UseDefault | None = DEFAULT,
        limiter: RateLimiter | UseDefault | None = DEFAULT,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        reconcile: Callable[[PreparedRequest], bool | None] | None = None,
        tracer: Tracer | None = None,
        hooks: Sequence[Hook] = (),
        clock: Callable[[], float] | Clock = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
        adapter: BaseAdapter | None = None,
    ) -> None:
        if adapter is not None:
            _check_inner(adapter)
        if max_retries != 0:
            raise ValueError(
                f"max_retries must be 0, got {max_retries!r}: urllib3's retries would "
                "multiply retrykit's; give a RetryPolicy as policy= (a urllib3 Retry "
                "converts with RetryPolicy.from_urllib3)"
            )
        for name, size in (("pool_connections", pool_connections), ("pool_maxsize", pool_maxsize)):
            if isinstance(size, bool) or not isinstance(size, int):
                raise TypeError(f"{name} must be an int, got {size!r}")
            if size < 1:
                raise ValueError(f"{name} must be at least 1, got {size!r}")
        if not isinstance(pool_block, bool):
            raise TypeError(f"pool_block must be True or False, got {pool_block!r}")
        # max_retries=0 is requests' Retry(0, read=False): urllib3 never repeats a request.
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=0,
            pool_block=pool_block,
        )
        self._policy = policy
        self._breaker = breaker
        self._budget = budget
        self._limiter = limiter
        self._throttle = throttle
        self._fallbacks = fallbacks
        self._reconcile = reconcile
        self._tracer = tracer
        self._hooks = hooks
        self._sleep_arg = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand
        self._key_func = key_func
        self._endpoint_func = endpoint_func
        self._inner = adapter
        self._build()

    @property
    def inner(self) -> BaseAdapter | None:
        """The adapter every attempt is sent through, or None for this adapter's own pool."""
        return self._inner

    def close(self) -> None:
        """Close this adapter's pool and the inner adapter's."""
        super().close()
        if self._inner is not None:
            self._inner.close()

    def _build(self) -> None:
        self._runner = build_runner(
            policy=self._policy,
            breaker=self._breaker,
            budget=self._budget,
            limiter=self._limiter,
            throttle=self._throttle,
            fallbacks=self._fallbacks,
            reconcile=self._reconcile,
            tracer=self._tracer,
            hooks=self._hooks,
            clock=self._clock,
            wall_clock=self._wall_clock,
            rand=self._rand,
            key_func=self._key_func,
            endpoint_func=self._endpoint_func,
        )
        self._runner.circuit_error = CircuitOpenError
        # Kept resolved, so a pickled copy shares nothing but the settings.
        self._policy = self._runner.policy
        self._breaker = self._runner.breaker
        self._budget = self._runner.budget
        self._limiter = self._runner.limiter
        self._throttle = self._runner.throttle
        self._hooks = self._runner.hooks
        self._sleep = resolve_sleep(self._sleep_arg, self._clock, asynchronous=False)

    @property
    def policy(self) -> RetryPolicy:
        """The policy every call through this adapter follows."""
        return self._runner.policy

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker checked before every attempt, or None when off."""
        return self._runner.breaker

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget every retry draws from, or None when off."""
        return self._runner.budget

    @property
    def hooks(self) -> tuple[Hook, ...]:
        """The callables that receive every event."""
        return self._runner.hooks

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc] # typeshed's stub lacks it
        self._build()

    def send(  # noqa: PLR0917 - the signature is HTTPAdapter.send's
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        """Send ``request``, retrying as the policy allows; return the final response.

        Raises the last attempt's requests exception when no response came back, or
        `CircuitOpenError` when the circuit rejects an attempt (nothing is sent then).
        """
        replayable, rewind_to = _body_position(request.body)
        options = {"timeout": timeout, "verify": verify, "cert": cert, "proxies": proxies}
        runner = self._runner
        return call_first(
            runner,
            _Exchange(self, request, stream, options, rewind_to),
            request.method or "GET",
            request.url or "",
            policy=runner.policy,
            replayable=replayable,
        )
