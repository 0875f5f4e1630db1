"""The benchmark harness runs every scenario for a few iterations, so it cannot rot."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import types

BENCH_DIR = pathlib.Path(__file__).parent.parent / "benchmarks"


def _load_harness(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    # run.py imports its sibling modules (_peers, _scenarios, bench_core...) by name.
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("retrykit_bench_run", BENCH_DIR / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_harness_runs_every_scenario(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny run writes a report with every scenario and a met/not-met verdict per target."""
    harness = _load_harness(monkeypatch)
    scenarios = harness._scenarios
    tiny = scenarios.Sizes(
        rounds=1,
        happy_socket=3,
        happy_local=3,
        flaky_calls=10,
        outage_calls=10,
        outage_peer_calls=1,
        retry_after_calls=1,
        fail_fast=3,
        thread_requests=1,
        memory_hosts=400,
        core_rounds=50,
        breaker_calls=20,
        burst_calls=4,
        ratelimit_calls=6,
        host_counts=(1, 10, 100),
        host_calls=3,
    )
    output = tmp_path / "latest.md"
    report: str = harness.run(quick=True, output=output, sizes=tiny)
    assert output.read_text(encoding="utf-8") == report
    assert report in capsys.readouterr().out
    for number in (*range(1, 9), *range(10, 14)):
        assert f"\n## {number}. " in report
    assert "bench_breaker" in report
    assert "CPUs" in report
    assert "Python " in report
    targets = report.split("## Targets", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in targets.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 10
    assert all(row.rstrip(" |").endswith(("yes", "**no**", "-")) for row in rows[1:])


def test_main_rejects_unknown_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--only` with a number past the last scenario is refused before anything runs."""
    harness = _load_harness(monkeypatch)
    unknown = str(harness.SCENARIOS[-1] + 1)
    with pytest.raises(SystemExit) as exit_:
        harness.main(["--only", unknown, "--output", "/nonexistent/never-written.md"])
    assert exit_.value.code == 2
