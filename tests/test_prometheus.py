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
    FallbackUsed,
    RateLimitWaited,
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


def test_circuit_state_is_one_for_the_current_state() -> None:
    """The state gauge reads 1 for where each circuit is, 0 for where it is not."""
    origin = "https://api.example.com:443"
    registry = _feed(
        [
            CircuitStateChanged(origin, BreakerState.CLOSED, BreakerState.OPEN),
            CircuitStateChanged(origin, BreakerState.OPEN, BreakerState.HALF_OPEN),
        ]
    )
    states = {
        state: registry.get_sample_value(
            "retrykit_circuit_state", {"circuit": origin, "state": state}
        )
        for state in ("closed", "open", "half_open")
    }
    assert states == {"closed": 0, "open": 0, "half_open": 1}


def test_circuits_past_the_limit_count_their_opens_together() -> None:
    """Opens past max_endpoints circuits are under '(other)', which has no state series."""
    events: list[Event] = [
        CircuitStateChanged(f"https://h{n}:443", BreakerState.CLOSED, BreakerState.OPEN)
        for n in range(4)
    ]
    registry = _feed(events, max_endpoints=2)
    assert registry.get_sample_value("retrykit_circuit_opens_total", {"circuit": "(other)"}) == 2
    text = generate_latest(registry).decode()
    assert 'retrykit_circuit_state{circuit="(other)"' not in text


def test_fallbacks_are_counted_per_attempt_and_per_call() -> None:
    """Attempts sent to a fallback, and calls a fallback answered, each have a counter."""
    backup = "https://backup.example.com:443"
    registry = _feed(
        [
            FallbackUsed("GET", EP, 2, backup, "https://api.example.com:443"),
            CallFinished("GET", EP, True, "success", 2, 0.5, 200, origin=backup, fallback=True),
        ]
    )
    assert (
        registry.get_sample_value("retrykit_fallback_attempts_total", {**LABELS, "origin": backup})
        == 1
    )
    assert registry.get_sample_value("retrykit_fallback_calls_total", LABELS) == 1


def test_rate_limit_refusals_and_waits() -> None:
    """Calls the limiter refused count by reason; waits after a 429 and the limiter's are timed."""
    registry = _feed(
        [
            CallFinished("GET", EP, False, "rate_limited", 0, 0.0),
            CallFinished("GET", EP, False, "throttled", 0, 0.0),
            RetryScheduled("GET", EP, 1, 4, 2.0, "retryable_status", 429),
            RetryScheduled("GET", EP, 1, 4, 0.3, "retryable_status", 503),
            RateLimitWaited("GET", EP, 1, 0.5),
        ]
    )
    for reason in ("rate_limited", "throttled"):
        labels = {**LABELS, "reason": reason}
        assert registry.get_sample_value("retrykit_rate_limit_refusals_total", labels) == 1
        assert registry.get_sample_value("retrykit_give_ups_total", labels) == 1
    assert registry.get_sample_value("retrykit_rate_limit_wait_seconds_count", LABELS) == 2
    assert registry.get_sample_value("retrykit_rate_limit_wait_seconds_sum", LABELS) == 2.5


def test_unknown_methods_share_one_label() -> None:
    """A made-up method cannot add series: it is '_OTHER', as in OpenTelemetry."""
    registry = _feed([AttemptFinished("BREW", "BREW h/pot", 1, 418, None, 0.1)])
    labels = {"method": "_OTHER", "endpoint": "h/pot", "status": "418"}
    assert registry.get_sample_value("retrykit_attempts_total", labels) == 1


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_max_endpoints_is_checked_when_built(value: object) -> None:
    """A limit that could hold nothing, or is no count, fails at once and registers nothing."""
    registry = CollectorRegistry()
    with pytest.raises(ValueError, match="max_endpoints"):
        PrometheusMetrics(registry, max_endpoints=value)  # type: ignore[arg-type]
    assert list(registry.collect()) == []


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without prometheus-client, the import error says which extra to install."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.delitem(sys.modules, "retrykit.prometheus")
    with pytest.raises(ImportError, match=r"pip install 'retrykit-http\[prometheus\]'"):
        importlib.import_module("retrykit.prometheus")


def test_first_success_records_what_its_two_events_would() -> None:
    by_events = _feed(
        [
            AttemptFinished("GET", EP, 1, 200, None, 0.25, "r", None),
            CallFinished("GET", EP, True, "success", 1, 0.25, 200),
        ]
    )
    by_method = CollectorRegistry()
    PrometheusMetrics(by_method).first_success("GET", EP, 200, 0.25)

    def samples(registry: CollectorRegistry) -> list[bytes]:
        lines = generate_latest(registry).splitlines()
        return [line for line in lines if b"_created" not in line]  # when each was made

    assert samples(by_method) == samples(by_events)
