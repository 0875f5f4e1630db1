"""The circuit breaker: transitions, probes, rate mode, eviction, listeners, guard, threads."""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import random
import threading
import time
from typing import Any

import pytest

from retrykit import BreakerState, CircuitBreaker, CircuitOpenError, FailureKind, RetrykitError
from retrykit._core._breaker import HALF_OPEN_RETRY_AFTER, BreakerConfig

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

Change = tuple[str, BreakerState, BreakerState]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    return CircuitBreaker(clock=clock, **kwargs)


def fail(breaker: CircuitBreaker, key: str, times: int) -> None:
    for _ in range(times):
        breaker.record_failure(key, breaker.allow(key), 503)


def succeed(breaker: CircuitBreaker, key: str) -> None:
    breaker.record_success(key, breaker.allow(key))


def open_circuit(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0, **kwargs)
    fail(breaker, "k", 3)
    assert breaker.state("k") is OPEN
    return breaker


def rejection(breaker: CircuitBreaker, key: str) -> CircuitOpenError:
    with pytest.raises(CircuitOpenError) as info:
        breaker.allow(key)
    return info.value


# --- consecutive mode -------------------------------------------------------------------


def test_unknown_key_is_closed_and_allowed() -> None:
    """A key never seen before lets calls through."""
    breaker = make(FakeClock())
    assert breaker.state("new") is CLOSED
    breaker.allow("new")


def test_threshold_consecutive_failures_open() -> None:
    """failure_threshold failures in a row open the circuit, one fewer does not."""
    breaker = make(FakeClock(), failure_threshold=3)
    fail(breaker, "k", 2)
    assert breaker.state("k") is CLOSED
    fail(breaker, "k", 1)
    assert breaker.state("k") is OPEN


def test_success_resets_the_run_of_failures() -> None:
    """A success between failures means they are not consecutive."""
    breaker = make(FakeClock(), failure_threshold=3)
    fail(breaker, "k", 2)
    succeed(breaker, "k")
    fail(breaker, "k", 2)
    assert breaker.state("k") is CLOSED


def test_circuits_are_per_key() -> None:
    """Failures of one key never open another key's circuit."""
    breaker = make(FakeClock(), failure_threshold=2)
    fail(breaker, "a", 2)
    assert breaker.state("a") is OPEN
    assert breaker.state("b") is CLOSED
    breaker.allow("b")


def test_open_rejects_with_time_to_next_probe() -> None:
    """An open circuit raises CircuitOpenError carrying the key and the seconds left."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(4.0)
    error = rejection(breaker, "k")
    assert error.key == "k"
    assert error.retry_after == pytest.approx(6.0)


def test_admit_returns_what_allow_raises_and_hands_out_the_same_tickets() -> None:
    """`admit` is `allow` without the raise: the refusal comes back, the probe permit too."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    refusal = breaker.admit("k")
    assert isinstance(refusal, CircuitOpenError)
    assert refusal.retry_after == rejection(breaker, "k").retry_after
    assert isinstance(breaker.admit("healthy"), tuple)  # a Ticket: no circuit, no refusal
    clock.advance(10.0)
    probe = breaker.admit("k")
    assert not isinstance(probe, CircuitOpenError)
    assert probe.is_probe
    assert isinstance(breaker.admit("k"), CircuitOpenError)  # the one permit is out
    breaker.record_success("k", probe)
    assert breaker.state("k") is BreakerState.CLOSED


def test_circuit_open_error_is_a_picklable_retrykit_error() -> None:
    """CircuitOpenError can be caught as RetrykitError and survives pickling."""
    error = CircuitOpenError("https://api.example:443", 2.5)
    assert isinstance(error, RetrykitError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.key, copy.retry_after) == ("https://api.example:443", 2.5)


