"""What the driver tells a tracer: one call span, one span per attempt, on all client kinds."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from retrykit import (
    Backoff,
    CircuitBreaker,
    CircuitOpenError,
    FailureKind,
    RetryPolicy,
    origin_key,
)
from retrykit.testing import FlakyServer, Reply, Reset
from tests.clients import KINDS, Call, send

if TYPE_CHECKING:
    from collections.abc import Iterator


class RecordingTracer:
    """Records what the driver says, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def call(self, method: str, url: str, endpoint: str) -> RecordingCall:
        self.log.append(("call", method, url, endpoint))
        return RecordingCall(self.log)


class RecordingCall:
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        self.log = log

    def attempt(
        self, number: int, *, wait_before: float, hedged: bool, origin: str | None
    ) -> RecordingAttempt:
        self.log.append(("attempt", number, hedged, origin))
        return RecordingAttempt(self.log, number)

    def end(self, *, reason: str, status: int | None, failure: FailureKind | None) -> None:
        self.log.append(("call end", str(reason), status, failure))


class RecordingAttempt:
    def __init__(self, log: list[tuple[Any, ...]], number: int) -> None:
        self.log = log
        self.number = number

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        self.log.append(("sending", self.number))
        yield
        self.log.append(("sent", self.number))

    def end(
        self, *, status: int | None, failure: FailureKind | None, reason: str, delay: float | None
    ) -> None:
        self.log.append(("attempt end", self.number, status, failure, str(reason)))


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as flaky:
        yield flaky


@pytest.mark.parametrize("kind", KINDS)
def test_a_retried_call_gives_one_call_span_and_a_span_per_attempt(
    server: FlakyServer, kind: str
) -> None:
    """503 then reset then 200: three attempt spans inside one call span, each ended."""
    server.script("/t", [Reply(503), Reset(), Reply(200)])
    tracer = RecordingTracer()
    policy = RetryPolicy(backoff=Backoff(base=0.001))
    outcome = send(kind, Call(server.url("/t?token=secret")), policy=policy, tracer=tracer)
    assert outcome.status == 200
    assert tracer.log == [
        ("call", "GET", server.url("/t"), f"GET 127.0.0.1:{server.port}/t"),
        ("attempt", 1, False, None),
        ("sending", 1),
        ("sent", 1),
        ("attempt end", 1, 503, None, "retryable_status"),
        ("attempt", 2, False, None),
        ("sending", 2),
        ("attempt end", 2, None, FailureKind.UNKNOWN_OUTCOME, "unknown_outcome"),
        ("attempt", 3, False, None),
        ("sending", 3),
        ("sent", 3),
        ("attempt end", 3, 200, None, "success"),
        ("call end", "success", 200, None),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_refused_before_sending_still_has_its_span(server: FlakyServer, kind: str) -> None:
    """An open circuit refuses the call: a call span with no attempt, ended circuit_open."""
    breaker = CircuitBreaker()
    breaker.force_open(origin_key(server.base_url))
    tracer = RecordingTracer()
    outcome = send(kind, Call(server.url("/t")), breaker=breaker, tracer=tracer)
    assert isinstance(outcome.error, CircuitOpenError)
    assert tracer.log == [
        ("call", "GET", server.url("/t"), f"GET 127.0.0.1:{server.port}/t"),
        ("call end", "circuit_open", None, None),
    ]
    assert server.hits("/t") == 0


def test_no_tracer_no_spans(server: FlakyServer) -> None:
    """Without a tracer nothing is traced (and a wrong tracer is refused when built)."""
    from retrykit.httpx import RetryTransport

    with pytest.raises(TypeError, match="tracer"):
        RetryTransport(tracer=object())  # type: ignore[arg-type]
