"""The outage benchmark runs quickly and reports every figure."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import types

    import pytest

BENCH_PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "bench_breaker.py"


def _load() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_breaker", BENCH_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_breaker_reports_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """main(calls=50) prints and returns the outage table and the cost table."""
    bench = _load()
    report: str = bench.main(calls=50)
    assert capsys.readouterr().out.strip() == report
    for row in (
        "| no protection |",
        "| retry budget alone |",
        "| circuit breaker + retry budget (default, counts calls) |",
        "| 'calls' | 20 |",
        "| rejected / allowed |",
        "| happy-path bookkeeping",
        "threads, one breaker and budget",
    ):
        assert row in report


def test_unprotected_outage_sends_four_requests_per_call() -> None:
    """With no protection every call makes all 4 attempts against the 503s."""
    bench = _load()
    assert bench.simulate_outage(50, budget=False, breaker=False, arrival_rate=100.0) == 200


def test_breaker_and_budget_shed_the_outage() -> None:
    """With breaker and budget almost no request reaches the failing server."""
    bench = _load()
    sent = bench.simulate_outage(1000, budget=True, breaker=True, arrival_rate=10.0)
    assert sent / 1000 <= 0.15
    per_attempt = bench.simulate_outage(
        200, budget=True, breaker=True, arrival_rate=100.0, counts="attempts"
    )
    assert per_attempt / 200 <= 0.05


def test_a_burst_that_retries_absorb_keeps_the_circuit_closed() -> None:
    """Counting calls, 20 simultaneous calls that succeed on their third attempt all succeed."""
    bench = _load()
    assert bench.simulate_burst(20, counts="calls") == 20
    assert bench.simulate_burst(20, counts="attempts") < 20


def test_budget_caps_retries_in_one_window() -> None:
    """A burst inside one ttl window sends at most 1 + 0.2 requests per call plus the reserve."""
    bench = _load()
    sent = bench.simulate_outage(1000, budget=True, breaker=False, arrival_rate=1000.0)
    assert sent <= 1000 + 100 + 200
