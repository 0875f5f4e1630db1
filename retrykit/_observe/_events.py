"""The events a retry loop emits, for hooks, logs, metrics and alerts.

Every event is a small frozen attrs object holding only safe data: the endpoint template
(never the full URL with its query), and a key fingerprint (never a credential).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import attrs

from retrykit._core._breaker import BreakerState
from retrykit._core._policy import FailureKind


@attrs.frozen
class AttemptFinished:
    """One attempt ended with a response (``status``) or without one (``failure``).

    ``origin`` is the fallback origin it went to (None for the request's own), and
    ``hedged`` is True for an attempt sent alongside another. ``ignored_headers`` names
    any ``Retry-After`` or rate-limit header of the response that could not be read (the
    wait was then the backoff's alone).
    """

    method: str
    endpoint: str
    attempt: int
    status: int | None
    failure: FailureKind | None
    duration: float
    request_id: str | None = None
    key_fingerprint: str | None = None
    error_code: str | None = None
    origin: str | None = None
    hedged: bool = False
    ignored_headers: tuple[str, ...] = ()


@attrs.frozen
class RetryScheduled:
    """Attempt ``attempt`` will be followed by another, after ``delay`` seconds.

    ``server_wait`` is the wait the server asked for (``Retry-After`` or a rate-limit
    reset), when it asked; ``delay`` is never shorter than it.
    """

    method: str
    endpoint: str
    attempt: int
    max_attempts: int
    delay: float
    reason: str
    status: int | None = None
    failure: FailureKind | None = None
    request_id: str | None = None
    key_fingerprint: str | None = None
    server_wait: float | None = None


@attrs.frozen
class CallFinished:
    """The retry loop is over: ``succeeded`` says whether the caller got a non-error answer.

    ``reason`` is the last `Decision`'s reason (``"success"``, ``"attempts_exhausted"``,
    ``"budget_exhausted"``...), ``total_time`` includes every attempt and wait. With
    fallbacks configured, ``origin`` is the origin of the last attempt and ``fallback``
    says whether that was not the primary. When an open circuit refused the call's next
    attempt (reason ``"circuit_open"``), ``circuit`` is its key and ``retry_after`` the
    seconds until it lets a probe through, where the driver knows them (else None).
    """

    method: str
    endpoint: str
    succeeded: bool
    reason: str
    attempts: int
    total_time: float
    status: int | None = None
    failure: FailureKind | None = None
    request_id: str | None = None
    key_fingerprint: str | None = None
    error_code: str | None = None
    origin: str | None = None
    fallback: bool = False
    circuit: str | None = None
    retry_after: float | None = None


@attrs.frozen
class CircuitStateChanged:
    """The circuit ``key`` went from ``old`` to ``new``."""

    key: str
    old: BreakerState
    new: BreakerState


@attrs.frozen
class CallRejected:
    """A call was refused by an open circuit, without any network I/O."""

    method: str
    endpoint: str
    key: str
    retry_after: float
    key_fingerprint: str | None = None


@attrs.frozen
class BudgetExhausted:
    """The retry budget stopped a retry that the policy would have made."""

    method: str
    endpoint: str
    attempt: int
    key_fingerprint: str | None = None


@attrs.frozen
class FallbackUsed:
    """Attempt ``attempt`` went to the fallback ``origin`` instead of ``primary``."""

    method: str
    endpoint: str
    attempt: int
    origin: str
    primary: str
    key_fingerprint: str | None = None


@attrs.frozen
class RateLimitWaited:
    """Attempt ``attempt`` waited ``wait`` seconds for the rate limiter before it left.

    The limiter held it for the server's reset or ``Retry-After``, the configured rate,
    or a first request's answer; a retry's own wait after a 429 is `RetryScheduled`'s.
    """

    method: str
    endpoint: str
    attempt: int
    wait: float
    key_fingerprint: str | None = None


@attrs.frozen
class StorageDegraded:
    """The fleet store ``namespace`` went local-only after ``errors`` failed exchanges.

    ``error`` says what the last one was (the exception's type and message). Calls are
    unaffected: every holder follows its own rules alone until `StorageRecovered`.
    """

    namespace: str
    error: str
    errors: int


@attrs.frozen
class StorageRecovered:
    """The fleet store ``namespace`` answers again after ``down_for`` seconds local-only."""

    namespace: str
    down_for: float


Event: TypeAlias = (
    AttemptFinished
    | RetryScheduled
    | CallFinished
    | CircuitStateChanged
    | CallRejected
    | BudgetExhausted
    | FallbackUsed
    | RateLimitWaited
    | StorageDegraded
    | StorageRecovered
)
Hook: TypeAlias = Callable[[Event], None]
FirstSuccess: TypeAlias = Callable[[str, str, int, float], None]
"""A hook's optional ``first_success(method, endpoint, status, duration)`` method.

A call that succeeds on its first attempt produces an `AttemptFinished` and a
`CallFinished` that differ only in their type. When every hook has this method (as
`retrykit.Metrics` does) and no log handler takes DEBUG records, the driver calls it
instead of building the two events: one call with the four values they would carry
(the fingerprint and request id are not passed). A hook offering it must record the
same as its ``__call__`` would for the two events.
"""
