"""`CircuitBreaker`: one circuit per key, shared safely by many threads.

The rules are in retrykit._core._breaker; this holder adds the clock, a lock, the
table of circuits and the state-change listeners.

Locking. One lock guards every state update, for a few attribute and dict operations;
it is never held around the caller's own call, nor while listeners run. The two calls
every request makes are lock-free on a healthy circuit, and so is a rejection:

- ``allow`` on a CLOSED circuit reads ``circuit.state`` once and returns. If another
  thread opens the circuit right after that read, this call simply went out just before
  the circuit opened, which is an order the lock could have produced too.
- ``record_success`` in consecutive mode, on a CLOSED circuit whose run of failures is 0,
  returns at once: the success would only have set that run to 0. A failure recorded
  concurrently is ordered after this success, a valid order. If the circuit changed
  state between the two reads, the success was not one that counts (see the core's
  rules on late outcomes).
- ``allow`` on an OPEN circuit whose recovery_timeout has not passed rejects without the
  lock too (``state`` answers OPEN the same way). The core writes ``opened_at`` before
  ``state``, so having read OPEN we read that opening's time (or a later opening's), and
  the clock, read last, shows the timeout had not passed: the circuit was OPEN at that
  moment. When the timeout has passed, the locked path makes the move to HALF_OPEN.
  (These arguments assume attribute stores are seen in program order, as under the GIL.)

A circuit is only ever absent from the table while its key is being evicted, under the
lock; a lock-free lookup that misses therefore falls back to the locked path, which
sees the table whole. (Rate mode counts every outcome, so ``record_success`` locks.)

Eviction. At most ``max_keys`` circuits are kept. Every use stamps the circuit with the
next value of a counter (one attribute store, no lock; ``next()`` on an
``itertools.count`` is a single C call). When a new key finds the table full, the least
recently used ``max_keys // 16`` circuits (at least one) are dropped in one go, so that
a stream of new keys costs O(log n) per key rather than a scan of the table each.
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
from typing import TYPE_CHECKING, Any, ParamSpec, TypeAlias, TypeVar, cast

import attrs

from retrykit._core._breaker import BreakerConfig, BreakerState, Circuit
from retrykit._errors import CircuitOpenError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from types import TracebackType

__all__ = ["CircuitBreaker", "StateListener"]

StateListener: TypeAlias = Callable[[str, BreakerState, BreakerState], None]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN

_logger = logging.getLogger("retrykit.breaker")


class CircuitBreaker:
    """Circuit breakers keyed by name (the adapters use the origin ``scheme://host:port``).

    Before a call, ``allow(key)`` returns, or raises `CircuitOpenError` without any I/O;
    after it, ``record_success(key)`` or ``record_failure(key)``, or ``release(key)`` when
    the call ended in a way that says nothing about the server. ``guard(key)`` does all
    of that as a context manager or decorator. The rules (consecutive and rate mode,
    half-open probes) are in `retrykit._core._breaker`; every argument is validated.

    ``clock`` returns seconds and never goes backwards. ``on_state_change(key, old, new)``
    and callbacks given to ``add_listener`` see every state change, in order, once each,
    after the lock is released; a callback that raises is logged and never reaches the
    caller. A change may be delivered by the thread that is delivering an earlier one,
    so it can arrive just after the call that caused it returned.

    The move from OPEN to HALF_OPEN is noticed (and reported) when the circuit is next
    looked at by ``allow`` or ``state``, since no timer runs.
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
        clock: Callable[[], float] = time.monotonic,
        on_state_change: StateListener | None = None,
    ) -> None:
        self.config = BreakerConfig(
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            failure_rate=failure_rate,
            minimum_calls=minimum_calls,
            window=window,
            max_keys=max_keys,
        )
        self._clock = clock
        self._on_state_change = on_state_change
        self._rate_mode = failure_rate is not None
        self._lock = threading.Lock()
        self._circuits: dict[str, Circuit] = {}
        self._uses = itertools.count(1)
        # Replaced, never mutated, so delivery can iterate without a lock.
        self._listeners: tuple[StateListener, ...] = ()
        if on_state_change is not None:
            self._listeners = (on_state_change,)
        # Changes are queued under the lock (so in the order they happened) and
        # delivered by whichever thread holds _delivering.
        self._pending: collections.deque[tuple[str, BreakerState, BreakerState]] = (
            collections.deque()
        )
        self._delivering = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only: circuits, locks and the listeners that
        # adapters registered start afresh in the copy (adapters register theirs again).
        return {
            "config": self.config,
            "clock": self._clock,
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
            f"circuits={len(self._circuits)})"
        )

    def allow(self, key: str) -> None:
        """Return if a call for ``key`` may go out now; raise `CircuitOpenError` if not.

        In HALF_OPEN a call that is let through holds one of the ``half_open_max_calls``
        probe permits until its outcome is recorded or it is released. The error's
        ``retry_after`` is the time left until the next probe (OPEN), or a short wait of
        at most 1 s while the probes' outcome is pending (HALF_OPEN).
        """
        circuit = self._circuits.get(key)
        if circuit is not None:
            state = circuit.state
            if state is _CLOSED:
                circuit.last_used = next(self._uses)
                return
            if state is _OPEN:
                left = circuit.opened_at + self.config.recovery_timeout - self._clock()
                if left > 0:
                    circuit.last_used = next(self._uses)
                    raise CircuitOpenError(key, left)
        wait = self._update(key, _allow, create=True)
        if wait is not None:
            raise CircuitOpenError(key, wait)

    def record_success(self, key: str) -> None:
        """Count a successful outcome of a call for ``key``."""
        if not self._rate_mode:
            circuit = self._circuits.get(key)
            if circuit is None:
                return  # no circuit: CLOSED with no failures, nothing to reset
            if circuit.state is _CLOSED and circuit.failures == 0:
                circuit.last_used = next(self._uses)
                return
        self._update(key, _record_success, create=self._rate_mode)

    def record_failure(self, key: str) -> None:
        """Count a failed outcome of a call for ``key``: the circuit may open."""
        self._update(key, _record_failure, create=True)

    def release(self, key: str) -> None:
        """Give back the probe permit ``allow`` took, recording no outcome.

        For a call that ended in an exception that says nothing about the server. A
        no-op unless the circuit is HALF_OPEN.
        """
        circuit = self._circuits.get(key)
        if circuit is not None and circuit.state is _HALF_OPEN:
            self._update(key, _release, create=False)

    def state(self, key: str) -> BreakerState:
        """Return the state of ``key``'s circuit now (CLOSED for a key never seen)."""
        circuit = self._circuits.get(key)
        if circuit is None:
            return _CLOSED
        state = circuit.state
        if state is not _OPEN:
            return state
        if circuit.opened_at + self.config.recovery_timeout > self._clock():
            return state
        current = self._update(key, _current_state, create=False)
        return _CLOSED if current is None else current

    def add_listener(self, callback: StateListener) -> None:
        """Call ``callback(key, old, new)`` on every later state change.

        Exceptions it raises are logged on the ``retrykit.breaker`` logger, never raised.
        """
        with self._lock:
            self._listeners = (*self._listeners, callback)

    def guard(self, key: str, *, failure: Callable[[Exception], bool] | None = None) -> _Guard:
        """Return a context manager (and decorator) running a block under ``key``'s circuit.

        On entry it calls ``allow(key)``, so an open circuit raises `CircuitOpenError`
        before the block runs. A block that returns records a success; one that raises
        an Exception records a failure, unless ``failure(exc)`` returns False, which
        records a success (the server answered; the error is the caller's). A
        BaseException that is not an Exception (KeyboardInterrupt, cancellation)
        releases the permit. The exception always propagates.

        As a decorator, ``@breaker.guard("payments")`` wraps a function or a coroutine
        function; each call is guarded separately.
        """
        return _Guard(self, key, failure)

    def _update(
        self, key: str, action: Callable[[Circuit, float], _T], *, create: bool
    ) -> _T | None:
        """Apply ``action`` to ``key``'s circuit under the lock and queue any state change."""
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
            result = action(circuit, self._clock())
            new = circuit.state
            if new is old:
                return result
            self._pending.append((key, old, new))
        self._deliver()
        return result

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


