"""`decide`: the one function that says what to do after an attempt.

The rules, in the order they are applied:

1. A status below 400 is an answer: stop ("success"), unless the policy's
   ``retry_on_response`` rejected it: a safe request is then retried like a retryable
   status ("response_rejected"), an unsafe one is not ("unsafe_method").
2. A request is *safe to repeat* if its method is idempotent or it carries an
   idempotency key.
3. A safe request is retried on a status in ``retry_statuses`` and on any FailureKind.
4. An unsafe request (a POST or PATCH with no key) is retried only where the server
   certainly did not act on it: FailureKind.CONNECT, 429 and 408. Never on
   UNKNOWN_OUTCOME, 500, 502, 503 or 504 ("unsafe_method").
5. Any other status is final ("not_retryable_status").
6. After ``max_attempts`` attempts, stop ("attempts_exhausted").
7. The wait is the backoff delay (at least ``min_wait``), never shorter than a ``Retry-After`` (when
   ``respect_retry_after``). A ``Retry-After``, or a rate-limit reset on a 429, longer
   than ``max_retry_after`` stops at once ("retry_after_too_long").
8. With a deadline, a retry whose wait would end at or past it stops at once
   ("deadline"): no attempt starts at or after the deadline.

Then `limit` stops a retry the policy allows when, in this order, the request body
cannot be sent again ("body_not_replayable"), the circuit is open ("circuit_open"), or
the retry budget is spent ("budget_exhausted").
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import attrs

from retrykit._core._headers import get_header, parse_rate_limit, parse_retry_after
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._core._status import is_server_error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Statuses that prove the server did not act on the request (RFC 9110 15.5.9, RFC 6585 4).
_NOT_PROCESSED_STATUSES = frozenset({408, 429})
# The methods `auto_idempotency_key` gives a key to: the ones APIs accept keys on.
_AUTO_KEY_METHODS = frozenset({"POST", "PATCH"})


class Reason(str, enum.Enum):
    """Why a `Decision`, or a retry loop around `decide`, retried or stopped.

    Each member is a ``str`` equal to its value (``Reason.SUCCESS == "success"``), and
    ``str()``, f-strings, ``%s`` and JSON give the plain value, so logs, metrics labels and
    comparisons with strings read as they did when reasons were plain strings.
    """

    SUCCESS = "success"
    RETRYABLE_STATUS = "retryable_status"
    CONNECT_FAILED = "connect_failed"
    UNKNOWN_OUTCOME = "unknown_outcome"
    NOT_RETRYABLE_STATUS = "not_retryable_status"
    UNSAFE_METHOD = "unsafe_method"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE = "deadline"
    RETRY_AFTER_TOO_LONG = "retry_after_too_long"
    # Given by the retry loops around `decide`, not by `decide` itself.
    BUDGET_EXHAUSTED = "budget_exhausted"
    CIRCUIT_OPEN = "circuit_open"
    BODY_NOT_REPLAYABLE = "body_not_replayable"
    RESPONSE_REJECTED = "response_rejected"
    RATE_LIMITED = "rate_limited"
    THROTTLED = "throttled"
    RECONCILED_APPLIED = "reconciled_applied"
    HEDGE_LOST = "hedge_lost"
    UNEXPECTED_ERROR = "unexpected_error"

    def __str__(self) -> str:
        return self.value

    # Enum hashes members by name; a member equal to "success" must hash as "success"
    # does, or a dict keyed by one would miss the other.
    __hash__ = str.__hash__


def _to_reason(value: str) -> Reason:
    # Callers outside the core may still pass a reason's plain value.
    return value if type(value) is Reason else Reason(value)


@attrs.frozen
class Decision:
    """What to do after an attempt: retry after ``delay`` seconds, or stop.

    ``reason`` is a `Reason` (a plain value such as ``"success"`` is converted).
    ``server_wait`` is the wait the server asked for (``Retry-After``, or a rate-limit
    reset on a 429), when it asked.
    """

    retry: bool
    delay: float
    reason: Reason = attrs.field(converter=_to_reason)
    server_wait: float | None = None


# Stops that carry no wait are shared: building a frozen instance per call costs more than deciding.
_SUCCESS = Decision(retry=False, delay=0.0, reason=Reason.SUCCESS)
_UNSAFE = Decision(retry=False, delay=0.0, reason=Reason.UNSAFE_METHOD)
_NOT_RETRYABLE = Decision(retry=False, delay=0.0, reason=Reason.NOT_RETRYABLE_STATUS)
_EXHAUSTED = Decision(retry=False, delay=0.0, reason=Reason.ATTEMPTS_EXHAUSTED)


def is_safe_to_repeat(policy: RetryPolicy, method: str, *, has_idempotency_key: bool) -> bool:
    """Return True if sending the request twice cannot apply it twice.

    That holds for the policy's idempotent methods (RFC 9110, section 9.2.2) and for any
    request that carries an idempotency key.
    """
    return has_idempotency_key or method.upper() in policy.idempotent_methods


def retries_status(policy: RetryPolicy, status: int) -> bool:
    """Return True if ``policy`` retries ``status`` for a request that is safe to repeat.

    That is the status rule alone (rule 3): attempts left, the deadline and a long
    ``Retry-After`` do not change it.
    """
    return status in policy.retry_statuses


def proves_not_processed(status: int) -> bool:
    """Return True if ``status`` proves the server did not act on the request.

    408 (RFC 9110, section 15.5.9) and 429 (RFC 6585, section 4) say the request was not
    processed, so even a request that is not safe to repeat may be sent again (rule 4).
    """
    return status in _NOT_PROCESSED_STATUSES


def is_idempotency_key(value: str | None) -> bool:
    """Return True if a header value is an idempotency key: a blank one is no key at all.

    A blank or whitespace-only key would let the server deduplicate nothing, so the
    request is treated as carrying none (it is not safe to repeat, or it gets a fresh key
    when the policy has ``auto_idempotency_key``).
    """
    return value is not None and bool(value.strip())


def needs_idempotency_key(policy: RetryPolicy, method: str, *, has_idempotency_key: bool) -> bool:
    """Return True if the caller should add a fresh idempotency key to this request.

    That is a POST or PATCH without a key, when the policy has ``auto_idempotency_key``;
    the caller sends the same key on every attempt of the call.
    """
    return (
        policy.auto_idempotency_key
        and not has_idempotency_key
        and method.upper() in _AUTO_KEY_METHODS
    )


def counts_as_failure(
    policy: RetryPolicy, *, status: int | None = None, failure: FailureKind | None = None
) -> bool:
    """Return True if an attempt's outcome is a failure of the server, for a circuit breaker.

    A failure is an attempt that produced no response, or a 5xx in the policy's retry
    statuses. 4xx responses, 429 included, are not: the server is up and answering.
    """
    if failure is not None:
        return True
    return status is not None and is_server_error(status) and status in policy.retry_statuses


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    method: str,
    has_idempotency_key: bool = False,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    failure: FailureKind | None = None,
    elapsed: float = 0.0,
    now: float = 0.0,
    rand: float = 0.0,
    previous_delay: float | None = None,
    rejected: bool = False,
) -> Decision:
    """Return what to do after attempt number ``attempt`` (the first attempt is 1).

    Give either the response's ``status`` (and ``headers``) or the ``failure`` of an
    attempt that produced no response. ``elapsed`` is the time since the first attempt
    started, ``now`` the current Unix time (for ``Retry-After`` dates), ``rand`` a float
    in [0, 1) for jitter and ``previous_delay`` the wait before this attempt.
    ``rejected`` says the policy's ``retry_on_response`` refused this response: it is
    then retried as a retryable status would be (reason ``"response_rejected"``), if the
    request is safe to repeat. The rules are listed in this module's docstring; the
    result never waits past the deadline and never retries an unsafe request whose
    outcome is unknown.
    """
    if rejected and failure is None:
        if not is_safe_to_repeat(policy, method, has_idempotency_key=has_idempotency_key):
            return _UNSAFE
        reason = Reason.RESPONSE_REJECTED
    elif failure is None:
        if status is None:
            raise ValueError("decide() needs a status or a failure")
        if status < 400:
            return _SUCCESS
        if not retries_status(policy, status):
            return _NOT_RETRYABLE
        if not proves_not_processed(status) and not is_safe_to_repeat(
            policy, method, has_idempotency_key=has_idempotency_key
        ):
            return _UNSAFE
        reason = Reason.RETRYABLE_STATUS
    elif failure is FailureKind.CONNECT:
        reason = Reason.CONNECT_FAILED
    elif not is_safe_to_repeat(policy, method, has_idempotency_key=has_idempotency_key):
        return _UNSAFE
    else:
        reason = Reason.UNKNOWN_OUTCOME

    if attempt >= policy.max_attempts:
        return _EXHAUSTED

    delay = max(policy.min_wait, policy.backoff.delay(attempt, rand=rand, previous=previous_delay))
    server_wait = None
    if failure is None and headers is not None and policy.respect_retry_after:
        server_wait = _server_wait(status, headers, now=now)
        if server_wait is not None:
            if server_wait > policy.max_retry_after:
                return Decision(
                    retry=False,
                    delay=0.0,
                    reason=Reason.RETRY_AFTER_TOO_LONG,
                    server_wait=server_wait,
                )
            delay = max(delay, server_wait)

    if policy.deadline is not None and elapsed + delay >= policy.deadline:
        return Decision(retry=False, delay=0.0, reason=Reason.DEADLINE, server_wait=server_wait)
    return Decision(retry=True, delay=delay, reason=reason, server_wait=server_wait)


def _server_wait(status: int | None, headers: Mapping[str, str], *, now: float) -> float | None:
    """Return the wait the server asked for, from Retry-After or a 429's rate-limit reset."""
    wait = parse_retry_after(get_header(headers, "retry-after"), now=now)
    if wait is None and status == 429:
        rate_limit = parse_rate_limit(headers, now=now)
        if rate_limit is not None:
            wait = rate_limit.reset_after
    return wait


