"""The attempt history a call leaves on its final response or exception."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from retrykit._core._decide import Reason
from retrykit._core._policy import FailureKind


class AttemptRecord(NamedTuple):
    """One attempt of a call: its outcome, the wait before it, and how long it took.

    ``status`` is set when the attempt got a response, ``failure`` when it did not
    (neither for a hedged attempt that lost the race, reason ``"hedge_lost"``).
    ``reason`` is the decision taken after it. ``server_wait`` is the wait the server
    asked for in that response (``Retry-After``, or a rate-limit reset on a 429), so a
    caller need not parse the header again; None when it asked for none. ``origin`` is
    the origin it was sent to when fallbacks are configured (else None), and ``hedged``
    is True for an attempt sent alongside another. Immutable (a named tuple: one is
    made per attempt, so it costs as little as a record can).
    """

    attempt: int
    status: int | None
    failure: FailureKind | None
    wait_before: float
    duration: float
    reason: Reason
    server_wait: float | None = None
    origin: str | None = None
    hedged: bool = False


class RetryHistory(NamedTuple):
    """Every attempt of one call, and why the loop stopped (a `Reason`).

    Found on the final response or exception: ``response.retry_history`` and
    ``exc.retry_history`` for requests, ``response.extensions["retry_history"]`` and
    ``exc.retry_history`` for httpx. `get_history` reads any of them. Immutable.
    """

    attempts: tuple[AttemptRecord, ...]
    reason: Reason
    total_time: float

    @property
    def retries(self) -> int:
        """How many attempts followed the first."""
        return max(0, len(self.attempts) - 1)


def get_history(obj: object) -> RetryHistory | None:
    """Return the `RetryHistory` carried by a response or an exception, or None."""
    history = getattr(obj, "retry_history", None)
    if isinstance(history, RetryHistory):
        return history
    extensions = getattr(obj, "extensions", None)
    if isinstance(extensions, Mapping):
        history = extensions.get("retry_history")
        if isinstance(history, RetryHistory):
            return history
    return None


def attach_history(target: Any, history: RetryHistory) -> None:
    """Set ``target.retry_history``, ignoring objects that refuse new attributes."""
    # Only slotted third-party objects refuse a new attribute; they go without a history.
    try:  # noqa: SIM105 - contextlib.suppress costs more than the rest of a rejection
        target.retry_history = history
    except AttributeError:
        pass


_new: Final = tuple.__new__
_SUCCESS: Final = Reason.SUCCESS


def one_success(status: int, duration: float) -> RetryHistory:
    """Return the history of a call whose first attempt succeeded, ``duration`` long.

    The same as ``RetryHistory((AttemptRecord(1, status, None, 0.0, duration,
    Reason.SUCCESS),), Reason.SUCCESS, duration)``, built for the happy path at half the
    cost of the named tuples' keyword constructors.
    """
    record = _new(AttemptRecord, (1, status, None, 0.0, duration, _SUCCESS, None, None, False))
    return _new(RetryHistory, ((record,), _SUCCESS, duration))
