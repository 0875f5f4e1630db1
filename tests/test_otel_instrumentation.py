"""retrykit's spans and metrics beside the httpx and requests instrumentations, on a real server.

Each test instruments the client library and uninstruments it before it ends, so no other
test sees the patched classes.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind

from retrykit import Backoff, RetryPolicy
from retrykit.otel import OpenTelemetryMetrics, OpenTelemetryTracing
from retrykit.testing import Reply, Reset
from tests.clients import Call, send_all
from tests.test_otel_tracing import Spans, _parent_id, _span_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from retrykit.testing import FlakyServer

POLICY = RetryPolicy(backoff=Backoff(base=0.001))
HTTPX_KINDS = ("httpx", "asyncio", "trio")
# The instrumentations' request duration, by either semantic-conventions generation.
DURATIONS = {"http.client.duration", "http.client.request.duration"}


@contextlib.contextmanager
def instrumented(kind: str, spans: Spans, meters: MeterProvider) -> Iterator[None]:
    """Instrument the kind's client library for the duration of the block."""
    instrumentor: Any = RequestsInstrumentor() if kind == "requests" else HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=spans.provider, meter_provider=meters)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def _scope(kind: str) -> str:
    library = "requests" if kind == "requests" else "httpx"
    return f"opentelemetry.instrumentation.{library}"


def _run(
    server: FlakyServer, kind: str, calls: int = 1, *, retrykit: bool = True
) -> tuple[Spans, InMemoryMetricReader]:
    """Make ``calls`` calls of 503, reset, 200, instrumented and with retrykit's tracer and hook."""
    for number in range(calls):
        server.script(f"/v1/items/{number}", [Reply(503), Reset(), Reply(200)])
    spans, reader = Spans(), InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    settings: dict[str, Any] = {"policy": POLICY}
    if retrykit:
        settings["tracer"] = OpenTelemetryTracing(spans.provider)
        settings["hooks"] = [OpenTelemetryMetrics(meters)]
    with instrumented(kind, spans, meters):
        outcomes = send_all(
            kind, [Call(server.url(f"/v1/items/{n}")) for n in range(calls)], **settings
        )
    assert [outcome.status for outcome in outcomes] == [200] * calls
    return spans, reader


def _duration_counts(reader: InMemoryMetricReader) -> dict[str, int]:
    """Return the number of request durations each meter scope recorded."""
    data = reader.get_metrics_data()
    assert data is not None
    counts: dict[str, int] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name in DURATIONS:
                    points: list[Any] = list(metric.data.data_points)
                    total = sum(point.count for point in points)
                    counts[scope.scope.name] = counts.get(scope.scope.name, 0) + total
    return counts


@pytest.mark.parametrize("kind", HTTPX_KINDS)
def test_httpx_spans_of_each_attempt_are_children_of_its_span(
    flaky_server: FlakyServer, kind: str
) -> None:
    """The instrumentation's CLIENT span for each request sits under retrykit's attempt span."""
    spans, _ = _run(flaky_server, kind)
    call = spans.named("GET /v1/items/{id}")
    attempts = [spans.named(f"attempt {n}") for n in (1, 2, 3)]
    clients = spans.by_scope(_scope(kind))
    assert len(clients) == 3
    assert {span.kind for span in clients} == {SpanKind.CLIENT}
    assert sorted(_parent_id(span) or 0 for span in clients) == sorted(map(_span_id, attempts))
    assert {_parent_id(span) for span in attempts} == {_span_id(call)}
    assert len({span.context.trace_id for span in spans.finished() if span.context}) == 1


def test_requests_span_holds_the_call_and_its_attempts(flaky_server: FlakyServer) -> None:
    """requests is instrumented around Session.send: its span is the call span's parent."""
    spans, _ = _run(flaky_server, "requests")
    [client] = spans.by_scope(_scope("requests"))
    call = spans.named("GET /v1/items/{id}")
    assert client.kind is SpanKind.CLIENT
    assert _parent_id(call) == _span_id(client)
    assert [_parent_id(spans.named(f"attempt {n}")) for n in (1, 2, 3)] == [_span_id(call)] * 3


@pytest.mark.parametrize("kind", [*HTTPX_KINDS, "requests"])
def test_request_durations_are_the_instrumentation_s_alone(
    flaky_server: FlakyServer, kind: str
) -> None:
    """Adding retrykit's hook adds no request duration: the counts are as without it."""
    _, alone = _run(flaky_server, kind, calls=2, retrykit=False)
    flaky_server.reset()
    _, together = _run(flaky_server, kind, calls=2)
    assert _duration_counts(together) == _duration_counts(alone)
    assert set(_duration_counts(together)) == {_scope(kind)}


@pytest.mark.parametrize("kind", [*HTTPX_KINDS, "requests"])
def test_retrykit_metrics_sit_beside_the_instrumentation_s(
    flaky_server: FlakyServer, kind: str
) -> None:
    """What only retrykit knows (attempts per call, retries) is recorded under its names."""
    _, reader = _run(flaky_server, kind, calls=2)
    data = reader.get_metrics_data()
    assert data is not None
    ours: dict[str, list[Any]] = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        if scope.scope.name == "retrykit"
        for metric in scope.metrics
    }
    assert not DURATIONS & set(ours)
    attempts = ours["retrykit.client.attempts"]
    assert [(point.count, point.sum) for point in attempts] == [(2, 6)]
    assert sum(point.value for point in ours["retrykit.client.retries"]) == 4
