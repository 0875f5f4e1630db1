"""OpenTelemetryMetrics: what only retrykit knows, under its own names, read back in memory."""

from __future__ import annotations

import importlib
import re
import sys
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from retrykit import (
    AttemptFinished,
    BreakerState,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FailureKind,
    FallbackUsed,
    RetryScheduled,
    endpoint_template,
    key_fingerprint,
)
from retrykit.otel import OpenTelemetryMetrics

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

    from retrykit import Event

SECRET = "sk_live_51HxQzL2eZvKYlo2CAbCdEf"
EP = "GET api.example.com/v1/users/{id}"
ORIGIN = "https://api.example.com:443"
REQUEST = {
    "http.request.method": "GET",
    "server.address": "api.example.com",
    "server.port": 443,
    "url.template": "/v1/users/{id}",
    "retrykit.endpoint": EP,
}
UNITS = {
    "retrykit.client.attempts": "{attempt}",
    "retrykit.client.call.duration": "s",
    "retrykit.client.retries": "{retry}",
    "retrykit.client.give_ups": "{call}",
    "retrykit.client.circuit.state": "1",
    "retrykit.client.circuit.opens": "{open}",
    "retrykit.client.circuit.rejections": "{call}",
    "retrykit.client.retry_budget.refusals": "{retry}",
    "retrykit.client.rate_limit.refusals": "{call}",
    "retrykit.client.rate_limit.wait_time": "s",
    "retrykit.client.fallback.attempts": "{attempt}",
    "retrykit.client.fallback.calls": "{call}",
}


def _metrics(events: list[Event], **settings: Any) -> dict[str, Metric]:
    """Feed ``events`` to a fresh exporter; return its metrics by name."""
    reader = InMemoryMetricReader()
    hook = OpenTelemetryMetrics(MeterProvider(metric_readers=[reader]), **settings)
    for event in events:
        hook(event)
    data = reader.get_metrics_data()
    assert data is not None
    metrics: dict[str, Metric] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "retrykit"
            metrics.update((metric.name, metric) for metric in scope.metrics)
    return metrics


def _points(events: list[Event], **settings: Any) -> dict[str, list[Any]]:
    return {
        name: list(metric.data.data_points) for name, metric in _metrics(events, **settings).items()
    }


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


def _every_kind_of_event() -> list[Event]:
    backup = "https://backup.example.com:443"
    return [
        *_retried_call(),
        RetryScheduled("GET", EP, 1, 4, 2.0, "retryable_status", 429),
        CallFinished("GET", EP, False, "attempts_exhausted", 4, 5.0, 503),
        CallFinished("GET", EP, False, "rate_limited", 0, 0.0),
        CallRejected("GET", EP, ORIGIN, 5.0),
        BudgetExhausted("GET", EP, 2),
        CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN),
        FallbackUsed("GET", EP, 2, backup, ORIGIN),
        CallFinished("GET", EP, True, "success", 2, 0.5, 200, origin=backup, fallback=True),
    ]


def test_instruments_are_retrykit_s_own() -> None:
    """Nothing the HTTP instrumentations record is recorded again; each name is retrykit's."""
    metrics = _metrics(_every_kind_of_event())
    assert {name: metric.unit for name, metric in metrics.items()} == UNITS
    assert "http.client.request.duration" not in metrics


@pytest.mark.parametrize("name", sorted(UNITS))
def test_names_follow_the_semantic_conventions_rules(name: str) -> None:
    """Lower-case dotted namespaces, snake_case words, no _total, counts in {braces}."""
    assert re.fullmatch(r"retrykit\.client(\.[a-z][a-z0-9]*(_[a-z0-9]+)*)+", name)
    assert not name.endswith(("_total", ".total"))
    assert UNITS[name] in ("s", "1") or re.fullmatch(r"\{[a-z]+\}", UNITS[name])


def test_attempts_per_call() -> None:
    """A call of three attempts is one point of 3 in retrykit.client.attempts."""
    [point] = _points(_retried_call())["retrykit.client.attempts"]
    assert (point.count, point.sum) == (1, 3)
    assert dict(point.attributes) == REQUEST
    [duration] = _points(_retried_call())["retrykit.client.call.duration"]
    assert (duration.count, duration.sum) == (1, pytest.approx(2.1))


