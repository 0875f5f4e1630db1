"""Metrics: per-endpoint counts, accurate latency quantiles, bounded memory, thread safety."""

from __future__ import annotations

import json
import math
import random
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import (
    AttemptFinished,
    BreakerState,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FailureKind,
    Metrics,
    RetryScheduled,
    endpoint_template,
    key_fingerprint,
)
from retrykit._observe._metrics import _bucket, _bucket_midpoint, _Histogram
from tests.clients import KINDS, Call, send_all

if TYPE_CHECKING:
    from collections.abc import Callable

EP = "GET api.example.com/v1/users/{id}"
ORIGIN = "https://api.example.com:443"


def _call(
    metrics: Metrics,
    statuses: list[int | None],
    *,
    endpoint: str = EP,
    duration: float = 0.1,
    succeeded: bool | None = None,
    error_code: str | None = None,
) -> None:
    """Feed the events of one call whose attempts got ``statuses`` (None: no response)."""
    for attempt, status in enumerate(statuses, 1):
        failure = FailureKind.CONNECT if status is None else None
        metrics(
            AttemptFinished(
                "GET", endpoint, attempt, status, failure, duration, None, None, error_code
            )
        )
        if attempt < len(statuses):
            metrics(
                RetryScheduled(
                    "GET", endpoint, attempt, 4, 0.5, "retryable_status", status, failure
                )
            )
    last = statuses[-1]
    ok = last is not None and last < 400 if succeeded is None else succeeded
    metrics(
        CallFinished(
            "GET",
            endpoint,
            ok,
            "success" if ok else "attempts_exhausted",
            len(statuses),
            duration * len(statuses),
            last,
            FailureKind.CONNECT if last is None else None,
        )
    )


def _figures(metrics: Metrics, endpoint: str = EP) -> dict[str, object]:
    figures: dict[str, object] = metrics.snapshot()["endpoints"][endpoint]
    return figures


def test_counts_calls_successes_and_give_ups() -> None:
    """Requests count calls; success rate is successes over calls."""
    metrics = Metrics()
    _call(metrics, [200])
    _call(metrics, [503, 200])
    _call(metrics, [503, 503, 503, 503])
    _call(metrics, [404])
    figures = _figures(metrics)
    assert figures["requests"] == 4
    assert figures["successes"] == 2
    assert figures["give_ups"] == 2
    assert figures["success_rate"] == 0.5
    assert figures["retries"] == 4
    assert figures["attempts"] == 8


def test_statuses_count_every_attempt() -> None:
    """statuses and status_classes count each response, retried ones included."""
    metrics = Metrics()
    _call(metrics, [503, 429, 200])
    _call(metrics, [None, 200])
    figures = _figures(metrics)
    assert figures["statuses"] == {200: 2, 429: 1, 503: 1, "error": 1}
    assert figures["status_classes"] == {"2xx": 2, "4xx": 1, "5xx": 1, "error": 1}
    assert figures["failures"] == {"connect": 1}


def test_final_statuses_count_every_call() -> None:
    """final_statuses count what callers finally got, one per call."""
    metrics = Metrics()
    _call(metrics, [503, 429, 200])
    _call(metrics, [None, None])
    figures = _figures(metrics)
    assert figures["final_statuses"] == {200: 1, "error": 1}
    assert figures["final_status_classes"] == {"2xx": 1, "error": 1}


def test_error_codes_are_counted_and_bounded() -> None:
    """Error codes from bodies are counted, and at most 50 distinct ones are kept."""
    metrics = Metrics()
    for number in range(60):
        _call(metrics, [400], error_code=f"code_{number}")
    _call(metrics, [400], error_code="code_1")
    codes = _figures(metrics)["error_codes"]
    assert isinstance(codes, dict)
    assert len(codes) == 51
    assert codes["code_1"] == 2
    assert codes["(other)"] == 10


