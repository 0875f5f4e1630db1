"""The shared retry driver: what both adapters rely on, tested without any network."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import pytest

from retrykit import (
    AttemptFinished,
    Backoff,
    BreakerState,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitBreaker,
    CircuitOpenError,
    CircuitStateChanged,
    Event,
    FailureKind,
    Reason,
    RetryBudget,
    RetryHistory,
    RetryPolicy,
    RetryScheduled,
    get_history,
    origin_key,
)
from retrykit._driver._settings import build_runner

if TYPE_CHECKING:
    from collections.abc import Mapping

    from retrykit._core._decide import Decision
    from retrykit._driver._call import RetryCall, RetryRunner

URL = "https://api.example.com/v1/users/42"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_runner(
    *,
    policy: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
    budget: RetryBudget | None = None,
    events: list[Event] | None = None,
    clock: Clock | None = None,
) -> RetryRunner:
    hooks = [events.append] if events is not None else []
    return build_runner(
        policy=policy or RetryPolicy(backoff=Backoff(base=1.0, jitter="none")),
        breaker=breaker,
        budget=budget,
        hooks=hooks,
        clock=clock or Clock(),
        wall_clock=lambda: 1_700_000_000.0,
        rand=lambda: 0.5,
        key_func=None,
        endpoint_func=None,
    )


def respond(
    call: RetryCall, status: int, headers: Mapping[str, str], body: bytes | None = None
) -> Decision:
    """Feed the call one response, as the loops do: judge it, then record it."""
    decision = call.judge_response(status, headers)
    call.record(decision, status=status, headers=headers, body=body)
    return decision


def failed(call: RetryCall, failure: FailureKind) -> Decision:
    """Feed the call one attempt that got no response."""
    decision = call.judge_failure(failure)
    call.record(decision, failure=failure)
    return decision


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://API.example.com/v1/x?q=1", "https://api.example.com:443"),
        ("http://example.com", "http://example.com:80"),
        ("http://user:pw@example.com:8080/a", "http://example.com:8080"),
        ("http://[::1]/a", "http://[::1]:80"),
        ("http://[::1]:9000/a", "http://[::1]:9000"),
    ],
)
def test_origin_key(url: str, key: str) -> None:
    """A circuit is per origin: scheme, host and port, never the path or credentials."""
    assert origin_key(url) == key


@pytest.mark.parametrize(
    "url",
    [
        "https://API.example.com/v1/x?q=1",
        "http://example.com",
        "HTTP://example.com:80/",
        "https://user:pw@example.com:8443/a",
        "http://[::1]/a",
        "http://[::1]:9000/a",
        "http://Bücher.example/x",
        "http://h:0/",
    ],
)
def test_origin_of_an_httpx_url_s_parts_is_its_origin_key(url: str) -> None:
    """The httpx transport keys by the URL's parts, without making its text: same keys."""
    import httpx

    from retrykit._core._origin import origin_of

    parsed = httpx.URL(url)
    scheme, _, host, port = parsed._uri_reference[:4]
    assert origin_of(scheme, host, port) == origin_key(str(parsed))


def test_retry_then_success_records_history() -> None:
    """A 503 then a 200 gives one retry, the backoff wait, and a history of both attempts."""
    call = make_runner().start("GET", URL, {})
    call.before_attempt()
    first = respond(call, 503, {})
    assert (first.retry, first.delay, first.reason) == (True, 1.0, Reason.RETRYABLE_STATUS)
    call.before_attempt()
    second = respond(call, 200, {})
    assert not second.retry
    history = call.finish()
    assert [a.status for a in history.attempts] == [503, 200]
    assert [a.wait_before for a in history.attempts] == [0.0, 1.0]
    assert history.reason == Reason.SUCCESS
    assert history.retries == 1


def test_events_in_order_for_a_retried_call() -> None:
    """Hooks see each attempt, the scheduled retry, and the end of the call, in order."""
    events: list[Event] = []
    call = make_runner(events=events).start("GET", URL, {"X-Request-Id": "req-1"})
    call.before_attempt()
    respond(call, 503, {"X-Request-Id": "req-1"})
    call.before_attempt()
    respond(call, 200, {})
    call.finish()
    assert [type(e) for e in events] == [
        AttemptFinished,
        RetryScheduled,
        AttemptFinished,
        CallFinished,
    ]
    first = events[0]
    assert isinstance(first, AttemptFinished)
    assert first.request_id == "req-1"
    assert first.endpoint == "GET api.example.com/v1/users/{id}"
    end = events[-1]
    assert isinstance(end, CallFinished)
    assert end.succeeded
    assert end.attempts == 2