@pytest.mark.parametrize(
    ("url", "address", "port"),
    [
        ("https://api.example.com/v1/x", "api.example.com", 443),
        ("http://api.example.com/v1/x", "api.example.com", 80),
        ("http://127.0.0.1:8080/v1/x", "127.0.0.1", 8080),
        ("https://[::1]/v1/x", "::1", 443),
        ("http://[::1]:8080/v1/x", "::1", 8080),
    ],
)
def test_server_address_and_port_are_always_set(url: str, address: str, port: int) -> None:
    """The port is the URL's, or its scheme's default when the URL names none."""
    endpoint = endpoint_template("GET", url)
    [point] = _points([CallFinished("GET", endpoint, True, "success", 1, 0.1, 200)])[
        "retrykit.client.attempts"
    ]
    assert (point.attributes["server.address"], point.attributes["server.port"]) == (address, port)


def test_retries_are_counted_by_reason_and_cause() -> None:
    """Each scheduled retry counts, with why and the status or failure that caused it."""
    points = _points(_retried_call())["retrykit.client.retries"]
    causes = {
        (point.attributes["retrykit.reason"], point.attributes["error.type"]): point.value
        for point in points
    }
    assert causes == {("retryable_status", "503"): 1, ("connect_failed", "connect"): 1}


def test_give_ups_by_reason() -> None:
    """Calls that failed count by reason; a call that sent nothing names the reason."""
    points = _points(
        [
            CallFinished("GET", EP, False, "attempts_exhausted", 4, 5.0, 503),
            CallFinished("GET", EP, False, "circuit_open", 0, 0.0),
            CallFinished("GET", EP, True, "success", 1, 0.1, 200),
        ]
    )
    give_ups = {
        (point.attributes["retrykit.reason"], point.attributes["error.type"]): point.value
        for point in points["retrykit.client.give_ups"]
    }
    assert give_ups == {("attempts_exhausted", "503"): 1, ("circuit_open", "circuit_open"): 1}
    by_outcome = {
        point.attributes.get("error.type"): point.sum
        for point in points["retrykit.client.attempts"]
    }
    assert by_outcome == {"503": 4, "circuit_open": 0, None: 1}


def test_circuit_state_rejections_and_opens() -> None:
    """The state gauge follows the circuit; rejections and opens name its key."""
    points = _points(
        [
            CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN),
            CallRejected("GET", EP, ORIGIN, 5.0),
            CircuitStateChanged(ORIGIN, BreakerState.OPEN, BreakerState.HALF_OPEN),
        ]
    )
    states = {
        point.attributes["retrykit.circuit.state"]: point.value
        for point in points["retrykit.client.circuit.state"]
    }
    assert states == {"closed": 0, "open": 0, "half_open": 1}
    [opens] = points["retrykit.client.circuit.opens"]
    assert (opens.value, dict(opens.attributes)) == (1, {"retrykit.circuit.key": ORIGIN})
    [rejected] = points["retrykit.client.circuit.rejections"]
    assert rejected.value == 1
    assert dict(rejected.attributes) == {**REQUEST, "retrykit.circuit.key": ORIGIN}


def test_budget_and_rate_limits() -> None:
    """Budget refusals, limiter refusals by reason, and waits before retrying a 429."""
    points = _points(
        [
            BudgetExhausted("GET", EP, 2),
            CallFinished("GET", EP, False, "throttled", 0, 0.0),
            CallFinished("GET", EP, False, "rate_limited", 0, 0.0),
            RetryScheduled("GET", EP, 1, 4, 2.0, "retryable_status", 429),
            RetryScheduled("GET", EP, 1, 4, 0.3, "retryable_status", 503),
        ]
    )
    [budget] = points["retrykit.client.retry_budget.refusals"]
    assert (budget.value, dict(budget.attributes)) == (1, REQUEST)
    refusals = {
        point.attributes["retrykit.reason"]: point.value
        for point in points["retrykit.client.rate_limit.refusals"]
    }
    assert refusals == {"throttled": 1, "rate_limited": 1}
    [wait] = points["retrykit.client.rate_limit.wait_time"]
    assert (wait.count, wait.sum) == (1, 2.0)


