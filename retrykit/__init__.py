"""retrykit: retries, circuit breaking and typed API errors beneath httpx and requests.

The policy lives in a sans-IO core (`decide`, `Backoff`, `parse_retry_after`...) that
both adapters share: `retrykit.requests.RetryAdapter` and `retrykit.httpx.RetryTransport`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from retrykit._core import (
    Backoff,
    Decision,
    FailureKind,
    RateLimitInfo,
    Reason,
    RetryPolicy,
    StatusFamily,
    classify_status,
    counts_as_failure,
    decide,
    is_safe_to_repeat,
    parse_rate_limit,
    parse_retry_after,
)
from retrykit._core._breaker import BreakerState
from retrykit._core._endpoint import endpoint_template, key_fingerprint
from retrykit._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    Event,
    Hook,
    RetryScheduled,
)
from retrykit._exceptions import CircuitOpenError, RetrykitError

try:
    __version__ = version("retrykit")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AttemptFinished",
    "Backoff",
    "BreakerState",
    "BudgetExhausted",
    "CallFinished",
    "CallRejected",
    "CircuitOpenError",
    "CircuitStateChanged",
    "Decision",
    "Event",
    "FailureKind",
    "Hook",
    "RateLimitInfo",
    "Reason",
    "RetryPolicy",
    "RetryScheduled",
    "RetrykitError",
    "StatusFamily",
    "__version__",
    "classify_status",
    "counts_as_failure",
    "decide",
    "endpoint_template",
    "is_safe_to_repeat",
    "key_fingerprint",
    "parse_rate_limit",
    "parse_retry_after",
]