def test_hook_that_raises_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    """A broken hook never breaks the request; the next hook still runs."""
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    runner = build_runner(
        policy=RetryPolicy(),
        breaker=None,
        budget=None,
        hooks=[broken, seen.append],
        clock=Clock(),
        wall_clock=None,
        rand=lambda: 0.5,
        key_func=None,
        endpoint_func=None,
    )
    with caplog.at_level(logging.ERROR, logger="retrykit"):
        call = runner.start("GET", URL, {})
        call.before_attempt()
        respond(call, 200, {})
        call.finish()
    assert len(seen) == 2
    assert "hook" in caplog.text
    assert "hook bug" in caplog.text


def test_error_body_gives_code_and_request_id_to_events() -> None:
    """An error body that was read is parsed once for its code and request id."""
    events: list[Event] = []
    call = make_runner(events=events).start("POST", URL, {})
    call.before_attempt()
    body = b'{"error": {"code": "VALIDATION_ERROR", "message": "bad", "request_id": "req-9"}}'
    decision = respond(call, 422, {"Content-Type": "application/json"}, body)
    assert not decision.retry
    call.finish()
    attempt, end = events
    assert isinstance(attempt, AttemptFinished)
    assert (attempt.error_code, attempt.request_id) == ("VALIDATION_ERROR", "req-9")
    assert isinstance(end, CallFinished)
    assert (end.error_code, end.succeeded) == ("VALIDATION_ERROR", False)


def test_auto_idempotency_key_makes_post_safe() -> None:
    """With auto_idempotency_key a POST gets one key and is retried on a 503."""
    policy = RetryPolicy(auto_idempotency_key=True, backoff=Backoff(jitter="none"))
    call = make_runner(policy=policy).start("POST", URL, {})
    assert call.idempotency_key is not None
    call.before_attempt()
    assert respond(call, 503, {}).retry


def test_existing_idempotency_key_is_kept() -> None:
    """A caller's own key is never replaced."""
    policy = RetryPolicy(auto_idempotency_key=True)
    call = make_runner(policy=policy).start("POST", URL, {"idempotency-key": "mine"})
    assert call.idempotency_key is None
    assert call.has_idempotency_key


def test_get_gets_no_automatic_key() -> None:
    """Idempotent methods need no key, so none is added."""
    policy = RetryPolicy(auto_idempotency_key=True)
    assert make_runner(policy=policy).start("GET", URL, {}).idempotency_key is None


def test_post_unknown_outcome_is_not_retried() -> None:
    """A POST whose outcome is unknown is never sent again."""
    call = make_runner().start("POST", URL, {})
    call.before_attempt()
    decision = failed(call, FailureKind.UNKNOWN_OUTCOME)
    assert (decision.retry, decision.reason) == (False, Reason.UNSAFE_METHOD)


def test_body_that_cannot_be_replayed_stops_retries() -> None:
    """A streamed body is sent once; the reason says why there was no retry."""
    call = make_runner().start("GET", URL, {}, replayable=False)
    call.before_attempt()
    decision = failed(call, FailureKind.CONNECT)
    assert (decision.retry, decision.reason) == (False, Reason.BODY_NOT_REPLAYABLE)
    assert call.finish().reason == Reason.BODY_NOT_REPLAYABLE


def test_budget_exhausted_stops_retries_and_emits_event() -> None:
    """An empty budget turns a retry into a stop with reason budget_exhausted."""
    clock = Clock()
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, ttl=10.0, clock=clock)
    events: list[Event] = []
    call = make_runner(budget=budget, events=events, clock=clock).start("GET", URL, {})
    call.before_attempt()
    decision = respond(call, 503, {})
    assert (decision.retry, decision.reason) == (False, Reason.BUDGET_EXHAUSTED)
    assert any(isinstance(e, BudgetExhausted) for e in events)


