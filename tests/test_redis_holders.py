"""The holders' side of a fleet store, driven by hand: no Redis, no thread, a fake clock.

`ScriptedStore` is a `FleetStore` that only keeps the members; each test plays the
syncer, calling ``report`` and ``adopt`` with the verdicts a fleet would give.
"""

from __future__ import annotations

import logging
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    FleetStore,
    RateLimiter,
    RetryBudget,
)
from retrykit._state._store import (
    CircuitMember,
    CircuitReport,
    CircuitVerdict,
    FleetRecord,
    MemberRecord,
    RecordMember,
    RecordReport,
    ReserveMember,
    ReserveReport,
)
from retrykit.testing import FakeClock

KEY = "https://api.example:443"
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class ScriptedStore:
    """A store that keeps its members for the test to drive, and counts wake-ups."""

    def __init__(self) -> None:
        self.circuits: list[CircuitMember] = []
        self.reserves: list[ReserveMember] = []
        self.records: list[RecordMember] = []
        self.wakes = 0
        self.left = 0

    def share_circuits(self, member: CircuitMember) -> ScriptedStore:
        self.circuits.append(member)
        return self

    def share_reserve(self, member: ReserveMember) -> ScriptedStore:
        self.reserves.append(member)
        return self

    def share_records(self, member: RecordMember) -> ScriptedStore:
        self.records.append(member)
        return self

    def wake(self) -> None:
        self.wakes += 1

    def leave(self) -> None:
        self.left += 1

    @property
    def circuit(self) -> CircuitMember:
        [member] = self.circuits
        return member

    def report(self, closing: bool = False) -> dict[str, CircuitReport]:
        return {report.key: report for report in self.circuit.report(closing)}

    def exchange(self, verdicts: dict[str, CircuitVerdict]) -> list[tuple[str, object, object]]:
        """One round: report, then adopt ``verdicts`` for the circuits reported."""
        reports = self.report()
        pairs = [(reports[key], verdict) for key, verdict in verdicts.items() if key in reports]
        return [(key, old, new) for key, old, new in self.circuit.adopt(pairs)]


def _opening(generation: int = 100, *, remaining: float = 30.0, **fields: object) -> CircuitVerdict:
    values: dict[str, object] = {
        "exists": True,
        "generation": generation,
        "open": True,
        "remaining": remaining,
        "break_seconds": 30.0,
        "openings": 1,
        "cause": "503",
    }
    values.update(fields)
    return CircuitVerdict(**values)  # type: ignore[arg-type]


def _closed(generation: int = 100, failures: int = 0) -> CircuitVerdict:
    return CircuitVerdict(exists=True, generation=generation, failures=failures)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> ScriptedStore:
    return ScriptedStore()


