"""retrykit against its peers, side by side in one run (issues 9 and 19).

Run ``python benchmarks/run.py [--quick] [--rounds N] [--output PATH] [--only 1,3]``
(or ``tox -e bench``). It prints a Markdown report (the machine, a summary of every
target as met or not, one table per scenario and what limits each figure) and writes it
to ``benchmarks/results/latest.md``. Peers, each set to the same policy (4 attempts,
statuses 429/500/502/503/504, waits of 1, 2, 4 ms without jitter): requests with
urllib3's Retry, httpx-retries, tenacity and stamina around ``client.get``, and
pybreaker for the open-circuit figure. Issue 19's targets are judged against them and
against a floor built from stand-ins in the same run (scenario 1), on rejections (5),
threads (6), many distinct hosts (12) and a fleet store (13). Nothing leaves 127.0.0.1.

The full run takes about five minutes; ``--quick`` a few seconds per scenario (its figures
are for checking that the harness works, not for quoting).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import pathlib
import platform
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

import _scale
import _scenarios
import attrs
from _measure import ServerProcess
from _scenarios import FULL, QUICK, Section, Sizes, markdown_table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

RESULTS: Final = pathlib.Path(__file__).resolve().parent / "results" / "latest.md"
SCENARIOS: Final = tuple(range(1, 14))  # 9: bench_breaker's figures; 12, 13: _scale
# Loggers that would write a line per retry or rejection to stderr (Python's last-resort
# handler) when the application configured no logging; silenced for every contender alike.
_QUIET_LOGGERS: Final = ("retrykit", "stamina", "tenacity", "urllib3", "httpx", "httpx_retries")


@contextmanager
def _quiet_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _versions() -> str:
    from importlib.metadata import version

    names: tuple[str, ...] = ("retrykit-http", "httpx", "requests", "urllib3", "httpx-retries")
    names = (*names, "tenacity", "stamina", "pybreaker")
    return ", ".join(f"{name} {version(name)}" for name in names)


def _run_scenarios(sizes: Sizes, only: Sequence[int]) -> list[tuple[Section, float]]:
    """Run the chosen scenarios; return each section with its wall time in seconds."""
    done: list[tuple[Section, float]] = []

    def timed(make: Callable[[], Section]) -> None:
        started = time.perf_counter()
        section = make()
        done.append((section, time.perf_counter() - started))
        print(f"  {section.title}: {done[-1][1]:.1f} s", file=sys.stderr)

    with _quiet_loggers(), ServerProcess() as server:
        steps: dict[int, Callable[[], Section]] = {
            1: lambda: _scenarios.happy_path(sizes, server),
            2: lambda: _scenarios.flaky(sizes),
            3: lambda: _scenarios.outage(sizes),
            4: lambda: _scenarios.retry_after(sizes),
            5: lambda: _scenarios.fail_fast(sizes, server),
            6: lambda: _scenarios.threads(sizes, server),
            7: lambda: _scenarios.memory(sizes),
            8: lambda: _scenarios.core_micro(sizes),
            9: lambda: _scenarios.breaker_figures(sizes),
            10: lambda: _scenarios.burst(sizes),
            11: lambda: _scenarios.rate_limit(sizes),
            12: lambda: _scale.distinct_hosts(sizes),
            13: lambda: _scale.fleet_store(sizes),
        }
        for number in only:
            timed(steps[number])
    return done


def render(done: Sequence[tuple[Section, float]], *, quick: bool, sizes: Sizes) -> str:
    """Return the whole report as Markdown."""
    verdicts = [verdict for section, _ in done for verdict in section.verdicts]
    summary = markdown_table(
        ["scenario", "figure", "measured", "target", "met"],
        [[v.scenario, v.figure, v.value, v.target, v.met] for v in verdicts],
        numeric=2,
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = sum(seconds for _, seconds in done)
    mode = "--quick (smoke figures, not for quoting)" if quick else "full"
    parts = [
        "# retrykit benchmarks against its peers",
        "",
        f"- Date: {now}; mode: {mode}; {sizes.rounds} rounds; run time {total:.0f} s",
        (
            f"- Python {platform.python_version()} ({platform.python_implementation()}) on "
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
        ),
        f"- {_versions()}",
        (
            "- Shared policy: 4 attempts, statuses 429/500/502/503/504, waits 1, 2, 4 ms, "
            "no jitter (urllib3: 0, 2, 4 ms by its formula). Timed figures are medians over "
            "interleaved rounds, ratios and added costs are paired per round."
        ),
        (
            "- `median [q1, q3]`: the median and, in brackets, the first and third quartiles "
            "of the per-round values (of the per-round pairs, for a ratio or an added cost). "
            "A target is judged on the median, and on the in-process rows wherever the "
            "socket's spread is wider than the difference it would judge."
        ),
        "",
        "## Targets",
        "",
        summary,
    ]
    for section, seconds in done:
        parts += ["", f"## {section.title}", "", section.table, "", section.limits]
        parts.append(f"\n_({seconds:.1f} s)_")
    return "\n".join(parts) + "\n"


def run(
    *,
    quick: bool = False,
    rounds: int | None = None,
    output: pathlib.Path | None = RESULTS,
    only: Sequence[int] = SCENARIOS,
    sizes: Sizes | None = None,
) -> str:
    """Run the benchmarks; print the report, write it to ``output`` (unless None), return it."""
    chosen = sizes or (QUICK if quick else FULL)
    if rounds is not None:
        chosen = attrs.evolve(chosen, rounds=rounds)
    report = render(_run_scenarios(chosen, only), quick=quick, sizes=chosen)
    print(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report, encoding="utf-8")
    return report


def _scenario_list(text: str) -> list[int]:
    numbers = [int(part) for part in text.split(",") if part.strip()]
    if not numbers or any(number not in SCENARIOS for number in numbers):
        raise argparse.ArgumentTypeError(
            f"scenarios are numbers from 1 to {SCENARIOS[-1]}, got {text!r}"
        )
    return numbers


def main(argv: Sequence[str] | None = None) -> str:
    """Parse ``argv`` (default: the command line) and run; return the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds per scenario")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the timed scenarios")
    parser.add_argument(
        "--output", type=pathlib.Path, default=RESULTS, help=f"default: {RESULTS.name}"
    )
    parser.add_argument(
        "--only", type=_scenario_list, default=list(SCENARIOS), help="e.g. 1,3 (9: bench_breaker)"
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return run(quick=args.quick, rounds=args.rounds, output=args.output, only=args.only)


if __name__ == "__main__":
    main()
