"""FakeClock: time that moves only when code sleeps or a test advances it."""

from __future__ import annotations

import math
import threading


class FakeClock:
    """A monotonic clock, a wall clock and sleep functions that return at once.

    `monotonic` starts at ``start`` and `time` at ``wall_start`` (a Unix timestamp in
    November 2023); both move together, by exactly what `sleep`, `async_sleep` and
    `advance` add. Calling the clock itself returns `monotonic`, so the object can be
    passed wherever retrykit takes ``clock=``, and `time` wherever it takes
    ``wall_clock=``. Pass `sleep` as ``sleep=`` to a sync adapter or transport
    (``RetryAdapter``, ``RetryTransport``) and `async_sleep` as ``sleep=`` to
    ``AsyncRetryTransport``, whose ``sleep`` is awaited. Each sleep is recorded in
    `sleeps`, so a test can assert the exact backoff schedule. All methods are
    thread-safe.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._elapsed = 0.0
        self._start = _seconds("start", start)
        self._wall_start = _seconds("wall_start", wall_start)
        self._sleeps: list[float] = []

    def monotonic(self) -> float:
        """Return the current monotonic time in seconds."""
        with self._lock:
            return self._start + self._elapsed

    def __call__(self) -> float:
        return self.monotonic()

    def time(self) -> float:
        """Return the current wall-clock time as a Unix timestamp."""
        with self._lock:
            return self._wall_start + self._elapsed

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds`` without recording a sleep."""
        self._check(seconds)
        with self._lock:
            self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        """Record a wait of ``seconds`` and move the clocks forward by it, at once.

        Raises ValueError for a negative or non-finite wait, as a real clock would refuse it.
        """
        self._check(seconds)
        with self._lock:
            self._elapsed += seconds
            self._sleeps.append(float(seconds))

    async def async_sleep(self, seconds: float) -> None:
        """Like `sleep`, then yield to the event loop once (works under asyncio and trio)."""
        import anyio  # noqa: PLC0415 - the pytest plugin imports this module in every run

        self.sleep(seconds)
        await anyio.sleep(0)

    @property
    def sleeps(self) -> list[float]:
        """Every wait recorded by `sleep` and `async_sleep`, in order (a copy)."""
        with self._lock:
            return list(self._sleeps)

    @property
    def total_slept(self) -> float:
        """The sum of `sleeps`."""
        with self._lock:
            return math.fsum(self._sleeps)

    def __repr__(self) -> str:
        return f"FakeClock(monotonic={self.monotonic()!r}, sleeps={len(self.sleeps)})"

    @staticmethod
    def _check(seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"cannot wait {seconds!r} seconds: must be a number")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"cannot wait {seconds!r} seconds: must be finite and >= 0")


def _seconds(parameter: str, value: object) -> float:
    """Return ``value`` as a float: a finite int or float (not a bool), else raise naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{parameter} must be a number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{parameter} must be finite, got {value!r}")
    return float(value)