def test_fallbacks_used() -> None:
    """Attempts sent to a fallback, and calls it answered, count by origin."""
    backup = "https://backup.example.com:443"
    points = _points(
        [
            FallbackUsed("GET", EP, 2, backup, ORIGIN),
            CallFinished("GET", EP, True, "success", 2, 0.5, 200, origin=backup, fallback=True),
            CallFinished("GET", EP, True, "success", 1, 0.1, 200, origin=ORIGIN, fallback=False),
        ]
    )
    [attempts] = points["retrykit.client.fallback.attempts"]
    assert dict(attempts.attributes) == {**REQUEST, "retrykit.fallback.origin": backup}
    [calls] = points["retrykit.client.fallback.calls"]
    assert (calls.value, calls.attributes["retrykit.fallback.origin"]) == (1, backup)


def test_endpoints_past_the_limit_share_one_series() -> None:
    """Past max_endpoints, endpoints are '(other)': no template, and a known server only."""
    events: list[Event] = [
        CallFinished("GET", f"GET h.example/v1/{name}", True, "success", 1, 0.1, 200)
        for name in ("a", "b", "c", "d")
    ]
    events.append(CallFinished("GET", "GET new.example/x", True, "success", 1, 0.1, 200))
    points = _points(events, max_endpoints=2)["retrykit.client.attempts"]
    series = {frozenset(point.attributes.items()): point.count for point in points}
    server = {"server.address": "h.example", "server.port": 443}
    other = {"http.request.method": "GET", "retrykit.endpoint": "(other)"}

    def named(path: str) -> frozenset[tuple[str, object]]:
        endpoint = f"GET h.example{path}"
        attributes = {"http.request.method": "GET", **server, "url.template": path}
        return frozenset({**attributes, "retrykit.endpoint": endpoint}.items())

    assert series == {
        named("/v1/a"): 1,
        named("/v1/b"): 1,
        frozenset({**other, **server}.items()): 2,
        frozenset(other.items()): 1,
    }


def test_unknown_methods_are_other() -> None:
    """A made-up method is _OTHER, as the HTTP semantic conventions ask."""
    [point] = _points([CallFinished("BREW", "BREW h/pot", False, "x", 1, 0.1, 418)])[
        "retrykit.client.attempts"
    ]
    assert point.attributes["http.request.method"] == "_OTHER"


def test_secret_never_in_attributes() -> None:
    """No attribute value of any instrument holds the credential."""
    fingerprint = key_fingerprint({"Authorization": f"Bearer {SECRET}"}, b"key")
    endpoint = endpoint_template(
        "GET", f"https://u:{SECRET}@api.example.com/v1/users/{SECRET}?k={SECRET}"
    )
    points = _points(_retried_call(endpoint, fingerprint))
    assert points
    for series in points.values():
        for point in series:
            assert all(SECRET not in str(value) for value in point.attributes.values())


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_max_endpoints_is_checked_when_built(value: object) -> None:
    """A limit that could hold nothing, or is no count, fails at once, naming it."""
    with pytest.raises(ValueError, match="max_endpoints"):
        OpenTelemetryMetrics(MeterProvider(), max_endpoints=value)  # type: ignore[arg-type]


def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without opentelemetry-api, the import error says which extra to install."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "retrykit.otel")
    with pytest.raises(ImportError, match=r"pip install 'retrykit-http\[otel\]'"):
        importlib.import_module("retrykit.otel")


def test_import_retrykit_does_not_import_opentelemetry() -> None:
    """The exporter is opt-in: importing retrykit alone loads no OpenTelemetry."""
    import subprocess

    code = "import sys, retrykit; print('opentelemetry' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_first_success_records_what_its_call_finished_would() -> None:
    by_events = _points([CallFinished("GET", EP, True, "success", 1, 0.25, 200)])
    reader = InMemoryMetricReader()
    OpenTelemetryMetrics(MeterProvider(metric_readers=[reader])).first_success("GET", EP, 200, 0.25)
    data = reader.get_metrics_data()
    assert data is not None
    by_method: dict[str, list[Any]] = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert by_method.keys() == by_events.keys()
    for name, points in by_events.items():
        assert [p.attributes for p in by_method[name]] == [p.attributes for p in points]
        assert [getattr(p, "sum", None) for p in by_method[name]] == [
            getattr(p, "sum", None) for p in points
        ]
