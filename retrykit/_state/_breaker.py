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

Sharing. With ``store=`` (a `FleetStore`, such as `retrykit.redis.RedisStore`), the
circuits are also shared with every process using the same store and namespace; each
request still decides in memory. Request threads only note what the fleet needs to
hear (a dict lookup per call on a healthy host: the key, marked used); the store's
syncer thread collects those notes (`_share_report`), and applies the fleet's answers
(`_share_adopt`) under the same lock: a fleet opening moves a local circuit to OPEN
for the rest of the fleet's break, a fleet closing closes it, and each such change
bumps the circuit's generation and reaches the listeners like any other. While the
fleet's circuit is open, a probe may go only with a lease the syncer obtained for it,
so at most ``half_open_max_calls`` probes go out across the fleet. When the store is
lost, every circuit follows the local rules alone.
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
    HALF_OPEN_RETRY_AFTER,
    NO_CIRCUIT,
    BreakerConfig,
    BreakerState,
    Cause,
    Circuit,
    CircuitSnapshot,
    Ticket,
)
from retrykit._core._policy import FailureKind
from retrykit._errors import CircuitOpenError
from retrykit._state._store import CircuitMember, CircuitReport, FleetStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence
    from types import TracebackType

    from retrykit._state._store import CircuitVerdict, StoreLink

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


ACTIVE_FOR: Final = 30.0
"""Seconds a shared circuit stays polled after this process last used it."""

MAX_SHARED: Final = 1000
"""Circuits polled at most per round: beyond it, the least recently used idle ones wait."""


class _Shared:
    """This process's side of one shared circuit (guarded by the breaker's lock).

    ``generation`` is the fleet generation last adopted (0: none), which fences the
    counts noted since; ``adopted`` is False after the store was lost, so the fleet's
    state is applied again when it returns. ``governed``: the local circuit follows a
    fleet opening, and probes only with a lease. ``leases`` are granted leases not yet
    used, with when they came; ``probes`` maps a probe permit to its lease and when it
    went out.
    """

    __slots__ = (
        "active_until",
        "adopted",
        "cause",
        "demand",
        "failures",
        "generation",
        "governed",
        "leases",
        "probes",
        "results",
        "returned",
        "successes",
        "trailing",
    )

    def __init__(self) -> None:
        self.generation = 0
        self.adopted = False
        self.governed = False
        self.failures = 0
        self.successes = 0
        self.trailing = 0
        self.cause = ""
        self.demand = 0
        self.leases: list[tuple[str, float]] = []
        self.probes: dict[int, tuple[str, float]] = {}
        self.results: list[tuple[str, bool]] = []
        self.returned: list[str] = []
        self.active_until = -float("inf")

    def count(self, *, ok: bool, cause: Cause | None) -> None:
        """Note a plain outcome for the next report."""
        if ok:
            self.successes += 1
            self.trailing = 0
        else:
            self.failures += 1
            self.trailing += 1
            self.cause = _cause_text(cause)

    def forget_counts(self) -> None:
        """Drop the counts noted since the last report (the fleet moved on without them)."""
        self.failures = self.successes = self.trailing = 0
        self.results = []

    def void_leases(self) -> None:
        """Forget every lease (the fleet generation they belonged to is over)."""
        self.leases = []
        self.probes = {}
        self.demand = 0


def _cause_text(cause: Cause | None) -> str:
    if cause is None:
        return ""
    if isinstance(cause, FailureKind):
        return cause.value
    return str(cause)[:64]


