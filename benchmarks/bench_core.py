"""How much the sans-IO core costs per call, next to an empty Python function call.

Run ``python benchmarks/bench_core.py [rounds]``. Each case is timed with timeit over
``rounds`` calls, several times, with the cases interleaved so that a slow moment of a
shared machine hits all of them alike; the table gives the fastest and the median run.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from typing import Final

from retrykit import Backoff, FailureKind, RetryPolicy, decide, parse_retry_after  # noqa: F401 - called by the timed statements

DEFAULT_ROUNDS: Final = 30_000
REPEATS: Final = 7
BASELINE: Final = "empty function call (baseline)"

NOW = 784_111_777.0 - 30.0  # 30 s before Sun, 06 Nov 1994 08:49:37 GMT
POLICY = RetryPolicy()
FULL = Backoff(jitter="full")
DECORRELATED = Backoff(jitter="decorrelated")
HEADERS_503 = {"Content-Type": "application/json", "Retry-After": "5"}
UNKNOWN = FailureKind.UNKNOWN_OUTCOME


def empty() -> None:
    """Do nothing: the cost of calling a Python function."""


# name -> statement; each runs with this module's globals.
CASES: Final = {
    BASELINE: "empty()",
    "decide: 200 success": "decide(POLICY, attempt=1, method='GET', status=200)",
    "decide: 503 with Retry-After": (
        "decide(POLICY, attempt=1, method='GET', status=503, headers=HEADERS_503,"
        " now=NOW, rand=0.5)"
    ),
    "decide: POST unknown outcome": (
        "decide(POLICY, attempt=1, method='POST', failure=UNKNOWN, rand=0.5)"
    ),
    "Backoff.delay: full": "FULL.delay(3, rand=0.5)",
    "Backoff.delay: decorrelated": "DECORRELATED.delay(3, rand=0.5, previous=2.0)",
    "parse_retry_after: seconds": "parse_retry_after('120', now=NOW)",
    "parse_retry_after: IMF date": ("parse_retry_after('Sun, 06 Nov 1994 08:49:37 GMT', now=NOW)"),
}


def measure(rounds: int, repeats: int = REPEATS) -> dict[str, list[float]]:
    """Return, per case, the nanoseconds per call of each of ``repeats`` runs."""
    timers = {name: timeit.Timer(stmt, globals=globals()) for name, stmt in CASES.items()}
    runs: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(repeats):
        for name, timer in timers.items():
            runs[name].append(timer.timeit(rounds) / rounds * 1e9)
    return runs


def table(runs: dict[str, list[float]]) -> str:
    """Return the Markdown table of fastest and median ns per call, and the ratio to baseline."""
    baseline = min(runs[BASELINE])
    lines = [
        "| case | ns per call (min) | ns per call (median) | x empty call |",
        "|---|---:|---:|---:|",
    ]
    for name, values in runs.items():
        fastest = min(values)
        lines.append(
            f"| {name} | {fastest:.0f} | {statistics.median(values):.0f} "
            f"| {fastest / baseline:.1f} |"
        )
    return "\n".join(lines)


def main(rounds: int | None = None) -> str:
    """Time every case, print the Markdown table and return it."""
    result = table(measure(rounds or DEFAULT_ROUNDS))
    print(result)
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
