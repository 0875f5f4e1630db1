"""Policies from the peers' objects: urllib3's ``Retry`` and httpx-retries' ``Retry``.

Both are read by their attributes (neither library is imported). What has no equivalent
in a `RetryPolicy` is named in a `MigrationWarning`, one per setting, so nothing changes
silently when a user moves over.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from retrykit._core._backoff import Backoff, JitterKind
from retrykit._core._policy import DEFAULT_IDEMPOTENT_METHODS, RetryPolicy


class MigrationWarning(UserWarning):
    """A setting of a peer's retry object that a `RetryPolicy` does not carry over."""


def _warn(source: str, setting: str, what: str) -> None:
    warnings.warn(f"{source}: {setting} {what}", MigrationWarning, stacklevel=4)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _statuses(source: str, values: Any) -> frozenset[int]:
    kept = set()
    for value in values or ():
        status = int(value)
        if 400 <= status <= 599:
            kept.add(status)
        else:
            _warn(
                source, "status_forcelist", f"holds {status}, which is not a 4xx or 5xx: left out"
            )
    return frozenset(kept)


def _methods(source: str, values: Any) -> frozenset[str]:
    if values is None or values is False:
        _warn(
            source,
            "allowed_methods",
            "retries every method, POST included: kept, so a POST whose outcome is unknown "
            "may be sent twice; give idempotency keys instead (auto_idempotency_key=True)",
        )
        return frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "POST", "PATCH"})
    return frozenset(str(method).upper() for method in values)


def from_urllib3(retry: Any) -> RetryPolicy:
    """Return the `RetryPolicy` of a urllib3 ``Retry`` (see `RetryPolicy.from_urllib3`)."""
    source = "urllib3 Retry"
    total = _count(retry.total)
    counts = [c for c in (_count(retry.connect), _count(retry.read), _count(retry.status)) if c]
    if total is None:
        retries = max(counts) if counts else 3
        if not counts:
            _warn(source, "total", "is None with no other count: 3 retries are used")
    else:
        retries = total
    if counts and total is not None and any(count != total for count in counts):
        _warn(
            source, "connect/read/status", "counts apart from total do not translate: total is used"
        )
    for setting in ("redirect", "other"):
        if _count(getattr(retry, setting, None)):
            _warn(source, setting, "has no equivalent: redirects are the client's own job")
    if getattr(retry, "raise_on_status", False):
        _warn(
            source,
            "raise_on_status",
            "does not translate: the last response is returned; call raise_for_status()",
        )
    factor = float(getattr(retry, "backoff_factor", 0.0) or 0.0)
    jitter = float(getattr(retry, "backoff_jitter", 0.0) or 0.0)
    if jitter:
        _warn(source, "backoff_jitter", f"of {jitter} s is replaced by no jitter")
    if factor:
        # urllib3 waits 0, 2f, 4f...; this waits f, 2f, 4f...: never nothing, about the same total.
        _warn(source, "backoff_factor", "gives a first wait of backoff_factor, not 0")
    backoff_max = float(getattr(retry, "backoff_max", 120.0) or 120.0)
    return RetryPolicy(
        max_attempts=retries + 1,
        backoff=Backoff(base=factor, multiplier=2.0, cap=backoff_max, jitter="none"),
        retry_statuses=_statuses(source, getattr(retry, "status_forcelist", None)),
        idempotent_methods=_methods(
            source, getattr(retry, "allowed_methods", DEFAULT_IDEMPOTENT_METHODS)
        ),
        respect_retry_after=bool(getattr(retry, "respect_retry_after_header", True)),
    )


# httpx-retries' default exceptions, which the httpx adapter already maps itself.
_HTTPX_MAPPED = frozenset({"TimeoutException", "NetworkError", "RemoteProtocolError"})


def _extra_exceptions(kinds: Any) -> tuple[type[BaseException], ...] | None:
    """Return the exception types beyond those the adapter maps, or None."""
    extra = tuple(
        kind
        for kind in kinds or ()
        if isinstance(kind, type) and kind.__name__ not in _HTTPX_MAPPED
    )
    return extra or None


def from_httpx_retries(retry: Any) -> RetryPolicy:
    """Return the `RetryPolicy` of an httpx-retries ``Retry`` (see its classmethod)."""
    source = "httpx-retries Retry"
    total = _count(retry.total)
    factor = float(getattr(retry, "backoff_factor", 0.0) or 0.0)
    jitter = float(getattr(retry, "backoff_jitter", 0.0) or 0.0)
    # httpx-retries waits factor * 2 ** retries, times a draw in [1 - jitter, 1].
    kind: JitterKind = "none" if not jitter else "full" if jitter >= 1 else "equal"
    if jitter and not math.isclose(jitter, 1.0) and not math.isclose(jitter, 0.5):
        _warn(source, "backoff_jitter", f"of {jitter} is read as {kind} jitter")
    timeout = getattr(retry, "total_timeout", None)
    validate = getattr(retry, "validate_response", None)
    if validate is not None:
        _warn(
            source,
            "validate_response",
            "takes the response object; give retry_on_response(status, headers, body) instead",
        )
    return RetryPolicy(
        max_attempts=(total if total is not None else 10) + 1,
        backoff=Backoff(
            base=factor * 2.0,
            multiplier=2.0,
            cap=float(getattr(retry, "max_backoff_wait", 120.0) or 120.0),
            jitter=kind,
        ),
        retry_statuses=_statuses(source, getattr(retry, "status_forcelist", None)),
        idempotent_methods=_methods(
            source, getattr(retry, "allowed_methods", None) or DEFAULT_IDEMPOTENT_METHODS
        ),
        respect_retry_after=bool(getattr(retry, "respect_retry_after_header", True)),
        retry_on_exception=_extra_exceptions(getattr(retry, "retryable_exceptions", None)),
        deadline=float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else 60.0,
    )