def test_open_circuit_rejects_first_attempt_with_history() -> None:
    """An open circuit raises the adapter's error before any attempt, carrying a history."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=30.0, clock=clock)
    events: list[Event] = []
    policy = RetryPolicy(max_attempts=1)
    runner = make_runner(policy=policy, breaker=breaker, events=events, clock=clock)
    call = runner.start("GET", URL, {})
    call.before_attempt()
    failed(call, FailureKind.CONNECT)
    assert breaker.state(origin_key(URL)) is BreakerState.OPEN
    rejection = runner.start("GET", URL, {}).before_attempt()
    assert rejection is not None
    assert isinstance(rejection.error, CircuitOpenError)
    assert rejection.error.key == "https://api.example.com:443"
    assert rejection.error.retry_after == pytest.approx(30.0)
    assert rejection.error.opened_by == "connect"
    history = rejection.history
    assert history.reason == Reason.CIRCUIT_OPEN
    assert history.attempts == ()
    assert any(isinstance(e, CircuitStateChanged) and e.new is BreakerState.OPEN for e in events)
    assert any(isinstance(e, CallRejected) for e in events)


def test_retry_stops_when_own_failures_open_the_circuit() -> None:
    """Once the circuit opens mid-call, the call stops and returns what it has."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, clock=clock, counts="attempts")
    call = make_runner(breaker=breaker, clock=clock).start("GET", URL, {})
    call.before_attempt()
    assert respond(call, 503, {}).retry
    call.before_attempt()
    decision = respond(call, 503, {})
    assert (decision.retry, decision.reason) == (False, Reason.CIRCUIT_OPEN)


def test_4xx_counts_as_success_for_the_breaker() -> None:
    """A server answering 404 is healthy: the circuit stays closed."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    runner = make_runner(breaker=breaker, clock=clock)
    for _ in range(3):
        call = runner.start("GET", URL, {})
        call.before_attempt()
        respond(call, 404, {})
    assert breaker.state(origin_key(URL)) is BreakerState.CLOSED


def test_get_history_reads_attribute_and_extensions() -> None:
    """get_history finds the history on requests-style and httpx-style objects."""
    history = RetryHistory(attempts=(), reason=Reason.SUCCESS, total_time=0.0)

    class WithAttribute:
        retry_history = history

    class WithExtensions:
        extensions: ClassVar[dict[str, RetryHistory]] = {"retry_history": history}

    assert get_history(WithAttribute()) is history
    assert get_history(WithExtensions()) is history
    assert get_history(object()) is None


def test_a_call_whose_retry_succeeds_counts_as_one_success() -> None:
    """By default the breaker counts calls: failed attempts that a retry absorbs never count."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    runner = make_runner(breaker=breaker, clock=clock)
    for _ in range(5):
        call = runner.start("GET", URL, {})
        call.before_attempt()
        assert respond(call, 503, {}).retry
        call.before_attempt()
        assert not respond(call, 200, {}).retry
        call.finish()
    assert breaker.state(origin_key(URL)) is BreakerState.CLOSED


def test_a_call_that_gives_up_counts_as_one_failure() -> None:
    """The call's final outcome is what the breaker counts: one failure per failed call."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    runner = make_runner(policy=RetryPolicy(max_attempts=3), breaker=breaker, clock=clock)
    call = runner.start("GET", URL, {})
    for _ in range(3):
        assert call.before_attempt() is None
        respond(call, 503, {})
    assert breaker.snapshot(origin_key(URL)).failures == 1
    assert breaker.state(origin_key(URL)) is BreakerState.CLOSED


def test_one_opening_emits_one_event_for_many_clients_sharing_a_breaker() -> None:
    """30 runners share a breaker: one opening is one event, and no listener is left behind."""
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    events: list[Event] = []
    runners = [
        make_runner(policy=RetryPolicy(max_attempts=1), breaker=breaker, events=events, clock=clock)
        for _ in range(30)
    ]
    call = runners[0].start("GET", URL, {})
    call.before_attempt()
    respond(call, 503, {})
    changes = [e for e in events if isinstance(e, CircuitStateChanged)]
    assert len(changes) == 1
    assert breaker._listeners == ()


def test_memories_drop_their_oldest_entry_and_stay_full() -> None:
    """A bounded memory keeps its newest entries: full, never emptied whole."""
    from collections import OrderedDict

    from retrykit._core._memo import remember

    memo: OrderedDict[int, int] = OrderedDict()
    assert [remember(memo, key, key * key, 4) for key in range(10)] == [k * k for k in range(10)]
    assert list(memo.items()) == [(6, 36), (7, 49), (8, 64), (9, 81)]
