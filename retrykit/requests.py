"""retrykit for requests: `RetryAdapter`, an `HTTPAdapter` that retries beneath a Session.

Mount it on the Session you already have::

    session.mount("https://", RetryAdapter(policy=RetryPolicy(max_attempts=4)))

How requests' exceptions map onto the core is in `retrykit._adapters._requests`.
"""

from __future__ import annotations

try:
    import requests as _requests  # noqa: F401 - only checks that the extra is installed
    import urllib3 as _urllib3  # noqa: F401
except ImportError as _missing:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retrykit.requests needs requests and urllib3: pip install 'retrykit-http[requests]'"
    ) from _missing

from retrykit._adapters._requests import (
    CircuitOpenError,
    DeadlineExceededError,
    RateLimitExceededError,
    RetryAdapter,
    mount_retries,
)

__all__ = [
    "CircuitOpenError",
    "DeadlineExceededError",
    "RateLimitExceededError",
    "RetryAdapter",
    "mount_retries",
]

# Public names, so reprs, docs and pickles point at the module users import.
for _cls in (CircuitOpenError, DeadlineExceededError, RateLimitExceededError, RetryAdapter):
    _cls.__module__ = __name__
del _cls
