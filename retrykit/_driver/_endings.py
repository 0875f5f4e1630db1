"""The exceptions a call ends with when no attempt of it can go out, or reconcile says so.

Each adapter names its own classes (each also the client's own error type); the choice
of class, and what it carries, is made here once for every adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from retrykit._driver._history import attach_history
from retrykit._errors import (
    CircuitOpenError,
    DeadlineExceededError,
    RateLimitExceededError,
    WriteAppliedError,
)

if TYPE_CHECKING:
    from retrykit._driver._call import Rejection
    from retrykit._driver._history import RetryHistory


class ErrorClasses(NamedTuple):
    """An adapter's subclasses of retrykit's errors that are also its client's errors."""

    circuit_open: type[CircuitOpenError]
    rate_limited: type[RateLimitExceededError]
    deadline: type[DeadlineExceededError]


def rejection_error(rejection: Rejection, request: object, classes: ErrorClasses) -> BaseException:
    """Return the exception for a call that ended before an attempt could go out."""
    cause, history = rejection
    error: CircuitOpenError | RateLimitExceededError | DeadlineExceededError
    if isinstance(cause, classes.circuit_open):
        error = cause  # raised as the adapter's own class already: one exception, not two
    elif cause is None:
        error = classes.deadline("the call's deadline passed before it could end")
    elif isinstance(cause, RateLimitExceededError):
        error = classes.rate_limited(cause.info)
    else:
        error = classes.circuit_open(
            cause.key, cause.retry_after, opened_by=cause.opened_by, opened_at=cause.opened_at
        )
    error.request = request  # type: ignore[union-attr]
    error.retry_history = history  # type: ignore[union-attr]
    return error


def applied_error(history: RetryHistory, request: object, response: object) -> WriteAppliedError:
    """Return the error for a write that ``reconcile`` found applied."""
    error = WriteAppliedError(
        "the write took effect (reconciled): it was not sent again",
        request=request,
        response=response,
    )
    attach_history(error, history)
    return error
