"""OpenTelemetry metrics for retrykit: a hook recording events as OTel instruments.

Needs the ``otel`` extra: ``pip install 'retrykit-http[otel]'``. Instruments, from the meter
``retrykit``:

- ``http.client.request.duration`` (histogram, s): one per attempt, as the HTTP client
  semantic conventions define it;
- ``retrykit.call.duration`` (histogram, s): one per call, every attempt and wait included;
- ``retrykit.requests`` (counter): calls finished; ``retrykit.retries`` (counter): retries
  scheduled; ``retrykit.rejected`` (counter): calls refused by an open circuit;
  ``retrykit.circuit.opens`` (counter, attribute ``retrykit.circuit``): circuits opened.

Attributes: ``http.request.method``, ``server.address``, ``server.port`` (when the URL
named a port other than the default), ``http.response.status_code`` (when there was a
response), ``error.type`` (the status as a string for 4xx and 5xx, the `FailureKind` value
when there was no response), ``url.template`` (the path template), ``retrykit.endpoint``
(the whole endpoint template) and, on calls and retries, ``retrykit.reason``. Every value
comes from the endpoint template, so none holds an id, a query string or a credential.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import metrics as otel_metrics
except ImportError as _missing:  # pragma: no cover - tested by hiding the module
    raise ImportError(
        "retrykit.otel needs opentelemetry-api: pip install 'retrykit-http[otel]'"
    ) from _missing

import retrykit
from retrykit._core._breaker import BreakerState
from retrykit._observe._events import (
    AttemptFinished,
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


@functools.lru_cache(maxsize=1024)
def _endpoint_attributes(method: str, endpoint: str) -> tuple[tuple[str, str | int], ...]:
    """Split ``METHOD host[:port]/path`` into OTel attributes (a custom template may differ)."""
    rest = endpoint.removeprefix(f"{method} ")
    host, slash, path = rest.partition("/")
    attributes: list[tuple[str, str | int]] = [
        ("http.request.method", method),
        ("retrykit.endpoint", endpoint),
    ]
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and not name.endswith(":"):
        host = name
        attributes.append(("server.port", int(port)))
    if host and " " not in host:
        attributes.append(("server.address", host.strip("[]")))
    if slash:
        attributes.append(("url.template", slash + path))
    return tuple(attributes)


def _attributes(
    method: str,
    endpoint: str,
    status: int | None,
    failure: FailureKind | None,
    reason: str | None = None,
) -> dict[str, str | int]:
    attributes = dict(_endpoint_attributes(method, endpoint))
    if status is not None:
        attributes["http.response.status_code"] = status
        if status >= 400:
            attributes["error.type"] = str(status)
    elif failure is not None:
        attributes["error.type"] = failure.value
    if reason is not None:
        attributes["retrykit.reason"] = reason
    return attributes


class OpenTelemetryMetrics:
    """A hook recording retrykit events on OpenTelemetry instruments (see the module doc).

    ``meter_provider`` defaults to the global one (``opentelemetry.metrics``); instruments
    are created once, here. Safe to call from many threads, as OTel instruments are.
    """

    def __init__(self, meter_provider: otel_metrics.MeterProvider | None = None) -> None:
        provider = meter_provider or otel_metrics.get_meter_provider()
        meter = provider.get_meter("retrykit", retrykit.__version__)
        self._attempt_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests, one per attempt.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._call_duration = meter.create_histogram(
            "retrykit.call.duration",
            unit="s",
            description="Duration of calls through retrykit, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._requests = meter.create_counter(
            "retrykit.requests", unit="{request}", description="Calls finished."
        )
        self._retries = meter.create_counter(
            "retrykit.retries", unit="{retry}", description="Retries scheduled."
        )
        self._rejected = meter.create_counter(
            "retrykit.rejected", unit="{request}", description="Calls refused by an open circuit."
        )
        self._circuit_opens = meter.create_counter(
            "retrykit.circuit.opens", unit="{open}", description="Circuits that opened."
        )
        self._handlers: dict[type, Callable[[Any], None]] = {
            AttemptFinished: self._attempt_finished,
            CallFinished: self._call_finished,
            RetryScheduled: self._retry_scheduled,
            CallRejected: self._call_rejected,
            CircuitStateChanged: self._circuit_changed,
        }

    def __call__(self, event: Event) -> None:
        """Record ``event``; events without an instrument are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _attempt_finished(self, event: AttemptFinished) -> None:
        attributes = _attributes(event.method, event.endpoint, event.status, event.failure)
        self._attempt_duration.record(event.duration, attributes)

    def _call_finished(self, event: CallFinished) -> None:
        attributes = _attributes(
            event.method, event.endpoint, event.status, event.failure, event.reason
        )
        self._requests.add(1, attributes)
        self._call_duration.record(event.total_time, attributes)

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        attributes = _attributes(
            event.method, event.endpoint, event.status, event.failure, event.reason
        )
        self._retries.add(1, attributes)

    def _call_rejected(self, event: CallRejected) -> None:
        self._rejected.add(1, _attributes(event.method, event.endpoint, None, None))

    def _circuit_changed(self, event: CircuitStateChanged) -> None:
        if event.new is BreakerState.OPEN:
            self._circuit_opens.add(1, {"retrykit.circuit": event.key})
