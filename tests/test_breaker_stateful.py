"""The circuit breaker against a plain model: any sequence of calls, outcomes and waits.

Calls may end in any order, long after they were let out: late outcomes of an older
generation, and probes that hang past their permit's expiry, are part of every run.
"""

from __future__ import annotations

import math

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from retrykit import BreakerState, CircuitBreaker, CircuitOpenError, Ticket
from retrykit._core._breaker import HALF_OPEN_RETRY_AFTER

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
KEYS = ("a", "b")

Change = tuple[str, BreakerState, BreakerState]


class ModelCircuit:
    """One circuit, written the slow, obvious way: every outcome is kept in a list."""

    def __init__(self) -> None:
        self.state = CLOSED
        self.generation = 0
        self.run_of_failures = 0
        self.opened_at = 0.0
        self.openings = 0
        self.break_seconds = 0.0
        self.permits: dict[int, float] = {}  # permit number -> when it was handed out
        self.next_permit = 1
        self.probe_successes = 0
        self.outcomes: list[tuple[float, bool]] = []  # (time, failed), rate mode


ModelTicket = tuple[int, int]  # (generation, permit number or 0)


class Model:
    """The rules of retrykit._core._breaker, restated."""

    def __init__(self, settings: dict[str, float | int | None]) -> None:
        self.settings = settings
        self.circuits: dict[str, ModelCircuit] = {key: ModelCircuit() for key in KEYS}
        self.changes: list[Change] = []

    @property
    def recovery(self) -> float:
        return float(self.settings["recovery_timeout"] or 0)

    def _set(self, key: str, new: BreakerState) -> None:
        circuit = self.circuits[key]
        self.changes.append((key, circuit.state, new))
        circuit.state = new
        circuit.generation += 1
        circuit.run_of_failures = 0
        circuit.permits = {}
        circuit.probe_successes = 0
        circuit.outcomes = []

    def state(self, key: str, now: float) -> BreakerState:
        circuit = self.circuits[key]
        if circuit.state is OPEN and now >= circuit.opened_at + circuit.break_seconds:
            return HALF_OPEN
        return circuit.state

    def allow(self, key: str, now: float) -> tuple[float | None, ModelTicket | None]:
        circuit = self.circuits[key]
        if circuit.state is CLOSED:
            return None, (circuit.generation, 0)
        if circuit.state is OPEN:
            if now < circuit.opened_at + circuit.break_seconds:
                return circuit.opened_at + circuit.break_seconds - now, None
            self._set(key, HALF_OPEN)
        live = {p: t for p, t in circuit.permits.items() if now - t < self.recovery}
        circuit.permits = live
        if len(live) >= (self.settings["half_open_max_calls"] or 0):
            return min(HALF_OPEN_RETRY_AFTER, self.recovery), None
        permit = circuit.next_permit
        circuit.next_permit += 1
        circuit.permits[permit] = now
        return None, (circuit.generation, permit)

    def record(self, key: str, ticket: ModelTicket, now: float, *, failed: bool) -> None:
        circuit = self.circuits[key]
        generation, permit = ticket
        if generation != circuit.generation:
            return  # admitted before the last change of state: a late outcome
        if circuit.state is HALF_OPEN:
            if permit not in circuit.permits:
                return  # a lapsed permit (a hung probe) or a CLOSED ticket
            del circuit.permits[permit]
            if failed:
                self._open(key, now)
            else:
                circuit.probe_successes += 1
                if circuit.probe_successes == self.settings["success_threshold"]:
                    circuit.openings = 0
                    self._set(key, CLOSED)
            return
        if circuit.state is not CLOSED:
            return
        circuit.outcomes.append((now, failed))
        circuit.run_of_failures = circuit.run_of_failures + 1 if failed else 0
        if failed and self._should_open(circuit, now):
            self._open(key, now)

    def _should_open(self, circuit: ModelCircuit, now: float) -> bool:
        rate = self.settings["failure_rate"]
        if rate is None:
            return circuit.run_of_failures >= (self.settings["failure_threshold"] or 0)
        width = float(self.settings["window"] or 0) / 10
        current = math.floor(now / width)
        recent = [failed for t, failed in circuit.outcomes if math.floor(t / width) > current - 10]
        return len(recent) >= (self.settings["minimum_calls"] or 0) and (
            sum(recent) / len(recent) >= rate
        )

    def _open(self, key: str, now: float) -> None:
        circuit = self.circuits[key]
        circuit.openings += 1
        # Each opening in a row doubles the break, up to the 300 s default ceiling.
        circuit.break_seconds = min(300.0, self.recovery * 2 ** (circuit.openings - 1))
        circuit.opened_at = now
        self._set(key, OPEN)

    def release(self, key: str, ticket: ModelTicket) -> None:
        circuit = self.circuits[key]
        generation, permit = ticket
        if generation == circuit.generation and circuit.state is HALF_OPEN:
            circuit.permits.pop(permit, None)


