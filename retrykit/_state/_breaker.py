"""`CircuitBreaker`: one circuit per key, shared safely by many threads.

The rules are in retrykit._core._breaker; this holder adds the clock, a lock, the table
of circuits and the users' listeners. It reports every change of state to the caller
that caused it (the return value of ``record_*``, the ``moved`` flag of an ``allow``
ticket), so the call that moved a circuit emits its event once; it never calls up into
the code that uses it.

Locking. One lock guards every state update, for a few attribute and dict operations;
it is never held around the caller's own call, nor while listeners run. The two calls
every request makes are lock-free on a healthy circuit, and so is a rejection:

- A key with no circuit is CLOSED with no failures: ``allow`` returns the shared
  `NO_CIRCUIT` ticket and ``record_success`` returns, without creating anything. A
  circuit is created by the first failure, so a healthy host costs no memory.
- ``allow`` on a CLOSED circuit reads ``circuit.state``, then its ticket, and returns.
  If another thread opens the circuit between the two reads, the ticket is of the new
  generation and CLOSED-only outcomes of it are ignored; if it opens after them, this
  call went out just before the opening, an order the lock could have produced too.
- ``record_success`` in consecutive mode, on a CLOSED circuit whose run of failures is
  0 and whose generation is the ticket's, returns at once: the success would only have
  set that run to 0. A failure recorded concurrently is ordered after this success.
- ``allow`` on an OPEN circuit whose break has not passed rejects without the lock.
  The core writes ``opened_at`` before ``state``, so having read OPEN we read that
  opening's time (or a later opening's), and the clock, read last, shows the break
  had not passed. (These arguments assume attribute stores are seen in program order,
  as under the GIL.)

Eviction. At most ``max_keys`` circuits are kept. Every use stamps the circuit with the
next value of a counter (one attribute store, no lock). When a new circuit finds the
table full, the least recently used ``max_keys // 16`` circuits (at least one) are
dropped in one go, so that a stream of new keys costs O(log n) per key rather than a
scan of the table each.
"""

from __future__ import annotations

import collections
import functools
import heapq
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, NamedTuple, ParamSpec, TypeAlias, TypeVar, cast

import attrs

from retrykit._clock import Clock, monotonic_of, wall_of
from retrykit._core._breaker import (
    NO_CIRCUIT,
    BreakerConfig,
    BreakerState,
    Cause,
    Circuit,
    CircuitSnapshot,
    Ticket,
)
from retrykit._errors import CircuitOpenError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import TracebackType

__all__ = ["CircuitBreaker", "StateChange", "StateListener"]

StateListener: TypeAlias = Callable[[str, BreakerState, BreakerState], None]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_CLOSED: Final = BreakerState.CLOSED
_OPEN: Final = BreakerState.OPEN
_HALF_OPEN: Final = BreakerState.HALF_OPEN

_logger = logging.getLogger("retrykit.breaker")


class StateChange(NamedTuple):
    """The circuit ``key`` went from ``old`` to ``new``."""

    key: str
    old: BreakerState
    new: BreakerState