def test_rejections_budget_and_circuit_opens() -> None:
    """Open-circuit rejections and budget stops count per endpoint, opens per circuit."""
    metrics = Metrics()
    metrics(CircuitStateChanged(ORIGIN, BreakerState.CLOSED, BreakerState.OPEN))
    metrics(CircuitStateChanged(ORIGIN, BreakerState.OPEN, BreakerState.HALF_OPEN))
    metrics(CircuitStateChanged(ORIGIN, BreakerState.HALF_OPEN, BreakerState.OPEN))
    metrics(CallRejected("GET", EP, ORIGIN, 10.0))
    metrics(BudgetExhausted("GET", EP, 2))
    snapshot = metrics.snapshot()
    assert snapshot["circuits"] == {ORIGIN: {"opens": 2, "state": "open"}}
    figures = snapshot["endpoints"][EP]
    assert (figures["rejected"], figures["budget_exhausted"]) == (1, 1)
    assert figures["success_rate"] is None


def test_snapshot_is_plain_data() -> None:
    """A snapshot can be dumped as JSON and is a copy, not a live view."""
    metrics = Metrics()
    _call(metrics, [503, 200])
    snapshot = metrics.snapshot()
    json.dumps(snapshot)
    _call(metrics, [200])
    assert snapshot["endpoints"][EP]["requests"] == 1


def test_latency_summary() -> None:
    """Attempt and call latencies report count, min, max and quantiles in seconds."""
    metrics = Metrics()
    _call(metrics, [503, 200], duration=0.25)
    attempt = _figures(metrics)["attempt_latency"]
    call = _figures(metrics)["call_latency"]
    assert attempt == {
        "count": 2,
        "mean": 0.25,
        "min": 0.25,
        "max": 0.25,
        "p50": 0.25,
        "p95": 0.25,
        "p99": 0.25,
    }
    assert isinstance(call, dict)
    assert call["count"] == 1
    assert call["p99"] == pytest.approx(0.5)


def _nearest_rank(values: list[float], q: float) -> float:
    return sorted(values)[math.ceil(q * len(values)) - 1]


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.uniform(0.001, 2.0),
        lambda rng: rng.lognormvariate(math.log(0.08), 1.0),
        lambda rng: rng.expovariate(20.0),
    ],
    ids=["uniform", "lognormal", "exponential"],
)
def test_quantiles_within_two_percent(draw: Callable[[random.Random], float]) -> None:
    """p50, p95 and p99 of 10,000 latencies are within 2 % of the exact values."""
    rng = random.Random(20240531)
    values = [draw(rng) for _ in range(10_000)]
    histogram = _Histogram()
    for value in values:
        histogram.add(_bucket(value), value)
    estimates = histogram.quantiles((0.5, 0.95, 0.99))
    for q, estimate in zip((0.5, 0.95, 0.99), estimates, strict=True):
        assert estimate == pytest.approx(_nearest_rank(values, q), rel=0.02)


def test_histogram_memory_is_fixed() -> None:
    """100,000 distinct latencies fill a bounded number of buckets, not a list of samples."""
    histogram = _Histogram()
    rng = random.Random(1)
    for _ in range(100_000):
        value = rng.lognormvariate(0, 4)
        histogram.add(_bucket(value), value)
    assert len(histogram.counts) <= 34 * 32


@given(st.floats(min_value=1e-6, max_value=16_000.0))
def test_bucket_midpoint_is_close(value: float) -> None:
    """Every latency from a microsecond to hours lands in a bucket within 1.6 % of it."""
    assert _bucket_midpoint(_bucket(value)) == pytest.approx(value, rel=0.016)


@given(st.sampled_from([0.0, -1.0, math.nan, math.inf, 1e-12, 1e9]))
def test_odd_durations_do_not_raise(value: float) -> None:
    """Zero, negative, NaN or huge durations are clamped, never an error in a hook."""
    metrics = Metrics()
    metrics(AttemptFinished("GET", EP, 1, 200, None, value))
    assert _figures(metrics)["attempts"] == 1