def test_outcomes_recorded_while_open_are_ignored() -> None:
    """Late outcomes of calls that went out before the circuit opened change nothing."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0)
    early = [breaker.allow("k") for _ in range(2)]
    fail(breaker, "k", 3)
    clock.advance(5.0)
    breaker.record_success("k", early[0])
    breaker.record_failure("k", early[1])
    assert breaker.state("k") is OPEN
    assert rejection(breaker, "k").retry_after == pytest.approx(5.0)


def test_half_open_after_recovery_timeout() -> None:
    """Once recovery_timeout has passed, the circuit is HALF_OPEN."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(9.999)
    assert breaker.state("k") is OPEN
    clock.advance(0.001)
    assert breaker.state("k") is HALF_OPEN


def test_probe_success_closes() -> None:
    """A successful probe closes the circuit, and it starts with no failures counted."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(10.0)
    succeed(breaker, "k")
    assert breaker.state("k") is CLOSED
    fail(breaker, "k", 2)
    assert breaker.state("k") is CLOSED


def test_probe_failure_reopens_for_a_longer_break() -> None:
    """One failed probe opens the circuit again, for twice the last break."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(10.0)
    fail(breaker, "k", 1)
    assert breaker.state("k") is OPEN
    assert rejection(breaker, "k").retry_after == pytest.approx(20.0)


def test_half_open_limits_probes_in_flight() -> None:
    """Beyond half_open_max_calls probes at a time, calls are rejected with a short wait."""
    clock = FakeClock()
    breaker = open_circuit(clock, half_open_max_calls=2)
    clock.advance(10.0)
    breaker.allow("k")
    breaker.allow("k")
    error = rejection(breaker, "k")
    assert error.retry_after == HALF_OPEN_RETRY_AFTER


def test_half_open_wait_never_exceeds_recovery_timeout() -> None:
    """With a recovery_timeout under a second, a full half-open circuit says to wait that."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, recovery_timeout=0.25)
    fail(breaker, "k", 1)
    clock.advance(0.25)
    breaker.allow("k")
    assert rejection(breaker, "k").retry_after == 0.25


def test_release_returns_a_probe_permit() -> None:
    """A released probe permit lets the next caller probe, and records no outcome."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(10.0)
    probe = breaker.allow("k")
    rejection(breaker, "k")
    breaker.release("k", probe)
    assert breaker.state("k") is HALF_OPEN
    breaker.allow("k")


def test_release_on_closed_circuit_is_a_no_op() -> None:
    """release() on a closed or unknown circuit does nothing."""
    breaker = make(FakeClock())
    breaker.release("unknown", breaker.allow("unknown"))
    fail(breaker, "k", 1)
    breaker.release("k", breaker.allow("k"))
    assert breaker.state("k") is CLOSED


def test_success_threshold_needs_that_many_probe_successes() -> None:
    """With success_threshold=3, the circuit closes on the third probe success only."""
    clock = FakeClock()
    breaker = open_circuit(clock, success_threshold=3)
    clock.advance(10.0)
    for _ in range(2):
        succeed(breaker, "k")
        assert breaker.state("k") is HALF_OPEN
    succeed(breaker, "k")
    assert breaker.state("k") is CLOSED


def test_probe_failure_after_some_successes_reopens() -> None:
    """Probe successes short of success_threshold do not survive a probe failure."""
    clock = FakeClock()
    breaker = open_circuit(clock, success_threshold=2)
    clock.advance(10.0)
    succeed(breaker, "k")
    fail(breaker, "k", 1)
    assert breaker.state("k") is OPEN
    clock.advance(20.0)
    succeed(breaker, "k")
    assert breaker.state("k") is HALF_OPEN


