"""Timing on a noisy machine: interleaved rounds, medians of paired ratios, a server process.

Every timed comparison runs its contenders round by round (A B C, B C A, C A B, ...), so
a slow moment of a shared machine hits them all alike, and the order inside a round
rotates. A figure is the median over rounds; a ratio or a difference to the bare client
is computed within each round first (paired), then its median is taken. A `Spread` keeps
the quartiles of those per-round values beside the median, so a report can show how far
the rounds disagreed: a difference smaller than that spread is not a difference.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from types import TracebackType

# Started as a child process so that its threads do not share the benchmark's GIL.
_SERVER_CODE = """
import sys
from retrykit.testing import FlakyServer
with FlakyServer(read_timeout=3600.0) as server:
    print(server.port, flush=True)
    sys.stdin.read()
"""


class ServerProcess:
    """A `FlakyServer` answering ``200 ok`` everywhere, in a child process on 127.0.0.1."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", _SERVER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        stdout: IO[str] | None = self._process.stdout
        assert stdout is not None
        self.port = int(stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Return the URL of ``path`` on this server."""
        return self.base_url + path

    def close(self) -> None:
        """Stop the server (closing its stdin ends it) and reap the process."""
        process = self._process
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@attrs.frozen
class Spread:
    """The median of per-round values, their quartiles and their extremes."""

    median: float
    low: float  # the first quartile: a quarter of the rounds gave less
    high: float  # the third quartile: a quarter gave more
    least: float
    most: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        """Return the spread of ``values`` (one round's value each; at least one)."""
        ordered = sorted(values)
        if not ordered:
            raise ValueError("a spread needs at least one value")
        low = high = ordered[0]
        if len(ordered) > 1:
            low, _, high = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(statistics.median(ordered), low, high, ordered[0], ordered[-1])

    def show(self, spec: str = "+.1f", unit: str = "") -> str:
        """Return ``"median<unit> [first quartile, third quartile]"``, formatted by ``spec``."""
        return f"{self.median:{spec}}{unit} [{self.low:{spec}}, {self.high:{spec}}]"


@attrs.frozen
class Timings:
    """Microseconds per operation, one value per round, per contender (in input order)."""

    names: tuple[str, ...]
    rounds: tuple[tuple[float, ...], ...]  # rounds[i] = the per-round values of names[i]

    def median(self, name: str) -> float:
        """Return the median over rounds of ``name``'s microseconds per operation."""
        return statistics.median(self._values(name))

    def spread(self, name: str) -> Spread:
        """Return the spread over rounds of ``name``'s microseconds per operation."""
        return Spread.of(self._values(name))

    def ratio(self, name: str, baseline: str) -> float:
        """Return the median over rounds of ``name`` / ``baseline`` (paired per round)."""
        return self.paired_ratio(name, baseline).median

    def added(self, name: str, baseline: str) -> float:
        """Return the median over rounds of ``name`` - ``baseline``, in microseconds."""
        return self.paired_added(name, baseline).median

    def paired_ratio(self, name: str, baseline: str) -> Spread:
        """Return the spread of ``name`` / ``baseline``, each round's pair divided first."""
        pairs = zip(self._values(name), self._values(baseline), strict=True)
        return Spread.of(value / base for value, base in pairs)

    def paired_added(self, name: str, baseline: str) -> Spread:
        """Return the spread of ``name`` - ``baseline`` (us), each round's pair subtracted first."""
        pairs = zip(self._values(name), self._values(baseline), strict=True)
        return Spread.of(value - base for value, base in pairs)

    def _values(self, name: str) -> tuple[float, ...]:
        return self.rounds[self.names.index(name)]


def _rotations(count: int, rounds: int) -> list[list[int]]:
    return [[(start + offset) % count for offset in range(count)] for start in range(rounds)]


def interleave(
    names: Sequence[str], blocks: Sequence[Callable[[], None]], *, rounds: int, per_block: int
) -> Timings:
    """Time each ``blocks[i]()`` (``per_block`` operations) once per round, interleaved.

    One untimed warm-up round runs first (connections, caches, imports). Each block
    starts from a collected heap, so that one contender's garbage is not collected on
    the next one's clock; its own still is, as it would be in use.
    """
    for block in blocks:
        block()
    values: list[list[float]] = [[] for _ in blocks]
    for order in _rotations(len(blocks), rounds):
        for index in order:
            gc.collect()
            started = time.perf_counter()
            blocks[index]()
            values[index].append((time.perf_counter() - started) / per_block * 1e6)
    return Timings(tuple(names), tuple(tuple(v) for v in values))


async def interleave_async(
    names: Sequence[str],
    blocks: Sequence[Callable[[], Awaitable[None]]],
    *,
    rounds: int,
    per_block: int,
) -> Timings:
    """The async twin of `interleave`, on the running event loop."""
    for block in blocks:
        await block()
    values: list[list[float]] = [[] for _ in blocks]
    for order in _rotations(len(blocks), rounds):
        for index in order:
            gc.collect()
            started = time.perf_counter()
            await blocks[index]()
            values[index].append((time.perf_counter() - started) / per_block * 1e6)
    return Timings(tuple(names), tuple(tuple(v) for v in values))


def repeat(call: Callable[[str], object], url: str, count: int) -> Callable[[], None]:
    """Return a block that calls ``call(url)`` ``count`` times."""

    def block() -> None:
        for _ in range(count):
            call(url)

    return block


def repeat_async(
    call: Callable[[str], Awaitable[object]], url: str, count: int
) -> Callable[[], Awaitable[None]]:
    """The async twin of `repeat`."""

    async def block() -> None:
        for _ in range(count):
            await call(url)

    return block


def in_threads(threads: int, work: Callable[[], None]) -> float:
    """Run ``work`` in ``threads`` threads started together; return the wall time in s."""
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def target() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    workers = [threading.Thread(target=target) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def run_async(main: Callable[[], Awaitable[Timings]]) -> Timings:
    """Run ``main()`` in a fresh asyncio event loop and return its timings."""

    async def runner() -> Timings:
        return await main()

    return asyncio.run(runner())
