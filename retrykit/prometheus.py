"""Prometheus metrics for retrykit: a hook recording events with ``prometheus_client``.

Needs the ``prometheus`` extra: ``pip install 'retrykit-http[prometheus]'``. With the default
namespace ``retrykit``:

- ``retrykit_requests_total``: calls finished, by ``method``, ``endpoint``, ``status``
  (the final status, or the `FailureKind` value when there was no response);
- ``retrykit_attempts_total``: attempts, by the same labels;
- ``retrykit_retries_total``: retries scheduled, ``status`` being what caused each one;
- ``retrykit_give_ups_total``: calls that did not succeed, by ``method``, ``endpoint``,
  ``reason``;
- ``retrykit_attempt_duration_seconds`` and ``retrykit_request_duration_seconds``:
  histograms of attempts and of whole calls (waits included), by ``method``,
  ``endpoint``, ``status``;
- ``retrykit_rejected_total`` and ``retrykit_budget_exhausted_total``: by ``method``,
  ``endpoint``; ``retrykit_circuit_opens_total``: by ``circuit`` (an origin).

``endpoint`` is the host and path template (``api.example.com/v1/users/{id}``), never a
full URL, so label values stay bounded and hold no id, query string or credential.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

try:
    import prometheus_client
except ImportError as _missing:  # pragma: no cover - tested by hiding the module
    raise ImportError(
        "retrykit.prometheus needs prometheus-client: pip install 'retrykit-http[prometheus]'"
    ) from _missing

from retrykit._core._breaker import BreakerState
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    RetryScheduled,
)
from retrykit._observe._metrics import DURATION_BUCKETS

if TYPE_CHECKING:
    from collections.abc import Callable

    from retrykit._core._policy import FailureKind
    from retrykit._observe._events import Event

_OTHER = "(other)"


def _status(status: int | None, failure: FailureKind | None) -> str:
    if status is not None:
        return str(status)
    return failure.value if failure is not None else "none"


class PrometheusMetrics:
    """A hook recording retrykit events as Prometheus counters and histograms.

    The metrics are registered in ``registry`` (``prometheus_client.REGISTRY`` by
    default, where a second instance with the same ``namespace`` is refused as a
    duplicate). At most ``max_endpoints`` distinct endpoint labels are used; later ones
    are counted under ``endpoint="(other)"``, so a template that misses an id cannot
    grow the registry without bound.
    """

    def __init__(
        self,
        registry: prometheus_client.CollectorRegistry | None = None,
        namespace: str = "retrykit",
        *,
        max_endpoints: int = 1000,
    ) -> None:
        if registry is None:
            registry = prometheus_client.REGISTRY
        labels = ("method", "endpoint", "status")
        short = ("method", "endpoint")
        common: dict[str, Any] = {"namespace": namespace, "registry": registry}
        self._requests = prometheus_client.Counter("requests", "Calls finished.", labels, **common)
        self._attempts = prometheus_client.Counter("attempts", "Attempts made.", labels, **common)
        self._retries = prometheus_client.Counter("retries", "Retries scheduled.", labels, **common)
        self._give_ups = prometheus_client.Counter(
            "give_ups", "Calls that did not succeed.", ("method", "endpoint", "reason"), **common
        )
        self._rejected = prometheus_client.Counter(
            "rejected", "Calls refused by an open circuit.", short, **common
        )
        self._budget_exhausted = prometheus_client.Counter(
            "budget_exhausted", "Retries stopped by the retry budget.", short, **common
        )
        self._circuit_opens = prometheus_client.Counter(
            "circuit_opens", "Circuits that opened.", ("circuit",), **common
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
        self._max_endpoints = max_endpoints
        self._endpoints: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._handlers: dict[type, Callable[[Any], None]] = {
            AttemptFinished: self._attempt_finished,
            CallFinished: self._call_finished,
            RetryScheduled: self._retry_scheduled,
            CallRejected: self._call_rejected,
            BudgetExhausted: self._budget_exhausted_event,
            CircuitStateChanged: self._circuit_changed,
        }

    def __call__(self, event: Event) -> None:
        """Record ``event``; events without a metric are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _endpoint(self, method: str, endpoint: str) -> str:
        """Return the endpoint label: the template without its method, or ``(other)``."""
        label = self._endpoints.get((method, endpoint))
        if label is not None:
            return label
        with self._lock:
            if len(self._endpoints) >= self._max_endpoints:
                return _OTHER
            label = endpoint.removeprefix(f"{method} ")
            self._endpoints[method, endpoint] = label
            return label

    def _attempt_finished(self, event: AttemptFinished) -> None:
        labels = (
            event.method,
            self._endpoint(event.method, event.endpoint),
            _status(event.status, event.failure),
        )
        self._attempts.labels(*labels).inc()
        self._attempt_duration.labels(*labels).observe(event.duration)

    def _call_finished(self, event: CallFinished) -> None:
        endpoint = self._endpoint(event.method, event.endpoint)
        labels = (event.method, endpoint, _status(event.status, event.failure))
        self._requests.labels(*labels).inc()
        self._request_duration.labels(*labels).observe(event.total_time)
        if not event.succeeded:
            self._give_ups.labels(event.method, endpoint, event.reason).inc()

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        self._retries.labels(
            event.method,
            self._endpoint(event.method, event.endpoint),
            _status(event.status, event.failure),
        ).inc()

    def _call_rejected(self, event: CallRejected) -> None:
        self._rejected.labels(event.method, self._endpoint(event.method, event.endpoint)).inc()

    def _budget_exhausted_event(self, event: BudgetExhausted) -> None:
        self._budget_exhausted.labels(
            event.method, self._endpoint(event.method, event.endpoint)
        ).inc()

    def _circuit_changed(self, event: CircuitStateChanged) -> None:
        if event.new is BreakerState.OPEN:
            self._circuit_opens.labels(event.key).inc()