def test_outcome_without_probe_permit_is_ignored_in_half_open() -> None:
    """In HALF_OPEN only calls holding a probe permit move the circuit."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0)
    early = [breaker.allow("k") for _ in range(2)]
    fail(breaker, "k", 3)
    clock.advance(10.0)
    assert breaker.state("k") is HALF_OPEN
    breaker.record_failure("k", early[0])
    breaker.record_success("k", early[1])
    assert breaker.state("k") is HALF_OPEN


def test_concurrent_callers_get_at_most_the_probe_limit() -> None:
    """Of many threads calling allow() at once on a half-open circuit, exactly the limit pass."""
    clock = FakeClock()
    breaker = open_circuit(clock, half_open_max_calls=3)
    clock.advance(10.0)
    threads_count = 16
    barrier = threading.Barrier(threads_count)
    allowed: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            breaker.allow("k")
        except CircuitOpenError:
            ok = False
        else:
            ok = True
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=call) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 3
    assert allowed.count(False) == threads_count - 3


# --- rate mode --------------------------------------------------------------------------


def rate_breaker(clock: FakeClock, **kwargs: Any) -> CircuitBreaker:
    settings: dict[str, Any] = {"failure_rate": 0.5, "minimum_calls": 10, "window": 10.0}
    settings.update(kwargs)
    return make(clock, **settings)


def record(breaker: CircuitBreaker, key: str, *, successes: int, failures: int) -> None:
    for _ in range(successes):
        succeed(breaker, key)
    fail(breaker, key, failures)


def test_rate_mode_waits_for_minimum_calls() -> None:
    """Below minimum_calls even 100 % failures (more than failure_threshold) keep it closed."""
    breaker = rate_breaker(FakeClock())
    fail(breaker, "k", 9)
    assert breaker.state("k") is CLOSED
    fail(breaker, "k", 1)
    assert breaker.state("k") is OPEN


def test_rate_mode_opens_when_the_ratio_reaches_the_rate() -> None:
    """With enough calls, failures reaching failure_rate of them open the circuit."""
    breaker = rate_breaker(FakeClock())
    record(breaker, "k", successes=10, failures=9)
    assert breaker.state("k") is CLOSED
    record(breaker, "k", successes=0, failures=1)
    assert breaker.state("k") is OPEN


def test_rate_mode_stays_closed_below_the_rate() -> None:
    """Failures below failure_rate never open the circuit, however many there are."""
    breaker = rate_breaker(FakeClock())
    for _ in range(50):
        record(breaker, "k", successes=2, failures=1)
    assert breaker.state("k") is CLOSED


def test_rate_mode_forgets_outcomes_after_the_window() -> None:
    """Outcomes older than the window no longer count towards minimum_calls or the ratio."""
    clock = FakeClock(0.0)
    breaker = rate_breaker(clock)
    fail(breaker, "k", 9)
    clock.advance(10.0)
    fail(breaker, "k", 9)
    assert breaker.state("k") is CLOSED


def test_rate_mode_counts_outcomes_inside_the_window() -> None:
    """Outcomes 9 s apart in a 10 s window are counted together."""
    clock = FakeClock(0.0)
    breaker = rate_breaker(clock)
    fail(breaker, "k", 5)
    clock.advance(9.0)
    fail(breaker, "k", 5)
    assert breaker.state("k") is OPEN


def test_rate_mode_success_rates_expire_too() -> None:
    """Old successes stop diluting the ratio once they leave the window."""
    clock = FakeClock(0.0)
    breaker = rate_breaker(clock)
    record(breaker, "k", successes=30, failures=0)
    clock.advance(10.0)
    record(breaker, "k", successes=5, failures=5)
    assert breaker.state("k") is OPEN


def test_rate_mode_closed_circuit_starts_afresh() -> None:
    """After a recovery, failures from before the circuit opened are forgotten."""
    clock = FakeClock(0.0)
    breaker = rate_breaker(clock, recovery_timeout=1.0)
    fail(breaker, "k", 10)
    clock.advance(1.0)
    succeed(breaker, "k")
    fail(breaker, "k", 9)
    assert breaker.state("k") is CLOSED


# --- eviction -----------------------------------------------------------------------------


def test_least_recently_used_circuit_is_evicted() -> None:
    """With max_keys circuits kept, a new key evicts the one unused for longest."""
    breaker = make(FakeClock(), failure_threshold=1, max_keys=2)
    fail(breaker, "a", 1)
    fail(breaker, "b", 1)
    rejection(breaker, "a")  # uses "a" again, so "b" is now the least recently used
    fail(breaker, "c", 1)
    assert breaker.state("a") is OPEN
    assert breaker.state("b") is CLOSED  # evicted: forgotten, so closed again


def test_number_of_circuits_never_exceeds_max_keys() -> None:
    """However many keys are used, at most max_keys circuits are kept."""
    breaker = make(FakeClock(), max_keys=50)
    for index in range(1000):
        fail(breaker, f"key-{index}", 1)
        assert len(breaker._circuits) <= 50


def test_the_hot_key_survives_a_stream_of_new_keys() -> None:
    """A key used between every new key is never evicted."""
    breaker = make(FakeClock(), failure_threshold=1, max_keys=3)
    fail(breaker, "hot", 1)
    for index in range(100):
        fail(breaker, f"cold-{index}", 1)
        rejection(breaker, "hot")
    assert breaker.state("hot") is OPEN


# --- listeners --------------------------------------------------------------------------


def test_on_state_change_sees_every_transition_in_order() -> None:
    """on_state_change gets (key, old, new) for each change: open, half-open, close."""
    clock = FakeClock()
    changes: list[Change] = []
    breaker = make(
        clock,
        failure_threshold=1,
        recovery_timeout=5.0,
        on_state_change=lambda *change: changes.append(change),
    )
    fail(breaker, "k", 1)
    clock.advance(5.0)
    succeed(breaker, "k")
    assert changes == [("k", CLOSED, OPEN), ("k", OPEN, HALF_OPEN), ("k", HALF_OPEN, CLOSED)]


def test_add_listener_receives_later_changes() -> None:
    """A listener added with add_listener is called alongside on_state_change."""
    first: list[Change] = []
    second: list[Change] = []
    breaker = make(FakeClock(), failure_threshold=1, on_state_change=lambda *c: first.append(c))
    breaker.add_listener(lambda *change: second.append(change))
    fail(breaker, "k", 1)
    assert first == second == [("k", CLOSED, OPEN)]


def test_a_listener_that_raises_never_reaches_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing listener is logged; the call, and the other listeners, go on."""
    seen: list[Change] = []

    def broken(key: str, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("listener bug")

    breaker = make(FakeClock(), failure_threshold=1, on_state_change=broken)
    breaker.add_listener(lambda *change: seen.append(change))
    with caplog.at_level(logging.ERROR, logger="retrykit.breaker"):
        fail(breaker, "k", 1)
    assert seen == [("k", CLOSED, OPEN)]
    assert "listener" in caplog.text
    assert "RuntimeError" in caplog.text


def test_a_listener_may_call_back_into_the_breaker() -> None:
    """Listeners run outside the lock, so they can query or update the breaker."""
    states: list[BreakerState] = []
    breaker = make(FakeClock(), failure_threshold=1)

    def on_change(key: str, old: BreakerState, new: BreakerState) -> None:
        states.append(breaker.state(key))

    breaker.add_listener(on_change)
    fail(breaker, "k", 1)
    assert states == [OPEN]


# --- guard ------------------------------------------------------------------------------


def test_guard_records_success() -> None:
    """A block that returns counts as a success and resets the run of failures."""
    breaker = make(FakeClock(), failure_threshold=2)
    fail(breaker, "k", 1)
    with breaker.guard("k"):
        pass
    fail(breaker, "k", 1)
    assert breaker.state("k") is CLOSED


def test_guard_records_an_exception_as_failure_and_reraises() -> None:
    """A block that raises counts as a failure, and the exception propagates."""
    breaker = make(FakeClock(), failure_threshold=1)
    with pytest.raises(ValueError, match="boom"), breaker.guard("k"):
        raise ValueError("boom")
    assert breaker.state("k") is OPEN


def test_guard_failure_predicate_can_excuse_an_exception() -> None:
    """An exception the failure predicate rejects counts as a success."""
    breaker = make(FakeClock(), failure_threshold=1)
    guard = breaker.guard("k", failure=lambda exc: not isinstance(exc, KeyError))
    with pytest.raises(KeyError), guard:
        raise KeyError("not the server's fault")
    assert breaker.state("k") is CLOSED


def test_guard_rejects_before_running_the_block() -> None:
    """On an open circuit the block never runs."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    ran = []
    with pytest.raises(CircuitOpenError), breaker.guard("k"):
        ran.append(True)
    assert ran == []


def test_guard_releases_the_probe_on_base_exception() -> None:
    """A KeyboardInterrupt in a probe gives its permit back instead of counting."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(10.0)
    with pytest.raises(KeyboardInterrupt), breaker.guard("k"):
        raise KeyboardInterrupt
    assert breaker.state("k") is HALF_OPEN
    breaker.allow("k")


def test_guard_decorates_a_function() -> None:
    """@breaker.guard(key) guards every call of a function and keeps its metadata."""
    breaker = make(FakeClock(), failure_threshold=2)

    @breaker.guard("payments")
    def charge(amount: int) -> int:
        """Charge."""
        if amount < 0:
            raise ValueError(amount)
        return amount

    assert charge(5) == 5
    assert charge.__name__ == "charge"
    for _ in range(2):
        with pytest.raises(ValueError, match="-1"):
            charge(-1)
    with pytest.raises(CircuitOpenError):
        charge(5)


def test_guard_decorates_a_coroutine_function() -> None:
    """@breaker.guard(key) on an async def guards the awaited call, not its creation."""
    breaker = make(FakeClock(), failure_threshold=1)

    @breaker.guard("k")
    async def fetch() -> str:
        await asyncio.sleep(0)
        raise ConnectionError

    with pytest.raises(ConnectionError):
        asyncio.run(fetch())
    assert breaker.state("k") is OPEN


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"failure_threshold": 1.5},
        {"failure_threshold": True},
        {"half_open_max_calls": 0},
        {"success_threshold": 0},
        {"minimum_calls": 0},
        {"max_keys": 0},
        {"recovery_timeout": 0},
        {"recovery_timeout": -1.0},
        {"recovery_timeout": float("inf")},
        {"recovery_timeout": float("nan")},
        {"window": 0},
        {"failure_rate": 0.0},
        {"failure_rate": 1.01},
        {"failure_rate": float("nan")},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    """Out-of-range settings raise ValueError when the breaker is built."""
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the setting; checked below
        CircuitBreaker(**kwargs)


