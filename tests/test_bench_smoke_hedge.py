"""The hedging benchmark runs quickly and reports every figure."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import types

BENCH_PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "bench_hedge.py"


def _load() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_hedge", BENCH_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_hedge_reports_tail_latency_and_the_cost_of_features_left_off() -> None:
    """main(quick=True) reports p50/p99/p99.9 with and without hedging, and the off delta."""
    report: str = _load().main(quick=True)
    for row in ("| hedging off |", "| hedge_after=0.05 |", "| paired delta (median) |"):
        assert row in report