def _allow(circuit: Circuit, now: float) -> float | None:
    return circuit.allow(now)


def _record_success(circuit: Circuit, now: float) -> None:
    circuit.record_success(now)


def _record_failure(circuit: Circuit, now: float) -> None:
    circuit.record_failure(now)


def _release(circuit: Circuit, _now: float) -> None:
    circuit.release()


def _current_state(circuit: Circuit, now: float) -> BreakerState:
    return circuit.current_state(now)


class _Guard:
    """What `CircuitBreaker.guard` returns: a context manager that is also a decorator."""

    __slots__ = ("_breaker", "_failure", "_key")

    def __init__(
        self,
        breaker: CircuitBreaker,
        key: str,
        failure: Callable[[Exception], bool] | None,
    ) -> None:
        self._breaker = breaker
        self._key = key
        self._failure = failure

    def __enter__(self) -> None:
        self._breaker.allow(self._key)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        breaker, key = self._breaker, self._key
        if exc is None:
            breaker.record_success(key)
        elif not isinstance(exc, Exception):
            breaker.release(key)
        elif self._failure is None or self._failure(exc):
            breaker.record_failure(key)
        else:
            breaker.record_success(key)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded_coroutine(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                with self:
                    return await cast("Awaitable[Any]", func(*args, **kwargs))

            return cast("Callable[_P, _R]", guarded_coroutine)

        @functools.wraps(func)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with self:
                return func(*args, **kwargs)

        return guarded
