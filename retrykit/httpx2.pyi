# Type stub of retrykit.httpx2: the classes of retrykit.httpx, typed over httpx2.
#
# retrykit.httpx2 runs the one implementation (retrykit/_adapters/_httpx.py) a second time
# with httpx2 in place of httpx, which type checkers cannot follow; this stub gives them
# the real classes. tests/test_httpx2.py checks that every signature here matches the
# implementation's, parameter by parameter.

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

import httpx2

import retrykit
from retrykit._clock import Clock
from retrykit._core._policy import RetryPolicy
from retrykit._driver._settings import UseDefault
from retrykit._driver._trace import Tracer
from retrykit._observe._events import Hook
from retrykit._state._breaker import CircuitBreaker
from retrykit._state._budget import RetryBudget
from retrykit._state._limiter import AdaptiveThrottle, RateLimiter

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

POLICY_EXTENSION: Final[str]
READ_BODY_EXTENSION: Final[str]
HISTORY_EXTENSION: Final[str]
ENDPOINT_EXTENSION: Final[str]

class CircuitOpenError(retrykit.CircuitOpenError, httpx2.TransportError):
    """The circuit of the request's origin is open: the request was not sent at all."""

    def __init__(
        self,
        key: str,
        retry_after: float,
        *,
        opened_by: object = None,
        opened_at: float | None = None,
        request: httpx2.Request | None = None,
    ) -> None: ...

class RateLimitExceededError(retrykit.RateLimitExceededError, httpx2.TransportError):
    """The client's rate limiter refused the request: nothing was sent (an httpx2 error)."""

class DeadlineExceededError(retrykit.DeadlineExceededError, httpx2.TimeoutException):
    """The call's deadline passed before it could end with a response (an httpx2 timeout)."""

    def __init__(self, message: str, *, request: httpx2.Request | None = None) -> None: ...

class RetryTransport(httpx2.BaseTransport):
    """An httpx2 transport that retries, beneath any other transport."""

    def __init__(
        self,
        transport: httpx2.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | UseDefault | None = ...,
        budget: RetryBudget | UseDefault | None = ...,
        limiter: RateLimiter | UseDefault | None = ...,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        reconcile: Callable[[httpx2.Request], bool | None] | None = None,
        tracer: Tracer | None = None,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        clock: Callable[[], float] | Clock = ...,
        sleep: Callable[[float], object] | None = None,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = ...,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
    ) -> None: ...
    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
    def close(self) -> None:
        """Close the inner transport."""

class AsyncRetryTransport(httpx2.AsyncBaseTransport):
    """The async twin of `RetryTransport`, for ``httpx2.AsyncClient``."""

    def __init__(
        self,
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | UseDefault | None = ...,
        budget: RetryBudget | UseDefault | None = ...,
        limiter: RateLimiter | UseDefault | None = ...,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        reconcile: Callable[[httpx2.Request], Awaitable[bool | None]] | None = None,
        tracer: Tracer | None = None,
        hooks: Sequence[Hook] = (),
        read_body: bool = False,
        clock: Callable[[], float] | Clock = ...,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = ...,
        key_func: Callable[[str], str] | None = None,
        endpoint_func: Callable[[str, str], str] | None = None,
    ) -> None: ...
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``, retrying as the policy allows; return the final response."""
    async def aclose(self) -> None:
        """Close the inner transport."""