def test_invalid_setting_error_names_it() -> None:
    """The error message says which setting was wrong."""
    with pytest.raises(ValueError, match="half_open_max_calls"):
        BreakerConfig(half_open_max_calls=0)


def test_non_numeric_timeout_is_a_type_error() -> None:
    """A timeout that is not a number raises TypeError."""
    with pytest.raises(TypeError, match="recovery_timeout"):
        CircuitBreaker(recovery_timeout="30")  # type: ignore[arg-type]


# --- threads ------------------------------------------------------------------------------


class TickingClock:
    """A clock that moves forward by ``step`` each time it is read, safe across threads."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            self.now += self.step
            return self.now


def test_32_threads_hammering_one_breaker() -> None:
    """Under 32 threads no call errors, probes stay within limit, changes chain up in order."""
    changes: list[Change] = []
    breaker = CircuitBreaker(
        failure_threshold=3,
        recovery_timeout=0.5,
        half_open_max_calls=2,
        success_threshold=2,
        clock=TickingClock(0.001),
        on_state_change=lambda *change: changes.append(change),
    )
    per_thread = 500
    counts = {"allowed": 0, "rejected": 0}
    errors: list[BaseException] = []
    counts_lock = threading.Lock()

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        allowed = rejected = 0
        try:
            for _ in range(per_thread):
                try:
                    ticket = breaker.allow("k")
                except CircuitOpenError:
                    rejected += 1
                    continue
                allowed += 1
                circuit = breaker._circuits.get("k")
                assert circuit is None or len(circuit.probes) <= 2
                roll = rng.random()
                if roll < 0.6:
                    breaker.record_success("k", ticket)
                elif roll < 0.95:
                    breaker.record_failure("k", ticket)
                else:
                    breaker.release("k", ticket)
        except BaseException as exc:
            errors.append(exc)
        with counts_lock:
            counts["allowed"] += allowed
            counts["rejected"] += rejected

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counts["allowed"] + counts["rejected"] == 32 * per_thread
    assert counts["rejected"] > 0
    assert changes, "the circuit should have opened at least once"
    assert changes[0][1] is CLOSED
    for previous, following in itertools.pairwise(changes):
        assert previous[2] is following[1]
    circuit = breaker._circuits["k"]
    assert circuit.state is changes[-1][2]
    assert 0 <= len(circuit.probes) <= 2


def test_rate_mode_counts_every_outcome_under_threads() -> None:
    """32 threads recording outcomes lose none of them from the window."""
    clock = FakeClock(0.0)
    breaker = CircuitBreaker(failure_rate=1.0, minimum_calls=10**9, clock=clock)
    per_thread = 300

    def record_outcomes(seed: int) -> None:
        for index in range(per_thread):
            ticket = breaker.allow("k")
            if (index + seed) % 3:
                breaker.record_success("k", ticket)
            else:
                breaker.record_failure("k", ticket)

    threads = [threading.Thread(target=record_outcomes, args=(seed,)) for seed in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = breaker._circuits["k"].outcomes
    assert outcomes is not None
    calls, failures = outcomes.sums(0.0)
    assert calls == 32 * per_thread
    assert failures == sum(
        1 for seed in range(32) for index in range(per_thread) if not (index + seed) % 3
    )


def test_breaker_pickles_its_settings_not_its_state() -> None:
    """A pickled breaker (inside a pickled Session) keeps its settings and starts closed."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=7.0)
    fail(breaker, "k", 1)
    copy = pickle.loads(pickle.dumps(breaker))  # noqa: S301 - our own data
    assert copy.config == breaker.config
    assert copy.state("k") is BreakerState.CLOSED


