"""retrykit's records in the logging stacks people use, beside other libraries' records."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import structlog

from retrykit import Backoff, BudgetExhausted, CallRejected, RetryPolicy, RetryScheduled
from retrykit._fingerprint import key_fingerprint
from retrykit._observe._logging import FIELDS, _fields, log_hook_failure
from retrykit.httpx import RetryTransport
from retrykit.testing import FakeClock, Reply
from tests.test_logging import _failing_call

if TYPE_CHECKING:
    from collections.abc import Iterator

    from retrykit.testing import FlakyServer

OTHER = "otherlib"  # another library's logger, which knows nothing of retrykit
EP_PATH = "/v1/users/{id}"
# What every LogRecord has before any extra is added.
STANDARD = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {
    "message",
    "asctime",
}

# The fingerprint of the call's "Authorization: Bearer k", under this process's key.
KEY = key_fingerprint({"Authorization": "Bearer k"})


class JsonFormatter(logging.Formatter):
    """A stdlib JSON formatter of the usual kind: the message, then every extra attribute."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "message": record.getMessage(),
            "level": record.levelname,
            "logger": record.name,
        }
        line.update((key, value) for key, value in vars(record).items() if key not in STANDARD)
        return json.dumps(line, default=str)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the retrykit and other loggers back as they were (dictConfig rewrites them)."""
    saved = {}
    for name in ("retrykit", OTHER):
        log = logging.getLogger(name)
        saved[name] = (list(log.handlers), log.level, log.propagate, log.disabled)
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        log = logging.getLogger(name)
        log.handlers[:] = handlers
        log.setLevel(level)
        log.propagate, log.disabled = propagate, disabled


def _one_retried_call(server: FlakyServer) -> None:
    server.script("/v1/users/42", [Reply(503), Reply(200)])
    clock = FakeClock()
    transport = RetryTransport(
        policy=RetryPolicy(backoff=Backoff(base=0.5, jitter="none")),
        sleep=clock.sleep,
        clock=clock,
    )
    with httpx.Client(transport=transport) as client:
        client.get(server.url("/v1/users/42"), headers={"Authorization": "Bearer k"})


def _stream_config(formatter: dict[str, Any]) -> tuple[io.StringIO, dict[str, Any]]:
    stream = io.StringIO()
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {
            "main": {"class": "logging.StreamHandler", "formatter": "main", "stream": stream}
        },
        "loggers": {
            "retrykit": {"handlers": ["main"], "level": "INFO", "propagate": False},
            OTHER: {"handlers": ["main"], "level": "INFO", "propagate": False},
        },
    }
    return stream, config


def test_every_extra_is_prefixed() -> None:
    """No field can overwrite another stack's key: each is retrykit_*, none is standard."""
    events = [*_failing_call("1a2b3c4d"), CallRejected("GET", "x", "k", 1.0)]
    for event in events:
        fields = _fields(event)
        assert tuple(fields) == FIELDS
        assert all(name.startswith("retrykit_") for name in fields)
        assert not set(fields) & STANDARD


def test_the_old_format_breaks_other_loggers() -> None:
    """Why README's format has defaults=: without, another library's record cannot format."""
    formatter = logging.Formatter("%(message)s [key=%(retrykit_key_fingerprint)s]")
    record = logging.LogRecord(OTHER, logging.WARNING, __file__, 1, "hello", None, None)
    with pytest.raises(ValueError, match="Formatting field not found"):
        formatter.format(record)


def test_a_format_with_defaults_serves_every_logger(
    flaky_server: FlakyServer, restore_logging: None
) -> None:
    """README's setup: retrykit's fields where they exist, '-' in other libraries' lines."""
    stream, config = _stream_config(
        {
            "()": "logging.Formatter",
            "fmt": "%(levelname)s %(name)s %(message)s [key=%(retrykit_key_fingerprint)s]",
            "defaults": {"retrykit_key_fingerprint": "-"},
        }
    )
    logging.config.dictConfig(config)
    logging.getLogger(OTHER).warning("connection pool is full")
    _one_retried_call(flaky_server)
    other, retry = stream.getvalue().splitlines()
    assert other == "WARNING otherlib connection pool is full [key=-]"
    assert retry.startswith("INFO retrykit GET 127.0.0.1:")
    assert retry.endswith(f"[key={KEY}]")


def test_a_stdlib_json_formatter_keeps_the_message(
    flaky_server: FlakyServer, restore_logging: None
) -> None:
    """A JSON formatter set up with dictConfig shows the message and every retrykit field."""
    stream, config = _stream_config({"()": JsonFormatter})
    logging.config.dictConfig(config)
    logging.getLogger(OTHER).info("plain", extra={"event": "their own key"})
    _one_retried_call(flaky_server)
    other, retry = (json.loads(line) for line in stream.getvalue().splitlines())
    assert other == {"message": "plain", "level": "INFO", "logger": OTHER, "event": "their own key"}
    assert retry["message"].endswith(f", retry 2/4 in 0.50s (key={KEY})")
    assert set(FIELDS) <= set(retry)
    assert retry["retrykit_event"] == "RetryScheduled"
    assert retry["retrykit_endpoint"].endswith(EP_PATH)
    assert (retry["retrykit_status"], retry["retrykit_reason"]) == (503, "retryable_status")


def test_structlog_keeps_its_event_key(flaky_server: FlakyServer, restore_logging: None) -> None:
    """With ProcessorFormatter and ExtraAdder, 'event' stays the message, not retrykit's."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    for name in ("retrykit", OTHER):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.INFO)
        log.propagate = False
    logging.getLogger(OTHER).info("cache warmed")
    _one_retried_call(flaky_server)
    other, retry = (json.loads(line) for line in stream.getvalue().splitlines())
    assert other == {"event": "cache warmed", "level": "info", "logger": OTHER}
    assert retry["event"].startswith("GET 127.0.0.1:")
    assert retry["event"].endswith(f"-> 503, retry 2/4 in 0.50s (key={KEY})")
    assert (retry["level"], retry["logger"]) == ("info", "retrykit")
    assert retry["retrykit_event"] == "RetryScheduled"
    assert retry["retrykit_delay"] == 0.5


def test_a_hook_failure_record_carries_the_fields(caplog: pytest.LogCaptureFixture) -> None:
    """The line for a hook that raised has the same attributes, so formatters never fail."""
    caplog.set_level(logging.ERROR, logger="retrykit")
    event = RetryScheduled("GET", "GET h/x", 1, 4, 1.0, "retryable_status", 503)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log_hook_failure("my_hook", event)
    [record] = caplog.records
    assert record.getMessage() == "retrykit hook 'my_hook' failed on RetryScheduled"
    assert record.exc_info is not None
    assert all(hasattr(record, name) for name in FIELDS)


def test_budget_event_fields_name_their_reason() -> None:
    """A hook-failure record for an event without a line still says what it was about."""
    fields = _fields(BudgetExhausted("GET", "GET h/x", 2))
    assert (fields["retrykit_reason"], fields["retrykit_attempt"]) == ("budget_exhausted", 2)
