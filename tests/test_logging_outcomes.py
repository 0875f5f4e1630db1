"""One line per call outcome, at the level README's table gives, on a real client."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from retrykit import (
    AttemptFinished,
    Backoff,
    BreakerState,
    CallFinished,
    CircuitBreaker,
    CircuitStateChanged,
    FallbackUsed,
    RateLimitWaited,
    RetryBudget,
    RetryPolicy,
    RetryScheduled,
    StorageDegraded,
    StorageRecovered,
    origin_key,
)
from retrykit._observe import _logging
from retrykit._observe._logging import event_level, log_event
from retrykit.httpx import RetryTransport
from retrykit.testing import FakeClock, Reply

if TYPE_CHECKING:
    from retrykit import Event
    from retrykit.testing import FlakyServer

README = Path(__file__).resolve().parent.parent / "README.md"
EP = "GET api.example.com/v1/users/{id}"
ORIGIN = "https://api.example.com:443"

# Each row of the levels table, with events that are what the row says.
ROWS: dict[str, list[Event]] = {
    "an attempt ended": [
        AttemptFinished("GET", EP, 1, 200, None, 0.1),
        AttemptFinished("GET", EP, 1, 503, None, 0.1),
    ],
    "a call succeeded": [CallFinished("GET", EP, True, "success", 2, 0.3, 200)],
    "a retry was scheduled": [RetryScheduled("GET", EP, 1, 4, 1.0, "retryable_status", 503)],
    "an attempt waited for the rate limiter": [RateLimitWaited("GET", EP, 2, 0.25)],
    "an attempt went to a fallback origin": [FallbackUsed("GET", EP, 2, "https://b:443", ORIGIN)],
    "a circuit half-opened or closed": [
        CircuitStateChanged(ORIGIN, BreakerState.OPEN, BreakerState.HALF_OPEN),
        CircuitStateChanged(ORIGIN, BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ],
    "a call failed, whatever the reason": [
        CallFinished("GET", EP, False, reason, attempts, 1.0, status)
        for reason, attempts, status in [
            ("attempts_exhausted", 4, 503),
            ("not_retryable_status", 1, 404),
            ("deadline", 2, 503),
            ("budget_exhausted", 2, 503),
            ("rate_limited", 1, 429),
            ("circuit_open", 2, 503),
            ("deadline", 0, None),
        ]
    ],
    "a call refused here, before sending": [
        CallFinished("GET", EP, False, reason, 0, 0.0)
        for reason in ("circuit_open", "rate_limited", "throttled")
    ],
    "a circuit opened": [CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN)],
    "a fleet store went local-only": [StorageDegraded("retrykit", "TimeoutError: frozen", 3)],
    "a fleet store answers again": [StorageRecovered("retrykit", 12.5)],
}


def _readme_rows() -> set[tuple[str, str, str]]:
    section = README.read_text(encoding="utf-8").split("### Logging", 1)[1].split("\n### ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[1] in ("DEBUG", "INFO", "WARNING"):
            rows.add((cells[0], cells[1], cells[2]))
    return rows


def _docstring_rows() -> set[tuple[str, str, str]]:
    rows = set()
    for line in (_logging.__doc__ or "").splitlines():
        match = re.fullmatch(r"(\S.*?)\s{2,}(DEBUG|INFO|WARNING)\s+`(\w+)`", line)
        if match:
            rows.add((match[1], match[2], match[3]))
    return rows


def test_readme_and_docstring_give_the_same_levels_table() -> None:
    """The manual and the module say the same thing, row for row."""
    assert _readme_rows() == _docstring_rows()
    assert {what for what, _, _ in _readme_rows()} == set(ROWS)


@pytest.mark.parametrize(("what", "level", "event_name"), sorted(_docstring_rows()))
def test_each_row_of_the_table_is_what_the_code_does(
    what: str, level: str, event_name: str
) -> None:
    """Every event the row describes is logged at the row's level."""
    for event in ROWS[what]:
        assert type(event).__name__ == event_name
        assert logging.getLevelName(event_level(event)) == level, event


def test_readme_names_the_events_without_a_line() -> None:
    """README says where CallRejected and BudgetExhausted went."""
    section = README.read_text(encoding="utf-8").split("### Logging", 1)[1].split("\n### ", 1)[0]
    assert "`CallRejected` and `BudgetExhausted`" in section


