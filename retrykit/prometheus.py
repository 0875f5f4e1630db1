"""Prometheus metrics for retrykit: a hook recording events with ``prometheus_client``.

Needs the ``prometheus`` extra: ``pip install 'retrykit-http[prometheus]'``. With the default
namespace ``retrykit``:

- ``retrykit_requests_total``: calls finished, by ``method``, ``endpoint``, ``status``
  (the final status, or the `FailureKind` value when there was no response, ``none``
  when nothing was sent);
- ``retrykit_attempts_total``: attempts, by the same labels (``status`` being each
  attempt's own, so a retried 503 counts);
- ``retrykit_retries_total``: retries scheduled, ``status`` being what caused each one;
- ``retrykit_give_ups_total``: calls that did not succeed, by ``method``, ``endpoint``,
  ``reason``;
- ``retrykit_attempt_duration_seconds`` and ``retrykit_request_duration_seconds``:
  histograms of attempts and of whole calls (waits included), by ``method``,
  ``endpoint``, ``status``;
- ``retrykit_rejected_total`` (calls an open circuit refused) and
  ``retrykit_budget_exhausted_total`` (retries the budget stopped): by ``method``,
  ``endpoint``;
- ``retrykit_circuit_opens_total``: by ``circuit`` (an origin); ``retrykit_circuit_state``:
  a gauge by ``circuit`` and ``state`` (``closed``, ``open``, ``half_open``), 1 for the
  circuit's state and 0 for the others, for each circuit that changed state once;
- ``retrykit_fallback_attempts_total``: attempts sent to a fallback origin, by
  ``method``, ``endpoint``, ``origin``; ``retrykit_fallback_calls_total``: calls whose
  answer came from a fallback origin, by ``method``, ``endpoint``;
- ``retrykit_rate_limit_refusals_total``: calls the rate limiter or the adaptive throttle
  refused, by ``method``, ``endpoint``, ``reason`` (``rate_limited``, ``throttled``);
  ``retrykit_rate_limit_wait_seconds``: a histogram of the waits for a rate limit: before
  retrying a 429, and the rate limiter's holds before an attempt (`RateLimitWaited`).

``endpoint`` is the host and path template (``api.example.com/v1/users/{id}``), never a
full URL, so label values stay bounded and hold no id, query string or credential; past
``max_endpoints`` endpoints (and as many circuits) the rest share ``"(other)"``, and a
method other than the HTTP ones is ``_OTHER``. The dashboards and alerting rules in
``retrykit/dashboards/`` read these metrics.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

try:
    import prometheus_client
except ImportError as _missing:  # pragma: no cover - tested by hiding the module
    raise ImportError(
        "retrykit.prometheus needs prometheus-client: pip install 'retrykit-http[prometheus]'"
    ) from _missing

from retrykit._core._breaker import BreakerState
from retrykit._core._decide import Reason
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FallbackUsed,
    RateLimitWaited,
    RetryScheduled,
)
from retrykit._observe._metrics import DURATION_BUCKETS
from retrykit._observe._names import OTHER, BoundedNames, method_label

if TYPE_CHECKING:
    from collections.abc import Callable

    from retrykit._core._policy import FailureKind
    from retrykit._observe._events import Event

WAIT_BUCKETS: Final = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Histogram bucket boundaries (seconds) for waits, up to twice the default longest wait."""
_REFUSALS: Final = frozenset({Reason.RATE_LIMITED, Reason.THROTTLED})
# What Prometheus accepts as a metric name (its data model), so as a namespace too.
_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _status(status: int | None, failure: FailureKind | None) -> str:
    if status is not None:
        return str(status)
    return failure.value if failure is not None else "none"