# --- breaks that grow, probes that expire, late outcomes (issue 13) ------------------------


def test_each_reopening_doubles_the_break_up_to_the_maximum() -> None:
    """A failed probe doubles the break: 10, 20, 40 s..., never past max_recovery_timeout."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, recovery_timeout=10.0, max_recovery_timeout=35.0)
    fail(breaker, "k", 1)
    breaks = []
    for _ in range(4):
        breaks.append(rejection(breaker, "k").retry_after)
        clock.advance(breaks[-1])
        fail(breaker, "k", 1)  # the probe fails
    assert breaks == [10.0, 20.0, 35.0, 35.0]


def test_closing_resets_the_break() -> None:
    """After a successful probe the next opening breaks for recovery_timeout again."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, recovery_timeout=10.0)
    fail(breaker, "k", 1)
    clock.advance(10.0)
    fail(breaker, "k", 1)  # a failed probe: the break is now 20 s
    clock.advance(20.0)
    succeed(breaker, "k")
    fail(breaker, "k", 1)
    assert rejection(breaker, "k").retry_after == pytest.approx(10.0)


def test_break_duration_function_computes_the_break() -> None:
    """break_duration(openings) replaces the doubling; a broken result falls back safely."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, break_duration=lambda n: 7.0 * n)
    fail(breaker, "k", 1)
    assert rejection(breaker, "k").retry_after == pytest.approx(7.0)
    clock.advance(7.0)
    fail(breaker, "k", 1)
    assert rejection(breaker, "k").retry_after == pytest.approx(14.0)
    broken = make(clock, failure_threshold=1, recovery_timeout=5.0, break_duration=lambda n: -1.0)
    fail(broken, "k", 1)
    assert rejection(broken, "k").retry_after == pytest.approx(5.0)


def test_a_hung_probe_lapses_and_a_new_probe_may_go() -> None:
    """A probe with no outcome after recovery_timeout no longer blocks the origin."""
    clock = FakeClock()
    breaker = open_circuit(clock)
    clock.advance(10.0)
    hung = breaker.allow("k")
    assert hung.is_probe
    rejection(breaker, "k")  # the probe is out: others wait
    clock.advance(9.9)
    rejection(breaker, "k")
    clock.advance(0.1)  # recovery_timeout after the probe left: its permit lapses
    fresh = breaker.allow("k")
    assert fresh.is_probe
    breaker.record_failure("k", hung, 503)  # the hung probe's late outcome is ignored
    assert breaker.state("k") is HALF_OPEN
    breaker.record_success("k", fresh)
    assert breaker.state("k") is CLOSED


def test_a_late_failure_never_reopens_a_circuit_whose_probe_is_out() -> None:
    """A slow call admitted while CLOSED fails while the probe is out: nothing moves."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0)
    slow = breaker.allow("k")
    fail(breaker, "k", 3)
    clock.advance(10.0)
    probe = breaker.allow("k")
    breaker.record_failure("k", slow, 503)
    assert breaker.state("k") is HALF_OPEN
    breaker.record_success("k", probe)
    assert breaker.state("k") is CLOSED


