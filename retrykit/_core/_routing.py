"""Where each attempt goes, when to hedge, and when to ask whether a write took effect.

Fallback origins (the rules, in order):

1. A call's origins are its URL's origin, then the fallbacks configured for it, in order.
   Each origin has a circuit of its own.
2. An attempt goes to the current origin; a call starts at the primary, unless its
   circuit is open, then at the first origin whose circuit is not.
3. After an attempt that ends in a failure a fallback can help with (502, 503, 504, a
   connection that failed), the next attempt goes to the next origin in the list, round
   again after the last; after any other retryable outcome (429, 408, 500, an unknown
   outcome) it stays, since another origin would fare no better. An origin whose circuit
   is open is passed over.
4. Only the scheme, host and port change: path, query, method, body and headers stay
   (``Host`` follows the new origin).

Hedged reads: a request that is safe to repeat and has had no answer after
``hedge_after`` seconds (or the endpoint's own 95th percentile, for ``"p95"``) gets one
more attempt alongside the first, to the next origin when there is one; the first
answer the policy accepts wins.

Reconciling: a request that is not safe to repeat whose outcome is unknown (the exchange
broke after it was sent, or a gateway answered 502 or 504) is not sent again blindly.
A ``reconcile`` function may say it took effect (the call ends, reason
``"reconciled_applied"``), that it certainly did not (one more attempt is then safe),
or that it cannot tell (the call ends as it would have).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from retrykit._core._decide import Reason
from retrykit._core._origin import origin_key
from retrykit._core._policy import FailureKind, HedgeAfter

_FALLBACK_STATUSES: Final = frozenset({502, 503, 504})
_MAYBE_APPLIED_STATUSES: Final = frozenset({502, 504})


def check_fallbacks(value: object) -> dict[str, tuple[str, ...]]:
    """Return ``{primary origin: fallback origins}`` from what a user configured.

    Keys and values are origins (``https://api.example.com``, a port allowed): no path,
    query or user info. Raises TypeError or ValueError naming ``fallbacks``.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"fallbacks must be a mapping of origin to a list of origins, got {value!r}"
        )
    result: dict[str, tuple[str, ...]] = {}
    for primary, others in value.items():
        if isinstance(others, (str, bytes)) or not isinstance(others, Iterable):
            raise TypeError(f"fallbacks[{primary!r}] must be a list of origins, got {others!r}")
        key = _origin(primary)
        chain = tuple(_origin(other) for other in others)
        if key in chain:
            raise ValueError(f"fallbacks[{primary!r}] lists its own origin")
        result[key] = chain
    return result


def _origin(value: object) -> str:
    if not isinstance(value, str) or "://" not in value:
        raise ValueError(
            f"fallbacks must name origins such as 'https://api.example.com', got {value!r}"
        )
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https"):
        raise ValueError(f"fallbacks must be http or https origins, got {value!r}")
    authority, slash, path = rest.partition("/")
    if not authority or "@" in authority or path or "?" in authority or "#" in authority:
        raise ValueError(
            f"fallbacks must name origins only (no path, query or user info), got {value!r}"
        )
    del slash
    return origin_key(value)


def origins_for(url: str, fallbacks: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return the origins a call to ``url`` may use, primary first (rule 1)."""
    primary = origin_key(url)
    return (primary, *fallbacks.get(primary, ()))


def moves_on(status: int | None, failure: FailureKind | None) -> bool:
    """Return True if, after this outcome, the next attempt goes to the next origin (rule 3)."""
    if failure is not None:
        return failure is FailureKind.CONNECT
    return status in _FALLBACK_STATUSES


def next_index(index: int, count: int, *, move: bool) -> int:
    """Return the origin index of the next attempt (rule 3), before circuits are asked."""
    return (index + 1) % count if move else index


def with_origin(url: str, origin: str) -> str:
    """Return ``url`` with its scheme, host and port replaced by ``origin``'s (rule 4).

    ``origin`` is as `origin_key` gives it (``https://host:443``); a default port is
    left out of the result.
    """
    start = url.find("://") + 3
    end = url.find("/", start)
    for mark in ("?", "#"):
        cut = url.find(mark, start)
        if cut >= 0 and (end < 0 or cut < end):
            end = cut
    rest = "" if end < 0 else url[end:]
    scheme, _, authority = origin.partition("://")
    host, _, port = authority.rpartition(":")
    if (scheme, port) in (("http", "80"), ("https", "443")):
        authority = host
    return f"{scheme}://{authority}{rest}"


def hedge_delay(hedge_after: HedgeAfter, p95: float | None) -> float | None:
    """Return how long to wait for an answer before hedging, or None not to hedge.

    For ``"p95"`` that is the endpoint's 95th percentile of attempt durations; with too
    few measured yet (``p95`` None), no hedge goes out.
    """
    if hedge_after == "p95":
        return p95
    return hedge_after


def may_reconcile(reason: str, *, status: int | None, failure: FailureKind | None) -> bool:
    """Return True if a stopped request's outcome is unknown, so reconciling can help.

    That is a decision stopped because the request is not safe to repeat
    (``"unsafe_method"``) after an exchange that broke once the request was sent, or a
    502 or 504 from a gateway: the server may or may not have acted on it.
    """
    if reason != Reason.UNSAFE_METHOD:
        return False
    if failure is not None:
        return failure is FailureKind.UNKNOWN_OUTCOME
    return status in _MAYBE_APPLIED_STATUSES
