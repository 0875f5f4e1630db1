"""The ``retrykit`` logger: one line per call outcome, readable alone, structured in ``extra``.

Levels, one row per line retrykit writes:

=========================================  =======  =======================
What happened                              Level    Event
=========================================  =======  =======================
an attempt ended                           DEBUG    `AttemptFinished`
a call succeeded                           DEBUG    `CallFinished`
a retry was scheduled                      INFO     `RetryScheduled`
an attempt waited for the rate limiter     DEBUG    `RateLimitWaited`
an attempt went to a fallback origin       INFO     `FallbackUsed`
a circuit half-opened or closed            INFO     `CircuitStateChanged`
a call refused here, before sending        INFO     `CallFinished`
a call failed, whatever the reason         WARNING  `CallFinished`
a circuit opened                           WARNING  `CircuitStateChanged`
a fleet store went local-only              WARNING  `StorageDegraded`
a fleet store answers again                WARNING  `StorageRecovered`
=========================================  =======  =======================

A call that failed is one WARNING line, whatever stopped it: attempts exhausted, a status
not retried, the deadline, the retry budget, the rate limiter, or an open circuit that
stopped its retries. A call refused before anything was sent, by an open circuit, the
rate limiter or the throttle, is one INFO line: the decision that refuses it was told at
WARNING already (the circuit's opening, the server's block), and during an outage such
refusals come by the thousand, each of them costing a log record at WARNING.
`CallRejected` and `BudgetExhausted` reach hooks but write no line of their own: the
call's `CallFinished` line says the same, with the reason ``circuit_open`` or
``budget_exhausted``.

Every record carries the same attributes (None where the event has no such value), each
prefixed ``retrykit_`` so that none can overwrite a key of another logging stack
(structlog's ``event``, a JSON formatter's ``message`` or ``status``): see `FIELDS`.
Events hold only an endpoint template and a key fingerprint, so no record can hold a
credential.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from retrykit._core._breaker import BreakerState
from retrykit._core._decide import Reason
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FallbackUsed,
    RateLimitWaited,
    RetryScheduled,
    StorageDegraded,
    StorageRecovered,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from retrykit._core._policy import FailureKind
    from retrykit._observe._events import Event

logger = logging.getLogger("retrykit")
# A library leaves output to the application: without this, Python's last-resort handler
# would print retrykit's warnings to stderr in programs that never configured logging.
logger.addHandler(logging.NullHandler())

FIELDS: Final = (
    "retrykit_event",
    "retrykit_method",
    "retrykit_endpoint",
    "retrykit_attempt",
    "retrykit_status",
    "retrykit_failure",
    "retrykit_delay",
    "retrykit_duration",
    "retrykit_reason",
    "retrykit_request_id",
    "retrykit_key_fingerprint",
    "retrykit_error_code",
    "retrykit_circuit",
    "retrykit_origin",
)
"""The attributes of every ``retrykit`` record, in this order: the event's class name, the
request's method and endpoint template, the attempt number (attempts made, for a call),
status, failure kind, the wait that follows (seconds; for `RateLimitWaited`, the wait
made), the duration (seconds), the
reason, request id, key fingerprint, error code, circuit key and origin."""

_FIXED_LEVELS: dict[type, int] = {
    AttemptFinished: logging.DEBUG,
    RateLimitWaited: logging.DEBUG,
    RetryScheduled: logging.INFO,
    FallbackUsed: logging.INFO,
    StorageDegraded: logging.WARNING,
    StorageRecovered: logging.WARNING,
    # No line of their own (the call's CallFinished line tells it): the lowest level, so
    # the driver's isEnabledFor check usually stops there.
    CallRejected: logging.DEBUG,
    BudgetExhausted: logging.DEBUG,
}


# Calls refused here, before anything was sent, by a decision already told at WARNING
# (a circuit that opened, a server's block): during an outage they come by the thousand.
_REFUSED_LOCALLY: Final = frozenset({Reason.CIRCUIT_OPEN, Reason.RATE_LIMITED, Reason.THROTTLED})


def call_level(*, succeeded: bool, attempts: int, reason: str) -> int:
    """Return the level of a call's `CallFinished` line (see the table above)."""
    if succeeded:
        return logging.DEBUG
    if not attempts and reason in _REFUSED_LOCALLY:
        return logging.INFO
    return logging.WARNING


def event_level(event: Event) -> int:
    """Return the logging level of ``event``'s line (the table in this module's docstring)."""
    level = _FIXED_LEVELS.get(type(event))
    if level is not None:
        return level
    if isinstance(event, CallFinished):
        return call_level(succeeded=event.succeeded, attempts=event.attempts, reason=event.reason)
    if isinstance(event, CircuitStateChanged) and event.new is BreakerState.OPEN:
        return logging.WARNING
    return logging.INFO


def _outcome(status: int | None, failure: FailureKind | None) -> str:
    if status is not None:
        return str(status)
    if failure is not None:
        return f"{failure.value} failure"
    return "no response"


def _details(*pairs: tuple[str, object], first: str | None = None) -> str:
    shown = [f"{name}={value}" for name, value in pairs if value is not None]
    if first is not None:
        shown.insert(0, first)
    return f" ({', '.join(shown)})" if shown else ""


def _plain(value: object) -> object:
    """Return a reason as a plain str, so every formatter renders it as its value."""
    return str(value) if isinstance(value, Reason) else value