def _breaker(store: ScriptedStore, clock: FakeClock, **settings: object) -> CircuitBreaker:
    heard: list[tuple[str, BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(clock=clock, store=store, **settings)  # type: ignore[arg-type]
    breaker.add_listener(lambda key, old, new: heard.append((key, old, new)))
    breaker.heard = heard  # type: ignore[attr-defined]
    return breaker


def test_the_scripted_store_is_a_fleet_store(store: ScriptedStore) -> None:
    """The protocol is structural: any object with the three share methods is a store."""
    assert isinstance(store, FleetStore)


def test_store_must_be_a_fleet_store() -> None:
    """A wrong store= fails when the holder is built, naming the parameter."""
    with pytest.raises(TypeError, match="store must be a FleetStore"):
        CircuitBreaker(store=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="store must be a FleetStore"):
        RetryBudget(store="redis://")  # type: ignore[arg-type]


def test_healthy_calls_only_mark_the_key_used(store: ScriptedStore, clock: FakeClock) -> None:
    """10,000 successful calls leave one poll to send and wake the syncer never."""
    breaker = _breaker(store, clock)
    for _ in range(10_000):
        breaker.record_success(KEY, breaker.allow(KEY))
    assert store.report() == {KEY: CircuitReport(key=KEY)}
    assert store.wakes == 0
    assert breaker.snapshots() == {}  # still no circuit: a healthy host costs no memory


def test_failures_are_reported_once_and_wake_the_syncer(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """Each counted failure is in exactly one report, with its cause; each wakes the syncer."""
    breaker = _breaker(store, clock)
    for _ in range(3):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    first = store.report()[KEY]
    assert (first.failures, first.successes, first.trailing, first.cause) == (3, 0, 3, "503")
    assert store.wakes == 3
    assert store.report()[KEY].failures == 0


def test_a_success_after_failures_ends_the_reported_run(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """A report says how many failures followed its last success (the fleet's new run)."""
    breaker = _breaker(store, clock)
    for ok in (False, False, True, False):
        ticket = breaker.allow(KEY)
        if ok:
            breaker.record_success(KEY, ticket)
        else:
            breaker.record_failure(KEY, ticket, 503)
    report = store.report()[KEY]
    assert (report.failures, report.successes, report.trailing) == (3, 1, 1)


def test_successes_are_reported_while_the_fleet_has_a_run(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """A healthy process reports its successes only when the fleet has failures to end."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _closed(failures=3)})
    breaker.record_success(KEY, breaker.allow(KEY))
    assert store.report()[KEY].successes == 1
    store.exchange({KEY: _closed(failures=0)})
    breaker.record_success(KEY, breaker.allow(KEY))
    assert store.report()[KEY].successes == 0


def test_a_fleet_opening_opens_the_local_circuit_with_a_new_generation(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """The fleet's opening moves CLOSED to OPEN for the fleet's break; listeners hear it."""
    breaker = _breaker(store, clock)
    old_ticket = breaker.allow(KEY)
    breaker.record_failure(KEY, old_ticket, 503)
    changes = store.exchange({KEY: _opening(remaining=12.0)})
    assert changes == [(KEY, CLOSED, OPEN)]
    assert breaker.heard == [(KEY, CLOSED, OPEN)]  # type: ignore[attr-defined]
    with pytest.raises(CircuitOpenError) as caught:
        breaker.allow(KEY)
    assert caught.value.retry_after == pytest.approx(12.0)
    assert caught.value.opened_by == 503
    # The late outcome of a call admitted before the opening moves nothing.
    assert breaker.record_success(KEY, old_ticket) is None
    assert breaker.state(KEY) is OPEN


def test_an_open_local_circuit_takes_the_fleet_break_without_a_change(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """A circuit already OPEN aligns to the fleet's break; no change is reported twice."""
    breaker = _breaker(store, clock, failure_threshold=2)
    for _ in range(2):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    assert store.exchange({KEY: _opening(remaining=5.0)}) == []
    assert breaker.snapshot(KEY).retry_after == pytest.approx(5.0)


def test_the_fleet_closing_closes_a_following_circuit(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """A new CLOSED generation closes the circuit that followed the fleet's opening."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _opening(100)})
    assert store.exchange({KEY: _closed(101)}) == [(KEY, OPEN, CLOSED)]
    assert breaker.state(KEY) is CLOSED
    assert breaker.allow(KEY).generation == 2  # opened (1), closed (2): each a new generation


def test_the_fleet_never_closes_a_circuit_that_opened_on_its_own(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """A local opening the fleet did not share (min_reporters) keeps its own rules."""
    breaker = _breaker(store, clock, failure_threshold=2)
    store.exchange({KEY: _closed(100)})
    for _ in range(2):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    assert store.exchange({KEY: _closed(100, failures=2)}) == []
    assert store.exchange({KEY: _closed(105)}) == []
    assert breaker.state(KEY) is OPEN


def test_past_the_break_a_probe_needs_a_lease(store: ScriptedStore, clock: FakeClock) -> None:
    """Following the fleet, no probe goes without a lease; asking for one wakes the syncer."""
    breaker = _breaker(store, clock, recovery_timeout=10.0)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _opening(remaining=10.0, break_seconds=10.0)})
    clock.advance(10.0)
    assert breaker.state(KEY) is HALF_OPEN
    wakes = store.wakes
    with pytest.raises(CircuitOpenError) as caught:
        breaker.allow(KEY)
    assert caught.value.retry_after == 1.0
    assert store.wakes == wakes + 1
    report = store.report()[KEY]
    assert report.wanted == 1
    store.circuit.adopt([(report, _opening(remaining=0.0, granted=("me:1",)))])
    probe = breaker.allow(KEY)
    assert probe.is_probe
    assert probe.moved
    with pytest.raises(CircuitOpenError):
        breaker.allow(KEY)  # one lease, one probe
    assert breaker.record_success(KEY, probe) is not None
    assert store.report()[KEY].probes == (("me:1", True),)


def test_a_failed_probe_reports_its_lease_and_cause(store: ScriptedStore, clock: FakeClock) -> None:
    """A probe's failure goes back with its lease, and what failed it."""
    breaker = _breaker(store, clock, recovery_timeout=10.0)
    breaker.record_success(KEY, breaker.allow(KEY))
    report = store.report()[KEY]
    store.circuit.adopt([(report, _opening(remaining=0.0, granted=("me:7",)))])
    probe = breaker.allow(KEY)
    breaker.record_failure(KEY, probe, 502)
    report = store.report()[KEY]
    assert report.probes == (("me:7", False),)
    assert report.cause == "502"


def test_an_unused_lease_goes_back(store: ScriptedStore, clock: FakeClock) -> None:
    """A lease no call used within twice the HALF_OPEN wait is handed back."""
    breaker = _breaker(store, clock, recovery_timeout=10.0)
    breaker.record_success(KEY, breaker.allow(KEY))
    report = store.report()[KEY]
    store.circuit.adopt([(report, _opening(remaining=0.0, granted=("me:1",)))])
    clock.advance(1.0)
    assert store.report()[KEY].returned == ()
    clock.advance(1.0)
    assert store.report()[KEY].returned == ("me:1",)


def test_a_released_probe_gives_its_lease_back(store: ScriptedStore, clock: FakeClock) -> None:
    """A probe ended without an outcome returns its lease at once."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    report = store.report()[KEY]
    store.circuit.adopt([(report, _opening(remaining=0.0, granted=("me:3",)))])
    breaker.release(KEY, breaker.allow(KEY))
    assert store.report()[KEY].returned == ("me:3",)


def test_closing_the_store_returns_every_lease(store: ScriptedStore, clock: FakeClock) -> None:
    """A closing report hands back unused leases and asks for none."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    report = store.report()[KEY]
    store.circuit.adopt([(report, _opening(remaining=0.0, granted=("me:1",)))])
    assert store.report(closing=True)[KEY].returned == ("me:1",)


def test_a_lost_store_leaves_the_local_rules(store: ScriptedStore, clock: FakeClock) -> None:
    """Once the store is lost, a circuit past the fleet's break probes on its own."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _opening(remaining=1.0)})
    clock.advance(1.0)
    with pytest.raises(CircuitOpenError):
        breaker.allow(KEY)
    store.circuit.lost()
    assert breaker.allow(KEY).is_probe


def test_the_state_is_adopted_again_after_a_loss(store: ScriptedStore, clock: FakeClock) -> None:
    """After a loss the same fleet generation is adopted again: the circuit follows it."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _opening(100, remaining=1.0)})
    store.circuit.lost()
    store.exchange({KEY: _opening(100, remaining=1.0)})
    clock.advance(1.0)
    with pytest.raises(CircuitOpenError):
        breaker.allow(KEY)  # following again: no lease, no probe


def test_a_missing_fleet_record_makes_the_circuit_local(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """When the fleet's state is gone (a Redis restart), the circuit keeps its local rules."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _opening(remaining=1.0)})
    store.exchange({KEY: CircuitVerdict(exists=False)})
    clock.advance(1.0)
    assert breaker.allow(KEY).is_probe
    assert breaker.state(KEY) is HALF_OPEN


def test_counts_of_an_older_generation_are_dropped(store: ScriptedStore, clock: FakeClock) -> None:
    """Failures noted before the fleet moved on are not reported under the new generation."""
    breaker = _breaker(store, clock)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _closed(100)})
    report = store.report()[KEY]
    breaker.record_failure(KEY, breaker.allow(KEY), 503)  # during the round trip
    store.circuit.adopt([(report, _opening(101))])
    after = store.report()[KEY]
    assert (after.generation, after.failures) == (101, 0)


def test_manual_control_wins_over_the_fleet(store: ScriptedStore, clock: FakeClock) -> None:
    """A forced opening stays forced whatever the fleet says; a reset stops following."""
    breaker = _breaker(store, clock)
    breaker.force_open(KEY)
    store.exchange({KEY: _opening(100, remaining=1.0)})
    store.exchange({KEY: _closed(101)})
    assert breaker.snapshot(KEY).forced
    breaker.reset(KEY)
    store.exchange({KEY: _opening(102, remaining=1.0)})
    breaker.reset(KEY)
    clock.advance(5.0)
    assert breaker.state(KEY) is CLOSED


def test_watched_circuits_are_polled(store: ScriptedStore, clock: FakeClock) -> None:
    """Circuits the fleet has open are polled before this process ever uses them."""
    _breaker(store, clock)
    store.circuit.watch(["https://other.example:443"])
    assert set(store.report()) == {"https://other.example:443"}
    clock.advance(31.0)
    assert store.report() == {}


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60))
def test_every_counted_outcome_is_reported_once(steps: list[tuple[bool, bool]]) -> None:
    """Over any run of outcomes and reports, each outcome is in exactly one report.

    The fleet has a run of failures throughout, so every success is worth reporting;
    each report's trailing count is the failures after its last success.
    """
    store, clock = ScriptedStore(), FakeClock()
    breaker = CircuitBreaker(failure_threshold=10_000, clock=clock, store=store)
    breaker.record_success(KEY, breaker.allow(KEY))
    store.exchange({KEY: _closed(failures=1)})
    reports: list[CircuitReport] = []
    batches: list[list[bool]] = [[]]
    for failed, report_now in steps:
        ticket = breaker.allow(KEY)
        if failed:
            breaker.record_failure(KEY, ticket, 500)
        else:
            breaker.record_success(KEY, ticket)
        batches[-1].append(failed)
        if report_now:
            reports.append(store.report()[KEY])
            batches.append([])
    reports.append(store.report()[KEY])
    assert len(reports) == len(batches)
    for report, batch in zip(reports, batches, strict=True):
        assert report.failures == sum(batch)
        assert report.successes == len(batch) - sum(batch)
        tail = 0
        for failed in batch:
            tail = tail + 1 if failed else 0
        assert report.trailing == tail


# -- the budget ---------------------------------------------------------------------------


def _budget(store: ScriptedStore, clock: FakeClock, **settings: object) -> RetryBudget:
    return RetryBudget(clock=clock, store=store, **settings)  # type: ignore[arg-type]


def _grant(store: ScriptedStore, granted: int | None = None) -> ReserveReport | None:
    [member] = store.reserves
    report = member.report(False)
    if report is not None:
        member.adopt(report, report.wanted if granted is None else granted)
    return report


def test_the_budget_uses_its_local_reserve_until_the_fleet_answers(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """Before the first grant (and when lost), the local reserve applies, as without a store."""
    budget = _budget(store, clock, ratio=0.0, min_per_second=1.0, ttl=10.0)
    assert budget.available() == 10
    assert sum(budget.try_withdraw() for _ in range(20)) == 10


def test_the_budget_spends_its_share_then_asks_for_more(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """With the fleet answering, reserve retries come from the share the fleet granted."""
    budget = _budget(store, clock, ratio=0.0, min_per_second=10.0, ttl=10.0)
    budget.deposit()
    assert store.wakes == 1  # the first request asks for a share soon
    assert _grant(store) == ReserveReport(returned=0, wanted=1)
    assert budget.available() == 1
    assert budget.try_withdraw()
    assert not budget.try_withdraw()  # the share is spent: refused, and the syncer woken
    assert store.wakes == 2
    budget.deposit()
    report = _grant(store, granted=3)
    assert report == ReserveReport(returned=0, wanted=4)  # twice the spent and refused
    assert budget.available() == 3


def test_an_idle_budget_gives_its_share_back(store: ScriptedStore, clock: FakeClock) -> None:
    """A process without requests for ttl hands its share back: idle workers hold nothing."""
    budget = _budget(store, clock, ratio=0.0, min_per_second=10.0, ttl=10.0)
    budget.deposit()
    _grant(store)
    clock.advance(10.0)
    assert _grant(store) == ReserveReport(returned=1, wanted=0)
    assert budget.available() == 0
    assert _grant(store) is None  # nothing to exchange


def test_the_ratio_part_stays_local(store: ScriptedStore, clock: FakeClock) -> None:
    """Each process's own requests earn it retries, with no share at all."""
    budget = _budget(store, clock, ratio=0.5, min_per_second=10.0, ttl=10.0)
    for _ in range(4):
        budget.deposit()
    _grant(store, granted=0)
    assert budget.available() == 2
    assert sum(budget.try_withdraw() for _ in range(5)) == 2


def test_a_lost_store_gives_the_budget_its_local_reserve(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """When the store goes local-only, the local reserve replaces the share."""
    budget = _budget(store, clock, ratio=0.0, min_per_second=1.0, ttl=10.0)
    budget.deposit()
    _grant(store, granted=0)
    assert budget.available() == 0
    [member] = store.reserves
    member.lost()
    assert budget.available() == 10


def test_a_budget_without_a_reserve_shares_nothing(store: ScriptedStore) -> None:
    """min_per_second=0 has no reserve to share: the budget does not join the store."""
    RetryBudget(min_per_second=0.0, store=store)
    assert store.reserves == []


def test_holders_with_a_store_pickle_with_it(store: ScriptedStore) -> None:
    """A pickled holder keeps its store (a store that cannot be pickled says so)."""

    class Unpicklable(ScriptedStore):
        def __reduce__(self) -> str | tuple[object, ...]:
            raise TypeError("no")

    with pytest.raises(TypeError, match="no"):
        pickle.dumps(CircuitBreaker(store=Unpicklable()))
    with pytest.raises(TypeError, match="no"):
        pickle.dumps(RetryBudget(store=Unpicklable()))


def test_at_most_a_thousand_circuits_are_polled(store: ScriptedStore, clock: FakeClock) -> None:
    """A stream of new hosts polls the most recently used thousand, not every one."""
    breaker = _breaker(store, clock)
    for index in range(1500):
        breaker.allow(f"https://host{index}.example:443")
        if index % 100 == 0:
            clock.advance(0.01)
    reported = store.report()
    assert len(reported) == 1000
    assert "https://host1499.example:443" in reported
    assert "https://host0.example:443" not in reported


# -- the rate limiter ---------------------------------------------------------------------

ORIGIN = "https://api.example:443"
RECORD = f"{ORIGIN}|"  # the record key of ORIGIN without a credential


def _nobody() -> str | None:
    return None


def _limiter(store: ScriptedStore, clock: FakeClock, **settings: object) -> RateLimiter:
    return RateLimiter(clock=clock, rand=lambda: 0.0, store=store, **settings)  # type: ignore[arg-type]


def _records(store: ScriptedStore, closing: bool = False) -> dict[str, RecordReport]:
    [member] = store.records
    return {report.key: report for report in member.report(closing)}


def _share(
    store: ScriptedStore,
    *others: tuple[str, dict[str, str]],
    members: int = 1,
    rank: int = 0,
    age: float = 0.0,
) -> dict[str, RecordReport]:
    """One round: report, then adopt the fleet's records (``others``) for each key reported."""
    [member] = store.records
    reports = _records(store)
    records = [
        FleetRecord(
            key=key,
            fields=None,
            records=tuple(
                MemberRecord(member=name, fields=fields, age=age) for name, fields in others
            ),
            members=members,
            rank=rank,
        )
        for key in reports
    ]
    member.adopt(records)
    return reports


def _sends(limiter: RateLimiter, clock: FakeClock, seconds: float) -> int:
    """Send as fast as the limiter lets one caller, for ``seconds``; return how many went."""
    sent, end = 0, clock.monotonic() + seconds
    while clock.monotonic() < end:
        wait = limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
        if wait == 0.0:
            sent += 1
        else:
            clock.advance(wait)
    return sent


def test_a_limiter_joins_the_record_channel(store: ScriptedStore) -> None:
    """RateLimiter(store=...) joins once, on the 'ratelimit' records; a wrong store fails."""
    RateLimiter(store=store)
    assert [member.kind for member in store.records] == ["ratelimit"]
    with pytest.raises(TypeError, match="store must be a FleetStore"):
        RateLimiter(store="redis://")  # type: ignore[arg-type]


def test_requests_only_note_keys_and_wake_for_news(store: ScriptedStore, clock: FakeClock) -> None:
    """Counting down a window wakes the syncer for the key, the new window and the 0, no more."""
    limiter = _limiter(store, clock)
    headers = {"X-RateLimit-Remaining": "500", "X-RateLimit-Reset": "60"}
    for left in range(500, 0, -1):
        assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
        headers["X-RateLimit-Remaining"] = str(left - 1)
        limiter.observe(ORIGIN, _nobody, 200, headers)
    assert store.wakes == 3  # a key new here, its first window, nothing left
    limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
    limiter.observe(ORIGIN, _nobody, 429, {"Retry-After": "5"})
    assert store.wakes == 4


def test_each_round_publishes_the_keys_in_use(store: ScriptedStore, clock: FakeClock) -> None:
    """A record per key used in the last second: its window as seconds from now."""
    limiter = _limiter(store, clock)
    limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
    limiter.observe(ORIGIN, _nobody, 200, {"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "30"})
    reports = _records(store)
    assert list(reports) == [RECORD]
    assert reports[RECORD].fields == {"remaining": "7", "reset": "30.000", "quota": "8"}
    assert reports[RECORD].ttl == 31.0
    clock.advance(0.5)
    assert list(_records(store)) == [RECORD]
    clock.advance(0.6)
    assert _records(store) == {}


def test_a_caller_waiting_on_a_key_keeps_it_in_use(store: ScriptedStore, clock: FakeClock) -> None:
    """Waiting 5 s for a reset still uses the key: this process stays one of its members."""
    limiter = _limiter(store, clock)
    limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
    limiter.observe(ORIGIN, _nobody, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"})
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == pytest.approx(5.0)
    clock.advance(5.5)
    assert list(_records(store)) == [RECORD]


def test_a_new_key_takes_the_count_of_the_processes_announced(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """Before a key's own count comes, a window is split by the processes on the store."""
    limiter = _limiter(store, clock)
    [member] = store.records
    assert member.presence is not None
    member.presence(4, 3)
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
    window = {"X-RateLimit-Remaining": "19", "X-RateLimit-Reset": "10"}
    limiter.observe(ORIGIN, _nobody, 200, window)
    assert sum(limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0 for _ in range(10)) == 4
    member.lost()
    assert sum(limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0 for _ in range(20)) == 15


def test_a_block_heard_elsewhere_holds_here(store: ScriptedStore, clock: FakeClock) -> None:
    """Another process's Retry-After blocks the key here at the next round; our own is skipped."""
    limiter = _limiter(store, clock)
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
    [member] = store.records
    reports = _records(store)
    mine = MemberRecord(member="me", fields={"block": "99.000"}, mine=True)
    theirs = MemberRecord(member="them", fields={"block": "2.000"}, age=0.5)
    member.adopt(
        [FleetRecord(key=key, fields=None, records=(mine, theirs), members=2) for key in reports]
    )
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == pytest.approx(1.5)
    clock.advance(1.5)
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0  # one request first


def test_a_window_is_split_between_the_members(store: ScriptedStore, clock: FakeClock) -> None:
    """Fourth of four on a window of 20: five requests here, its first one counted; then a wait."""
    limiter = _limiter(store, clock)
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
    window = {"X-RateLimit-Remaining": "16", "X-RateLimit-Reset": "10"}
    limiter.observe(ORIGIN, _nobody, 200, window)
    _share(
        store, ("first", {"remaining": "12", "reset": "10.000", "quota": "20"}), members=4, rank=3
    )
    assert sum(limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0 for _ in range(10)) == 4
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == pytest.approx(10.0)


def test_a_configured_rate_is_the_fleets(store: ScriptedStore, clock: FakeClock) -> None:
    """rate=20 with four processes on the key: 5 a second here; alone again, 20."""
    limiter = _limiter(store, clock, rate=20, per=1.0)
    assert _sends(limiter, clock, 1.0) == 20
    _share(store, ("b", {}), ("c", {}), ("d", {}), members=4, rank=1)
    assert _sends(limiter, clock, 2.0) in (10, 11)  # one a 0.2 s, wherever the second starts
    [member] = store.records
    member.lost()
    assert _sends(limiter, clock, 1.0) in (20, 21)


def test_an_unreadable_record_is_ignored_with_one_warning(
    store: ScriptedStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage from the fleet changes nothing here and never raises: one WARNING, then DEBUG."""
    limiter = _limiter(store, clock)
    caplog.set_level(logging.DEBUG, logger="retrykit")
    for _ in range(3):
        assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
        _share(store, ("bad", {"block": "forever"}), ("worse", {"remaining": 3}), members=2)  # type: ignore[dict-item]
    levels = [r.levelno for r in caplog.records if r.name == "retrykit.ratelimit"]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "from bad" in caplog.records[0].getMessage()
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0


def test_a_closing_store_takes_the_limiter_out_of_the_count(
    store: ScriptedStore, clock: FakeClock
) -> None:
    """On close, every key published lately gets a record with a tiny ttl; answers are ignored."""
    limiter = _limiter(store, clock)
    limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
    _records(store)
    leaving = _records(store, closing=True)
    assert leaving == {RECORD: RecordReport(key=RECORD, fields={}, ttl=0.001)}
    _share(store, ("them", {"block": "30.000"}), members=2)
    assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0


def test_a_limiter_with_a_store_pickles_with_it(store: ScriptedStore) -> None:
    """A pickled limiter keeps its settings and its store (one that cannot pickle says so)."""
    copy = pickle.loads(pickle.dumps(RateLimiter(rate=5, store=store)))  # noqa: S301 - our own data
    assert copy.rate == 5
    assert copy._store is not None

    class Unpicklable(ScriptedStore):
        def __reduce__(self) -> str | tuple[object, ...]:
            raise TypeError("no")

    with pytest.raises(TypeError, match="no"):
        pickle.dumps(RateLimiter(store=Unpicklable()))
