"""The circuit breaker's pure state machine (the thread-safe holder is retrykit._state._breaker).

The rules, for one circuit (one key), in the order they apply. Every method takes ``now``
(seconds on a monotonic clock); nothing reads a clock.

Tickets   `Circuit.allow` hands every call it lets out a `Ticket`: the circuit's
          *generation*, a number that grows with every change of state, and in
          HALF_OPEN a probe permit. The call gives its ticket back with its outcome
          (`record_success`, `record_failure`) or without one (`release`). An outcome
          whose ticket is of an older generation comes from a call admitted before the
          last change of state, and never moves the circuit.
CLOSED    Calls go out. A success resets the run of failures.
          Consecutive mode (the default): ``failure_threshold`` failures in a row open
          the circuit.
          Rate mode (``failure_rate`` set): a failure opens the circuit when, over the
          last ``window`` seconds, at least ``minimum_calls`` outcomes were recorded and
          failures / outcomes >= ``failure_rate``. Outcomes live in 10 time buckets, so
          the window slides in steps of ``window / 10``.
OPEN      Every call is rejected; ``retry_after`` is the time left of the break. The
          first opening breaks for ``recovery_timeout``; each re-opening after a failed
          probe doubles the break, up to ``max_recovery_timeout``; closing resets it.
          ``break_duration(openings)``, when given, computes the break instead (openings
          counts from 1 since the circuit last closed). ``force_open`` opens it with no
          end: it stays OPEN until ``reset``.
HALF_OPEN Entered once the break has passed, when a call next asks (`allow`): no timer
          runs. At most ``half_open_max_calls`` probe permits are out at a time; a call
          beyond that is rejected with ``retry_after`` = ``HALF_OPEN_RETRY_AFTER`` (or
          ``recovery_timeout`` if shorter). A permit with no outcome after
          ``recovery_timeout`` lapses, so a probe that hangs never blocks the origin: a
          new probe may go, and the hung one's outcome, when it comes, is ignored.
          ``success_threshold`` probe successes close the circuit; one probe failure
          opens it again, for a longer break. Only the outcomes of permit holders count.

Opening, closing and `reset` forget every recorded outcome, so each state starts afresh.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, NamedTuple, TypeAlias

import attrs
from attrs.validators import in_, is_callable, optional

from retrykit._core._budget import WindowCounts

if TYPE_CHECKING:
    from retrykit._core._policy import FailureKind
from retrykit._core._validators import fraction, positive, positive_int

HALF_OPEN_RETRY_AFTER: Final = 1.0

Cause: TypeAlias = "int | FailureKind | str"
"""What a failure was: the response's status, the `FailureKind` of an attempt that got
no response, or ``"forced"`` for `Circuit.force_open`."""


class BreakerState(enum.Enum):
    """The state of one circuit."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED: Final = BreakerState.CLOSED
_OPEN: Final = BreakerState.OPEN
_HALF_OPEN: Final = BreakerState.HALF_OPEN


class Ticket(NamedTuple):
    """What `Circuit.allow` hands a call: give it back with the call's outcome.

    ``generation`` is the circuit's generation when the call was let out; ``permit`` is
    the probe permit's number in HALF_OPEN, 0 for a call let out while CLOSED.
    ``moved`` is True when letting this call out moved the circuit from OPEN to
    HALF_OPEN (the call that caused a change reports it).
    """

    generation: int
    permit: int
    moved: bool = False

    @property
    def is_probe(self) -> bool:
        """True for a HALF_OPEN probe permit: its outcome decides the circuit."""
        return self.permit != 0


NO_CIRCUIT: Final = Ticket(0, 0)
"""The ticket of a call to a key that has no circuit yet (a circuit starts at generation 0)."""