def test_endpoints_past_the_limit_share_the_other_entry() -> None:
    """Beyond max_endpoints, later endpoints are counted together under '(other)'."""
    metrics = Metrics(max_endpoints=3)
    for name in ("a", "b", "c", "d", "e"):
        _call(metrics, [200], endpoint=f"GET h/{name}")
    _call(metrics, [503, 200], endpoint="GET h/a")
    endpoints = metrics.snapshot()["endpoints"]
    assert list(endpoints) == ["(other)", "GET h/a", "GET h/b", "GET h/c"]
    assert endpoints["(other)"]["requests"] == 2
    assert endpoints["GET h/a"]["requests"] == 2


def test_endpoint_count_stays_bounded() -> None:
    """However many endpoints appear, at most max_endpoints and '(other)' are kept."""
    metrics = Metrics(max_endpoints=10)
    for number in range(500):
        metrics(AttemptFinished("GET", f"GET h/{number}", 1, 200, None, 0.1))
        metrics(
            CircuitStateChanged(f"https://h{number}:443", BreakerState.CLOSED, BreakerState.OPEN)
        )
    snapshot = metrics.snapshot()
    assert len(snapshot["endpoints"]) == 11
    assert snapshot["endpoints"]["(other)"]["attempts"] == 490
    assert len(snapshot["circuits"]) == 10


@pytest.mark.parametrize("value", [0, -1])
def test_max_endpoints_must_be_positive(value: int) -> None:
    """A Metrics that could hold nothing is refused at construction."""
    with pytest.raises(ValueError, match="max_endpoints"):
        Metrics(max_endpoints=value)


def test_concurrent_updates_are_not_lost() -> None:
    """16 threads feeding one Metrics lose no count."""
    metrics = Metrics()
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(500):
            _call(metrics, [503, 200])

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = _figures(metrics)
    assert figures["requests"] == 16 * 500
    assert figures["attempts"] == 16 * 500 * 2
    assert figures["retries"] == 16 * 500


def test_render_is_a_table() -> None:
    """render() shows one aligned row per endpoint with the headline figures."""
    metrics = Metrics()
    _call(metrics, [503, 200], duration=0.1)
    _call(metrics, [404], duration=0.1)
    lines = metrics.render().splitlines()
    assert lines[0].split() == [
        "endpoint", "requests", "success", "%", "retries", "give-ups", "4xx", "5xx",
        "p50", "ms", "p95", "ms", "p99", "ms",
    ]  # fmt: skip
    cells = lines[1].split()
    assert cells[:8] == ["GET", "api.example.com/v1/users/{id}", "2", "50.0", "1", "1", "1", "1"]
    assert [float(cell) for cell in cells[8:]] == pytest.approx([100.0, 200.0, 200.0], rel=0.02)
    assert len({len(line) for line in lines}) <= 2


def test_render_without_calls() -> None:
    """An endpoint seen only through attempts renders dashes, not an error."""
    metrics = Metrics()
    metrics(AttemptFinished("GET", EP, 1, 200, None, 0.1))
    assert "-" in metrics.render().splitlines()[1]


def test_secret_never_in_snapshot_or_render() -> None:
    """Metrics built from a request with a credential never hold the credential."""
    secret = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    fingerprint = key_fingerprint({"Authorization": f"token {secret}"}, b"key")
    endpoint = endpoint_template(
        "GET", f"https://x:{secret}@api.github.com/user/{secret}?t={secret}"
    )
    assert endpoint == "GET api.github.com/user/{id}"
    metrics = Metrics()
    metrics(AttemptFinished("GET", endpoint, 1, 401, None, 0.1, "r", fingerprint, "bad_token"))
    metrics(
        CallFinished(
            "GET", endpoint, False, "not_retryable_status", 1, 0.1, 401, None, "r", fingerprint
        )
    )
    assert secret not in json.dumps(metrics.snapshot())
    assert secret not in metrics.render()


