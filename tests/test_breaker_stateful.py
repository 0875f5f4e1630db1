"""The circuit breaker against a plain model: any sequence of calls, outcomes and waits."""

from __future__ import annotations

import math

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from retrykit import BreakerState, CircuitBreaker, CircuitOpenError
from retrykit._core._breaker import HALF_OPEN_RETRY_AFTER

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
KEYS = ("a", "b")

Change = tuple[str, BreakerState, BreakerState]


class ModelCircuit:
    """One circuit, written the slow, obvious way: every outcome is kept in a list."""

    def __init__(self) -> None:
        self.state = CLOSED
        self.run_of_failures = 0
        self.opened_at = 0.0
        self.permits = 0
        self.probe_successes = 0
        self.outcomes: list[tuple[float, bool]] = []  # (time, failed), rate mode


class Model:
    """The rules of retrykit._core._breaker, restated."""

    def __init__(self, settings: dict[str, float | int | None]) -> None:
        self.settings = settings
        self.circuits: dict[str, ModelCircuit] = {key: ModelCircuit() for key in KEYS}
        self.changes: list[Change] = []

    def _set(self, key: str, new: BreakerState) -> None:
        circuit = self.circuits[key]
        self.changes.append((key, circuit.state, new))
        circuit.state = new
        circuit.run_of_failures = 0
        circuit.permits = 0
        circuit.probe_successes = 0
        circuit.outcomes = []

    def state(self, key: str, now: float) -> BreakerState:
        circuit = self.circuits[key]
        recovery = float(self.settings["recovery_timeout"] or 0)
        if circuit.state is OPEN and now >= circuit.opened_at + recovery:
            self._set(key, HALF_OPEN)
        return circuit.state

    def allow(self, key: str, now: float) -> float | None:
        state = self.state(key, now)
        circuit = self.circuits[key]
        recovery = float(self.settings["recovery_timeout"] or 0)
        if state is OPEN:
            return circuit.opened_at + recovery - now
        if state is HALF_OPEN:
            if circuit.permits == self.settings["half_open_max_calls"]:
                return min(HALF_OPEN_RETRY_AFTER, recovery)
            circuit.permits += 1
        return None

    def record(self, key: str, now: float, *, failed: bool) -> None:
        circuit = self.circuits[key]
        if circuit.state is HALF_OPEN and circuit.permits:
            circuit.permits -= 1
            if failed:
                self._open(key, now)
            else:
                circuit.probe_successes += 1
                if circuit.probe_successes == self.settings["success_threshold"]:
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
        self._set(key, OPEN)
        self.circuits[key].opened_at = now

    def release(self, key: str) -> None:
        circuit = self.circuits[key]
        if circuit.state is HALF_OPEN and circuit.permits:
            circuit.permits -= 1


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

    @rule(seconds=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.5]))
    def wait(self, seconds: float) -> None:
        self.now += seconds

    @rule(key=st.sampled_from(KEYS))
    def allow(self, key: str) -> None:
        expected = self.model.allow(key, self.now)
        rejected: CircuitOpenError | None = None
        try:
            self.breaker.allow(key)
        except CircuitOpenError as error:
            rejected = error
        if expected is None:
            assert rejected is None, "rejected a call the model lets through"
        else:
            assert rejected is not None, "let through a call the model rejects"
            assert rejected.key == key
            assert math.isclose(rejected.retry_after, expected)
            assert rejected.retry_after > 0

    @rule(key=st.sampled_from(KEYS))
    def succeed(self, key: str) -> None:
        self.model.record(key, self.now, failed=False)
        self.breaker.record_success(key)

    @rule(key=st.sampled_from(KEYS))
    def fail(self, key: str) -> None:
        self.model.record(key, self.now, failed=True)
        self.breaker.record_failure(key)

    @rule(key=st.sampled_from(KEYS))
    def release(self, key: str) -> None:
        self.model.release(key)
        self.breaker.release(key)

    @invariant()
    def same_states_and_changes(self) -> None:
        for key in KEYS:
            assert self.breaker.state(key) is self.model.state(key, self.now)
        assert self.changes == self.model.changes


BreakerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBreakerAgainstModel = BreakerMachine.TestCase
