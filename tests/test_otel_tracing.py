"""OpenTelemetryTracing: a span per call and per attempt, read back from the SDK in memory."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from retrykit import Backoff, FailureKind, RetryPolicy
from retrykit.otel import OpenTelemetryTracing
from retrykit.testing import Reply, Reset
from tests.clients import KINDS, Call, send

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan

    from retrykit.testing import FlakyServer

POLICY = RetryPolicy(backoff=Backoff(base=0.001))


class Spans:
    """A tracer provider whose finished spans are kept in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        [span] = [span for span in self.finished() if span.name == name]
        return span

    def by_scope(self, name: str) -> list[ReadableSpan]:
        return [
            span
            for span in self.finished()
            if span.instrumentation_scope is not None and span.instrumentation_scope.name == name
        ]


@pytest.fixture
def spans() -> Iterator[Spans]:
    kept = Spans()
    yield kept
    kept.provider.shutdown()


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _exception_names(kind: str) -> set[str]:
    module: Any = requests.exceptions if kind == "requests" else httpx
    return {name for name in dir(module) if isinstance(getattr(module, name), type)}


@pytest.mark.parametrize("kind", KINDS)
def test_each_attempt_is_a_child_span_of_the_call(
    flaky_server: FlakyServer, spans: Spans, kind: str
) -> None:
    """503, a reset, then 200: three attempt spans under one call span, on every client."""
    flaky_server.script("/v1/users/7", [Reply(503), Reset(), Reply(200)])
    tracer = OpenTelemetryTracing(spans.provider)
    outcome = send(
        kind, Call(flaky_server.url("/v1/users/7?token=secret")), policy=POLICY, tracer=tracer
    )
    assert outcome.status == 200
    call = spans.named("GET /v1/users/{id}")
    attempts = [spans.named(f"attempt {n}") for n in (1, 2, 3)]
    assert [_parent_id(span) for span in attempts] == [_span_id(call)] * 3
    assert {span.kind for span in [call, *attempts]} == {SpanKind.INTERNAL}
    resends = [_attributes(span).get("http.request.resend_count") for span in attempts]
    assert resends == [None, 1, 2]
    first, second, third = (_attributes(span) for span in attempts)
    assert (first["error.type"], first["http.response.status_code"]) == ("503", 503)
    assert second["error.type"] in _exception_names(kind)
    assert "error.type" not in third
    assert [span.status.status_code for span in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]


@pytest.mark.parametrize("kind", ["requests", "httpx", "asyncio"])
def test_attempt_spans_carry_the_wait_and_the_decision(
    flaky_server: FlakyServer, spans: Spans, kind: str
) -> None:
    """Each attempt says how long it waited, what was decided after it, and the next wait."""
    flaky_server.script("/t", [Reply(503), Reply(503), Reply(200)])
    send(
        kind,
        Call(flaky_server.url("/t")),
        policy=POLICY,
        tracer=OpenTelemetryTracing(spans.provider),
    )
    first, second, third = (_attributes(spans.named(f"attempt {n}")) for n in (1, 2, 3))
    assert first["retrykit.attempt.wait_before"] == 0.0
    assert (first["retrykit.decision.retry"], first["retrykit.decision.reason"]) == (
        True,
        "retryable_status",
    )
    assert second["retrykit.attempt.wait_before"] == first["retrykit.decision.delay"]
    assert third["retrykit.attempt.wait_before"] == second["retrykit.decision.delay"]
    assert (third["retrykit.decision.retry"], third["retrykit.decision.reason"]) == (
        False,
        "success",
    )
    assert "retrykit.decision.delay" not in third
    assert [a["retrykit.attempt.number"] for a in (first, second, third)] == [1, 2, 3]


@pytest.mark.parametrize("kind", ["requests", "httpx", "asyncio"])
def test_the_call_span_carries_the_outcome(
    flaky_server: FlakyServer, spans: Spans, kind: str
) -> None:
    """The call's span says how it ended, after how many attempts, on which server."""
    flaky_server.script("/t", [Reply(503)] * 4)
    send(
        kind,
        Call(flaky_server.url("/t?token=secret")),
        policy=POLICY,
        tracer=OpenTelemetryTracing(spans.provider),
    )
    call = spans.named("GET /t")
    assert _attributes(call) == {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": flaky_server.port,
        "url.full": flaky_server.url("/t"),
        "url.template": "/t",
        "retrykit.endpoint": f"GET 127.0.0.1:{flaky_server.port}/t",
        "retrykit.call.reason": "attempts_exhausted",
        "retrykit.call.attempts": 4,
        "http.response.status_code": 503,
        "error.type": "503",
    }
    assert call.status.status_code is StatusCode.ERROR
    for span in spans.finished():
        assert all("secret" not in str(value) for value in _attributes(span).values())


