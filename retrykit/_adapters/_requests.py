"""retrykit for requests: `RetryAdapter`, an `HTTPAdapter` that retries beneath a Session.

Mount it on the Session you already have::

    session.mount("https://", RetryAdapter(policy=RetryPolicy(max_attempts=4)))

Every decision comes from `retrykit._core`; this module only translates. How the outcome
of an attempt maps onto the core:

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
import time
from typing import IO, TYPE_CHECKING, Any, Final

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import NewConnectionError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retrykit.requests needs requests and urllib3: pip install 'retrykit[requests]'"
    ) from exc

from retrykit._core._endpoint import endpoint_template
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._driver._call import RetryRunner, attach_history, origin_key
from retrykit._errors import CircuitOpenError as _CircuitOpenError
from retrykit._state._breaker import CircuitBreaker
from retrykit._state._budget import RetryBudget

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from requests import PreparedRequest, Response

    from retrykit._observe._events import Hook

__all__ = ["CircuitOpenError", "RetryAdapter"]

# Past this many bytes, dropping a discarded response's connection is cheaper than reading on.
_DRAIN_LIMIT: Final = 1024 * 1024
_DRAIN_CHUNK: Final = 64 * 1024


class _Default:
    """The type of `_DEFAULT`: "a new one with its defaults", where None means "off"."""

    def __repr__(self) -> str:
        return "<default>"


_DEFAULT: Final = _Default()


class CircuitOpenError(_CircuitOpenError, requests.exceptions.ConnectionError):
    """The circuit of the request's origin is open: the request was not sent at all.

    It is both a `retrykit.CircuitOpenError` (with ``key`` and ``retry_after``) and a
    `requests.exceptions.ConnectionError`, so code that already handles connection errors
    handles it too. ``retry_history`` holds the attempts made before the rejection.
    """


class RetryAdapter(HTTPAdapter):
    """An `HTTPAdapter` that retries what the policy says is safe and worth retrying.

    - ``policy``: the `RetryPolicy` (default: ``RetryPolicy()``).
    - ``breaker``, ``budget``: a `CircuitBreaker` and a `RetryBudget`; by default new ones
      with their defaults, None turns them off. Share one between adapters to share state.
    - ``hooks``: callables receiving every event; one that raises is logged and skipped.
    - ``sleep``, ``clock``, ``wall_clock``, ``rand``: the waits, the monotonic and Unix
      clocks and the jitter source (replace them in tests).
    - ``key_func(url)``: the circuit key (default: the origin ``scheme://host:port``);
      ``endpoint_func(method, url)``: the endpoint label in events and logs.
    - ``pool_connections``, ``pool_maxsize``, ``pool_block``: as for `HTTPAdapter`.

    urllib3's own retries are off, so nothing is retried twice. The final response is
    returned (never raised for its status), or the last requests exception is raised,
    unchanged in type; either carries ``retry_history`` (read it with
    `retrykit.get_history`). A per-attempt timeout is the Session's ``timeout=``; the
    policy's deadline bounds the waits between attempts, never an attempt in flight.
    One adapter may serve many threads at once, and a Session holding it pickles.
    """

    __attrs__ = [  # noqa: RUF012 - HTTPAdapter declares it as a mutable class attribute
        *HTTPAdapter.__attrs__,
        "_policy",
        "_breaker",
        "_budget",
        "_hooks",
        "_sleep",
        "_clock",
        "_wall_clock",
        "_rand",
        "_key_func",
        "_endpoint_func",
    ]

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | _Default | None = _DEFAULT,
        budget: RetryBudget | _Default | None = _DEFAULT,
        hooks: Sequence[Hook] = (),
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
        pool_connections: int = requests.adapters.DEFAULT_POOLSIZE,
        pool_maxsize: int = requests.adapters.DEFAULT_POOLSIZE,
        pool_block: bool = requests.adapters.DEFAULT_POOLBLOCK,
    ) -> None:
        # max_retries=0 is requests' Retry(0, read=False): urllib3 never repeats a request.
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize,
            max_retries=0,
            pool_block=pool_block,
        )
        self._policy = policy if policy is not None else RetryPolicy()
        self._breaker = CircuitBreaker() if isinstance(breaker, _Default) else breaker
        self._budget = RetryBudget() if isinstance(budget, _Default) else budget
        self._hooks = tuple(hooks)
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand
        self._key_func = key_func or origin_key
        self._endpoint_func = endpoint_func or endpoint_template
        self._runner = self._make_runner()

    @property
    def policy(self) -> RetryPolicy:
        """The policy every call through this adapter follows."""
        return self._policy

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker checked before every attempt, or None when off."""
        return self._breaker

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget every retry draws from, or None when off."""
        return self._budget

    @property
    def hooks(self) -> tuple[Hook, ...]:
        """The callables that receive every event."""
        return self._hooks

    def _make_runner(self) -> RetryRunner:
        return RetryRunner(
            policy=self._policy,
            breaker=self._breaker,
            budget=self._budget,
            hooks=self._hooks,
            circuit_error=CircuitOpenError,
            clock=self._clock,
            wall_clock=self._wall_clock,
            rand=self._rand,
            key_func=self._key_func,
            endpoint_func=self._endpoint_func,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc] # typeshed's stub lacks it
        self._runner = self._make_runner()

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
        options = {"timeout": timeout, "verify": verify, "cert": cert, "proxies": proxies}
        replayable, rewind_to = _body_position(request.body)
        call = self._runner.start(
            request.method or "GET", request.url or "", request.headers, replayable=replayable
        )
        if call.idempotency_key is not None:
            request.headers[call.policy.idempotency_header] = call.idempotency_key
        while True:
            call.before_attempt()
            try:
                response, content = self._attempt(request, stream, options)
            except requests.RequestException as exc:
                failure = _failure_kind(exc)
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
                decision = call.after_response(response.status_code, response.headers, content)
                if not decision.retry:
                    attach_history(response, call.finish())
                    return response
                _discard(response, unread=stream)
            if rewind_to is not None:
                request.body.seek(rewind_to)  # type: ignore[union-attr]
            if decision.delay > 0:
                self._sleep(decision.delay)

    def _attempt(
        self, request: PreparedRequest, stream: bool, options: dict[str, Any]
    ) -> tuple[Response, bytes | None]:
        """Send once; unless streaming, read the body too, so a broken body fails here."""
        response = super().send(request, stream=stream, **options)
        if stream:
            return response, None
        try:
            return response, response.content
        except BaseException:
            response.close()
            raise


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


def _failure_kind(exc: requests.RequestException) -> FailureKind | None:
    """Return the FailureKind of an exception from sending or reading, or None to propagate."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FailureKind.CONNECT
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return None
    if isinstance(exc, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return FailureKind.UNKNOWN_OUTCOME
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _caused_by(exc, NewConnectionError):
            return FailureKind.CONNECT
        return FailureKind.UNKNOWN_OUTCOME
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


def _discard(response: Response, *, unread: bool) -> None:
    """Release a response that will not be returned, keeping its connection when cheap."""
    if unread:
        try:
            drained = 0
            while drained < _DRAIN_LIMIT:
                chunk = response.raw.read(_DRAIN_CHUNK, decode_content=False)
                if not chunk:
                    break
                drained += len(chunk)
        except Exception:  # noqa: BLE001, S110 - a broken body: close() below drops the connection
            pass
    response.close()
