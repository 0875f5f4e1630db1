"""A wrong argument to any public constructor fails when the object is built, naming it.

One table: per constructor, several wrong arguments, each with the exception it must
raise (TypeError for a wrong kind of value, ValueError for a value out of range) and the
parameter its message must name, with what it accepts (``<name> must ...``). Never a
failure later, at request time. Rows marked xfail are gaps in files this suite's owner
does not hold; each reason says where the check belongs.
"""

from __future__ import annotations

import math
import re
import time
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import prometheus_client
import pytest
import urllib3

from retrykit import (
    AdaptiveThrottle,
    AlertRules,
    Backoff,
    CircuitBreaker,
    Metrics,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
)
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.otel import OpenTelemetryMetrics
from retrykit.prometheus import PrometheusMetrics
from retrykit.requests import RetryAdapter
from retrykit.testing import (
    FakeClock,
    FlakyServer,
    Garbage,
    Hang,
    Reply,
    Reset,
    SlowBody,
    StalledBody,
    Trickle,
    Truncated,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from _pytest.mark.structures import ParameterSet


def _gap(where: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"not checked at construction yet: {where}")


_CORE_POLICY = "retrykit/_core/_policy.py (RetryPolicy's converters and validators)"
_CORE_HEADER = (
    "retrykit/_core/_validators.py header_name accepts any ASCII text: refuse what is no "
    "RFC 9110 token (spaces, CR, LF, controls)"
)


async def _async_reconcile(request: object) -> bool | None:
    return None


def _sync_reconcile(request: object) -> bool | None:
    return None


def _row(
    constructor: str,
    build: Callable[[], object],
    error: type[Exception],
    parameter: str,
    label: str,
    *,
    gap: str | None = None,
) -> ParameterSet:
    marks = [_gap(gap)] if gap is not None else []
    row_id = f"{constructor}-{parameter}-{label}"
    return pytest.param(build, error, parameter, id=row_id, marks=marks)


def _registry() -> prometheus_client.CollectorRegistry:
    return prometheus_client.CollectorRegistry()


def _w(value: object) -> Any:
    """Return ``value`` typed as Any: a wrong argument, on purpose, without an ignore per row."""
    return value


ROWS = [
    # -- RetryPolicy -------------------------------------------------------------------
    _row("RetryPolicy", lambda: RetryPolicy(max_attempts=0), ValueError, "max_attempts", "0"),
    _row(
        "RetryPolicy", lambda: RetryPolicy(max_attempts=_w("3")), ValueError, "max_attempts", "text"
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(max_attempts=_w(True)),
        ValueError,
        "max_attempts",
        "bool",
    ),
    _row("RetryPolicy", lambda: RetryPolicy(backoff=_w(1.0)), TypeError, "backoff", "float"),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(retry_statuses=[200]),
        ValueError,
        "retry_statuses",
        "200",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(retry_statuses=_w(503)),
        TypeError,
        "retry_statuses",
        "one-int",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotent_methods=_w("GET")),
        TypeError,
        "idempotent_methods",
        "str",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotent_methods=_w(["GET", 5])),
        TypeError,
        "idempotent_methods",
        "int-inside",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotent_methods=_w(5)),
        TypeError,
        "idempotent_methods",
        "one-int",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotent_methods=["GE T"]),
        ValueError,
        "idempotent_methods",
        "not-a-token",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(respect_retry_after=_w("yes")),
        TypeError,
        "respect_retry_after",
        "text",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(max_retry_after=-1),
        ValueError,
        "max_retry_after",
        "negative",
    ),
    _row("RetryPolicy", lambda: RetryPolicy(deadline=0), ValueError, "deadline", "0"),
    _row("RetryPolicy", lambda: RetryPolicy(deadline=math.nan), ValueError, "deadline", "nan"),
    _row("RetryPolicy", lambda: RetryPolicy(deadline=_w("60")), TypeError, "deadline", "text"),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotency_header="Idempotency Key"),
        ValueError,
        "idempotency_header",
        "space",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotency_header="Idempotency-Key\r\nX-Injected: 1"),
        ValueError,
        "idempotency_header",
        "crlf",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotency_header="Idempotency-Key\n"),
        ValueError,
        "idempotency_header",
        "lf",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(idempotency_header=""),
        ValueError,
        "idempotency_header",
        "empty",
    ),
    _row(
        "RetryPolicy",
        lambda: RetryPolicy(auto_idempotency_key=_w(1)),
        TypeError,
        "auto_idempotency_key",
        "int",
    ),
    _row("RetryPolicy", lambda: RetryPolicy(hedge_after=-1), ValueError, "hedge_after", "negative"),
    _row(
        "RetryPolicy", lambda: RetryPolicy(hedge_after=_w("p99")), TypeError, "hedge_after", "p99"
    ),
    # -- Backoff -----------------------------------------------------------------------
    _row("Backoff", lambda: Backoff(base=-1), ValueError, "base", "negative"),
    _row("Backoff", lambda: Backoff(base=_w("1")), TypeError, "base", "text"),
    _row("Backoff", lambda: Backoff(base=_w(True)), TypeError, "base", "bool"),
    _row("Backoff", lambda: Backoff(base=math.nan), ValueError, "base", "nan"),
    _row("Backoff", lambda: Backoff(cap=-1), ValueError, "cap", "negative"),
    _row("Backoff", lambda: Backoff(multiplier=math.inf), ValueError, "multiplier", "inf"),
    _row("Backoff", lambda: Backoff(jitter=_w("gaussian")), ValueError, "jitter", "unknown"),
    _row("Backoff", lambda: Backoff(jitter_ratio=-1), ValueError, "jitter_ratio", "negative"),
    # -- CircuitBreaker ----------------------------------------------------------------
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(failure_threshold=0),
        ValueError,
        "failure_threshold",
        "0",
    ),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(recovery_timeout=-1),
        ValueError,
        "recovery_timeout",
        "negative",
    ),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(recovery_timeout=_w("30")),
        TypeError,
        "recovery_timeout",
        "text",
    ),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(half_open_max_calls=0),
        ValueError,
        "half_open_max_calls",
        "0",
    ),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(failure_rate=1.5),
        ValueError,
        "failure_rate",
        "1.5",
    ),
    _row("CircuitBreaker", lambda: CircuitBreaker(window=0), ValueError, "window", "0"),
    _row("CircuitBreaker", lambda: CircuitBreaker(max_keys=0), ValueError, "max_keys", "0"),
    _row("CircuitBreaker", lambda: CircuitBreaker(clock=_w("x")), TypeError, "clock", "text"),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(on_state_change=_w(5)),
        TypeError,
        "on_state_change",
        "int",
    ),
    _row(
        "CircuitBreaker",
        lambda: CircuitBreaker(break_duration=_w(5)),
        TypeError,
        "break_duration",
        "int",
    ),
    _row(
        "CircuitBreaker", lambda: CircuitBreaker(counts="requests"), ValueError, "counts", "unknown"
    ),
    # -- RetryBudget -------------------------------------------------------------------
    _row("RetryBudget", lambda: RetryBudget(ratio=-0.1), ValueError, "ratio", "negative"),
    _row("RetryBudget", lambda: RetryBudget(ratio=_w("20%")), TypeError, "ratio", "percent-text"),
    _row(
        "RetryBudget",
        lambda: RetryBudget(min_per_second=-1),
        ValueError,
        "min_per_second",
        "negative",
    ),
    _row("RetryBudget", lambda: RetryBudget(ttl=0), ValueError, "ttl", "0"),
    _row("RetryBudget", lambda: RetryBudget(clock=_w(5)), TypeError, "clock", "int"),
    # -- RateLimiter -------------------------------------------------------------------
    _row("RateLimiter", lambda: RateLimiter(rate=0), ValueError, "rate", "0"),
    _row("RateLimiter", lambda: RateLimiter(rate=_w("10/s")), TypeError, "rate", "text"),
    _row("RateLimiter", lambda: RateLimiter(per=0), ValueError, "per", "0"),
    _row("RateLimiter", lambda: RateLimiter(burst=0), ValueError, "burst", "0"),
    _row("RateLimiter", lambda: RateLimiter(max_keys=0), ValueError, "max_keys", "0"),
    _row("RateLimiter", lambda: RateLimiter(clock=_w("x")), TypeError, "clock", "text"),
    _row("RateLimiter", lambda: RateLimiter(wall_clock=_w(5)), TypeError, "wall_clock", "int"),
    _row("RateLimiter", lambda: RateLimiter(rand=_w(5)), TypeError, "rand", "int"),
    # -- AdaptiveThrottle --------------------------------------------------------------
    _row("AdaptiveThrottle", lambda: AdaptiveThrottle(k=0.5), ValueError, "k", "below-1"),
    _row("AdaptiveThrottle", lambda: AdaptiveThrottle(window=0), ValueError, "window", "0"),
    _row("AdaptiveThrottle", lambda: AdaptiveThrottle(max_keys=0), ValueError, "max_keys", "0"),
    _row("AdaptiveThrottle", lambda: AdaptiveThrottle(clock=_w(5)), TypeError, "clock", "int"),
    _row(
        "AdaptiveThrottle",
        lambda: AdaptiveThrottle(rand=_w(5)),
        TypeError,
        "rand",
        "int",
    ),
    # -- Metrics -----------------------------------------------------------------------
    _row("Metrics", lambda: Metrics(max_endpoints=0), ValueError, "max_endpoints", "0"),
    _row("Metrics", lambda: Metrics(max_endpoints=_w("1000")), ValueError, "max_endpoints", "text"),
    _row("Metrics", lambda: Metrics(max_endpoints=_w(True)), ValueError, "max_endpoints", "bool"),
    # -- AlertRules --------------------------------------------------------------------
    _row("AlertRules", lambda: AlertRules(print, auth_window=0), ValueError, "auth_window", "0"),
    _row(
        "AlertRules",
        lambda: AlertRules(print, auth_baseline_windows=0),
        ValueError,
        "auth_baseline_windows",
        "0",
    ),
    _row(
        "AlertRules",
        lambda: AlertRules(print, rate_limit_windows=0),
        ValueError,
        "rate_limit_windows",
        "0",
    ),
    _row(
        "AlertRules", lambda: AlertRules(print, max_endpoints=0), ValueError, "max_endpoints", "0"
    ),
    _row("AlertRules", lambda: AlertRules(_w(5)), TypeError, "on_alert", "int"),
    _row("AlertRules", lambda: AlertRules(print, clock=_w(5)), TypeError, "clock", "int"),
    _row(
        "AlertRules",
        lambda: AlertRules(print, auth_threshold=0),
        ValueError,
        "auth_threshold",
        "0",
    ),
    _row(
        "AlertRules",
        lambda: AlertRules(print, server_error_ratio=2),
        ValueError,
        "server_error_ratio",
        "2",
    ),
    _row(
        "AlertRules",
        lambda: AlertRules(print, unavailable_threshold=0),
        ValueError,
        "unavailable_threshold",
        "0",
    ),
    # -- the exporters -----------------------------------------------------------------
    _row(
        "OpenTelemetryMetrics",
        lambda: OpenTelemetryMetrics(meter_provider=_w("x")),
        TypeError,
        "meter_provider",
        "text",
    ),
    _row(
        "OpenTelemetryMetrics",
        lambda: OpenTelemetryMetrics(meter_provider=_w(5)),
        TypeError,
        "meter_provider",
        "int",
    ),
    _row(
        "PrometheusMetrics",
        lambda: PrometheusMetrics(registry=_w("x")),
        TypeError,
        "registry",
        "text",
    ),
    _row(
        "PrometheusMetrics",
        lambda: PrometheusMetrics(_registry(), namespace=_w(5)),
        TypeError,
        "namespace",
        "int",
    ),
    _row(
        "PrometheusMetrics",
        lambda: PrometheusMetrics(_registry(), namespace="my-api"),
        ValueError,
        "namespace",
        "dash",
    ),
    _row(
        "PrometheusMetrics",
        lambda: PrometheusMetrics(_registry(), max_endpoints=0),
        ValueError,
        "max_endpoints",
        "0",
    ),
    # -- RetryAdapter ------------------------------------------------------------------
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(policy=_w({"max_attempts": 3})),
        TypeError,
        "policy",
        "dict",
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(policy=_w(urllib3.Retry(3))),
        TypeError,
        "policy",
        "urllib3-Retry",
    ),
    _row(
        "RetryAdapter", lambda: RetryAdapter(budget=_w("20%")), TypeError, "budget", "percent-text"
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(breaker=_w(CircuitBreaker)),
        TypeError,
        "breaker",
        "a-class",
    ),
    _row("RetryAdapter", lambda: RetryAdapter(limiter=_w(5)), TypeError, "limiter", "int"),
    _row("RetryAdapter", lambda: RetryAdapter(throttle=_w(5)), TypeError, "throttle", "int"),
    _row("RetryAdapter", lambda: RetryAdapter(hooks=[_w(42)]), TypeError, "hooks", "int-inside"),
    _row("RetryAdapter", lambda: RetryAdapter(hooks=_w(print)), TypeError, "hooks", "one-callable"),
    _row("RetryAdapter", lambda: RetryAdapter(sleep=_w(anyio.sleep)), TypeError, "sleep", "async"),
    _row("RetryAdapter", lambda: RetryAdapter(sleep=_w("x")), TypeError, "sleep", "text"),
    _row("RetryAdapter", lambda: RetryAdapter(clock=_w("x")), TypeError, "clock", "text"),
    _row("RetryAdapter", lambda: RetryAdapter(wall_clock=_w(5)), TypeError, "wall_clock", "int"),
    _row("RetryAdapter", lambda: RetryAdapter(rand=_w(5)), TypeError, "rand", "int"),
    _row("RetryAdapter", lambda: RetryAdapter(key_func=_w(5)), TypeError, "key_func", "int"),
    _row(
        "RetryAdapter", lambda: RetryAdapter(endpoint_func=_w(5)), TypeError, "endpoint_func", "int"
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(fallbacks=_w(["https://b.example"])),
        TypeError,
        "fallbacks",
        "list",
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(fallbacks={"https://a.example": ["b.example"]}),
        ValueError,
        "fallbacks",
        "no-scheme",
    ),
    _row("RetryAdapter", lambda: RetryAdapter(reconcile=_w(5)), TypeError, "reconcile", "int"),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(reconcile=_w(_async_reconcile)),
        TypeError,
        "reconcile",
        "async",
    ),
    _row("RetryAdapter", lambda: RetryAdapter(max_retries=3), ValueError, "max_retries", "3"),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(policy=RetryPolicy(idempotency_header="Idempotency Key")),
        ValueError,
        "idempotency_header",
        "policy-header-space",
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(pool_maxsize=-1),
        ValueError,
        "pool_maxsize",
        "negative",
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(pool_connections=_w("10")),
        TypeError,
        "pool_connections",
        "text",
    ),
    _row(
        "RetryAdapter",
        lambda: RetryAdapter(pool_block=_w("yes")),
        TypeError,
        "pool_block",
        "text",
    ),
    # -- RetryTransport ----------------------------------------------------------------
    _row(
        "RetryTransport",
        lambda: RetryTransport(transport=_w("http://x")),
        TypeError,
        "transport",
        "text",
    ),
    _row(
        "RetryTransport",
        lambda: RetryTransport(transport=_w(httpx.AsyncHTTPTransport())),
        TypeError,
        "transport",
        "async",
    ),
    _row(
        "RetryTransport", lambda: RetryTransport(policy=_w(dict)), TypeError, "policy", "dict-class"
    ),
    _row(
        "RetryTransport",
        lambda: RetryTransport(policy=_w(urllib3.Retry(3))),
        TypeError,
        "policy",
        "urllib3-Retry",
    ),
    _row(
        "RetryTransport", lambda: RetryTransport(hooks=[_w(42)]), TypeError, "hooks", "int-inside"
    ),
    _row(
        "RetryTransport",
        lambda: RetryTransport(read_body=_w("yes")),
        TypeError,
        "read_body",
        "text",
    ),
    _row(
        "RetryTransport", lambda: RetryTransport(sleep=_w(anyio.sleep)), TypeError, "sleep", "async"
    ),
    _row(
        "RetryTransport",
        lambda: RetryTransport(reconcile=_w(_async_reconcile)),
        TypeError,
        "reconcile",
        "async",
    ),
    _row("RetryTransport", lambda: RetryTransport(budget=_w(0.2)), TypeError, "budget", "float"),
    _row("RetryTransport", lambda: RetryTransport(clock=_w("x")), TypeError, "clock", "text"),
    _row(
        "RetryTransport",
        lambda: RetryTransport(policy=RetryPolicy(idempotency_header="Idempotency Key")),
        ValueError,
        "idempotency_header",
        "policy-header-space",
    ),
    # -- AsyncRetryTransport -----------------------------------------------------------
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(sleep=_w(time.sleep)),
        TypeError,
        "sleep",
        "blocking",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(transport=_w(httpx.HTTPTransport())),
        TypeError,
        "transport",
        "sync",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(reconcile=_w(_sync_reconcile)),
        TypeError,
        "reconcile",
        "sync",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(read_body=_w(1)),
        TypeError,
        "read_body",
        "int",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(hooks=[_w(42)]),
        TypeError,
        "hooks",
        "int-inside",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(policy=_w(urllib3.Retry(3))),
        TypeError,
        "policy",
        "urllib3-Retry",
    ),
    _row(
        "AsyncRetryTransport",
        lambda: AsyncRetryTransport(wall_clock=_w(5)),
        TypeError,
        "wall_clock",
        "int",
    ),
    # -- FlakyServer and its steps -----------------------------------------------------
    _row("FlakyServer", lambda: FlakyServer(read_timeout=0), ValueError, "read_timeout", "0"),
    _row(
        "FlakyServer", lambda: FlakyServer(read_timeout=-1), ValueError, "read_timeout", "negative"
    ),
    _row(
        "FlakyServer", lambda: FlakyServer(read_timeout=math.inf), ValueError, "read_timeout", "inf"
    ),
    _row(
        "FlakyServer", lambda: FlakyServer(read_timeout=_w("5")), TypeError, "read_timeout", "text"
    ),
    _row(
        "FlakyServer", lambda: FlakyServer(read_timeout=_w(True)), TypeError, "read_timeout", "bool"
    ),
    _row("Reply", lambda: Reply(status=99), ValueError, "status", "99"),
    _row("Reply", lambda: Reply(status=600), ValueError, "status", "600"),
    _row("Reply", lambda: Reply(status=_w("200")), TypeError, "status", "text"),
    _row("Reply", lambda: Reply(status=_w(True)), TypeError, "status", "bool"),
    _row("Reply", lambda: Reply(headers=_w(5)), TypeError, "headers", "int"),
    _row(
        "Reply",
        lambda: Reply(headers=_w([("X-Only-A-Name",)])),
        ValueError,
        "headers",
        "one-item-pair",
    ),
    _row(
        "Reply", lambda: Reply(headers={"Bad Name": "x"}), ValueError, "headers", "name-with-space"
    ),
    _row(
        "Reply",
        lambda: Reply(headers={"X": "a\r\nInjected: 1"}),
        ValueError,
        "headers",
        "crlf-value",
    ),
    _row("Reply", lambda: Reply(body=_w(5)), TypeError, "body", "int"),
    _row("Reply", lambda: Reply(delay=-1), ValueError, "delay", "negative"),
    _row("Reply", lambda: Reply(delay=_w("1")), TypeError, "delay", "text"),
    _row("Reply", lambda: Reply(close=_w("yes")), TypeError, "close", "text"),
    _row("Reply", lambda: Reply(chunked=_w(1)), TypeError, "chunked", "int"),
    _row("Reply", lambda: Reply(interim=(200,)), ValueError, "interim", "final-status"),
    _row("Reply", lambda: Reply(version=_w("HTTP/2")), ValueError, "version", "http2"),
    _row(
        "Reply",
        lambda: Reply(chunked=True, version="HTTP/1.0"),
        ValueError,
        "chunked",
        "http10-chunked",
    ),
    _row("Reset", lambda: Reset(after_read=_w("no")), TypeError, "after_read", "text"),
    _row("Truncated", lambda: Truncated(status=99), ValueError, "status", "99"),
    _row(
        "Truncated",
        lambda: Truncated(declared_length=-1),
        ValueError,
        "declared_length",
        "negative",
    ),
    _row(
        "Truncated",
        lambda: Truncated(declared_length=_w("100")),
        TypeError,
        "declared_length",
        "text",
    ),
    _row(
        "Truncated",
        lambda: Truncated(declared_length=3, body=b"partial"),
        ValueError,
        "declared_length",
        "not-cut",
    ),
    _row("Truncated", lambda: Truncated(body=_w(5)), TypeError, "body", "int"),
    _row("Garbage", lambda: Garbage(data=_w(5)), TypeError, "data", "int"),
    _row("Garbage", lambda: Garbage(data=_w(None)), TypeError, "data", "none"),
    _row("Hang", lambda: Hang(seconds=-1), ValueError, "seconds", "negative"),
    _row("Hang", lambda: Hang(seconds=math.inf), ValueError, "seconds", "inf"),
    _row("Hang", lambda: Hang(seconds=_w("5")), TypeError, "seconds", "text"),
    _row("SlowBody", lambda: SlowBody(delay=-1), ValueError, "delay", "negative"),
    _row(
        "SlowBody", lambda: SlowBody(immediate_bytes=-1), ValueError, "immediate_bytes", "negative"
    ),
    _row(
        "SlowBody",
        lambda: SlowBody(body=b"ab", immediate_bytes=3),
        ValueError,
        "immediate_bytes",
        "past-body",
    ),
    _row(
        "SlowBody", lambda: SlowBody(immediate_bytes=_w(1.5)), TypeError, "immediate_bytes", "float"
    ),
    _row("Trickle", lambda: Trickle(interval=-0.1), ValueError, "interval", "negative"),
    _row("Trickle", lambda: Trickle(body=_w(5)), TypeError, "body", "int"),
    _row("Trickle", lambda: Trickle(status=1000), ValueError, "status", "1000"),
    _row("StalledBody", lambda: StalledBody(sent=-1), ValueError, "sent", "negative"),
    _row(
        "StalledBody",
        lambda: StalledBody(declared_length=10, sent=11),
        ValueError,
        "sent",
        "past-length",
    ),
    _row(
        "StalledBody",
        lambda: StalledBody(declared_length=_w("10")),
        TypeError,
        "declared_length",
        "text",
    ),
    _row("StalledBody", lambda: StalledBody(stall=math.nan), ValueError, "stall", "nan"),
    # -- FakeClock ---------------------------------------------------------------------
    _row("FakeClock", lambda: FakeClock(start=_w("0")), TypeError, "start", "text"),
    _row("FakeClock", lambda: FakeClock(start=math.nan), ValueError, "start", "nan"),
    _row("FakeClock", lambda: FakeClock(wall_start=_w(None)), TypeError, "wall_start", "none"),
    _row("FakeClock", lambda: FakeClock(wall_start=math.inf), ValueError, "wall_start", "inf"),
]