def _cause_of(text: str) -> Cause | None:
    """Return the cause a fleet record names: a status, a `FailureKind`, or the text itself."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        return FailureKind(text)
    except ValueError:
        return text


def _follow_opening(circuit: Circuit, now: float, verdict: CircuitVerdict) -> None:
    """Put ``circuit`` in the fleet's opening: OPEN until the fleet's break ends."""
    circuit.follow(
        now,
        remaining=verdict.remaining,
        break_seconds=verdict.break_seconds,
        openings=verdict.openings,
        cause=_cause_of(verdict.cause),
    )


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

    ``store`` (a `FleetStore`, such as `retrykit.redis.RedisStore`) shares the circuits
    with every process on the same store and namespace: failures add up across the
    fleet, the fleet opens together, and one probe lease at a time per permit
    (``half_open_max_calls``) goes out for the whole fleet. Calls still decide in memory;
    the store syncs in the background, and changes it causes reach the listeners from
    its thread. All processes sharing a namespace should use the same settings.
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
        store: FleetStore | None = None,
    ) -> None:
        if store is not None and not isinstance(store, FleetStore):
            raise TypeError(
                f"store must be a FleetStore (such as retrykit.redis.RedisStore) or None, "
                f"got {store!r}"
            )
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
        # Sharing (see the module docstring); all None or empty without a store.
        self._store = store
        self._shared: dict[str, _Shared] = {}
        # Keys whose fleet run of failures is not 0: a success there is worth reporting.
        self._failing: set[str] = set()
        # Keys used since the last report, marked by request threads without the lock.
        self._touched: dict[str, None] | None = None
        self._link: StoreLink | None = None
        if store is not None:
            self._touched = {}
            self._link = store.share_circuits(
                CircuitMember(
                    config=self.config,
                    report=self._share_report,
                    adopt=self._share_adopt,
                    watch=self._share_watch,
                    lost=self._share_lost,
                )
            )

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only: circuits, locks and listeners start afresh.
        # A store is kept only when there is one: it then has to pickle itself.
        state: dict[str, Any] = {
            "config": self.config,
            "clock": self._clock_arg,
            "on_state_change": self._on_state_change,
        }
        if self._store is not None:
            state["store"] = self._store
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc] # rebuilding from settings is what __init__ does
            **attrs.asdict(state["config"], recurse=False),
            clock=state["clock"],
            on_state_change=state["on_state_change"],
            store=state.get("store"),
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

    def allow(self, key: str, *, error: type[CircuitOpenError] = CircuitOpenError) -> Ticket:
        """Return a `Ticket` if a call for ``key`` may go out now; raise `CircuitOpenError` if not.

        ``error`` is the class raised: an adapter passes its own subclass (also its
        client's error), so that a rejection makes one exception, not two.

        Give the ticket back with the call's outcome. In HALF_OPEN the ticket is one of
        the ``half_open_max_calls`` probe permits (``ticket.is_probe``); its
        ``moved`` flag says this call moved the circuit from OPEN to HALF_OPEN. The
        error's ``retry_after`` is the rest of the break (OPEN), or a short wait of at
        most 1 s while the probes' outcome is pending (HALF_OPEN).
        """
        outcome = self.admit(key, error=error)
        if isinstance(outcome, CircuitOpenError):
            raise outcome
        return outcome

    def admit(
        self, key: str, *, error: type[CircuitOpenError] = CircuitOpenError
    ) -> Ticket | CircuitOpenError:
        """Return what `allow` would: its `Ticket`, or the `CircuitOpenError` it would raise.

        Not raised: an adapter that must raise its own error anyway raises it once, from
        fewer frames.
        """
        touched = self._touched
        if touched is not None and key not in touched:
            touched[key] = None
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
                return self._rejection(key, circuit, circuit.retry_after(now), now, error)
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None:
                return NO_CIRCUIT
            circuit.last_used = next(self._uses)
            now = self._clock()
            shared = self._shared.get(key) if self._link is not None else None
            wants_lease = False
            if shared is not None and shared.governed:
                demand = shared.demand
                outcome = self._allow_with_lease(key, circuit, shared, now, error)
                wants_lease = shared.demand > demand
            else:
                outcome = self._allow_locked(key, circuit, now, error)
        if isinstance(outcome, CircuitOpenError):
            if wants_lease and self._link is not None:
                self._link.wake()
            return outcome
        if outcome.moved:
            self._deliver()
        return outcome

    def _allow_locked(
        self, key: str, circuit: Circuit, now: float, error: type[CircuitOpenError]
    ) -> Ticket | CircuitOpenError:
        """Ask the circuit (under the lock): a ticket, or the rejection to raise."""
        wait, ticket = circuit.allow(now)
        if ticket is None:
            return self._rejection(key, circuit, wait or 0.0, now, error)
        if ticket.moved:
            self._pending.append(StateChange(key, _OPEN, _HALF_OPEN))
        return ticket

    def _allow_with_lease(
        self,
        key: str,
        circuit: Circuit,
        shared: _Shared,
        now: float,
        error: type[CircuitOpenError],
    ) -> Ticket | CircuitOpenError:
        """Ask a circuit that follows the fleet's opening: a probe needs a lease (under the lock).

        The lease comes from the syncer, in the background; until one has come, the call
        is rejected as HALF_OPEN rejects, and the syncer is asked to get one.
        """
        if circuit.peek(now) is not _HALF_OPEN:
            return self._allow_locked(key, circuit, now, error)
        if not shared.leases:
            shared.demand += 1
            wait = min(HALF_OPEN_RETRY_AFTER, self.config.recovery_timeout)
            return self._rejection(key, circuit, wait, now, error)
        outcome = self._allow_locked(key, circuit, now, error)
        if isinstance(outcome, Ticket) and outcome.is_probe:
            shared.probes[outcome.permit] = (shared.leases.pop()[0], now)
        return outcome

    def record_success(self, key: str, ticket: Ticket) -> StateChange | None:
        """Count a successful outcome of the call holding ``ticket``; return the change it made."""
        rate_mode = self._rate_mode
        circuit = self._circuits.get(key)
        if circuit is None:
            if not rate_mode:
                # No circuit: CLOSED with no failures, nothing to reset, unless the
                # fleet has a run of failures that this success ends.
                if self._link is not None and key in self._failing:
                    self._note_fleet_success(key)
                return None
        elif (
            not rate_mode
            and circuit.state is _CLOSED
            and circuit.failures == 0
            and ticket.generation == circuit.generation
        ):
            if self._link is not None and key in self._failing:
                self._note_fleet_success(key)
            return None
        # Rate mode counts every outcome, successes included, so it keeps a circuit.
        if self._link is None:
            return self._update(key, lambda c, now: c.record_success(ticket, now), create=rate_mode)
        return self._update(
            key, lambda c, now: self._shared_outcome(key, c, ticket, now, None), create=rate_mode
        )

    def record_failure(
        self, key: str, ticket: Ticket, cause: Cause | None = None
    ) -> StateChange | None:
        """Count a failed outcome of the call holding ``ticket``; return the change it made.

        ``cause`` (the status, or the `FailureKind`) is kept as what opened the circuit,
        for `CircuitOpenError.opened_by` and `snapshot`.
        """
        link = self._link
        if link is None:
            return self._update(
                key, lambda c, now: c.record_failure(ticket, now, cause), create=True
            )
        change = self._update(
            key,
            lambda c, now: self._shared_outcome(key, c, ticket, now, cause, failed=True),
            create=True,
        )
        link.wake()
        return change

    def release(self, key: str, ticket: Ticket) -> None:
        """Give back the probe permit ``ticket`` holds, recording no outcome.

        For a call that ended in an exception that says nothing about the server. A
        no-op unless the ticket is a probe permit that is still out.
        """
        if ticket.is_probe:
            if self._link is None:
                self._update(key, lambda c, _now: c.release(ticket), create=False)
            else:
                self._update(
                    key, lambda c, _now: self._shared_release(key, c, ticket), create=False
                )

    def force_open(self, key: str) -> StateChange | None:
        """Open ``key``'s circuit until `reset`: every call is rejected meanwhile.

        Manual control is local: with a store, this process stops following the fleet
        for ``key`` until the fleet's circuit changes again.
        """
        return self._update(key, lambda c, now: self._manual(key, c, now, force=True), create=True)

    def reset(self, key: str) -> StateChange | None:
        """Close ``key``'s circuit and forget its counts (a forced opening included).

        Local, as `force_open` is.
        """
        return self._update(
            key, lambda c, now: self._manual(key, c, now, force=False), create=False
        )

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

    # -- sharing: request-thread notes (under the lock) ------------------------------------

    def _entry(self, key: str) -> _Shared:
        """Return ``key``'s shared side, made on first need (called under the lock)."""
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _Shared()
        return shared

    def _shared_outcome(
        self,
        key: str,
        circuit: Circuit,
        ticket: Ticket,
        now: float,
        cause: Cause | None,
        *,
        failed: bool = False,
    ) -> None:
        """Note an outcome for the fleet, then apply it to ``circuit`` (under the lock).

        Only an outcome the circuit counts is noted: one of its current generation, while
        CLOSED, or a probe's. A probe with a lease reports against its lease.
        """
        if ticket.generation == circuit.generation:
            state = circuit.state
            shared = self._entry(key)
            lease = shared.probes.pop(ticket.permit, None) if ticket.is_probe else None
            if lease is not None:
                if state is _HALF_OPEN:
                    shared.results.append((lease[0], not failed))
                    if failed:
                        shared.cause = _cause_text(cause)
            elif state is _CLOSED or (state is _HALF_OPEN and ticket.is_probe):
                shared.count(ok=not failed, cause=cause)
        if failed:
            circuit.record_failure(ticket, now, cause)
        else:
            circuit.record_success(ticket, now)

    def _note_fleet_success(self, key: str) -> None:
        """Note a success that ends the fleet's run of failures (no circuit here to move)."""
        with self._lock:
            self._entry(key).count(ok=True, cause=None)

    def _shared_release(self, key: str, circuit: Circuit, ticket: Ticket) -> None:
        """Give a probe's lease back with its permit (under the lock)."""
        shared = self._shared.get(key)
        if shared is not None and ticket.generation == circuit.generation:
            lease = shared.probes.pop(ticket.permit, None)
            if lease is not None:
                shared.returned.append(lease[0])
        circuit.release(ticket)

    def _manual(self, key: str, circuit: Circuit, now: float, *, force: bool) -> None:
        """Apply `force_open` or `reset`; ``key`` stops following the fleet (under the lock)."""
        shared = self._shared.get(key)
        if shared is not None and shared.governed:
            shared.governed = False
            shared.returned.extend(lease for lease, _since in shared.leases)
            shared.void_leases()
        if force:
            circuit.force_open(now)
        else:
            circuit.reset()

    # -- sharing: the store's syncer ------------------------------------------------------

    def _share_report(self, closing: bool) -> list[CircuitReport]:
        """Return a report per circuit the fleet should hear about, and start new counts.

        A circuit is reported while it was used in the last `ACTIVE_FOR` seconds, while it
        is not CLOSED here or follows the fleet, and while it has anything to say.
        Leases not turned into a probe within twice the HALF_OPEN wait go back.
        """
        touched = self._touched
        if touched is None:
            return []
        self._touched = {}
        config = self.config
        hold = 2.0 * min(HALF_OPEN_RETRY_AFTER, config.recovery_timeout)
        reports: list[CircuitReport] = []
        with self._lock:
            now = self._clock()
            for key in list(touched):
                self._entry(key).active_until = now + ACTIVE_FOR
            if len(self._shared) > MAX_SHARED:
                self._forget_idle(now)
            for key, shared in list(self._shared.items()):
                circuit = self._circuits.get(key)
                returned, shared.returned = shared.returned, []
                kept = []
                for lease, since in shared.leases:
                    if closing or now - since >= hold:
                        returned.append(lease)
                    else:
                        kept.append((lease, since))
                shared.leases = kept
                # A probe permit lapses after recovery_timeout; so does its lease.
                for permit, (_lease, since) in list(shared.probes.items()):
                    if now - since >= config.recovery_timeout:
                        del shared.probes[permit]
                wanted = 0
                if shared.demand and shared.governed and not closing:
                    room = config.half_open_max_calls - len(shared.leases) - len(shared.probes)
                    wanted = max(0, min(shared.demand, room))
                shared.demand = 0
                busy = shared.failures or shared.successes or shared.results or returned
                if (
                    not (busy or wanted or shared.governed)
                    and now >= shared.active_until
                    and (circuit is None or circuit.state is _CLOSED)
                ):
                    del self._shared[key]
                    self._failing.discard(key)
                    continue
                reports.append(
                    CircuitReport(
                        key=key,
                        generation=shared.generation,
                        failures=shared.failures,
                        successes=shared.successes,
                        trailing=shared.trailing,
                        cause=shared.cause,
                        wanted=wanted,
                        returned=tuple(returned),
                        probes=tuple(shared.results),
                    )
                )
                shared.forget_counts()
        return reports

    def _forget_idle(self, now: float) -> None:
        """Drop the least recently used idle shared circuits down to `MAX_SHARED` (locked).

        Idle: nothing to report, not following the fleet, and CLOSED here; such a circuit
        is polled again when this process next uses it.
        """
        circuits = self._circuits
        idle = [
            (shared.active_until, key)
            for key, shared in self._shared.items()
            if not (shared.failures or shared.successes or shared.results or shared.returned)
            and not (shared.governed or shared.leases or shared.probes)
            and (key not in circuits or circuits[key].state is _CLOSED)
        ]
        excess = len(self._shared) - MAX_SHARED
        for _until, key in heapq.nsmallest(excess, idle):
            del self._shared[key]
            self._failing.discard(key)

    def _share_adopt(
        self, pairs: Sequence[tuple[CircuitReport, CircuitVerdict]]
    ) -> list[StateChange]:
        """Apply the fleet's verdicts; return (and deliver to the listeners) the changes made."""
        changes: list[StateChange] = []
        with self._lock:
            now = self._clock()
            for report, verdict in pairs:
                change = self._follow(report.key, verdict, now)
                if change is not None:
                    changes.append(change)
                    self._pending.append(change)
        if changes:
            self._deliver()
        return changes

    def _follow(self, key: str, verdict: CircuitVerdict, now: float) -> StateChange | None:
        """Apply one verdict to ``key`` (under the lock); return the change it made, if any.

        A new fleet generation that is OPEN puts the local circuit in the fleet's opening;
        one that is CLOSED closes a local circuit that was following the fleet's opening
        (a circuit that opened on its own failures keeps its own rules). An absent record
        (the fleet state expired or was lost) makes the circuit local again.
        """
        shared = self._entry(key)
        rate_mode = self._rate_mode
        if not verdict.exists:
            self._failing.discard(key)
            if shared.governed:
                shared.governed = False
            shared.void_leases()
            shared.generation = 0
            shared.adopted = True
            return None
        if not rate_mode and not verdict.open and verdict.failures > 0:
            self._failing.add(key)
        else:
            self._failing.discard(key)
        if verdict.generation == shared.generation and shared.adopted:
            if verdict.granted:
                if verdict.open and shared.governed:
                    shared.leases.extend((lease, now) for lease in verdict.granted)
                else:
                    shared.returned.extend(verdict.granted)
            return None
        moved = shared.generation != 0 or verdict.open
        if moved and verdict.generation != shared.generation:
            # Counts noted since the report were recorded under the old generation.
            shared.forget_counts()
            shared.void_leases()
        shared.generation = verdict.generation
        shared.adopted = True
        circuit = self._circuits.get(key)
        if verdict.open:
            if circuit is None:
                if len(self._circuits) >= self.config.max_keys:
                    self._evict()
                circuit = self._circuits[key] = Circuit(self.config)
                circuit.last_used = next(self._uses)
            if circuit.forced:
                return None  # manual control wins over the fleet
            shared.governed = True
            shared.leases.extend((lease, now) for lease in verdict.granted)
            old = circuit.state
            _follow_opening(circuit, now, verdict)
            return None if old is _OPEN else StateChange(key, old, _OPEN)
        following, shared.governed = shared.governed, False
        if following and circuit is not None and circuit.state is not _CLOSED:
            if circuit.forced:
                return None
            old = circuit.state
            circuit.reset()
            return StateChange(key, old, _CLOSED)
        return None

    def _share_watch(self, keys: Sequence[str]) -> None:
        """Poll ``keys`` (circuits the fleet has open) as if this process had just used them."""
        with self._lock:
            until = self._clock() + ACTIVE_FOR
            for key in keys:
                shared = self._entry(key)
                shared.active_until = max(shared.active_until, until)

    def _share_lost(self) -> None:
        """Follow the local rules alone: the store went local-only."""
        with self._lock:
            for shared in self._shared.values():
                shared.governed = False
                shared.adopted = False
                shared.void_leases()
                shared.returned = []
                shared.results = []
            self._failing.clear()

    def _rejection(
        self,
        key: str,
        circuit: Circuit,
        retry_after: float,
        now: float,
        error: type[CircuitOpenError] = CircuitOpenError,
    ) -> CircuitOpenError:
        opened_at = None
        if circuit.opened_at is not None:
            opened_at = self._wall() - (now - circuit.opened_at)
        return error(key, retry_after, opened_by=circuit.opened_by, opened_at=opened_at)

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