def test_a_late_success_never_frees_the_probes_permit() -> None:
    """With half_open_max_calls=1, a late success does not let a second probe out."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0)
    slow = breaker.allow("k")
    fail(breaker, "k", 3)
    clock.advance(10.0)
    breaker.allow("k")
    breaker.record_success("k", slow)
    rejection(breaker, "k")


def test_force_open_holds_until_reset() -> None:
    """force_open rejects every call, however long; reset closes and forgets the counts."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3)
    fail(breaker, "k", 2)
    breaker.force_open("k")
    clock.advance(10_000.0)
    assert rejection(breaker, "k").opened_by == "forced"
    assert breaker.snapshot("k").forced
    breaker.reset("k")
    assert breaker.state("k") is CLOSED
    fail(breaker, "k", 2)
    assert breaker.state("k") is CLOSED


def test_rejection_says_what_opened_the_circuit_and_when() -> None:
    """CircuitOpenError carries the failure that tripped the circuit and its Unix time."""
    clock = FakeClock(now=500.0)
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    breaker.record_failure("k", breaker.allow("k"), FailureKind.CONNECT)
    error = rejection(breaker, "k")
    assert error.opened_by == "connect"
    assert error.opened_at is not None
    assert abs(error.opened_at - time.time()) < 60
    assert "opened by connect" in str(error)