def retries_exception(policy: RetryPolicy, exc: BaseException, *, by_default: bool) -> bool:
    """Return True if the policy's ``retry_on_exception`` asks to retry ``exc``.

    Only an ``Exception`` is ever retried (never KeyboardInterrupt or a cancellation).
    With no filter set the answer is ``by_default``.
    """
    if not isinstance(exc, Exception):
        return False
    kinds = policy.retry_on_exception
    if kinds is None:
        return by_default
    if isinstance(kinds, tuple):
        return isinstance(exc, kinds)
    try:
        return bool(kinds(exc))
    except Exception:  # noqa: BLE001 - a broken predicate retries nothing
        return False


def limit(
    decision: Decision,
    *,
    replayable: bool,
    circuit_open: bool,
    take_retry: Callable[[], bool] | None,
) -> Decision:
    """Return ``decision``, or a stop when something other than the policy forbids the retry.

    The facts, checked in this order, only for a decision to retry: ``replayable`` (the
    body can be sent again), ``circuit_open`` (the circuit of the next attempt's origin
    rejects it), and ``take_retry`` (the retry budget's withdrawal, called only when the
    first two allow the retry; None when there is no budget).
    """
    if not decision.retry:
        return decision
    if not replayable:
        reason = Reason.BODY_NOT_REPLAYABLE
    elif circuit_open:
        reason = Reason.CIRCUIT_OPEN
    elif take_retry is not None and not take_retry():
        reason = Reason.BUDGET_EXHAUSTED
    else:
        return decision
    return Decision(retry=False, delay=0.0, reason=reason, server_wait=decision.server_wait)
