"""Time for the holders and adapters: one clock object, or separate functions.

Wherever retrykit takes ``clock=``, it accepts a plain function returning monotonic
seconds (``time.monotonic``, the default) or a `Clock`: an object with ``monotonic()``,
``time()``, ``sleep()`` and ``async_sleep()``, such as `retrykit.testing.FakeClock`. A
`Clock` then also provides the wall clock and the waits, unless ``wall_clock=`` or
``sleep=`` are given as well.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


@runtime_checkable
class Clock(Protocol):
    """Monotonic time, wall time and waits from one object (see this module's docstring)."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards."""
        ...  # pragma: no cover - a protocol

    def time(self) -> float:
        """Return the current Unix time."""
        ...  # pragma: no cover - a protocol

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (blocking)."""
        ...  # pragma: no cover - a protocol

    def async_sleep(self, seconds: float) -> Awaitable[None]:
        """Wait ``seconds`` without blocking the event loop."""
        ...  # pragma: no cover - a protocol


def monotonic_of(
    clock: Callable[[], float] | Clock, parameter: str = "clock"
) -> Callable[[], float]:
    """Return the monotonic function of ``clock``; raise TypeError naming ``parameter``."""
    if isinstance(clock, Clock):
        return clock.monotonic
    if not callable(clock):
        raise TypeError(
            f"{parameter} must be a function returning seconds (such as time.monotonic) "
            f"or a clock object with monotonic(), time() and sleep(); got {clock!r}"
        )
    return clock


def wall_of(
    clock: Callable[[], float] | Clock, wall_clock: Callable[[], float] | None
) -> Callable[[], float]:
    """Return ``wall_clock``, else the clock object's ``time``, else ``time.time``."""
    if wall_clock is not None:
        if not callable(wall_clock):
            raise TypeError(
                f"wall_clock must be a function returning Unix time, got {wall_clock!r}"
            )
        return wall_clock
    return clock.time if isinstance(clock, Clock) else time.time
