"""OpenTelemetryMetrics: semantic-convention instruments, read back from an in-memory reader."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from retrykit import (
    AttemptFinished,
    BreakerState,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FailureKind,
    RetryScheduled,
    endpoint_template,
    key_fingerprint,
)
from retrykit.otel import OpenTelemetryMetrics

if TYPE_CHECKING:
    from retrykit import Event

SECRET = "sk_live_51HxQzL2eZvKYlo2CAbCdEf"
EP = "GET api.example.com/v1/users/{id}"


def _collect(events: list[Event]) -> dict[str, list[Any]]:
    """Feed ``events`` to a fresh exporter; return its data points by metric name."""
    reader = InMemoryMetricReader()
    hook = OpenTelemetryMetrics(MeterProvider(metric_readers=[reader]))
    for event in events:
        hook(event)
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "retrykit"
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    return points


def _retried_call(endpoint: str = EP, fingerprint: str | None = None) -> list[Event]:
    return [
        AttemptFinished("GET", endpoint, 1, 503, None, 0.2, "r", fingerprint),
        RetryScheduled("GET", endpoint, 1, 4, 0.5, "retryable_status", 503, None, "r", fingerprint),
        AttemptFinished("GET", endpoint, 2, None, FailureKind.CONNECT, 0.1, None, fingerprint),
        RetryScheduled(
            "GET",
            endpoint,
            2,
            4,
            1.0,
            "connect_failed",
            None,
            FailureKind.CONNECT,
            None,
            fingerprint,
        ),
        AttemptFinished("GET", endpoint, 3, 200, None, 0.3, "r", fingerprint),
        CallFinished("GET", endpoint, True, "success", 3, 2.1, 200, None, "r", fingerprint),
    ]


def test_attempt_duration_follows_http_semantic_conventions() -> None:
    """Each attempt is one http.client.request.duration point with the standard attributes."""
    points = _collect(_retried_call())["http.client.request.duration"]
    by_outcome = {point.attributes.get("error.type", "ok"): point for point in points}
    assert set(by_outcome) == {"503", "connect", "ok"}
    assert dict(by_outcome["503"].attributes) == {
        "http.request.method": "GET",
        "server.address": "api.example.com",
        "http.response.status_code": 503,
        "error.type": "503",
        "url.template": "/v1/users/{id}",
        "retrykit.endpoint": EP,
    }
    assert "http.response.status_code" not in by_outcome["connect"].attributes
    assert by_outcome["ok"].attributes["http.response.status_code"] == 200
    assert by_outcome["ok"].sum == pytest.approx(0.3)


def test_requests_and_call_duration() -> None:
    """A call counts once in retrykit.requests and retrykit.call.duration, with its reason."""
    points = _collect(_retried_call())
    [requests] = points["retrykit.requests"]
    assert requests.value == 1
    assert requests.attributes["retrykit.reason"] == "success"
    assert requests.attributes["http.response.status_code"] == 200
    [duration] = points["retrykit.call.duration"]
    assert (duration.count, duration.sum) == (1, pytest.approx(2.1))


def test_retries_are_counted_by_cause() -> None:
    """Each scheduled retry counts, with the status or failure that caused it."""
    points = _collect(_retried_call())["retrykit.retries"]
    causes = {point.attributes["error.type"]: point.value for point in points}
    assert causes == {"503": 1, "connect": 1}


def test_circuit_opens_and_rejections() -> None:
    """Circuits opening and calls refused by them are counted."""
    origin = "https://api.example.com:443"
    points = _collect(
        [
            CircuitStateChanged(origin, BreakerState.CLOSED, BreakerState.OPEN),
            CircuitStateChanged(origin, BreakerState.OPEN, BreakerState.HALF_OPEN),
            CallRejected("GET", EP, origin, 5.0),
        ]
    )
    [opens] = points["retrykit.circuit.opens"]
    assert (opens.value, dict(opens.attributes)) == (1, {"retrykit.circuit": origin})
    [rejected] = points["retrykit.rejected"]
    assert rejected.value == 1


def test_explicit_port_becomes_server_port() -> None:
    """A non-default port is reported as server.port, apart from the address."""
    endpoint = endpoint_template("GET", "http://127.0.0.1:8080/health")
    points = _collect([AttemptFinished("GET", endpoint, 1, 200, None, 0.01)])
    [point] = points["http.client.request.duration"]
    assert point.attributes["server.address"] == "127.0.0.1"
    assert point.attributes["server.port"] == 8080


def test_secret_never_in_attributes() -> None:
    """No attribute value of any instrument holds the credential."""
    fingerprint = key_fingerprint({"Authorization": f"Bearer {SECRET}"}, b"key")
    endpoint = endpoint_template(
        "GET", f"https://u:{SECRET}@api.example.com/v1/users/{SECRET}?k={SECRET}"
    )
    points = _collect(_retried_call(endpoint, fingerprint))
    assert points
    for series in points.values():
        for point in series:
            assert all(SECRET not in str(value) for value in point.attributes.values())


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without opentelemetry-api, the import error says which extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "retrykit.otel")
    with pytest.raises(ImportError, match=r"pip install 'retrykit\[otel\]'"):
        importlib.import_module("retrykit.otel")


def test_import_retrykit_does_not_import_opentelemetry() -> None:
    """The exporter is opt-in: importing retrykit alone loads no OpenTelemetry."""
    import subprocess

    code = "import sys, retrykit; print('opentelemetry' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
