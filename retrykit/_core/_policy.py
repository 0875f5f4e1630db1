"""The retry policy: what a caller configures, validated once, immutable afterwards."""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING, Literal, TypeAlias

import attrs
from attrs.validators import and_, deep_iterable, ge, instance_of, le, optional

from retrykit._core._backoff import Backoff
from retrykit._core._validators import (
    header_name,
    non_negative,
    number,
    positive,
    positive_int,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# The longest a call may take by default, every attempt and wait included: a finite
# worst case for every call, even with requests (no default timeout) or a server
# asking for long waits.
DEFAULT_DEADLINE: float | None = 60.0

HedgeAfter: TypeAlias = "float | Literal['p95'] | None"
"""Seconds to wait for an answer before a hedged attempt, ``"p95"``, or None (no hedging)."""


def _hedge_after(value: object) -> HedgeAfter:
    if value is None:
        return None
    if value == "p95":
        return "p95"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"hedge_after must be seconds, 'p95' or None, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"hedge_after must be finite and >= 0, got {value!r}")
    return float(value)


class FailureKind(enum.Enum):
    """Why an attempt produced no response.

    ``CONNECT``: the request certainly never reached the server (connection refused, DNS
    failure, connect timeout, no free connection in the pool), so repeating it is safe for
    any method.

    ``UNKNOWN_OUTCOME``: the request was sent, then a read timeout, a reset or a broken
    response cut the exchange; the server may have acted on it.
    """

    CONNECT = "connect"
    UNKNOWN_OUTCOME = "unknown_outcome"


def _statuses(values: Iterable[int]) -> frozenset[int]:
    return frozenset(values)


def _methods(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise TypeError("idempotent_methods must be a collection of method names, not a str")
    # Names that are not str are kept as they are, for the validator to name them.
    return frozenset(method.upper() if isinstance(method, str) else method for method in values)


# A retry status is a 4xx or 5xx code.
_status_code = and_(number(whole=True), ge(400), le(599))


@attrs.frozen
class RetryPolicy:
    """What to retry, how often, and how long to wait: validated on construction.

    - ``max_attempts``: attempts in total, the first included (1 turns retries off).
    - ``backoff``: the wait before each retry, see `Backoff`.
    - ``retry_statuses``: statuses worth another attempt.
    - ``idempotent_methods``: methods that are safe to repeat (RFC 9110, section 9.2.2).
    - ``respect_retry_after``: never wait less than a ``Retry-After`` asks.
    - ``max_retry_after``: a server that asks for a longer wait is not retried at all.
    - ``deadline``: seconds for all attempts and waits together (default 60), or None for
      no bound. It bounds every attempt in flight too: each attempt's timeouts are cut
      to the time left, and no attempt starts at or after it.
    - ``idempotency_header``: a request carrying it is safe to repeat whatever its method.
    - ``auto_idempotency_key``: give a POST or PATCH without one a fresh key, the same on
      every attempt of one call.
    - ``hedge_after``: for a request safe to repeat, send a second attempt alongside the
      first when it has not answered after this many seconds, or after the endpoint's
      own 95th percentile (``"p95"``); None (the default) never hedges.

    Use ``attrs.evolve(policy, max_attempts=2)`` for a variant.
    """

    max_attempts: int = attrs.field(default=4, validator=positive_int)
    backoff: Backoff = attrs.field(factory=Backoff, validator=instance_of(Backoff))
    retry_statuses: frozenset[int] = attrs.field(
        default=DEFAULT_RETRY_STATUSES,
        converter=_statuses,
        validator=deep_iterable(_status_code),
    )
    idempotent_methods: frozenset[str] = attrs.field(
        default=DEFAULT_IDEMPOTENT_METHODS,
        converter=_methods,
        validator=deep_iterable(instance_of(str)),
    )
    respect_retry_after: bool = attrs.field(default=True, validator=instance_of(bool))
    max_retry_after: float = attrs.field(default=60.0, validator=non_negative)
    deadline: float | None = attrs.field(default=DEFAULT_DEADLINE, validator=optional(positive))
    idempotency_header: str = attrs.field(default="Idempotency-Key", validator=header_name)
    auto_idempotency_key: bool = attrs.field(default=False, validator=instance_of(bool))
    hedge_after: HedgeAfter = attrs.field(default=None, converter=_hedge_after)