def test_snapshot_reports_state_and_counts() -> None:
    """snapshot() and snapshots() show each circuit's state, counts and openings."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, recovery_timeout=10.0)
    fail(breaker, "k", 2)
    snapshot = breaker.snapshot("k")
    assert (snapshot.state, snapshot.failures, snapshot.openings) == (CLOSED, 2, 0)
    fail(breaker, "k", 1)
    opened = breaker.snapshots()["k"]
    assert (opened.state, opened.openings, opened.opened_by) == (OPEN, 1, 503)
    assert opened.retry_after == pytest.approx(10.0)
    assert breaker.snapshot("never-seen").state is CLOSED


def test_remove_listener_stops_the_calls() -> None:
    """A removed listener hears nothing more; removing an unknown one is a ValueError."""
    heard: list[Change] = []
    breaker = make(FakeClock(), failure_threshold=1)
    listener = lambda *change: heard.append(change)  # noqa: E731 - removed by identity below
    breaker.add_listener(listener)
    breaker.remove_listener(listener)
    fail(breaker, "k", 1)
    assert heard == []
    with pytest.raises(ValueError):  # noqa: PT011 - list.remove's own error
        breaker.remove_listener(listener)


def test_record_returns_the_change_it_caused() -> None:
    """The call that moves a circuit learns it from the return value, once."""
    clock = FakeClock()
    breaker = make(clock, failure_threshold=1, recovery_timeout=1.0)
    change = breaker.record_failure("k", breaker.allow("k"), 503)
    assert change == ("k", CLOSED, OPEN)
    clock.advance(1.0)
    probe = breaker.allow("k")
    assert probe.moved
    assert breaker.record_success("k", probe) == ("k", HALF_OPEN, CLOSED)
    assert breaker.record_success("k", breaker.allow("k")) is None


def test_a_healthy_host_gets_no_circuit() -> None:
    """Successes on a host that never failed create nothing: memory is for failing hosts."""
    breaker = make(FakeClock())
    for index in range(1000):
        breaker.record_success(f"host-{index}", breaker.allow(f"host-{index}"))
    assert breaker._circuits == {}


def test_counts_must_be_calls_or_attempts() -> None:
    """counts= accepts 'calls' or 'attempts' and names itself otherwise."""
    assert CircuitBreaker().config.counts == "calls"
    assert CircuitBreaker(counts="attempts").per_attempt
    with pytest.raises(ValueError, match="counts"):
        CircuitBreaker(counts="requests")
