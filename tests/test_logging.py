"""The retrykit logger: levels per event, readable messages, structured extra, no secrets."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

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
from retrykit._observe._logging import FIELDS, event_level, log_event, logger

if TYPE_CHECKING:
    from retrykit import Event

SECRET = "sk_live_51HxQzL2eZvKYlo2CAbCdEf"
EP = "GET api.example.com/v1/users/{id}"
ORIGIN = "https://api.example.com:443"


def _failing_call(fingerprint: str | None) -> list[Event]:
    """Every event of a call that retried a 503 three times, then gave up."""
    events: list[Event] = []
    for attempt in range(1, 5):
        events.append(
            AttemptFinished("GET", EP, attempt, 503, None, 0.12, "req-1", fingerprint, "busy")
        )
        if attempt < 4:
            events.append(
                RetryScheduled("GET", EP, attempt, 4, 1.2, "retryable_status", 503, None, "req-1")
            )
    events.append(
        CallFinished(
            "GET", EP, False, "attempts_exhausted", 4, 5.1, 503, None, "req-1", fingerprint, "busy"
        )
    )
    events.append(CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN))
    events.append(CallRejected("GET", EP, ORIGIN, 30.0, fingerprint))
    events.append(BudgetExhausted("GET", EP, 2, fingerprint))
    return events


def _log_all(events: list[Event]) -> None:
    for event in events:
        level = event_level(event)
        if logger.isEnabledFor(level):
            log_event(event, level)


@pytest.mark.parametrize(
    ("event", "level"),
    [
        (AttemptFinished("GET", EP, 1, 200, None, 0.1), logging.DEBUG),
        (CallFinished("GET", EP, True, "success", 1, 0.1, 200), logging.DEBUG),
        (RetryScheduled("GET", EP, 1, 4, 1.0, "retryable_status", 503), logging.INFO),
        (FallbackUsed("GET", EP, 2, "https://b:443", ORIGIN), logging.INFO),
        (CallFinished("GET", EP, False, "attempts_exhausted", 4, 3.0, 503), logging.WARNING),
        (CallFinished("GET", EP, False, "not_retryable_status", 1, 0.1, 404), logging.WARNING),
        (CallFinished("GET", EP, False, "circuit_open", 2, 1.0, 503), logging.WARNING),
        (CallFinished("GET", EP, False, "circuit_open", 0, 0.0), logging.INFO),
        (CallFinished("GET", EP, False, "deadline", 0, 0.0), logging.WARNING),
        (CallFinished("GET", EP, False, "budget_exhausted", 2, 1.0, 503), logging.WARNING),
        (CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN), logging.WARNING),
        (CircuitStateChanged(ORIGIN, BreakerState.OPEN, BreakerState.HALF_OPEN), logging.INFO),
        (CircuitStateChanged(ORIGIN, BreakerState.HALF_OPEN, BreakerState.CLOSED), logging.INFO),
    ],
)
def test_event_level(event: Event, level: int) -> None:
    """Attempts are DEBUG, retries and local refusals INFO, failed calls and openings WARNING."""
    assert event_level(event) == level


@pytest.mark.parametrize(
    "event", [CallRejected("GET", EP, ORIGIN, 5.0), BudgetExhausted("GET", EP, 2)]
)
def test_rejections_and_budget_stops_write_no_line_of_their_own(
    event: Event, caplog: pytest.LogCaptureFixture
) -> None:
    """The call's CallFinished line tells it; a second line would say the same again."""
    caplog.set_level(logging.DEBUG, logger="retrykit")
    _log_all([event])
    assert caplog.records == []


def test_logger_is_named_retrykit() -> None:
    """Users configure retrykit's output through the standard 'retrykit' logger."""
    assert logger is logging.getLogger("retrykit")


def test_retry_message_reads_alone(caplog: pytest.LogCaptureFixture) -> None:
    """A retry line names the endpoint, status, next attempt, wait and request id."""
    caplog.set_level(logging.INFO, logger="retrykit")
    _log_all([RetryScheduled("GET", EP, 1, 4, 1.2, "retryable_status", 503, None, "abc")])
    assert caplog.messages == [
        "GET api.example.com/v1/users/{id} -> 503, retry 2/4 in 1.20s (request_id=abc)"
    ]