@attrs.frozen
class BreakerConfig:
    """A circuit breaker's settings, validated on construction.

    Counts (thresholds, ``minimum_calls``, ``max_keys``) are ints >= 1; times
    (``recovery_timeout``, ``max_recovery_timeout``, ``window``) are finite and > 0;
    ``failure_rate`` is None (consecutive mode) or in (0, 1] (rate mode);
    ``break_duration`` is None or a callable taking the number of openings since the
    circuit last closed (1 for the first) and returning seconds. ``counts`` says what
    one outcome is to the adapters: ``"calls"`` (a call's final outcome: a call whose
    retry succeeds is a success) or ``"attempts"`` (every attempt). See this module's
    docstring for the rules.
    """

    failure_threshold: int = attrs.field(default=5, validator=positive_int)
    recovery_timeout: float = attrs.field(default=30.0, validator=positive)
    half_open_max_calls: int = attrs.field(default=1, validator=positive_int)
    success_threshold: int = attrs.field(default=1, validator=positive_int)
    failure_rate: float | None = attrs.field(default=None, validator=optional(fraction))
    minimum_calls: int = attrs.field(default=20, validator=positive_int)
    window: float = attrs.field(default=30.0, validator=positive)
    max_keys: int = attrs.field(default=10_000, validator=positive_int)
    max_recovery_timeout: float = attrs.field(default=300.0, validator=positive)
    break_duration: Callable[[int], float] | None = attrs.field(
        default=None, validator=optional(is_callable())
    )
    counts: str = attrs.field(default="calls", validator=in_(("calls", "attempts")))

    def break_for(self, openings: int) -> float:
        """Return the break after opening number ``openings`` (1 for the first).

        ``recovery_timeout * 2 ** (openings - 1)``, at most ``max_recovery_timeout`` (but
        never below ``recovery_timeout``); or what ``break_duration`` returns, when that
        is a finite number > 0 (anything else, an exception included, gives
        ``recovery_timeout``).
        """
        if self.break_duration is not None:
            try:
                value = float(self.break_duration(openings))
            except Exception:  # noqa: BLE001 - a user's function must not break a request
                return self.recovery_timeout
            return value if math.isfinite(value) and value > 0 else self.recovery_timeout
        ceiling = max(self.recovery_timeout, self.max_recovery_timeout)
        if openings > 64:
            return ceiling
        return min(ceiling, self.recovery_timeout * 2.0 ** (openings - 1))


@attrs.frozen
class CircuitSnapshot:
    """One circuit's state and counts at a moment, for dashboards.

    ``failures`` is the run of failures (consecutive mode) or the failures in the window
    (rate mode), ``calls`` the outcomes in the window (rate mode; 0 otherwise).
    ``retry_after`` is the time left of the break when OPEN (None otherwise, and for a
    forced opening, which has no end). ``openings`` counts openings since the circuit
    last closed; ``opened_by`` is the failure that opened it last, and ``opened_at``
    when (monotonic seconds), both None if it never opened. ``probes`` is the number
    of probe permits out.
    """

    state: BreakerState
    failures: int
    calls: int
    retry_after: float | None
    openings: int
    opened_by: Cause | None
    opened_at: float | None
    probes: int
    forced: bool


