"""The ``retrykit`` logger: one record per event, readable alone and structured in ``extra``.

Levels: DEBUG per attempt and per successful call, INFO per retry, for a circuit that
closes or half-opens and for each call an open circuit rejects, WARNING for a call that
failed, a circuit that opened, a retry the budget stopped, and a fleet store that went
local-only or came back (`StorageDegraded`, `StorageRecovered`). Rejections are INFO because
the opening was already a WARNING, and an open circuit may reject thousands of calls a second.

Every record carries the same attributes (None where the event has no such value), so a
formatter may use ``%(status)s`` or ``%(key_fingerprint)s`` for any retrykit record:
``event``, ``method``, ``endpoint``, ``attempt``, ``status``, ``failure``, ``delay``,
``reason``, ``request_id``, ``key_fingerprint``, ``error_code`` and ``circuit``. Events hold
only an endpoint template and a key fingerprint, so no record can hold a credential.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from retrykit._core._breaker import BreakerState
from retrykit._core._decide import Reason
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FallbackUsed,
    RetryScheduled,
    StorageDegraded,
    StorageRecovered,
)

if TYPE_CHECKING:
    from retrykit._core._policy import FailureKind
    from retrykit._observe._events import Event

logger = logging.getLogger("retrykit")
# A library leaves output to the application: without this, Python's last-resort handler
# would print retrykit's warnings to stderr in programs that never configured logging.
logger.addHandler(logging.NullHandler())

_FIXED_LEVELS: dict[type, int] = {
    AttemptFinished: logging.DEBUG,
    RetryScheduled: logging.INFO,
    CallRejected: logging.INFO,
    BudgetExhausted: logging.WARNING,
    FallbackUsed: logging.INFO,
    StorageDegraded: logging.WARNING,
    StorageRecovered: logging.WARNING,
}


def event_level(event: Event) -> int:
    """Return the logging level retrykit uses for ``event`` (see this module's docstring)."""
    level = _FIXED_LEVELS.get(type(event))
    if level is not None:
        return level
    if isinstance(event, CallFinished):
        if event.succeeded:
            return logging.DEBUG
        return logging.INFO if event.reason == Reason.CIRCUIT_OPEN else logging.WARNING
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


def _message_and_extra(event: Event) -> tuple[str, dict[str, object]]:
    extra: dict[str, object] = {
        "event": type(event).__name__,
        "method": None,
        "endpoint": None,
        "attempt": None,
        "status": None,
        "failure": None,
        "delay": None,
        "reason": None,
        "request_id": None,
        "key_fingerprint": None,
        "error_code": None,
        "circuit": None,
    }
    if isinstance(event, CircuitStateChanged):
        extra["circuit"] = event.key
        return f"circuit {event.key} {event.old.value} -> {event.new.value}", extra
    if isinstance(event, StorageDegraded):
        extra["reason"] = "storage_degraded"
        return (
            f"fleet store {event.namespace} is local-only after {event.errors} failed "
            f"exchanges ({event.error}); calls go on, unshared"
        ), extra
    if isinstance(event, StorageRecovered):
        extra["reason"] = "storage_recovered"
        return (
            f"fleet store {event.namespace} answers again after {event.down_for:.1f}s "
            "local-only; sharing resumes"
        ), extra

    extra["method"] = event.method
    extra["endpoint"] = event.endpoint
    extra["key_fingerprint"] = event.key_fingerprint
    # Endpoint templates start with the method already; custom ones may not.
    name = event.endpoint
    if not name.startswith(f"{event.method} "):
        name = f"{event.method} {name}"
    key = event.key_fingerprint

    if isinstance(event, AttemptFinished):
        extra.update(
            attempt=event.attempt,
            status=event.status,
            failure=event.failure and event.failure.value,
            request_id=event.request_id,
            error_code=event.error_code,
        )
        ignored = ", ".join(event.ignored_headers) if event.ignored_headers else None
        details = _details(
            ("error_code", event.error_code),
            ("request_id", event.request_id),
            ("key", key),
            ("ignored unreadable", ignored),
        )
        outcome = _outcome(event.status, event.failure)
        message = f"{name} attempt {event.attempt} -> {outcome} in {event.duration:.3f}s{details}"
    elif isinstance(event, RetryScheduled):
        extra.update(
            attempt=event.attempt,
            status=event.status,
            failure=event.failure and event.failure.value,
            delay=event.delay,
            reason=event.reason,
            request_id=event.request_id,
        )
        details = _details(("request_id", event.request_id), ("key", key))
        message = (
            f"{name} -> {_outcome(event.status, event.failure)}, "
            f"retry {event.attempt + 1}/{event.max_attempts} in {event.delay:.2f}s{details}"
        )
    elif isinstance(event, CallFinished):
        extra.update(
            attempt=event.attempts,
            status=event.status,
            failure=event.failure and event.failure.value,
            reason=event.reason,
            request_id=event.request_id,
            error_code=event.error_code,
        )
        plural = "" if event.attempts == 1 else "s"
        if event.succeeded:
            details = _details(("request_id", event.request_id), ("key", key))
            message = (
                f"{name} -> {_outcome(event.status, event.failure)} after {event.attempts} "
                f"attempt{plural} in {event.total_time:.3f}s{details}"
            )
        else:
            details = _details(
                ("error_code", event.error_code),
                ("request_id", event.request_id),
                ("key", key),
                first=f"last {_outcome(event.status, event.failure)}",
            )
            message = (
                f"{name} gave up after {event.attempts} attempt{plural}: {event.reason}{details}"
            )
    elif isinstance(event, CallRejected):
        extra.update(circuit=event.key, delay=event.retry_after, reason=Reason.CIRCUIT_OPEN)
        message = (
            f"{name} rejected: circuit {event.key} is open, "
            f"retry after {event.retry_after:.2f}s{_details(('key', key))}"
        )
    elif isinstance(event, FallbackUsed):
        extra.update(attempt=event.attempt, circuit=event.origin)
        message = (
            f"{name} attempt {event.attempt} sent to fallback {event.origin} "
            f"instead of {event.primary}{_details(('key', key))}"
        )
    else:
        extra.update(attempt=event.attempt, reason=Reason.BUDGET_EXHAUSTED)
        message = (
            f"{name} not retried after attempt {event.attempt}: "
            f"retry budget exhausted{_details(('key', key))}"
        )
    return message, extra


def log_event(event: Event, level: int) -> None:
    """Log ``event`` on the ``retrykit`` logger at ``level``, with its fields in ``extra``.

    The driver calls this only when ``logger.isEnabledFor(level)``, so a silenced logger
    costs nothing but that check.
    """
    message, extra = _message_and_extra(event)
    logger.log(level, message, extra=extra)