def _fields(event: Event) -> dict[str, object]:
    """Return the ``retrykit_*`` attributes of ``event``'s record (see `FIELDS`)."""
    failure: FailureKind | None = getattr(event, "failure", None)
    delay = getattr(event, "delay", None)
    reason = getattr(event, "reason", None)
    circuit = getattr(event, "circuit", None)
    attempt = getattr(event, "attempt", None)
    duration = getattr(event, "duration", None)
    if isinstance(event, CallFinished):
        attempt, duration, delay = event.attempts, event.total_time, event.retry_after
    elif isinstance(event, (CallRejected, CircuitStateChanged)):
        circuit = event.key
    if isinstance(event, RateLimitWaited):
        delay = event.wait
    elif isinstance(event, CallRejected):
        delay, reason = event.retry_after, Reason.CIRCUIT_OPEN
    elif isinstance(event, BudgetExhausted):
        reason = Reason.BUDGET_EXHAUSTED
    return {
        "retrykit_event": type(event).__name__,
        "retrykit_method": getattr(event, "method", None),
        "retrykit_endpoint": getattr(event, "endpoint", None),
        "retrykit_attempt": attempt,
        "retrykit_status": getattr(event, "status", None),
        "retrykit_failure": failure.value if failure is not None else None,
        "retrykit_delay": delay,
        "retrykit_duration": duration,
        "retrykit_reason": _plain(reason),
        "retrykit_request_id": getattr(event, "request_id", None),
        "retrykit_key_fingerprint": getattr(event, "key_fingerprint", None),
        "retrykit_error_code": getattr(event, "error_code", None),
        "retrykit_circuit": circuit,
        "retrykit_origin": getattr(event, "origin", None),
    }


def _name(method: str, endpoint: str) -> str:
    # Endpoint templates start with the method already; custom ones may not.
    return endpoint if endpoint.startswith(f"{method} ") else f"{method} {endpoint}"


def _attempt_line(event: AttemptFinished) -> str:
    ignored = ", ".join(event.ignored_headers) if event.ignored_headers else None
    details = _details(
        ("error_code", event.error_code),
        ("request_id", event.request_id),
        ("key", event.key_fingerprint),
        ("ignored unreadable", ignored),
    )
    return (
        f"{_name(event.method, event.endpoint)} attempt {event.attempt} -> "
        f"{_outcome(event.status, event.failure)} in {event.duration:.3f}s{details}"
    )


def _retry_line(event: RetryScheduled) -> str:
    details = _details(("request_id", event.request_id), ("key", event.key_fingerprint))
    return (
        f"{_name(event.method, event.endpoint)} -> {_outcome(event.status, event.failure)}, "
        f"retry {event.attempt + 1}/{event.max_attempts} in {event.delay:.2f}s{details}"
    )


def _call_line(event: CallFinished) -> str:
    name = _name(event.method, event.endpoint)
    key = event.key_fingerprint
    plural = "" if event.attempts == 1 else "s"
    if event.succeeded:
        details = _details(("request_id", event.request_id), ("key", key))
        return (
            f"{name} -> {_outcome(event.status, event.failure)} after {event.attempts} "
            f"attempt{plural} in {event.total_time:.3f}s{details}"
        )
    retry_after = f"{event.retry_after:.2f}s" if event.retry_after is not None else None
    last = f"last {_outcome(event.status, event.failure)}" if event.attempts else None
    details = _details(
        ("circuit", event.circuit),
        ("retry_after", retry_after),
        ("error_code", event.error_code),
        ("request_id", event.request_id),
        ("key", key),
        first=last,
    )
    if not event.attempts:
        return f"{name} not sent: {event.reason}{details}"
    return f"{name} gave up after {event.attempts} attempt{plural}: {event.reason}{details}"


def _circuit_line(event: CircuitStateChanged) -> str:
    return f"circuit {event.key} {event.old.value} -> {event.new.value}"


def _degraded_line(event: StorageDegraded) -> str:
    return (
        f"fleet store {event.namespace} is local-only after {event.errors} failed "
        f"exchanges ({event.error}); calls go on, unshared"
    )


def _recovered_line(event: StorageRecovered) -> str:
    return (
        f"fleet store {event.namespace} answers again after {event.down_for:.1f}s "
        "local-only; sharing resumes"
    )


def _waited_line(event: RateLimitWaited) -> str:
    details = _details(("key", event.key_fingerprint))
    return (
        f"{_name(event.method, event.endpoint)} attempt {event.attempt} waited "
        f"{event.wait:.3f}s for the rate limiter{details}"
    )


def _fallback_line(event: FallbackUsed) -> str:
    return (
        f"{_name(event.method, event.endpoint)} attempt {event.attempt} sent to fallback "
        f"{event.origin} instead of {event.primary}{_details(('key', event.key_fingerprint))}"
    )


_LINES: dict[type, Callable[[Any], str]] = {
    AttemptFinished: _attempt_line,
    RetryScheduled: _retry_line,
    CallFinished: _call_line,
    CircuitStateChanged: _circuit_line,
    FallbackUsed: _fallback_line,
    RateLimitWaited: _waited_line,
    StorageDegraded: _degraded_line,
    StorageRecovered: _recovered_line,
}


def log_event(event: Event, level: int) -> None:
    """Log ``event``'s line on the ``retrykit`` logger at ``level``, its fields in ``extra``.

    The driver calls this only when ``logger.isEnabledFor(level)``, so a silenced logger
    costs nothing but that check. Events without a line of their own (`CallRejected`,
    `BudgetExhausted`) are skipped.
    """
    line = _LINES.get(type(event))
    if line is not None:
        logger.log(level, line(event), extra=_fields(event))


def log_hook_failure(hook: object, event: Event) -> None:
    """Log, with its traceback, that ``hook`` raised on ``event`` (call it in an ``except``).

    The record carries the event's fields like every other ``retrykit`` record, so a
    formatter that reads them does not fail on this one.
    """
    logger.exception(
        "retrykit hook %r failed on %s", hook, type(event).__name__, extra=_fields(event)
    )
