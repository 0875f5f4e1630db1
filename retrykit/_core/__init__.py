"""The sans-IO core of retrykit: every retry rule, and nothing else.

What may live here:
- pure functions and small frozen attrs classes;
- state machines whose transitions take the current time as an argument.

What may not:
- I/O of any kind (sockets, files, logging handlers, environment variables);
- clock reads (``time.time``, ``time.monotonic``): callers pass ``now`` and ``elapsed``;
- randomness (``random``, ``uuid``): callers pass ``rand``, a float in [0, 1);
- imports of an HTTP client (httpx, requests, urllib3) or of anything outside the
  standard library and attrs.

The adapters translate a client's objects into these calls and apply the answers.
"""

from retrykit._core._backoff import Backoff, JitterKind
from retrykit._core._breaker import BreakerConfig, BreakerState, Circuit
from retrykit._core._budget import BudgetConfig, BudgetLedger
from retrykit._core._decide import (
    Decision,
    Reason,
    counts_as_failure,
    decide,
    is_safe_to_repeat,
    needs_idempotency_key,
)
from retrykit._core._headers import RateLimitInfo, get_header, parse_rate_limit, parse_retry_after
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._core._status import StatusFamily, classify_status

__all__ = [
    "Backoff",
    "BreakerConfig",
    "BreakerState",
    "BudgetConfig",
    "BudgetLedger",
    "Circuit",
    "Decision",
    "FailureKind",
    "JitterKind",
    "RateLimitInfo",
    "Reason",
    "RetryPolicy",
    "StatusFamily",
    "classify_status",
    "counts_as_failure",
    "decide",
    "get_header",
    "is_safe_to_repeat",
    "needs_idempotency_key",
    "parse_rate_limit",
    "parse_retry_after",
]