def _message(exc: BaseException) -> str:
    # attrs' instance_of puts its message first in args, with the attribute beside it.
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, str) else str(exc)


@pytest.mark.parametrize(("build", "error", "parameter"), ROWS)
def test_a_wrong_argument_fails_at_construction_naming_it(
    build: Callable[[], object], error: type[Exception], parameter: str
) -> None:
    """The constructor raises TypeError or ValueError whose message says `<parameter> must ...`."""
    with pytest.raises(error) as raised:
        build()
    message = _message(raised.value)
    names_it = rf"(?:^|[\s'(.\[]){re.escape(parameter)}'? must\b"
    assert re.search(names_it, message), message


def test_every_public_constructor_has_rows() -> None:
    """The table covers every public class a user builds, several wrong arguments each."""
    constructors = {
        "RetryPolicy",
        "Backoff",
        "CircuitBreaker",
        "RetryBudget",
        "RateLimiter",
        "AdaptiveThrottle",
        "RetryAdapter",
        "RetryTransport",
        "AsyncRetryTransport",
        "Metrics",
        "AlertRules",
        "OpenTelemetryMetrics",
        "PrometheusMetrics",
        "FlakyServer",
        "Reply",
        "Reset",
        "Truncated",
        "Garbage",
        "Hang",
        "SlowBody",
        "Trickle",
        "StalledBody",
        "FakeClock",
    }
    counts: dict[str, int] = {}
    for row in ROWS:
        assert isinstance(row.id, str)
        name = row.id.split("-", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    assert set(counts) == constructors
    assert all(count >= 2 for name, count in counts.items() if name != "Reset"), counts


def test_a_urllib3_retry_points_at_the_converter() -> None:
    """A urllib3 Retry where a RetryPolicy belongs says how to convert it."""
    for build in (
        lambda: RetryAdapter(policy=_w(urllib3.Retry(3))),
        lambda: RetryTransport(policy=_w(urllib3.Retry(3))),
    ):
        with pytest.raises(TypeError, match=r"RetryPolicy\.from_urllib3"):
            build()


def test_a_budget_given_as_a_share_says_how_to_build_one() -> None:
    """budget="20%" or 0.2 points at RetryBudget(ratio=0.2)."""
    with pytest.raises(TypeError, match=r"RetryBudget\(ratio=0\.2\)"):
        RetryAdapter(budget=_w("20%"))


def test_an_adapter_built_right_sends_nothing_wrong_later() -> None:
    """A policy's header, checked with the adapter, is one an HTTP client will accept."""
    policy = RetryPolicy(idempotency_header="X-Request-Key", auto_idempotency_key=True)
    RetryAdapter(policy=policy)
    RetryTransport(policy=policy)


def test_a_class_where_an_instance_belongs_says_so() -> None:
    """breaker=CircuitBreaker (the class) is refused with a hint to call it."""
    with pytest.raises(TypeError, match=r"pass an instance, such as CircuitBreaker\(\)"):
        RetryTransport(breaker=_w(CircuitBreaker))
