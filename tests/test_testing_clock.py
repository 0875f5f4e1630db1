"""FakeClock: instant, recorded sleeps on a monotonic and a wall clock."""

from __future__ import annotations

import math
import threading

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit.testing import FakeClock


def test_starts_where_asked() -> None:
    """monotonic() and time() start at the given values; calling the clock is monotonic()."""
    clock = FakeClock(start=10.0, wall_start=1_000.0)
    assert clock.monotonic() == 10.0
    assert clock() == 10.0
    assert clock.time() == 1_000.0


def test_default_wall_clock_is_a_realistic_timestamp() -> None:
    """By default the wall clock reads 1_700_000_000 (November 2023), for HTTP dates."""
    assert FakeClock().time() == 1_700_000_000.0


def test_sleep_advances_both_clocks_and_records() -> None:
    """sleep() returns at once, moves both clocks and records the wait."""
    clock = FakeClock()
    clock.sleep(1.5)
    clock.sleep(0.25)
    assert clock.monotonic() == 1.75
    assert clock.time() == 1_700_000_001.75
    assert clock.sleeps == [1.5, 0.25]
    assert clock.total_slept == 1.75


def test_advance_moves_time_without_recording_a_sleep() -> None:
    """advance() moves the clocks but is not a sleep of the code under test."""
    clock = FakeClock()
    clock.advance(30)
    assert clock() == 30.0
    assert clock.sleeps == []
    assert clock.total_slept == 0.0


def test_zero_sleep_is_recorded() -> None:
    """A zero wait is still a recorded sleep."""
    clock = FakeClock()
    clock.sleep(0)
    assert clock.sleeps == [0.0]


@pytest.mark.parametrize("bad", [-0.001, -5.0, math.inf, math.nan])
def test_negative_or_non_finite_waits_are_refused(bad: float) -> None:
    """A negative or non-finite sleep or advance raises ValueError and changes nothing."""
    clock = FakeClock()
    with pytest.raises(ValueError, match="cannot wait"):
        clock.sleep(bad)
    with pytest.raises(ValueError, match="cannot wait"):
        clock.advance(bad)
    assert clock() == 0.0
    assert clock.sleeps == []


def test_sleeps_is_a_copy() -> None:
    """Changing the returned list does not change the record."""
    clock = FakeClock()
    clock.sleep(1)
    clock.sleeps.append(99)
    assert clock.sleeps == [1.0]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_sleep_advances_under_asyncio_and_trio(backend: str) -> None:
    """async_sleep() advances and records under both asyncio and trio."""
    clock = FakeClock()

    async def main() -> None:
        await clock.async_sleep(2.0)
        await clock.async_sleep(3.0)

    anyio.run(main, backend=backend)
    assert clock.sleeps == [2.0, 3.0]
    assert clock() == 5.0


def test_async_sleep_yields_to_other_tasks() -> None:
    """async_sleep() lets other tasks run, like a real sleep does."""
    clock = FakeClock()
    order: list[str] = []

    async def sleeper() -> None:
        order.append("sleeper starts")
        await clock.async_sleep(1.0)
        order.append("sleeper ends")

    async def other() -> None:
        order.append("other runs")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(sleeper)
            group.start_soon(other)

    anyio.run(main)
    assert order.index("other runs") < order.index("sleeper ends")


def test_async_sleep_refuses_negative_waits() -> None:
    """async_sleep() refuses a negative wait like sleep() does."""
    clock = FakeClock()

    async def main() -> None:
        await clock.async_sleep(-1)

    with pytest.raises(ValueError, match="cannot wait"):
        anyio.run(main)


def test_concurrent_sleeps_are_all_counted() -> None:
    """Sleeps from many threads are all recorded and all advance the clock."""
    clock = FakeClock()

    def work() -> None:
        for _ in range(200):
            clock.sleep(0.5)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clock.sleeps) == 1600
    assert clock() == 800.0


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=50))
def test_clock_equals_start_plus_total_slept(waits: list[float]) -> None:
    """After any sleeps, the clock reads its start plus their sum."""
    clock = FakeClock(start=5.0)
    for wait in waits:
        clock.sleep(wait)
    assert clock.sleeps == waits
    assert clock() == pytest.approx(5.0 + math.fsum(waits))
    assert clock.total_slept == math.fsum(waits)


def test_repr_shows_time_and_number_of_sleeps() -> None:
    """The repr says where the clock is and how many sleeps it saw."""
    clock = FakeClock()
    clock.sleep(1)
    assert repr(clock) == "FakeClock(monotonic=1.0, sleeps=1)"