def test_other_events_are_ignored() -> None:
    """An unknown event type is ignored, so new events cannot break an old hook."""
    metrics = Metrics()
    metrics(object())  # type: ignore[arg-type]
    assert metrics.snapshot()["endpoints"] == {}


def test_first_success_records_what_its_two_events_would() -> None:
    by_events, by_method = Metrics(), Metrics()
    _call(by_events, [200], duration=0.25)
    by_method.first_success("GET", EP, 200, 0.25)
    assert by_method.snapshot() == by_events.snapshot()


def _served(hooks: tuple[object, ...], caplog: pytest.LogCaptureFixture | None = None) -> None:
    import httpx

    from retrykit.httpx import RetryTransport

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok", request=request)

    transport = RetryTransport(httpx.MockTransport(ok), hooks=hooks)  # type: ignore[arg-type]
    with httpx.Client(transport=transport) as client:
        for _ in range(3):
            assert client.get("https://api.example.com/v1/users/7").status_code == 200


def test_a_first_success_reaches_metrics_as_through_events() -> None:
    alone, beside = Metrics(), Metrics()
    events: list[object] = []
    _served((alone,))
    _served((beside, events.append))  # a hook without first_success: events for all
    assert [type(event) for event in events] == [AttemptFinished, CallFinished] * 3

    def counts(metrics: Metrics) -> dict[str, object]:
        figures = dict(metrics.snapshot()["endpoints"][EP])
        del figures["attempt_latency"], figures["call_latency"]  # timings differ
        return figures

    assert counts(alone) == counts(beside)
    assert counts(alone)["requests"] == counts(alone)["successes"] == 3
    assert counts(alone)["final_statuses"] == {200: 3}


def test_a_first_success_is_logged_at_debug_through_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    with caplog.at_level("DEBUG", logger="retrykit"):
        _served((metrics,))
    assert any(getattr(r, "retrykit_event", None) == "CallFinished" for r in caplog.records)
    assert metrics.snapshot()["endpoints"][EP]["requests"] == 3


def test_a_first_success_hook_that_raises_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Metrics):
        def first_success(self, method: str, endpoint: str, status: int, duration: float) -> None:
            raise RuntimeError("broken hook")

    with caplog.at_level("ERROR", logger="retrykit"):
        _served((Broken(),))
    # Every call still got its 200 (in _served); the first went the general loop, whose
    # events __call__ took, and each later one's first_success failure is logged.
    failures = [r for r in caplog.records if "failed on CallFinished" in r.getMessage()]
    assert len(failures) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_first_successes_reach_metrics_on_every_client_kind(kind: str) -> None:
    """Over a real socket, on each client, a first-time success is counted once, as a 200."""
    from retrykit.testing import FlakyServer, Reply

    metrics = Metrics()
    with FlakyServer() as server:
        server.script("/v1/users/7", [Reply(200)] * 2)
        server.script("/v1/orders/8", [Reply(200)])
        paths = ("/v1/users/7", "/v1/orders/8", "/v1/users/7")
        outcomes = send_all(
            kind, [Call(server.url(path)) for path in paths], hooks=(metrics,), limiter=None
        )
        assert [outcome.status for outcome in outcomes] == [200, 200, 200]
        host = f"127.0.0.1:{server.port}"
    endpoints = metrics.snapshot()["endpoints"]
    counted = {
        name: (figures["requests"], figures["attempts"]) for name, figures in endpoints.items()
    }
    # Each URL keeps its own endpoint name, whatever stands for it in the driver's memory.
    assert counted == {
        f"GET {host}/v1/users/{{id}}": (2, 2),
        f"GET {host}/v1/orders/{{id}}": (1, 1),
    }
    assert endpoints[f"GET {host}/v1/users/{{id}}"]["final_statuses"] == {200: 2}