class Circuit:
    """One circuit's mutable state; each method applies one event at time ``now``.

    ``state`` and ``generation`` may be read at any time (a lock-free reader must read
    ``state`` first: a writer changes ``generation`` and ``opened_at`` before ``state``);
    ``last_used`` is set by the holder on every use, for its eviction.
    """

    __slots__ = (
        "break_seconds",
        "closed_ticket",
        "config",
        "failures",
        "forced",
        "generation",
        "last_used",
        "next_permit",
        "opened_at",
        "opened_by",
        "openings",
        "outcomes",
        "probe_successes",
        "probes",
        "state",
    )

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.state = _CLOSED
        self.generation = 0
        self.closed_ticket = NO_CIRCUIT
        self.failures = 0
        self.opened_at: float | None = None
        self.opened_by: Cause | None = None
        self.openings = 0
        self.break_seconds = config.recovery_timeout
        self.forced = False
        # Probe permits out in HALF_OPEN: permit number -> when it was handed out.
        self.probes: dict[int, float] = {}
        self.next_permit = 1
        self.probe_successes = 0
        self.last_used = 0
        # Outcomes (first count) and failures (second count), in rate mode only.
        self.outcomes = WindowCounts(config.window) if config.failure_rate is not None else None

    def peek(self, now: float) -> BreakerState:
        """Return the state at ``now`` without changing anything.

        An OPEN circuit past its break reads HALF_OPEN: the next `allow` makes the move.
        """
        state = self.state
        if state is _OPEN and self._break_over(now):
            return _HALF_OPEN
        return state

    def allow(self, now: float) -> tuple[float | None, Ticket | None]:
        """Let a call out, ``(None, ticket)``, or reject it, ``(seconds until one may, None)``."""
        state = self.state
        if state is _CLOSED:
            return None, self.closed_ticket
        config = self.config
        moved = state is _OPEN
        if moved:
            if not self._break_over(now):
                return self.retry_after(now), None
            self._change(_HALF_OPEN)
        probes = self.probes
        lapsed = [p for p, issued in probes.items() if now - issued >= config.recovery_timeout]
        for permit in lapsed:
            del probes[permit]
        if len(probes) >= config.half_open_max_calls:
            return min(HALF_OPEN_RETRY_AFTER, config.recovery_timeout), None
        permit = self.next_permit
        self.next_permit += 1
        probes[permit] = now
        return None, Ticket(self.generation, permit, moved)

    def record_success(self, ticket: Ticket, now: float) -> None:
        """Apply a successful outcome, recorded at ``now``, of the call holding ``ticket``."""
        if ticket.generation != self.generation:
            return
        state = self.state
        if state is _CLOSED:
            self.failures = 0
            if self.outcomes is not None:
                self.outcomes.add(now, 1, 0)
        elif state is _HALF_OPEN and self.probes.pop(ticket.permit, None) is not None:
            self.probe_successes += 1
            if self.probe_successes >= self.config.success_threshold:
                self._close()

    def record_failure(self, ticket: Ticket, now: float, cause: Cause | None = None) -> None:
        """Apply a failed outcome, recorded at ``now``, of the call holding ``ticket``."""
        if ticket.generation != self.generation:
            return
        state = self.state
        if state is _CLOSED:
            self.failures += 1
            if self._should_open(now):
                self._open(now, cause)
        elif state is _HALF_OPEN and self.probes.pop(ticket.permit, None) is not None:
            self._open(now, cause)

    def release(self, ticket: Ticket) -> None:
        """Give back a probe permit without an outcome (a no-op unless it is one out)."""
        if ticket.generation == self.generation and self.state is _HALF_OPEN:
            self.probes.pop(ticket.permit, None)

    def force_open(self, now: float) -> None:
        """Open the circuit with no end: it rejects every call until `reset`."""
        self._open(now, "forced")
        self.forced = True

    def reset(self) -> None:
        """Close the circuit and forget every count, its openings included."""
        self._close()

    def follow(
        self,
        now: float,
        *,
        remaining: float,
        break_seconds: float,
        openings: int,
        cause: Cause | None,
    ) -> None:
        """Take an opening decided elsewhere (by the fleet): OPEN for ``remaining`` more seconds.

        A circuit not OPEN yet changes state (a new generation, its counts forgotten);
        the opening takes the given break, number of openings and cause.
        """
        if self.state is not _OPEN:
            # forced while the fields are set: a lock-free reader in between rejects.
            self.forced = True
            self._change(_OPEN)
        self.openings = max(1, openings)
        self.break_seconds = break_seconds
        self.opened_by = cause
        self.opened_at = now - min(break_seconds, max(0.0, break_seconds - remaining))
        self.forced = False

    def snapshot(self, now: float) -> CircuitSnapshot:
        """Return the state and counts at ``now`` (see `CircuitSnapshot`)."""
        state = self.peek(now)
        calls = failures = 0
        if self.outcomes is not None and state is _CLOSED:
            calls, failures = self.outcomes.sums(now)
        else:
            failures = self.failures
        return CircuitSnapshot(
            state=state,
            failures=failures,
            calls=calls,
            retry_after=self.retry_after(now) if state is _OPEN and not self.forced else None,
            openings=self.openings,
            opened_by=self.opened_by,
            opened_at=self.opened_at,
            probes=len(self.probes) if state is _HALF_OPEN else 0,
            forced=self.forced,
        )

    def retry_after(self, now: float) -> float:
        """Return the seconds a rejected call should wait (OPEN: the rest of the break)."""
        if self.forced or self.opened_at is None:
            return self.config.recovery_timeout
        return max(0.0, self.opened_at + self.break_seconds - now)

    def _break_over(self, now: float) -> bool:
        return (
            not self.forced
            and self.opened_at is not None
            and now >= self.opened_at + self.break_seconds
        )

    def _should_open(self, now: float) -> bool:
        config = self.config
        if self.outcomes is None or config.failure_rate is None:
            return self.failures >= config.failure_threshold
        self.outcomes.add(now, 1, 1)
        calls, failures = self.outcomes.sums(now)
        # A division, not failure_rate * calls: 0.1 * 30 is 3.0000000000000004, 3 / 30 is 0.1.
        return calls >= config.minimum_calls and failures / calls >= config.failure_rate

    def _open(self, now: float, cause: Cause | None) -> None:
        self.openings += 1
        self.break_seconds = self.config.break_for(self.openings)
        # opened_at before state: a lock-free reader that sees OPEN sees its opened_at.
        self.opened_at = now
        self.opened_by = cause
        self._change(_OPEN)

    def _close(self) -> None:
        self.openings = 0
        self.forced = False
        self.break_seconds = self.config.recovery_timeout
        self._change(_CLOSED)

    def _change(self, state: BreakerState) -> None:
        self.generation += 1
        self.closed_ticket = Ticket(self.generation, 0)
        self.failures = 0
        self.probes.clear()
        self.probe_successes = 0
        if self.outcomes is not None:
            self.outcomes.clear()
        self.state = state