def _client(flaky_server: FlakyServer, **settings: object) -> httpx.Client:
    clock = FakeClock()
    transport = RetryTransport(
        policy=RetryPolicy(backoff=Backoff(base=0.1), max_attempts=4),
        sleep=clock.sleep,
        clock=clock,
        **settings,  # type: ignore[arg-type]
    )
    return httpx.Client(transport=transport)


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records]


def test_a_call_an_open_circuit_refuses_is_one_info_line(
    flaky_server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A rejected call writes one line, even at DEBUG: its outcome, at INFO."""
    breaker = CircuitBreaker()
    breaker.force_open(origin_key(flaky_server.base_url))
    caplog.set_level(logging.DEBUG, logger="retrykit")
    with _client(flaky_server, breaker=breaker) as client, pytest.raises(httpx.TransportError):
        client.get(flaky_server.url("/v1/users/7"))
    endpoint = f"GET 127.0.0.1:{flaky_server.port}/v1/users/{{id}}"
    circuit = origin_key(flaky_server.base_url)
    assert _lines(caplog) == [
        ("INFO", f"{endpoint} not sent: circuit_open (circuit={circuit}, retry_after=30.00s)")
    ]
    assert caplog.records[0].retrykit_reason == "circuit_open"  # type: ignore[attr-defined]


def test_a_circuit_that_opens_mid_call_gives_a_warning_give_up(
    flaky_server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The retries an opening stopped end in a WARNING, after the opening's own."""
    flaky_server.script("/v1/users/7", [Reply(503), Reply(503), Reply(200)])
    breaker = CircuitBreaker(failure_threshold=2, counts="attempts")
    caplog.set_level(logging.DEBUG, logger="retrykit")
    with _client(flaky_server, breaker=breaker) as client:
        assert client.get(flaky_server.url("/v1/users/7")).status_code == 503
    endpoint = f"GET 127.0.0.1:{flaky_server.port}/v1/users/{{id}}"
    assert [line for line in _lines(caplog) if line[0] == "WARNING"] == [
        ("WARNING", f"circuit {origin_key(flaky_server.base_url)} closed -> open"),
        ("WARNING", f"{endpoint} gave up after 2 attempts: circuit_open (last 503)"),
    ]


def test_a_retry_the_budget_stops_is_one_warning(
    flaky_server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The budget's refusal and the give-up it causes are one line, not two."""
    flaky_server.script("/v1/users/7", [Reply(503), Reply(200)])
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    caplog.set_level(logging.DEBUG, logger="retrykit")
    with _client(flaky_server, budget=budget) as client:
        assert client.get(flaky_server.url("/v1/users/7")).status_code == 503
    endpoint = f"GET 127.0.0.1:{flaky_server.port}/v1/users/{{id}}"
    assert [line for line in _lines(caplog) if line[0] == "WARNING"] == [
        ("WARNING", f"{endpoint} gave up after 1 attempt: budget_exhausted (last 503)")
    ]


def test_a_refusal_with_its_circuit_names_it(caplog: pytest.LogCaptureFixture) -> None:
    """When the call knows which circuit refused it, the line says which, and for how long."""
    caplog.set_level(logging.INFO, logger="retrykit")
    event = CallFinished("GET", EP, False, "circuit_open", 0, 0.0, circuit=ORIGIN, retry_after=12.5)
    log_event(event, event_level(event))
    assert caplog.messages == [
        f"{EP} not sent: circuit_open (circuit={ORIGIN}, retry_after=12.50s)"
    ]
    record = caplog.records[0]
    assert (record.retrykit_circuit, record.retrykit_delay) == (ORIGIN, 12.5)  # type: ignore[attr-defined]


def test_a_logger_at_warning_sees_failed_calls(
    flaky_server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """At WARNING, the usual production level, a call that gave up still writes its line."""
    flaky_server.script("/v1/users/7", [Reply(503)] * 4)
    caplog.set_level(logging.WARNING, logger="retrykit")
    with _client(flaky_server) as client:
        assert client.get(flaky_server.url("/v1/users/7")).status_code == 503
    assert [level for level, _ in _lines(caplog)] == ["WARNING"]