def test_give_up_message_reads_alone(caplog: pytest.LogCaptureFixture) -> None:
    """A give-up line names the attempts, the reason and the last answer."""
    caplog.set_level(logging.INFO, logger="retrykit")
    _log_all([CallFinished("GET", EP, False, "attempts_exhausted", 4, 5.0, 503, None, "abc")])
    assert caplog.messages == [
        (
            "GET api.example.com/v1/users/{id} gave up after 4 attempts: attempts_exhausted "
            "(last 503, request_id=abc)"
        )
    ]
    assert caplog.records[0].levelno == logging.WARNING


def test_circuit_message_reads_alone(caplog: pytest.LogCaptureFixture) -> None:
    """A circuit line names the origin and both states."""
    caplog.set_level(logging.INFO, logger="retrykit")
    _log_all([CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN)])
    assert caplog.messages == ["circuit https://api.example.com:443 closed -> open"]


def test_failed_attempt_without_response_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """An attempt that got no response says what kind of failure it was."""
    caplog.set_level(logging.DEBUG, logger="retrykit")
    _log_all([AttemptFinished("GET", EP, 2, None, FailureKind.CONNECT, 0.01)])
    assert caplog.messages == [
        "GET api.example.com/v1/users/{id} attempt 2 -> connect failure in 0.010s"
    ]
    assert caplog.records[0].retrykit_failure == "connect"  # type: ignore[attr-defined]


def test_every_record_carries_the_same_fields(caplog: pytest.LogCaptureFixture) -> None:
    """A formatter may use any retrykit field on any retrykit record."""
    caplog.set_level(logging.DEBUG, logger="retrykit")
    _log_all(_failing_call("1a2b3c4d"))
    assert caplog.records
    for record in caplog.records:
        for field in FIELDS:
            assert hasattr(record, field), (field, record.getMessage())


def test_extra_carries_the_failure_fields(caplog: pytest.LogCaptureFixture) -> None:
    """A give-up record holds status, method, endpoint, reason, request id and key."""
    caplog.set_level(logging.WARNING, logger="retrykit")
    _log_all(_failing_call("1a2b3c4d")[-4:-3])
    record = caplog.records[0]
    assert vars(record) | {
        "retrykit_event": "CallFinished",
        "retrykit_status": 503,
        "retrykit_method": "GET",
        "retrykit_endpoint": EP,
        "retrykit_attempt": 4,
        "retrykit_reason": "attempts_exhausted",
        "retrykit_request_id": "req-1",
        "retrykit_key_fingerprint": "1a2b3c4d",
        "retrykit_error_code": "busy",
        "retrykit_duration": 5.1,
    } == vars(record)


def test_retry_extra_carries_the_delay(caplog: pytest.LogCaptureFixture) -> None:
    """A retry record holds the wait and the reason as numbers and strings."""
    caplog.set_level(logging.INFO, logger="retrykit")
    _log_all([RetryScheduled("GET", EP, 1, 4, 1.25, "retryable_status", 503)])
    record = caplog.records[0]
    assert (record.retrykit_delay, record.retrykit_reason, record.retrykit_attempt) == (  # type: ignore[attr-defined]
        1.25,
        "retryable_status",
        1,
    )


def test_silenced_logger_gets_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """At WARNING, a successful call logs nothing."""
    caplog.set_level(logging.WARNING, logger="retrykit")
    _log_all(
        [
            AttemptFinished("GET", EP, 1, 200, None, 0.1),
            CallFinished("GET", EP, True, "success", 1, 0.1, 200),
        ]
    )
    assert caplog.records == []


def test_secret_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    """No log line or extra field holds the Authorization value, only its fingerprint."""
    headers = {"Authorization": f"Bearer {SECRET}"}
    fingerprint = key_fingerprint(headers, b"key")
    template = endpoint_template("GET", f"https://u:{SECRET}@api.example.com/v1/users/7?k={SECRET}")
    assert template == EP
    caplog.set_level(logging.DEBUG, logger="retrykit")
    _log_all(_failing_call(fingerprint))
    assert len(caplog.records) == 9
    assert SECRET not in caplog.text
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert all(SECRET not in repr(value) for value in vars(record).values())
    assert any(fingerprint == record.retrykit_key_fingerprint for record in caplog.records)  # type: ignore[attr-defined]