def test_the_call_span_is_a_child_of_the_caller_s(flaky_server: FlakyServer, spans: Spans) -> None:
    """The caller's span (a request handler, a job) is the parent of the call's."""
    flaky_server.script("/t", [Reply(200)])
    tracer = OpenTelemetryTracing(spans.provider)
    with spans.provider.get_tracer("app").start_as_current_span("handler") as handler:
        send("httpx", Call(flaky_server.url("/t")), policy=POLICY, tracer=tracer)
    assert _parent_id(spans.named("GET /t")) == handler.get_span_context().span_id


def test_the_attempt_span_is_current_only_while_sending(spans: Spans) -> None:
    """Inside sending() the attempt's span is current; before and after, the caller's."""
    call = OpenTelemetryTracing(spans.provider).call("GET", "https://h/x", "GET h/x")
    attempt = call.attempt(1, wait_before=0.0, hedged=False, origin=None)
    before = trace.get_current_span()
    with attempt.sending():
        inside = trace.get_current_span().get_span_context().span_id
    assert trace.get_current_span() is before
    attempt.end(status=200, failure=None, reason="success", delay=None)
    call.end(reason="success", status=200, failure=None)
    assert inside == _span_id(spans.named("attempt 1"))
    assert inside != _span_id(spans.named("GET /x"))


def test_a_hedged_attempt_to_a_fallback_says_so(spans: Spans) -> None:
    """A hedge to a fallback names it, its server, and loses without an error."""
    call = OpenTelemetryTracing(spans.provider).call(
        "GET", "https://api.example.com/x", "GET api.example.com/x"
    )
    hedge = call.attempt(2, wait_before=0.0, hedged=True, origin="https://backup.example.com:8443")
    hedge.end(status=None, failure=None, reason="hedge_lost", delay=None)
    call.end(reason="success", status=200, failure=None)
    attributes = _attributes(spans.named("attempt 2"))
    assert attributes == {
        "http.request.method": "GET",
        "server.address": "backup.example.com",
        "server.port": 8443,
        "retrykit.attempt.number": 2,
        "retrykit.attempt.wait_before": 0.0,
        "http.request.resend_count": 1,
        "retrykit.attempt.hedged": True,
        "retrykit.attempt.origin": "https://backup.example.com:8443",
        "retrykit.decision.retry": False,
        "retrykit.decision.reason": "hedge_lost",
    }
    assert _attributes(spans.named("GET /x"))["server.port"] == 443


def test_a_failure_without_an_exception_is_named_by_its_kind(spans: Spans) -> None:
    """When no exception went through sending(), error.type is the FailureKind value."""
    call = OpenTelemetryTracing(spans.provider).call("GET", "http://h/x", "GET h:80/x")
    attempt = call.attempt(1, wait_before=0.0, hedged=False, origin=None)
    attempt.end(status=None, failure=FailureKind.CONNECT, reason="connect_failed", delay=None)
    call.end(reason="connect_failed", status=None, failure=FailureKind.CONNECT)
    assert _attributes(spans.named("attempt 1"))["error.type"] == "connect"
    assert _attributes(spans.named("GET /x"))["error.type"] == "connect"
    assert _attributes(spans.named("GET /x"))["server.port"] == 80


def test_a_cancellation_is_not_named_as_the_error(spans: Spans) -> None:
    """Only errors name error.type: a cancelled send is not one."""
    call = OpenTelemetryTracing(spans.provider).call("GET", "https://h/x", "GET h/x")
    attempt = call.attempt(1, wait_before=0.0, hedged=False, origin=None)
    with pytest.raises(asyncio.CancelledError), attempt.sending():
        raise asyncio.CancelledError
    attempt.end(
        status=None, failure=FailureKind.UNKNOWN_OUTCOME, reason="unknown_outcome", delay=None
    )
    assert _attributes(spans.named("attempt 1"))["error.type"] == "unknown_outcome"


def test_the_global_provider_is_the_default(flaky_server: FlakyServer) -> None:
    """Without a provider, spans go through the API's global one (a no-op until set)."""
    flaky_server.script("/t", [Reply(200)])
    outcome = send(
        "httpx", Call(flaky_server.url("/t")), policy=POLICY, tracer=OpenTelemetryTracing()
    )
    assert outcome.status == 200