class BreakerMachine(RuleBasedStateMachine):
    """Drives a CircuitBreaker and the model with the same steps and compares them."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.changes: list[Change] = []
        self.model = Model({})
        self.breaker = CircuitBreaker()

    @initialize(
        failure_threshold=st.integers(1, 3),
        recovery_timeout=st.sampled_from([0.5, 1.0, 3.0]),
        half_open_max_calls=st.integers(1, 2),
        success_threshold=st.integers(1, 3),
        failure_rate=st.sampled_from([None, None, 0.5, 1.0]),
        minimum_calls=st.integers(1, 4),
        window=st.sampled_from([1.0, 2.0, 5.0]),
    )
    def configure(  # noqa: PLR0917 - hypothesis passes the drawn settings by keyword
        self,
        failure_threshold: int,
        recovery_timeout: float,
        half_open_max_calls: int,
        success_threshold: int,
        failure_rate: float | None,
        minimum_calls: int,
        window: float,
    ) -> None:
        settings: dict[str, float | int | None] = {
            "failure_threshold": failure_threshold,
            "recovery_timeout": recovery_timeout,
            "half_open_max_calls": half_open_max_calls,
            "success_threshold": success_threshold,
            "failure_rate": failure_rate,
            "minimum_calls": minimum_calls,
            "window": window,
        }
        self.model = Model(settings)
        self.breaker = CircuitBreaker(
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            failure_rate=failure_rate,
            minimum_calls=minimum_calls,
            window=window,
            clock=lambda: self.now,
            on_state_change=lambda *change: self.changes.append(change),
        )

    calls = Bundle("calls")

    @rule(seconds=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.5, 7.0]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @rule(target=calls, key=st.sampled_from(KEYS))
    def allow(self, key: str) -> tuple[str, ModelTicket, Ticket] | None:
        expected, model_ticket = self.model.allow(key, self.now)
        rejected: CircuitOpenError | None = None
        ticket: Ticket | None = None
        try:
            ticket = self.breaker.allow(key)
        except CircuitOpenError as error:
            rejected = error
        if rejected is not None or ticket is None:
            assert rejected is not None
            assert expected is not None, "rejected a call the model lets through"
            assert rejected.key == key
            assert math.isclose(rejected.retry_after, expected)
            assert rejected.retry_after > 0
            return None
        assert expected is None, "let through a call the model rejects"
        assert model_ticket is not None
        return key, model_ticket, ticket

    # Any call still out may end at any later time: a late outcome, or a probe that hung
    # past its permit's expiry, is drawn as often as a prompt one.
    @rule(call=consumes(calls))
    def succeed(self, call: tuple[str, ModelTicket, Ticket] | None) -> None:
        if call is not None:
            key, model_ticket, ticket = call
            self.model.record(key, model_ticket, self.now, failed=False)
            self.breaker.record_success(key, ticket)

    @rule(call=consumes(calls))
    def fail(self, call: tuple[str, ModelTicket, Ticket] | None) -> None:
        if call is not None:
            key, model_ticket, ticket = call
            self.model.record(key, model_ticket, self.now, failed=True)
            self.breaker.record_failure(key, ticket, 503)

    @rule(call=consumes(calls))
    def release(self, call: tuple[str, ModelTicket, Ticket] | None) -> None:
        if call is not None:
            key, model_ticket, ticket = call
            self.model.release(key, model_ticket)
            self.breaker.release(key, ticket)

    @invariant()
    def same_states_and_changes(self) -> None:
        for key in KEYS:
            assert self.breaker.state(key) is self.model.state(key, self.now)
        assert self.changes == self.model.changes

    @invariant()
    def probes_within_the_limit(self) -> None:
        for key in KEYS:
            snapshot = self.breaker.snapshot(key)
            assert snapshot.probes <= (self.model.settings.get("half_open_max_calls") or 2)


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBreakerAgainstModel = BreakerMachine.TestCase
