"""The retry policy: what a caller configures, validated once, immutable afterwards."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypeAlias, cast

import attrs
from attrs.validators import and_, deep_iterable, ge, instance_of, is_callable, le, optional

from retrykit._core._backoff import Backoff
from retrykit._core._validators import (
    header_name,
    method_names,
    non_negative,
    number,
    positive,
    positive_int,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

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
    if not isinstance(values, Iterable):
        raise TypeError(
            f"'retry_statuses' must be a collection of status codes, such as {{503}}: {values!r}"
        )
    return frozenset(values)


def _methods(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        kind = "not a str" if isinstance(values, str) else f"not {type(values).__name__}"
        raise TypeError(
            "'idempotent_methods' must be a collection of method names, such as {'GET'}, "
            f"{kind}: {values!r}"
        )
    # Names that are not str are kept as they are, for the validator to name them.
    return frozenset(method.upper() if isinstance(method, str) else method for method in values)


# A retry status is a 4xx or 5xx code.
_status_code = and_(number(whole=True), ge(400), le(599))

ResponsePredicate: TypeAlias = "Callable[[int, Mapping[str, str], bytes | None], bool]"
"""``retry_on_response(status, headers, body)``: True to retry a response the policy accepts."""

ExceptionFilter: TypeAlias = (
    "tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None"
)
"""Exception types, or a predicate over an exception, to retry."""


def _exception_filter(value: object) -> ExceptionFilter:
    if value is None:
        return None
    if callable(value) and not isinstance(value, type):
        return cast("Callable[[BaseException], bool]", value)
    kinds = (value,) if isinstance(value, type) else value
    if not isinstance(kinds, (tuple, list, set, frozenset)) or not all(
        isinstance(kind, type) and issubclass(kind, BaseException) for kind in kinds
    ):
        raise TypeError(
            "retry_on_exception must be an exception type, a tuple of them, or a predicate "
            f"over the exception; got {value!r}"
        )
    return tuple(kinds)


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
    - ``min_wait``: no wait between attempts is shorter than this (seconds).
    - ``retry_on_response(status, headers, body)``: a predicate over a response the
      policy would accept (an API that answers 200 with an error body): True retries it,
      as a retryable status (reason ``"response_rejected"``). ``body`` is the body when
      the adapter reads it in the loop, else None.
    - ``retry_on_exception``: exception types (or a predicate over an exception) to
      retry, beyond what the adapters map: such an exception counts as an unknown
      outcome, so the safety rules still apply. `retrykit.retry` retries every
      ``Exception`` when this is None.

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
        validator=method_names,
    )
    respect_retry_after: bool = attrs.field(default=True, validator=instance_of(bool))
    max_retry_after: float = attrs.field(default=60.0, validator=non_negative)
    deadline: float | None = attrs.field(default=DEFAULT_DEADLINE, validator=optional(positive))
    idempotency_header: str = attrs.field(default="Idempotency-Key", validator=header_name)
    auto_idempotency_key: bool = attrs.field(default=False, validator=instance_of(bool))
    hedge_after: HedgeAfter = attrs.field(default=None, converter=_hedge_after)
    min_wait: float = attrs.field(default=0.0, validator=non_negative)
    retry_on_response: ResponsePredicate | None = attrs.field(
        default=None, validator=optional(is_callable())
    )
    retry_on_exception: ExceptionFilter = attrs.field(default=None, converter=_exception_filter)

    @classmethod
    def from_urllib3(cls, retry: object) -> RetryPolicy:
        """Return the policy a urllib3 ``Retry`` describes; warn of what does not translate.

        ``total=3`` (three retries) is ``max_attempts=4``; ``backoff_factor``,
        ``backoff_max``, ``status_forcelist``, ``allowed_methods`` and
        ``respect_retry_after_header`` carry over. A `MigrationWarning` names every
        setting that has no equivalent (redirects, ``raise_on_status``...).
        """
        from retrykit._core._migrate import from_urllib3  # noqa: PLC0415 - only when used

        return from_urllib3(retry)

    @classmethod
    def from_httpx_retries(cls, retry: object) -> RetryPolicy:
        """Return the policy an httpx-retries ``Retry`` describes; warn of what does not translate.

        ``total``, ``backoff_factor``, ``max_backoff_wait``, ``status_forcelist``,
        ``allowed_methods``, ``respect_retry_after_header``, ``retry_on_exceptions`` and
        ``validate_response`` carry over; a `MigrationWarning` names the rest.
        """
        from retrykit._core._migrate import from_httpx_retries  # noqa: PLC0415 - only when used

        return from_httpx_retries(retry)
