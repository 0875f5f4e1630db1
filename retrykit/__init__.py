"""retrykit: retries, circuit breaking and typed API errors beneath httpx and requests.

The policy lives in a sans-IO core (`decide`, `Backoff`, `parse_retry_after`...) that
both adapters share: `retrykit.requests.RetryAdapter` and `retrykit.httpx.RetryTransport`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from retrykit._clock import Clock
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
    needs_idempotency_key,
    parse_rate_limit,
    parse_retry_after,
)
from retrykit._core._breaker import BreakerState, CircuitSnapshot, Ticket
from retrykit._core._endpoint import endpoint_template, endpoint_templates, key_fingerprint
from retrykit._core._envelope import ErrorInfo, FieldError, parse_error
from retrykit._core._migrate import MigrationWarning
from retrykit._core._origin import origin_key
from retrykit._driver._decorator import retry
from retrykit._driver._history import AttemptRecord, RetryHistory, get_history
from retrykit._driver._settings import DEFAULT, UseDefault
from retrykit._driver._trace import AttemptTrace, CallTrace, Tracer
from retrykit._errors import (
    ApiError,
    AuthenticationError,
    BadGatewayError,
    CircuitOpenError,
    ConflictError,
    DeadlineExceededError,
    GatewayTimeoutError,
    LockedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitExceededError,
    RetrykitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
    WriteAppliedError,
    error_for,
    raise_for_error,
)
from retrykit._fingerprint import set_fingerprint_key
from retrykit._observe._alerts import Alert, AlertRules
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    Event,
    FallbackUsed,
    FirstSuccess,
    Hook,
    RateLimitWaited,
    RetryScheduled,
    StorageDegraded,
    StorageRecovered,
)
from retrykit._observe._metrics import Metrics
from retrykit._state._breaker import CircuitBreaker, StateChange
from retrykit._state._budget import RetryBudget
from retrykit._state._limiter import AdaptiveThrottle, RateLimiter
from retrykit._state._store import FleetStore

try:
    __version__ = version("retrykit-http")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that is not installed
    __version__ = "0.0.0"
# Only the names in __all__ are public (tests/test_package.py checks it).
del PackageNotFoundError, version

__all__ = [
    "AdaptiveThrottle",
    "Alert",
    "AlertRules",
    "ApiError",
    "AttemptFinished",
    "AttemptRecord",
    "AttemptTrace",
    "AuthenticationError",
    "Backoff",
    "BadGatewayError",
    "BreakerState",
    "BudgetExhausted",
    "CallFinished",
    "CallRejected",
    "CallTrace",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitSnapshot",
    "CircuitStateChanged",
    "Clock",
    "ConflictError",
    "DEFAULT",
    "DeadlineExceededError",
    "Decision",
    "ErrorInfo",
    "Event",
    "FailureKind",
    "FallbackUsed",
    "FieldError",
    "FirstSuccess",
    "FleetStore",
    "GatewayTimeoutError",
    "Hook",
    "LockedError",
    "Metrics",
    "MigrationWarning",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitExceededError",
    "RateLimitInfo",
    "RateLimitWaited",
    "RateLimiter",
    "Reason",
    "RetryBudget",
    "RetryHistory",
    "RetryPolicy",
    "RetryScheduled",
    "RetrykitError",
    "ServerError",
    "ServiceUnavailableError",
    "StateChange",
    "StatusFamily",
    "StorageDegraded",
    "StorageRecovered",
    "Ticket",
    "Tracer",
    "UseDefault",
    "ValidationError",
    "WriteAppliedError",
    "__version__",
    "classify_status",
    "counts_as_failure",
    "decide",
    "endpoint_template",
    "endpoint_templates",
    "error_for",
    "get_history",
    "is_safe_to_repeat",
    "key_fingerprint",
    "needs_idempotency_key",
    "origin_key",
    "parse_error",
    "parse_rate_limit",
    "parse_retry_after",
    "raise_for_error",
    "retry",
    "set_fingerprint_key",
]
