"""retrykit for httpx: `RetryTransport` and `AsyncRetryTransport`, beneath any transport.

Give one to the client you already have::

    client = httpx.Client(transport=RetryTransport(policy=RetryPolicy(max_attempts=4)))

Documented keys: ``request.extensions["retry_policy"]`` (a `RetryPolicy` for one request,
or None for a single attempt), ``request.extensions["retry_read_body"]`` (read the body
inside the retry loop for one request, or not) and ``response.extensions["retry_history"]``
(the final response's `RetryHistory`). How httpx's exceptions map onto the core is in
`retrykit._adapters._httpx`.
"""

from __future__ import annotations

try:
    import httpx as _httpx  # noqa: F401 - only checks that the extra is installed
except ImportError as _missing:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retrykit.httpx needs httpx: pip install 'retrykit-http[httpx]'"
    ) from _missing

from retrykit._adapters._httpx import (
    ENDPOINT_EXTENSION,
    HISTORY_EXTENSION,
    POLICY_EXTENSION,
    READ_BODY_EXTENSION,
    AsyncRetryTransport,
    CircuitOpenError,
    DeadlineExceededError,
    RateLimitExceededError,
    RetryTransport,
)

__all__ = [
    "ENDPOINT_EXTENSION",
    "HISTORY_EXTENSION",
    "POLICY_EXTENSION",
    "READ_BODY_EXTENSION",
    "AsyncRetryTransport",
    "CircuitOpenError",
    "DeadlineExceededError",
    "RateLimitExceededError",
    "RetryTransport",
]

# Public names, so reprs, docs and pickles point at the module users import.
for _cls in (
    AsyncRetryTransport,
    CircuitOpenError,
    DeadlineExceededError,
    RateLimitExceededError,
    RetryTransport,
):
    _cls.__module__ = __name__
del _cls
