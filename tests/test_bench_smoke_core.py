"""The core micro-benchmark runs and reports every case."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import types

    import pytest

BENCH_PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "bench_core.py"


def _load() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_core", BENCH_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_core_reports_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    """main(rounds=...) prints and returns a Markdown table with one row per case."""
    bench = _load()
    table: str = bench.main(rounds=20)
    assert capsys.readouterr().out.strip() == table
    rows = table.splitlines()
    assert rows[0].startswith("| case |")
    assert len(rows) == 2 + len(bench.CASES)
    for name, row in zip(bench.CASES, rows[2:], strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[0] == name
        assert all(float(cell) >= 0 for cell in cells[1:])
    expected = (
        "empty function call",
        "decide: 200 success",
        "decide: 503 with Retry-After",
        "decide: POST unknown outcome",
        "Backoff.delay: full",
        "Backoff.delay: decorrelated",
        "parse_retry_after: seconds",
        "parse_retry_after: IMF date",
    )
    for case in expected:
        assert case in table


def test_bench_core_runs_as_a_script() -> None:
    """`python benchmarks/bench_core.py 10` exits 0 and prints the table."""

    result = subprocess.run(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, str(BENCH_PATH), "10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| empty function call (baseline) |" in result.stdout
