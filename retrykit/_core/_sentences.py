"""Sentences for people: what an error means to an end user, and why a decision was made.

Nothing here decides anything; each sentence explains a rule stated elsewhere in the core,
beside the enum it explains: `StatusFamily` for end users, `Reason` for developers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from retrykit._core._decide import Reason
from retrykit._core._status import StatusFamily
from retrykit._core._text import MAX_MESSAGE, clean

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# From two days on, a wait is "later".
_LATER = 48 * 3600
_SERVER_SIDE = frozenset(
    {StatusFamily.SERVER, StatusFamily.UPSTREAM, StatusFamily.UNAVAILABLE, StatusFamily.TIMEOUT}
)
_FAMILY_SENTENCES: Mapping[StatusFamily, str] = {
    StatusFamily.VALIDATION: "The request was not valid. Please check it and try again.",
    StatusFamily.LOCKED: "This item is closed and can no longer be changed.",
    StatusFamily.AUTH: "Access was refused. Please sign in and try again.",
    StatusFamily.POLICY: "Access was refused. You do not have permission to do this.",
    StatusFamily.NOT_FOUND: "The requested item was not found.",
    StatusFamily.CONFLICT: "This item was changed elsewhere. Please refresh and try again.",
    StatusFamily.PAYLOAD_TOO_LARGE: "The request is too large. Please send less data.",
}

# One sentence per Reason, for `python -m retrykit explain`. Placeholders: method, status,
# attempt, max_attempts, elapsed, deadline, server_wait, max_retry_after, safe_because.
REASON_SENTENCES: Mapping[Reason, str] = {
    Reason.SUCCESS: (
        "Status {status} is an answer, not a failure: the call is over and the caller "
        "gets this response."
    ),
    Reason.RETRYABLE_STATUS: (
        "Status {status} is one the policy retries, and {safe_because}, so another "
        "attempt follows after the wait."
    ),
    Reason.CONNECT_FAILED: (
        "The connection failed before the request was sent, so the server never saw it; "
        "sending it again is safe for any method, {method} included."
    ),
    Reason.UNKNOWN_OUTCOME: (
        "The exchange broke after the request was sent, so the server may have acted on "
        "it; {safe_because}, so it is sent again."
    ),
    Reason.NOT_RETRYABLE_STATUS: (
        "Status {status} is not in the policy's retry statuses: the answer is final "
        "(asking again would get the same answer), so it goes back to the caller."
    ),
    Reason.UNSAFE_METHOD: (
        "{method} is not idempotent and carries no idempotency key; the server may have "
        "acted on it, so it is not sent again."
    ),
    Reason.ATTEMPTS_EXHAUSTED: (
        "This was attempt {attempt} of {max_attempts}: the policy allows no more, so the "
        "last outcome goes back to the caller."
    ),
    Reason.DEADLINE: (
        "The wait before another attempt would end past the policy's deadline of "
        "{deadline} s ({elapsed} s already spent), so the call stops now instead of "
        "failing later."
    ),
    Reason.RETRY_AFTER_TOO_LONG: (
        "The server asked to wait {server_wait} s, longer than max_retry_after "
        "({max_retry_after} s); rather than block that long, the response goes back to "
        "the caller at once."
    ),
    Reason.BUDGET_EXHAUSTED: (
        "The retry budget is spent: too many recent calls needed retries, so this one is "
        "not retried, to keep from piling load on a struggling server."
    ),
    Reason.CIRCUIT_OPEN: (
        "The circuit for this origin is open after repeated failures: nothing is sent "
        "until its recovery timeout has passed and a probe succeeds."
    ),
    Reason.RESPONSE_REJECTED: (
        "The policy's retry_on_response said this answer is not the one wanted (an API "
        "that answers 200 with an error body, say), and {safe_because}, so another "
        "attempt follows after the wait."
    ),
    Reason.RATE_LIMITED: (
        "The server's rate limit (or the limit configured on the client) would not allow "
        "another request before max_retry_after or the deadline, so nothing was sent: "
        "the caller gets a RateLimitExceededError saying how long to wait."
    ),
    Reason.THROTTLED: (
        "The server has been refusing most requests (429, 503), so the adaptive throttle "
        "shed this one locally, without sending it, to let the server recover."
    ),
    Reason.RECONCILED_APPLIED: (
        "The request was not safe to send again and its outcome was unknown; the "
        "reconcile function found that it took effect, so it is not sent again and the "
        "caller gets a WriteAppliedError saying so."
    ),
    Reason.HEDGE_LOST: (
        "This attempt was one of two sent at once (a hedged read); the other answered "
        "first, so this one was cancelled or its answer dropped."
    ),
    Reason.BODY_NOT_REPLAYABLE: (
        "The request body was a stream that has been consumed and cannot be sent again, "
        "so the request is not retried."
    ),
    Reason.UNEXPECTED_ERROR: (
        "The attempt ended in an error retrykit does not retry (a certificate or proxy error, "
        "an invalid URL, a bug in a caller's code); it is raised as it is."
    ),
}


def humanise_wait(seconds: float | None) -> str:
    """Return "in 30 seconds", "in 2 minutes", "in 5 hours", "shortly" or "later".

    The count is rounded up, so the sentence never promises a retry too early. No wait
    (zero, or unknown: None or NaN) is "shortly". Two days or more is "later": such a wait,
    up to `MAX_WAIT` (a year, where a server's larger value was bounded), is no promise
    worth a number.
    """
    if seconds is None or math.isnan(seconds) or seconds <= 0:
        return "shortly"
    if seconds >= _LATER:
        return "later"
    whole = math.ceil(seconds)
    for unit, size, limit in (("second", 1, 60), ("minute", 60, 3600), ("hour", 3600, _LATER)):
        if whole < limit:
            count = math.ceil(whole / size)
            return f"in 1 {unit}" if count == 1 else f"in {count} {unit}s"
    return "later"


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def user_message(
    status: int,
    family: StatusFamily,
    field_messages: Iterable[str],
    retry_after: float | None,
) -> str:
    """Return a sentence safe to show an end user about an error response: no stack trace.

    A validation error with field messages gives those messages, written for the people
    who filled the form in; a 429 says when to try again.
    """
    if family is StatusFamily.RATE_LIMITED:
        return f"Too many requests. Please try again {humanise_wait(retry_after)}."
    messages = list(field_messages)
    if family is StatusFamily.VALIDATION and messages:
        return clean(" ".join(_sentence(message) for message in messages), MAX_MESSAGE)
    sentence = _FAMILY_SENTENCES.get(family)
    if sentence is not None:
        return sentence
    if status == 408:
        return "The request took too long. Please try again."
    if family in _SERVER_SIDE:
        return "The service is temporarily unavailable. Please try again later."
    return "The request could not be completed."
