"""Every target of issue 19 has its row and verdict in a tiny run of the harness."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import TYPE_CHECKING

import attrs
import pytest

if TYPE_CHECKING:
    import types

BENCH_DIR = pathlib.Path(__file__).parent.parent / "benchmarks"


def _load_harness(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    # run.py imports its sibling modules (_peers, _scenarios, _scale...) by name.
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("retrykit_bench_run", BENCH_DIR / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary(report: str) -> list[str]:
    targets = report.split("## Targets", 1)[1].split("\n## ", 1)[0]
    return [line for line in targets.splitlines() if line.startswith("| ") and "---" not in line]


@pytest.mark.timeout(60)
def test_issue_19_targets_have_verdicts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scenarios 1, 5, 6, 12 and 13 judge each target of issue 19, with its spread."""
    harness = _load_harness(monkeypatch)
    tiny = attrs.evolve(
        harness.QUICK,
        rounds=2,
        happy_socket=2,
        happy_local=3,
        fail_fast=3,
        thread_requests=1,
        memory_hosts=300,
        host_counts=(1, 10, 100),
        host_calls=3,
    )
    report: str = harness.run(output=None, only=(1, 5, 6, 12, 13), sizes=tiny)
    capsys.readouterr()
    rows = _summary(report)
    for figure in (
        "retrykit RetryTransport, defaults: added us over the httpx-retries row (paired)",
        "retrykit AsyncRetryTransport, defaults: added us over the httpx-retries row",
        "retrykit RetryAdapter, defaults: added us over the urllib3 Retry row (paired)",
        "retrykit RetryTransport, breaker, budget and limiter off: added us / the floor's",
        "retrykit RetryAdapter + Metrics: added us vs bare requests",
        "RetryTransport.handle_request alone: us per rejection (retrykit's own share)",
        "RetryAdapter.send alone: us per rejection (retrykit's own share)",
        "httpx: rejected call / the same call through one that raises at once",
        "requests: rejected call / the same call through one that raises at once",
        "retrykit RetryTransport + Metrics, breaker + budget: throughput / bare httpx",
        "retrykit RetryAdapter, breaker + budget: throughput / bare requests",
        "us per call at 100 distinct hosts / at 1, in process",
        "traced growth after 300 healthy hosts, defaults",
        "circuits kept after 300 healthy hosts (none failed)",
        "retrykit RetryTransport, RedisStore: added us vs no store (paired)",
    ):
        matching = [row for row in rows if figure in row]
        assert len(matching) == 1, figure
        assert matching[0].rstrip(" |").endswith(("yes", "**no**", "-")), matching[0]
    assert "floor (stand-ins)" in report
    assert "logging at its default level" in report
    # Every paired figure carries its quartiles: "median [first, third]".
    assert all("[" in row for row in rows if "(paired)" in row and "skipped" not in row)
