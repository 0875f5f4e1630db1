"""PrometheusMetrics: counters and histograms with bounded labels, in a fresh registry."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from retrykit import (
    AttemptFinished,
    BreakerState,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FailureKind,
    RetryScheduled,
    endpoint_template,
    key_fingerprint,
)
from retrykit.prometheus import PrometheusMetrics

if TYPE_CHECKING:
    from retrykit import Event

SECRET = "sk_live_51HxQzL2eZvKYlo2CAbCdEf"
EP = "GET api.example.com/v1/users/{id}"
LABELS = {"method": "GET", "endpoint": "api.example.com/v1/users/{id}"}


def _failed_call(endpoint: str = EP, fingerprint: str | None = None) -> list[Event]:
    return [
        AttemptFinished("GET", endpoint, 1, 503, None, 0.2, "r", fingerprint),
        RetryScheduled("GET", endpoint, 1, 2, 0.5, "retryable_status", 503, None, "r", fingerprint),
        AttemptFinished(
            "GET", endpoint, 2, None, FailureKind.UNKNOWN_OUTCOME, 0.1, None, fingerprint
        ),
        CallFinished(
            "GET", endpoint, False, "attempts_exhausted", 2, 0.8, None, FailureKind.UNKNOWN_OUTCOME
        ),
    ]


def _feed(events: list[Event], max_endpoints: int = 1000) -> CollectorRegistry:
    registry = CollectorRegistry()
    hook = PrometheusMetrics(registry, max_endpoints=max_endpoints)
    for event in events:
        hook(event)
    return registry


def test_calls_and_attempts_by_status() -> None:
    """Calls count by final status, attempts by their own status or failure kind."""
    registry = _feed(_failed_call())
    assert (
        registry.get_sample_value(
            "retrykit_requests_total", {**LABELS, "status": "unknown_outcome"}
        )
        == 1
    )
    assert registry.get_sample_value("retrykit_attempts_total", {**LABELS, "status": "503"}) == 1
    assert (
        registry.get_sample_value(
            "retrykit_attempts_total", {**LABELS, "status": "unknown_outcome"}
        )
        == 1
    )


def test_retries_and_give_ups() -> None:
    """Retries count by the status that caused them, give-ups by reason."""
    registry = _feed(_failed_call())
    assert registry.get_sample_value("retrykit_retries_total", {**LABELS, "status": "503"}) == 1
    assert (
        registry.get_sample_value(
            "retrykit_give_ups_total", {**LABELS, "reason": "attempts_exhausted"}
        )
        == 1
    )


def test_durations_are_histograms() -> None:
    """Attempt and call durations are histograms in seconds."""
    registry = _feed(_failed_call())
    labels = {**LABELS, "status": "503"}
    assert registry.get_sample_value("retrykit_attempt_duration_seconds_count", labels) == 1
    assert registry.get_sample_value(
        "retrykit_attempt_duration_seconds_sum", labels
    ) == pytest.approx(0.2)
    call = {**LABELS, "status": "unknown_outcome"}
    assert registry.get_sample_value(
        "retrykit_request_duration_seconds_sum", call
    ) == pytest.approx(0.8)


def test_circuit_rejections_and_budget() -> None:
    """Circuit opens count by origin; rejections and budget stops by endpoint."""
    origin = "https://api.example.com:443"
    registry = _feed(
        [
            CircuitStateChanged(origin, BreakerState.CLOSED, BreakerState.OPEN),
            CircuitStateChanged(origin, BreakerState.OPEN, BreakerState.CLOSED),
            CallRejected("GET", EP, origin, 3.0),
            BudgetExhausted("GET", EP, 2),
        ]
    )
    assert registry.get_sample_value("retrykit_circuit_opens_total", {"circuit": origin}) == 1
    assert registry.get_sample_value("retrykit_rejected_total", LABELS) == 1
    assert registry.get_sample_value("retrykit_budget_exhausted_total", LABELS) == 1


def test_namespace_prefixes_every_metric() -> None:
    """A custom namespace lets two clients' metrics live side by side."""
    registry = CollectorRegistry()
    PrometheusMetrics(registry, namespace="billing")(_failed_call()[0])
    assert registry.get_sample_value("billing_attempts_total", {**LABELS, "status": "503"}) == 1


def test_endpoint_labels_are_bounded() -> None:
    """Beyond max_endpoints distinct endpoints, new ones share the '(other)' label."""
    events: list[Event] = [
        AttemptFinished("GET", f"GET h/{number}", 1, 200, None, 0.1) for number in range(5)
    ]
    registry = _feed(events, max_endpoints=2)
    other = {"method": "GET", "endpoint": "(other)", "status": "200"}
    assert registry.get_sample_value("retrykit_attempts_total", other) == 3
    assert registry.get_sample_value("retrykit_attempts_total", {**other, "endpoint": "h/0"}) == 1


def test_secret_never_in_labels() -> None:
    """The exposition text never holds the credential of the request."""
    fingerprint = key_fingerprint({"X-API-Key": SECRET}, b"key")
    endpoint = endpoint_template(
        "GET", f"https://u:{SECRET}@api.example.com/v1/users/{SECRET}?k={SECRET}"
    )
    registry = _feed(_failed_call(endpoint, fingerprint))
    text = generate_latest(registry).decode()
    assert "api.example.com/v1/users/{id}" in text
    assert SECRET not in text


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without prometheus-client, the import error says which extra to install."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "retrykit.prometheus")
    with pytest.raises(ImportError, match=r"pip install 'retrykit\[prometheus\]'"):
        importlib.import_module("retrykit.prometheus")