class PrometheusMetrics:
    """A hook recording retrykit events as Prometheus counters, gauges and histograms.

    The metrics (listed in the module docstring) are registered in ``registry``
    (``prometheus_client.REGISTRY`` by default, where a second instance with the same
    ``namespace`` is refused as a duplicate). At most ``max_endpoints`` distinct
    endpoint labels are used, and as many circuits; later ones are counted under
    ``"(other)"``, so a template that misses an id cannot grow the registry without bound.
    """

    def __init__(
        self,
        registry: prometheus_client.CollectorRegistry | None = None,
        namespace: str = "retrykit",
        *,
        max_endpoints: int = 1000,
    ) -> None:
        self._endpoints = BoundedNames(max_endpoints)
        self._circuits = BoundedNames(max_endpoints)
        if registry is None:
            registry = prometheus_client.REGISTRY
        elif not callable(getattr(registry, "register", None)):
            raise TypeError(
                "registry must be a prometheus_client CollectorRegistry or None for the "
                f"default one, got {registry!r}"
            )
        if not isinstance(namespace, str) or not _METRIC_NAME.fullmatch(namespace):
            raise (TypeError if not isinstance(namespace, str) else ValueError)(
                "namespace must be a Prometheus metric name prefix (letters, digits, '_' "
                f"and ':', not starting with a digit), got {namespace!r}"
            )
        labels = ("method", "endpoint", "status")
        short = ("method", "endpoint")
        by_reason = ("method", "endpoint", "reason")
        common: dict[str, Any] = {"namespace": namespace, "registry": registry}
        counter = prometheus_client.Counter
        self._requests = counter("requests", "Calls finished.", labels, **common)
        self._attempts = counter("attempts", "Attempts made.", labels, **common)
        self._retries = counter("retries", "Retries scheduled.", labels, **common)
        self._give_ups = counter("give_ups", "Calls that did not succeed.", by_reason, **common)
        self._rejected = counter("rejected", "Calls refused by an open circuit.", short, **common)
        self._budget_exhausted = counter(
            "budget_exhausted", "Retries stopped by the retry budget.", short, **common
        )
        self._circuit_opens = counter(
            "circuit_opens", "Circuits that opened.", ("circuit",), **common
        )
        self._circuit_state = prometheus_client.Gauge(
            "circuit_state",
            "1 for the state each circuit is in, 0 for the others.",
            ("circuit", "state"),
            **common,
        )
        self._fallback_attempts = counter(
            "fallback_attempts",
            "Attempts sent to a fallback origin.",
            ("method", "endpoint", "origin"),
            **common,
        )
        self._fallback_calls = counter(
            "fallback_calls", "Calls whose answer came from a fallback origin.", short, **common
        )
        self._rate_limit_refusals = counter(
            "rate_limit_refusals",
            "Calls the rate limiter or the adaptive throttle refused.",
            by_reason,
            **common,
        )
        self._rate_limit_wait = prometheus_client.Histogram(
            "rate_limit_wait_seconds",
            "Waits for a rate limit: before retrying a 429, and the limiter's holds.",
            short,
            buckets=WAIT_BUCKETS,
            **common,
        )
        self._attempt_duration = prometheus_client.Histogram(
            "attempt_duration_seconds",
            "Duration of each attempt.",
            labels,
            buckets=DURATION_BUCKETS,
            **common,
        )
        self._request_duration = prometheus_client.Histogram(
            "request_duration_seconds",
            "Duration of whole calls, every attempt and wait included.",
            labels,
            buckets=DURATION_BUCKETS,
            **common,
        )
        self._handlers: dict[type, Callable[[Any], None]] = {
            AttemptFinished: self._attempt_finished,
            CallFinished: self._call_finished,
            RetryScheduled: self._retry_scheduled,
            RateLimitWaited: self._rate_limit_waited,
            CallRejected: self._call_rejected,
            BudgetExhausted: self._budget_exhausted_event,
            CircuitStateChanged: self._circuit_changed,
            FallbackUsed: self._fallback_used,
        }

    def __call__(self, event: Event) -> None:
        """Record ``event``; events without a metric are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _labels(self, method: str, endpoint: str) -> tuple[str, str]:
        """Return the method and endpoint labels: the template without its method."""
        name = self._endpoints(endpoint)
        return method_label(method), name if name == OTHER else name.removeprefix(f"{method} ")

    def _attempt_finished(self, event: AttemptFinished) -> None:
        labels = (*self._labels(event.method, event.endpoint), _status(event.status, event.failure))
        self._count_attempt(labels, event.duration)

    def _count_attempt(self, labels: tuple[str, str, str], duration: float) -> None:
        self._attempts.labels(*labels).inc()
        self._attempt_duration.labels(*labels).observe(duration)

    def _call_finished(self, event: CallFinished) -> None:
        short = self._labels(event.method, event.endpoint)
        labels = (*short, _status(event.status, event.failure))
        self._count_call(labels, event.total_time)
        if not event.succeeded:
            self._give_ups.labels(*short, event.reason).inc()
            if event.reason in _REFUSALS:
                self._rate_limit_refusals.labels(*short, event.reason).inc()
        if event.fallback:
            self._fallback_calls.labels(*short).inc()

    def _count_call(self, labels: tuple[str, str, str], total_time: float) -> None:
        self._requests.labels(*labels).inc()
        self._request_duration.labels(*labels).observe(total_time)

    def first_success(self, method: str, endpoint: str, status: int, duration: float) -> None:
        """Record a call that succeeded on its first attempt: its two events in one step.

        The driver calls this instead of building them when every hook offers it (see
        `retrykit.FirstSuccess`).
        """
        labels = (*self._labels(method, endpoint), _status(status, None))
        self._count_attempt(labels, duration)
        self._count_call(labels, duration)

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        short = self._labels(event.method, event.endpoint)
        self._retries.labels(*short, _status(event.status, event.failure)).inc()
        if event.status == 429:
            self._rate_limit_wait.labels(*short).observe(event.delay)

    def _rate_limit_waited(self, event: RateLimitWaited) -> None:
        self._rate_limit_wait.labels(*self._labels(event.method, event.endpoint)).observe(
            event.wait
        )

    def _call_rejected(self, event: CallRejected) -> None:
        self._rejected.labels(*self._labels(event.method, event.endpoint)).inc()

    def _budget_exhausted_event(self, event: BudgetExhausted) -> None:
        self._budget_exhausted.labels(*self._labels(event.method, event.endpoint)).inc()

    def _fallback_used(self, event: FallbackUsed) -> None:
        labels = self._labels(event.method, event.endpoint)
        self._fallback_attempts.labels(*labels, event.origin).inc()

    def _circuit_changed(self, event: CircuitStateChanged) -> None:
        circuit = self._circuits(event.key)
        if event.new is BreakerState.OPEN:
            self._circuit_opens.labels(circuit).inc()
        if circuit == OTHER:
            return  # the state of "all the other circuits" means nothing
        for state in BreakerState:
            self._circuit_state.labels(circuit, state.value).set(state is event.new)
