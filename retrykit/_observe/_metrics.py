"""`Metrics`: per-endpoint figures kept in memory, fed by events as a hook."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from retrykit._core._breaker import BreakerState
from retrykit._core._validators import positive_int
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    RetryScheduled,
)
from retrykit._observe._names import OTHER

if TYPE_CHECKING:
    from collections.abc import Iterable

    from retrykit._observe._events import Event

# Each power of two is split into this many buckets of equal width, so a bucket is at most
# 1/32 wide relative to its lower edge and its midpoint within 1.6 % of any value in it.
_SUB_BUCKETS = 32
# Exponents kept: 2**-20 s (about 1 microsecond) to 2**14 s (4.5 hours); values outside
# are clamped, which keeps a histogram to at most 34 * 32 buckets.
_MIN_EXPONENT = -19
_MAX_EXPONENT = 14
_MAX_ERROR_CODES = 50

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""Histogram bucket boundaries for durations in seconds, as the OpenTelemetry HTTP semantic
conventions advise for request durations; the exporters use them."""


_LARGEST = math.ldexp(1.0, _MAX_EXPONENT)


def _bucket(value: float) -> int:
    """Return the index of the bucket holding ``value`` (seconds, clamped to the range)."""
    if not value > 0.0:  # also catches NaN
        return _MIN_EXPONENT * _SUB_BUCKETS
    if value >= _LARGEST:
        return _MAX_EXPONENT * _SUB_BUCKETS + _SUB_BUCKETS - 1
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2**exponent, 0.5 <= m < 1
    if exponent < _MIN_EXPONENT:
        return _MIN_EXPONENT * _SUB_BUCKETS
    return exponent * _SUB_BUCKETS + int((mantissa - 0.5) * 2 * _SUB_BUCKETS)


def _clamp(value: float) -> float:
    """Return ``value`` as a usable duration: NaN and negatives as 0, at most the range."""
    return min(value, _LARGEST) if value > 0.0 else 0.0


def _bucket_midpoint(index: int) -> float:
    exponent, sub = divmod(index, _SUB_BUCKETS)
    return math.ldexp(0.5 + (sub + 0.5) / (2 * _SUB_BUCKETS), exponent)


class _Histogram:
    """Counts per log-linear bucket: fixed memory, quantiles within about 1.6 %."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, bucket: int, value: float) -> None:
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.count += 1
        self.total += value
        # Comparisons, not min() and max(): this runs for every request of every call.
        if value < self.min:  # noqa: PLR1730
            self.min = value
        if value > self.max:  # noqa: PLR1730
            self.max = value

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Return the nearest-rank quantile for each q in ``qs`` (ascending), None if empty."""
        if not self.count:
            return [None for _ in qs]
        buckets = sorted(self.counts.items())
        result: list[float | None] = []
        position = 0
        seen = buckets[0][1]
        for q in qs:
            rank = max(1, math.ceil(q * self.count))
            while seen < rank:
                position += 1
                seen += buckets[position][1]
            value = _bucket_midpoint(buckets[position][0])
            result.append(min(max(value, self.min), self.max))
        return result

    def summary(self) -> dict[str, float | int | None]:
        p50, p95, p99 = self.quantiles((0.5, 0.95, 0.99))
        return {
            "count": self.count,
            "mean": self.total / self.count if self.count else None,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
            "p50": p50,
            "p95": p95,
            "p99": p99,
        }


