"""The circuit breaker's pure state machine (the thread-safe holder is retrykit._state._breaker).

The rules, for one circuit (one key). Every method takes ``now``; nothing reads a clock.

CLOSED     Calls go out. A success resets the run of failures.
           Consecutive mode (the default): ``failure_threshold`` failures in a row open
           the circuit.
           Rate mode (``failure_rate`` set): a failure opens the circuit when, over the
           last ``window`` seconds, at least ``minimum_calls`` outcomes were recorded and
           failures / outcomes >= ``failure_rate``. Outcomes live in 10 time buckets, so
           the window slides in steps of ``window / 10``.
OPEN       Every call is rejected at once; ``retry_after`` is the time left until
           ``recovery_timeout`` has passed since the circuit opened. Outcomes recorded
           while OPEN are ignored: they come from calls that went out before it opened.
HALF_OPEN  Entered once ``recovery_timeout`` has passed, when the circuit is next looked
           at (``allow`` or ``state``): no timer runs. At most ``half_open_max_calls``
           probes are out at a time; a call beyond that is rejected with ``retry_after``
           = ``HALF_OPEN_RETRY_AFTER`` (or ``recovery_timeout`` if shorter), since the
           probes' outcome is not known yet. ``success_threshold`` probe successes close
           the circuit; one probe failure opens it again, for a new ``recovery_timeout``.
           Only outcomes of calls holding a probe permit count here; ``release`` gives a
           permit back without an outcome. With no permit out, an outcome comes from a
           call that went out before the circuit opened, and is ignored.

Opening and closing forget every recorded outcome, so a closed circuit starts afresh.
"""

from __future__ import annotations

import enum
from typing import Final

import attrs
from attrs.validators import optional

from retrykit._core._budget import WindowCounts
from retrykit._core._validators import fraction, positive, positive_int

HALF_OPEN_RETRY_AFTER: Final = 1.0


class BreakerState(enum.Enum):
    """The state of one circuit."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED: Final = BreakerState.CLOSED
_OPEN: Final = BreakerState.OPEN
_HALF_OPEN: Final = BreakerState.HALF_OPEN


@attrs.frozen
class BreakerConfig:
    """A circuit breaker's settings, validated on construction.

    Counts (thresholds, ``minimum_calls``, ``max_keys``) are ints >= 1; times
    (``recovery_timeout``, ``window``) are finite and > 0; ``failure_rate`` is None
    (consecutive mode) or in (0, 1] (rate mode). See this module's docstring.
    """

    failure_threshold: int = attrs.field(default=5, validator=positive_int)
    recovery_timeout: float = attrs.field(default=30.0, validator=positive)
    half_open_max_calls: int = attrs.field(default=1, validator=positive_int)
    success_threshold: int = attrs.field(default=1, validator=positive_int)
    failure_rate: float | None = attrs.field(default=None, validator=optional(fraction))
    minimum_calls: int = attrs.field(default=20, validator=positive_int)
    window: float = attrs.field(default=30.0, validator=positive)
    max_keys: int = attrs.field(default=10_000, validator=positive_int)


class Circuit:
    """One circuit's mutable state; each method applies one event at time ``now``.

    ``state`` and ``failures`` (the current run of failures while CLOSED) may be read at
    any time; ``probes`` is the number of half-open permits out; ``last_used`` is set by
    the holder on every use, for its eviction.
    """

    __slots__ = (
        "config",
        "failures",
        "last_used",
        "opened_at",
        "outcomes",
        "probe_successes",
        "probes",
        "state",
    )

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = _CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probes = 0
        self.probe_successes = 0
        self.last_used = 0
        # Outcomes (first count) and failures (second count), in rate mode only.
        self.outcomes = WindowCounts(config.window) if config.failure_rate is not None else None

    def current_state(self, now: float) -> BreakerState:
        """Return the state at ``now``, moving OPEN to HALF_OPEN once its timeout passed."""
        if self.state is _OPEN and now >= self.opened_at + self.config.recovery_timeout:
            self.state = _HALF_OPEN
            self.probes = 0
            self.probe_successes = 0
        return self.state

    def allow(self, now: float) -> float | None:
        """Let a call go out (None), or return the seconds until one may (rejected).

        In HALF_OPEN an allowed call holds a probe permit until its outcome is recorded
        or it is released.
        """
        state = self.current_state(now)
        if state is _CLOSED:
            return None
        config = self.config
        if state is _OPEN:
            return self.opened_at + config.recovery_timeout - now
        if self.probes >= config.half_open_max_calls:
            return min(HALF_OPEN_RETRY_AFTER, config.recovery_timeout)
        self.probes += 1
        return None

    def record_success(self, now: float) -> None:
        """Apply a successful outcome recorded at ``now``."""
        state = self.state
        if state is _CLOSED:
            self.failures = 0
            if self.outcomes is not None:
                self.outcomes.add(now, 1, 0)
        elif state is _HALF_OPEN and self.probes:
            self.probes -= 1
            self.probe_successes += 1
            if self.probe_successes >= self.config.success_threshold:
                self._close()

    def record_failure(self, now: float) -> None:
        """Apply a failed outcome recorded at ``now``."""
        state = self.state
        if state is _CLOSED:
            self.failures += 1
            if self._should_open(now):
                self._open(now)
        elif state is _HALF_OPEN and self.probes:
            self._open(now)

    def release(self) -> None:
        """Give back a probe permit without an outcome (a no-op unless HALF_OPEN)."""
        if self.state is _HALF_OPEN and self.probes:
            self.probes -= 1

    def _should_open(self, now: float) -> bool:
        config = self.config
        if self.outcomes is None or config.failure_rate is None:
            return self.failures >= config.failure_threshold
        self.outcomes.add(now, 1, 1)
        calls, failures = self.outcomes.sums(now)
        # A division, not failure_rate * calls: 0.1 * 30 is 3.0000000000000004, 3 / 30 is 0.1.
        return calls >= config.minimum_calls and failures / calls >= config.failure_rate

    def _open(self, now: float) -> None:
        # opened_at before state: a lock-free reader that sees OPEN sees its opened_at.
        self.opened_at = now
        self._forget()
        self.state = _OPEN

    def _close(self) -> None:
        self.state = _CLOSED
        self._forget()

    def _forget(self) -> None:
        self.failures = 0
        self.probes = 0
        self.probe_successes = 0
        if self.outcomes is not None:
            self.outcomes.clear()
