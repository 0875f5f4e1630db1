"""The fleet benchmark runs quickly and reports every figure."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import TYPE_CHECKING

import pytest

from tests.redis_fleet import redis_binary

if TYPE_CHECKING:
    import types

BENCH_PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "bench_fleet.py"


def _load() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fleet", BENCH_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_bench_fleet_reports_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """main(quick=True) prints and returns the happy path, outage and commands figures."""
    redis_binary()  # skip or fail without a server, as the other fleet tests do
    report: str = _load().main(quick=True)
    assert capsys.readouterr().out.strip() == report
    for row in (
        "| happy path | RedisStore (live Redis) vs no store",
        "| outage | hits before all 4 processes are open, each its own breaker | 20 |",
        "| outage | hits before all 4 are open, CircuitBreaker(store=RedisStore) |",
        "| outage | last process open after the fleet's 5th failure |",
        "| commands | Redis commands per second",
    ):
        assert row in report
    assert "n/a" not in report