class CircuitBreaker:
    """Circuit breakers keyed by name (the adapters use the origin ``scheme://host:port``).

    Before a call, ``ticket = allow(key)`` returns a `Ticket`, or raises
    `CircuitOpenError` without any I/O; after it, ``record_success(key, ticket)`` or
    ``record_failure(key, ticket, cause)``, or ``release(key, ticket)`` when the call
    ended in a way that says nothing about the server. ``guard(key)`` does all of that
    as a context manager or decorator. The rules (consecutive and rate mode, growing
    breaks, half-open probes that expire, tickets) are in `retrykit._core._breaker`;
    every argument is validated when the breaker is built.

    ``counts`` tells the adapters what one outcome is: ``"calls"`` (the default: a call's
    final outcome, so a call whose retry succeeds is a success and a burst that retries
    absorb never opens the circuit) or ``"attempts"`` (every attempt, the classic rule).
    Probes always count per attempt.

    ``clock`` returns monotonic seconds, or is a `Clock` (whose ``time()`` then dates
    `CircuitOpenError.opened_at`). ``on_state_change(key, old, new)`` and callbacks
    given to ``add_listener`` see every state change, in order, once each, after the
    lock is released; one that raises is logged and never reaches the caller.
    """

    def __init__(  # noqa: PLR0917 - the documented signature; callers pass keywords
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        failure_rate: float | None = None,
        minimum_calls: int = 20,
        window: float = 30.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] | Clock = time.monotonic,
        on_state_change: StateListener | None = None,
        *,
        max_recovery_timeout: float = 300.0,
        break_duration: Callable[[int], float] | None = None,
        counts: str = "calls",
    ) -> None:
        self.config: BreakerConfig = BreakerConfig(
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            failure_rate=failure_rate,
            minimum_calls=minimum_calls,
            window=window,
            max_keys=max_keys,
            max_recovery_timeout=max_recovery_timeout,
            break_duration=break_duration,
            counts=counts,
        )
        if on_state_change is not None and not callable(on_state_change):
            raise TypeError(f"on_state_change must be a callable or None, got {on_state_change!r}")
        self._clock_arg = clock
        self._clock = monotonic_of(clock)
        self._wall = wall_of(clock, None)
        self._on_state_change = on_state_change
        self._rate_mode = failure_rate is not None
        self.per_attempt: bool = counts == "attempts"
        self._lock = threading.Lock()
        self._circuits: dict[str, Circuit] = {}
        self._uses = itertools.count(1)
        # Replaced, never mutated, so delivery can iterate without a lock.
        self._listeners: tuple[StateListener, ...] = ()
        if on_state_change is not None:
            self._listeners = (on_state_change,)
        # Changes are queued under the lock (so in the order they happened) and
        # delivered by whichever thread holds _delivering.
        self._pending: collections.deque[StateChange] = collections.deque()
        self._delivering = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only: circuits, locks and listeners start afresh.
        return {
            "config": self.config,
            "clock": self._clock_arg,
            "on_state_change": self._on_state_change,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc] # rebuilding from settings is what __init__ does
            **attrs.asdict(state["config"], recurse=False),
            clock=state["clock"],
            on_state_change=state["on_state_change"],
        )

    def __repr__(self) -> str:
        config = self.config
        mode = (
            f"failure_threshold={config.failure_threshold}"
            if config.failure_rate is None
            else f"failure_rate={config.failure_rate}, minimum_calls={config.minimum_calls}"
        )
        return (
            f"CircuitBreaker({mode}, recovery_timeout={config.recovery_timeout}, "
            f"counts={config.counts!r}, circuits={len(self._circuits)})"
        )

    def allow(self, key: str) -> Ticket:
        """Return a `Ticket` if a call for ``key`` may go out now; raise `CircuitOpenError` if not.

        Give the ticket back with the call's outcome. In HALF_OPEN the ticket is one of
        the ``half_open_max_calls`` probe permits (``ticket.is_probe``); its
        ``moved`` flag says this call moved the circuit from OPEN to HALF_OPEN. The
        error's ``retry_after`` is the rest of the break (OPEN), or a short wait of at
        most 1 s while the probes' outcome is pending (HALF_OPEN).
        """
        circuit = self._circuits.get(key)
        if circuit is None:
            return NO_CIRCUIT
        state = circuit.state
        if state is _CLOSED:
            circuit.last_used = next(self._uses)
            return circuit.closed_ticket
        if state is _OPEN and circuit.opened_at is not None:
            now = self._clock()
            if circuit.forced or now < circuit.opened_at + circuit.break_seconds:
                circuit.last_used = next(self._uses)
                raise self._rejection(key, circuit, circuit.retry_after(now), now)
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None:
                return NO_CIRCUIT
            circuit.last_used = next(self._uses)
            now = self._clock()
            wait, ticket = circuit.allow(now)
            if ticket is None:
                raise self._rejection(key, circuit, wait or 0.0, now)
            if ticket.moved:
                self._pending.append(StateChange(key, _OPEN, _HALF_OPEN))
        if ticket.moved:
            self._deliver()
        return ticket

    def record_success(self, key: str, ticket: Ticket) -> StateChange | None:
        """Count a successful outcome of the call holding ``ticket``; return the change it made."""
        rate_mode = self._rate_mode
        circuit = self._circuits.get(key)
        if circuit is None:
            if not rate_mode:
                return None  # no circuit: CLOSED with no failures, nothing to reset
        elif (
            not rate_mode
            and circuit.state is _CLOSED
            and circuit.failures == 0
            and ticket.generation == circuit.generation
        ):
            return None
        # Rate mode counts every outcome, successes included, so it keeps a circuit.
        return self._update(key, lambda c, now: c.record_success(ticket, now), create=rate_mode)

    def record_failure(
        self, key: str, ticket: Ticket, cause: Cause | None = None
    ) -> StateChange | None:
        """Count a failed outcome of the call holding ``ticket``; return the change it made.

        ``cause`` (the status, or the `FailureKind`) is kept as what opened the circuit,
        for `CircuitOpenError.opened_by` and `snapshot`.
        """
        return self._update(key, lambda c, now: c.record_failure(ticket, now, cause), create=True)

    def release(self, key: str, ticket: Ticket) -> None:
        """Give back the probe permit ``ticket`` holds, recording no outcome.

        For a call that ended in an exception that says nothing about the server. A
        no-op unless the ticket is a probe permit that is still out.
        """
        if ticket.is_probe:
            self._update(key, lambda c, _now: c.release(ticket), create=False)

    def force_open(self, key: str) -> StateChange | None:
        """Open ``key``'s circuit until `reset`: every call is rejected meanwhile."""
        return self._update(key, lambda c, now: c.force_open(now), create=True)

    def reset(self, key: str) -> StateChange | None:
        """Close ``key``'s circuit and forget its counts (a forced opening included)."""
        return self._update(key, lambda c, _now: c.reset(), create=False)

    def state(self, key: str) -> BreakerState:
        """Return the state of ``key``'s circuit now (CLOSED for a key never seen).

        An OPEN circuit whose break has passed reads HALF_OPEN; reading changes nothing.
        """
        circuit = self._circuits.get(key)
        if circuit is None:
            return _CLOSED
        state = circuit.state
        return state if state is _CLOSED else circuit.peek(self._clock())

    def snapshot(self, key: str) -> CircuitSnapshot:
        """Return ``key``'s state and counts now (a CLOSED, empty snapshot for a key never seen)."""
        with self._lock:
            circuit = self._circuits.get(key) or Circuit(self.config)
            return circuit.snapshot(self._clock())

    def snapshots(self) -> dict[str, CircuitSnapshot]:
        """Return the snapshot of every circuit kept, by key (for dashboards)."""
        with self._lock:
            now = self._clock()
            return {key: circuit.snapshot(now) for key, circuit in self._circuits.items()}

    def add_listener(self, callback: StateListener) -> None:
        """Call ``callback(key, old, new)`` on every later state change.

        Exceptions it raises are logged on the ``retrykit.breaker`` logger, never raised.
        """
        if not callable(callback):
            raise TypeError(f"a listener must be callable, got {callback!r}")
        with self._lock:
            self._listeners = (*self._listeners, callback)

    def remove_listener(self, callback: StateListener) -> None:
        """Stop calling ``callback``; raise ValueError if it was not added."""
        with self._lock:
            listeners = list(self._listeners)
            listeners.remove(callback)
            self._listeners = tuple(listeners)

    def guard(self, key: str, *, failure: Callable[[Exception], bool] | None = None) -> _Guard:
        """Return a context manager (and decorator) running a block under ``key``'s circuit.

        On entry it calls ``allow(key)``, so an open circuit raises `CircuitOpenError`
        before the block runs. A block that returns records a success; one that raises
        an Exception records a failure, unless ``failure(exc)`` returns False, which
        records a success (the server answered; the error is the caller's). A
        BaseException that is not an Exception (KeyboardInterrupt, cancellation)
        releases the permit. The exception always propagates.

        As a decorator, ``@breaker.guard("payments")`` wraps a function or a coroutine
        function; each call is guarded separately (and may run concurrently).
        """
        return _Guard(self, key, failure)

    def _rejection(
        self, key: str, circuit: Circuit, retry_after: float, now: float
    ) -> CircuitOpenError:
        opened_at = None
        if circuit.opened_at is not None:
            opened_at = self._wall() - (now - circuit.opened_at)
        return CircuitOpenError(key, retry_after, opened_by=circuit.opened_by, opened_at=opened_at)

    def _update(
        self, key: str, action: Callable[[Circuit, float], object], *, create: bool
    ) -> StateChange | None:
        """Apply ``action`` to ``key``'s circuit under the lock; queue and return any change."""
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None:
                if not create:
                    return None
                if len(self._circuits) >= self.config.max_keys:
                    self._evict()
                circuit = self._circuits[key] = Circuit(self.config)
            circuit.last_used = next(self._uses)
            old = circuit.state
            action(circuit, self._clock())
            new = circuit.state
            if new is old:
                return None
            change = StateChange(key, old, new)
            self._pending.append(change)
        self._deliver()
        return change

    def _evict(self) -> None:
        """Drop the least recently used sixteenth of the circuits (called under the lock)."""
        circuits = self._circuits
        count = max(1, self.config.max_keys // 16)
        stale = heapq.nsmallest(count, circuits.items(), key=lambda item: item[1].last_used)
        for key, _circuit in stale:
            del circuits[key]

    def _deliver(self) -> None:
        """Run the listeners on queued changes, in order; one thread delivers at a time."""
        pending = self._pending
        # Re-checked after releasing _delivering: a change queued by a thread that found
        # _delivering taken is delivered here.
        while pending:
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while pending:
                    key, old, new = pending.popleft()
                    for listener in self._listeners:
                        try:
                            listener(key, old, new)
                        except Exception:  # noqa: PERF203 - one listener must not stop the next
                            _logger.exception(
                                "circuit breaker listener %r raised on %s -> %s for %s",
                                listener,
                                old.value,
                                new.value,
                                key,
                            )
            finally:
                self._delivering.release()


class _Guard:
    """What `CircuitBreaker.guard` returns: a context manager that is also a decorator.

    Each entry takes its own ticket (kept per thread and task in a stack), so one guard
    object can decorate a function that runs many times at once.
    """

    __slots__ = ("_breaker", "_failure", "_key", "_tickets")

    def __init__(
        self,
        breaker: CircuitBreaker,
        key: str,
        failure: Callable[[Exception], bool] | None,
    ) -> None:
        self._breaker = breaker
        self._key = key
        self._failure = failure
        self._tickets: list[Ticket] = []

    def __enter__(self) -> None:
        self._tickets.append(self._breaker.allow(self._key))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._settle(self._tickets.pop(), exc)

    def _settle(self, ticket: Ticket, exc: BaseException | None) -> None:
        breaker, key = self._breaker, self._key
        if exc is None:
            breaker.record_success(key, ticket)
        elif not isinstance(exc, Exception):
            breaker.release(key, ticket)
        elif self._failure is None or self._failure(exc):
            breaker.record_failure(key, ticket, type(exc).__name__)
        else:
            breaker.record_success(key, ticket)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        breaker, key = self._breaker, self._key
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded_coroutine(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                ticket = breaker.allow(key)
                try:
                    result = await cast("Awaitable[Any]", func(*args, **kwargs))
                except BaseException as exc:
                    self._settle(ticket, exc)
                    raise
                self._settle(ticket, None)
                return result

            return cast("Callable[_P, _R]", guarded_coroutine)

        @functools.wraps(func)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            ticket = breaker.allow(key)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._settle(ticket, exc)
                raise
            self._settle(ticket, None)
            return result

        return guarded