class _EndpointStats:
    __slots__ = (
        "attempt_latency",
        "attempts",
        "budget_exhausted",
        "call_latency",
        "error_codes",
        "failures",
        "final_statuses",
        "give_ups",
        "rejected",
        "requests",
        "retries",
        "statuses",
        "successes",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.successes = 0
        self.give_ups = 0
        self.retries = 0
        self.attempts = 0
        self.rejected = 0
        self.budget_exhausted = 0
        # Keyed by status code, or by FailureKind value for an attempt with no response.
        self.statuses: dict[int | str, int] = {}
        self.final_statuses: dict[int | str, int] = {}
        self.failures: dict[str, int] = {}
        self.error_codes: dict[str, int] = {}
        self.attempt_latency = _Histogram()
        self.call_latency = _Histogram()


def _by_class(statuses: dict[int | str, int]) -> dict[str, int]:
    classes: dict[str, int] = {}
    for status, count in statuses.items():
        name = f"{status // 100}xx" if isinstance(status, int) else "error"
        classes[name] = classes.get(name, 0) + count
    return classes


def _sorted_statuses(statuses: dict[int | str, int]) -> dict[int | str, int]:
    return dict(sorted(statuses.items(), key=lambda item: str(item[0])))


def _count_attempt(stats: _EndpointStats, status: int | str, bucket: int, duration: float) -> None:
    stats.attempts += 1
    stats.statuses[status] = stats.statuses.get(status, 0) + 1
    stats.attempt_latency.add(bucket, duration)


def _count_call(
    stats: _EndpointStats, succeeded: bool, status: int | str, bucket: int, total_time: float
) -> None:
    stats.requests += 1
    if succeeded:
        stats.successes += 1
    else:
        stats.give_ups += 1
    stats.final_statuses[status] = stats.final_statuses.get(status, 0) + 1
    stats.call_latency.add(bucket, total_time)


@attrs.define(eq=False)
class Metrics:
    """A hook keeping per-endpoint figures in memory; pass it in ``hooks=``.

    Per endpoint template (``GET api.example.com/v1/users/{id}``) it counts:

    - ``requests``: calls finished (`CallFinished`), ``successes`` and ``give_ups``
      among them, and ``success_rate`` (None before the first call);
    - ``attempts``, and ``statuses`` / ``status_classes``: one per *attempt*, so a 503
      that was retried counts; ``"error"`` is an attempt that got no response, detailed
      in ``failures`` by `FailureKind` value;
    - ``final_statuses`` / ``final_status_classes``: one per *call*, what the caller got;
    - ``error_codes``: error codes parsed from bodies, per attempt (at most 50 distinct,
      the rest under ``"(other)"``);
    - ``retries`` (`RetryScheduled`), ``rejected`` (`CallRejected` by an open circuit),
      ``budget_exhausted`` (`BudgetExhausted`);
    - ``attempt_latency`` and ``call_latency``: count, mean, min, max, p50, p95 and p99
      in seconds, from a log-linear histogram of fixed size whose quantiles are within
      about 2 % of the exact ones.

    Circuits are counted apart, by circuit key: ``opens`` and the last ``state`` seen.

    The first ``max_endpoints`` endpoints are kept apart; every later one is counted
    under the endpoint ``"(other)"``, so an endpoint function that misses an id costs one
    entry, not one per record (`PrometheusMetrics` and `OpenTelemetryMetrics` do the
    same). At most as many circuits are kept, the least recently changed dropped first.
    Thread-safe: each event takes one short lock.
    """

    max_endpoints: int = attrs.field(default=1000, validator=positive_int)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _endpoints: dict[str, _EndpointStats] = attrs.field(init=False, repr=False, factory=dict)
    # key -> [opens, state]
    _circuits: OrderedDict[str, list[Any]] = attrs.field(
        init=False, repr=False, factory=OrderedDict
    )
    _named: int = attrs.field(init=False, repr=False, default=0)
    _handlers: dict[type, Callable[[Any], None]] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self._handlers = {
            AttemptFinished: self._attempt_finished,
            CallFinished: self._call_finished,
            RetryScheduled: self._retry_scheduled,
            CallRejected: self._call_rejected,
            BudgetExhausted: self._budget_exhausted,
            CircuitStateChanged: self._circuit_changed,
        }

    def __call__(self, event: Event) -> None:
        """Record ``event``; events of other types are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _stats(self, endpoint: str) -> _EndpointStats:
        # Called with the lock held.
        endpoints = self._endpoints
        stats = endpoints.get(endpoint)
        if stats is None:
            if self._named >= self.max_endpoints:
                endpoint = OTHER
                stats = endpoints.get(OTHER)
            else:
                self._named += 1
            if stats is None:
                stats = endpoints[endpoint] = _EndpointStats()
        return stats

    def _attempt_finished(self, event: AttemptFinished) -> None:
        duration = _clamp(event.duration)
        bucket = _bucket(duration)
        status: int | str = event.status if event.status is not None else "error"
        failure = event.failure.value if event.failure is not None else None
        with self._lock:
            stats = self._stats(event.endpoint)
            _count_attempt(stats, status, bucket, duration)
            if failure is not None:
                stats.failures[failure] = stats.failures.get(failure, 0) + 1
            code = event.error_code
            if code is not None:
                codes = stats.error_codes
                if code not in codes and len(codes) >= _MAX_ERROR_CODES:
                    code = OTHER
                codes[code] = codes.get(code, 0) + 1

    def _call_finished(self, event: CallFinished) -> None:
        total_time = _clamp(event.total_time)
        bucket = _bucket(total_time)
        status: int | str = event.status if event.status is not None else "error"
        with self._lock:
            _count_call(self._stats(event.endpoint), event.succeeded, status, bucket, total_time)

    def first_success(self, method: str, endpoint: str, status: int, duration: float) -> None:
        """Record a call that succeeded on its first attempt: its two events in one step.

        What ``__call__`` records for its `AttemptFinished` and `CallFinished`, under one
        lock; the driver calls it instead of building them (see `FirstSuccess`).
        """
        duration = _clamp(duration)
        bucket = _bucket(duration)
        with self._lock:
            stats = self._stats(endpoint)
            _count_attempt(stats, status, bucket, duration)
            _count_call(stats, True, status, bucket, duration)

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        with self._lock:
            self._stats(event.endpoint).retries += 1

    def _call_rejected(self, event: CallRejected) -> None:
        with self._lock:
            self._stats(event.endpoint).rejected += 1

    def _budget_exhausted(self, event: BudgetExhausted) -> None:
        with self._lock:
            self._stats(event.endpoint).budget_exhausted += 1

    def _circuit_changed(self, event: CircuitStateChanged) -> None:
        with self._lock:
            circuit = self._circuits.get(event.key)
            if circuit is None:
                circuit = self._circuits[event.key] = [0, event.new.value]
                if len(self._circuits) > self.max_endpoints:
                    self._circuits.popitem(last=False)
            else:
                self._circuits.move_to_end(event.key)
            if event.new is BreakerState.OPEN:
                circuit[0] += 1
            circuit[1] = event.new.value

    def snapshot(self) -> dict[str, Any]:
        """Return every figure as plain dicts, lists, numbers and strings (a copy).

        ``{"endpoints": {endpoint: {...}}, "circuits": {key: {"opens", "state"}}}``; the
        endpoint keys are listed in the class docstring, latencies are in seconds.
        """
        with self._lock:
            endpoints = {name: self._endpoint_snapshot(s) for name, s in self._endpoints.items()}
            circuits = {
                key: {"opens": opens, "state": state}
                for key, (opens, state) in self._circuits.items()
            }
        return {
            "endpoints": dict(sorted(endpoints.items())),
            "circuits": dict(sorted(circuits.items())),
        }

    @staticmethod
    def _endpoint_snapshot(stats: _EndpointStats) -> dict[str, Any]:
        return {
            "requests": stats.requests,
            "successes": stats.successes,
            "success_rate": stats.successes / stats.requests if stats.requests else None,
            "give_ups": stats.give_ups,
            "retries": stats.retries,
            "attempts": stats.attempts,
            "rejected": stats.rejected,
            "budget_exhausted": stats.budget_exhausted,
            "statuses": _sorted_statuses(stats.statuses),
            "status_classes": dict(sorted(_by_class(stats.statuses).items())),
            "final_statuses": _sorted_statuses(stats.final_statuses),
            "final_status_classes": dict(sorted(_by_class(stats.final_statuses).items())),
            "failures": dict(sorted(stats.failures.items())),
            "error_codes": dict(sorted(stats.error_codes.items())),
            "attempt_latency": stats.attempt_latency.summary(),
            "call_latency": stats.call_latency.summary(),
        }

    def render(self) -> str:
        """Return a text table, one row per endpoint, sorted by endpoint.

        Columns: requests (calls), success %, retries, give-ups, 4xx and 5xx (responses,
        one per attempt), and p50 / p95 / p99 of whole calls in milliseconds.
        """
        header = (
            "endpoint",
            "requests",
            "success %",
            "retries",
            "give-ups",
            "4xx",
            "5xx",
            "p50 ms",
            "p95 ms",
            "p99 ms",
        )
        rows: list[tuple[str, ...]] = [header]
        for endpoint, figures in self.snapshot()["endpoints"].items():
            rate = figures["success_rate"]
            latency = figures["call_latency"]
            classes = figures["status_classes"]
            rows.append(
                (
                    endpoint,
                    str(figures["requests"]),
                    "-" if rate is None else f"{rate * 100:.1f}",
                    str(figures["retries"]),
                    str(figures["give_ups"]),
                    str(classes.get("4xx", 0)),
                    str(classes.get("5xx", 0)),
                    *(
                        "-" if latency[q] is None else f"{latency[q] * 1000:.1f}"
                        for q in ("p50", "p95", "p99")
                    ),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        return "\n".join(lines) + "\n"
