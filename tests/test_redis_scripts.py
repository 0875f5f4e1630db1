"""The Lua scripts' rules, run by fakeredis (with Lua): fast, no server, no processes.

Each test drives the scripts through the channels, as the store does: a report becomes a
script call, its reply a verdict. fakeredis runs the Lua; what only a real server shows
(timeouts, restarts, processes) is in test_redis_store.py and test_redis_fleet.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import fakeredis  # a dev dependency: these tests never skip for want of it
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrykit._core._breaker import BreakerConfig
from retrykit._core._budget import BudgetConfig
from retrykit._fleet import _keys
from retrykit._fleet._channels import (
    CircuitChannel,
    RecordChannel,
    ReplyError,
    ReserveChannel,
    parse_circuit,
    parse_record,
)
from retrykit._fleet._scripts import ALL
from retrykit._state._store import (
    CircuitMember,
    CircuitReport,
    CircuitVerdict,
    FleetRecord,
    RecordMember,
    RecordReport,
    ReserveMember,
    ReserveReport,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

KEY = "https://api.example:443"
NAMESPACE = "tests"


def _server() -> Any:
    server = fakeredis.FakeRedis()
    for script in ALL:
        server.script_load(script.source)
    return server


@pytest.fixture
def server() -> Any:
    return _server()


def _send(server: Any, batch: Any) -> None:
    replies = [
        server.evalsha(command.script.sha, len(command.keys), *command.keys, *command.args)
        for command in batch.commands
    ]
    batch.apply(replies)


class Process:
    """One process's breaker side, played by hand: what it reports, what it hears."""

    def __init__(self, server: Any, name: str, config: BreakerConfig, min_reporters: int = 1):
        self.server = server
        self.generation = 0
        self.pending: list[CircuitReport] = []
        self.verdicts: list[CircuitVerdict] = []
        self.watched: list[str] = []
        member = CircuitMember(
            config=config,
            report=self._report,
            adopt=self._adopt,
            watch=self.watched.extend,
            lost=lambda: None,
        )
        self.channel = CircuitChannel(
            member, namespace=NAMESPACE, reporter=name, min_reporters=min_reporters
        )

    def _report(self, _closing: bool) -> list[CircuitReport]:
        pending, self.pending = self.pending, []
        return pending

    def _adopt(self, pairs: Sequence[tuple[CircuitReport, CircuitVerdict]]) -> list[Any]:
        for _report, verdict in pairs:
            self.verdicts.append(verdict)
            if verdict.exists:
                self.generation = verdict.generation
        return []

    def send(self, **fields: Any) -> CircuitVerdict:
        """Report once on KEY (fenced with the last generation heard); return the verdict."""
        fields.setdefault("generation", self.generation)
        self.pending = [CircuitReport(key=KEY, **fields)]
        batch = self.channel.prepare(False)
        assert batch is not None
        _send(self.server, batch)
        return self.verdicts[-1]

    def fail(self, count: int = 1) -> CircuitVerdict:
        return self.send(failures=count, trailing=count, cause="503")


def _consecutive(**settings: Any) -> BreakerConfig:
    return BreakerConfig(**{"failure_threshold": 5, "recovery_timeout": 30.0, **settings})


def test_a_missing_circuit_is_closed_and_a_poll_writes_nothing(server: Any) -> None:
    """A poll of a circuit nobody reported reads CLOSED and creates no key."""
    process = Process(server, "a", _consecutive())
    assert process.send() == CircuitVerdict(exists=False)
    keys = [key for key in server.keys("*") if b":open" not in key]
    assert keys == []


def test_failures_of_several_processes_add_up_and_open_the_fleet(server: Any) -> None:
    """Two processes' failures add up; the report that meets the rule opens the circuit."""
    a, b = Process(server, "a", _consecutive()), Process(server, "b", _consecutive())
    assert a.fail(3).failures == 3
    opened = b.fail(2)
    assert (opened.open, opened.tripped, opened.openings, opened.cause) == (True, True, 1, "503")
    assert opened.remaining == pytest.approx(30.0, abs=0.1)
    polled = a.send()
    assert polled.open
    assert not polled.tripped
    assert polled.generation == opened.generation


def test_a_success_ends_the_fleet_run(server: Any) -> None:
    """A report with a success sets the run to the failures after its last success."""
    a, b = Process(server, "a", _consecutive()), Process(server, "b", _consecutive())
    a.fail(4)
    assert b.send(successes=1, failures=2, trailing=1).failures == 1
    assert a.fail(3).failures == 4
    assert not a.verdicts[-1].open


def test_counts_from_an_older_generation_move_nothing(server: Any) -> None:
    """Failures reported under a generation the fleet has left are ignored."""
    a, b = Process(server, "a", _consecutive()), Process(server, "b", _consecutive())
    b.send(failures=1, trailing=1)
    a.fail(5)  # opens: a new generation
    late = b.send(failures=3, trailing=3)  # b's counts were recorded before the opening
    assert late.open
    assert late.openings == 1


def test_min_reporters_needs_that_many_processes(server: Any) -> None:
    """With min_reporters=2, one process's failures never open the fleet; a second does."""
    a = Process(server, "a", _consecutive(), min_reporters=2)
    b = Process(server, "b", _consecutive(), min_reporters=2)
    verdict = a.fail(20)
    assert (verdict.open, verdict.failures, verdict.reporters) == (False, 20, 1)
    assert b.fail().open


def test_rate_mode_sums_the_fleet_window(server: Any) -> None:
    """Rate mode opens when the fleet's outcomes and failure share meet the rule."""
    config = BreakerConfig(failure_rate=0.5, minimum_calls=10, window=60.0)
    a, b = Process(server, "a", config), Process(server, "b", config)
    verdict = a.send(successes=4, failures=4)
    assert (verdict.calls, verdict.failures, verdict.open) == (8, 4, False)
    assert b.send(successes=0, failures=1).open is False  # 5 of 9: too few calls
    assert b.send(successes=0, failures=1).open  # 6 of 10


def test_no_lease_before_the_break_ends(server: Any) -> None:
    """A lease asked for during the break is not granted."""
    a = Process(server, "a", _consecutive())
    a.fail(5)
    assert a.send(wanted=1).granted == ()


def test_at_most_half_open_max_calls_leases_across_the_fleet(server: Any) -> None:
    """After the break, leases go to the first askers, at most half_open_max_calls in all."""
    config = _consecutive(recovery_timeout=0.05, half_open_max_calls=2)
    a, b = Process(server, "a", config), Process(server, "b", config)
    a.fail(5)
    b.send()
    time.sleep(0.06)
    assert len(a.send(wanted=1).granted) == 1
    assert len(b.send(wanted=3).granted) == 1
    assert a.send(wanted=1).granted == ()


def test_a_lapsed_or_returned_lease_frees_its_place(server: Any) -> None:
    """A lease expires after recovery_timeout (a dead prober frees it), or comes back early."""
    config = _consecutive(recovery_timeout=0.05)
    a, b = Process(server, "a", config), Process(server, "b", config)
    a.fail(5)
    b.send()
    time.sleep(0.06)
    [lease] = a.send(wanted=1).granted
    assert b.send(wanted=1).granted == ()
    assert a.send(returned=(lease,)).granted == ()
    [lease] = b.send(wanted=1).granted
    time.sleep(0.06)
    assert len(a.send(wanted=1).granted) == 1  # b's lease lapsed
    closed = b.send(probes=((lease, True),))
    assert closed.open  # a lapsed lease's outcome is ignored


def test_one_probe_success_closes_the_fleet(server: Any) -> None:
    """A probe's success (with its lease) closes the circuit for everyone."""
    config = _consecutive(recovery_timeout=0.05)
    a, b = Process(server, "a", config), Process(server, "b", config)
    a.fail(5)
    b.send()
    time.sleep(0.06)
    [lease] = a.send(wanted=1).granted
    closed = a.send(probes=((lease, True),))
    assert not closed.open
    assert closed.generation > b.generation
    assert not b.send().open


def test_success_threshold_needs_that_many_probe_successes(server: Any) -> None:
    """With success_threshold=2, one probe success leaves the fleet's circuit open."""
    config = _consecutive(recovery_timeout=0.05, success_threshold=2)
    a = Process(server, "a", config)
    a.fail(5)
    time.sleep(0.06)
    [first] = a.send(wanted=1).granted
    assert a.send(probes=((first, True),)).open
    [second] = a.send(wanted=1).granted
    assert not a.send(probes=((second, True),)).open


def test_a_failed_probe_reopens_for_a_longer_break(server: Any) -> None:
    """A probe's failure opens the fleet's circuit again, with the next (doubled) break."""
    config = _consecutive(recovery_timeout=0.05)
    a = Process(server, "a", config)
    first = a.fail(5)
    time.sleep(0.06)
    [lease] = a.send(wanted=1).granted
    again = a.send(probes=((lease, False),), cause="502")
    assert (again.open, again.openings, again.cause, again.tripped) == (True, 2, "502", True)
    assert again.break_seconds == pytest.approx(2 * first.break_seconds)
    assert again.generation > first.generation


def test_every_key_has_a_ttl_and_one_hash_slot(server: Any) -> None:
    """Each write refreshes every key's TTL; a circuit's keys share one hash tag."""
    config = _consecutive(recovery_timeout=0.05)
    a = Process(server, "a", config)
    a.fail(5)
    time.sleep(0.06)
    a.send(wanted=1)
    state, reporters, leases = _keys.circuit_keys(NAMESPACE, KEY)
    for key in (state, leases):
        assert 0 < server.pttl(key) <= 600_000
    assert not server.exists(reporters)  # the opening cleared the run's reporters
    tags = {key[key.index("{") : key.index("}") + 1] for key in (state, reporters, leases)}
    assert tags == {"{tests|https://api.example:443}"}


def test_a_key_with_a_secret_is_hashed() -> None:
    """A circuit key that could hold a credential never reaches Redis as it is."""
    state, _, _ = _keys.circuit_keys(NAMESPACE, "https://user:pw@api.example:443")
    assert "pw" not in state
    assert "{tests|#" in state
    assert _keys.name_of(KEY) == KEY


def test_a_newcomer_learns_the_open_circuits_from_the_index(server: Any) -> None:
    """The process that opened the fleet announces it; a new process reads the index first."""
    a = Process(server, "a", _consecutive())
    a.fail(5)
    a.send()  # the next round announces the opening
    newcomer = Process(server, "new", _consecutive())
    batch = newcomer.channel.prepare(False)
    assert batch is not None
    _send(server, batch)
    assert newcomer.watched == [KEY]
    assert newcomer.channel.prepare(False) is None  # read once; nothing else to say


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.lists(st.booleans(), min_size=1, max_size=8)),
        max_size=25,
    )
)
def test_the_fleet_run_is_the_failures_since_the_last_reported_success(
    batches: list[tuple[int, list[bool]]],
) -> None:
    """Merging reports in any order never loses or double-counts a failure.

    Each batch is one process's outcomes in one interval (True: a failure), sent as one
    report. The fleet's run is the failures after the last success of all the outcomes,
    batches taken in the order they reached the server; its reporters, the processes
    that sent those failures.
    """
    server = _server()
    config = _consecutive(failure_threshold=10_000)
    processes = [Process(server, f"p{i}", config) for i in range(4)]
    run = 0
    reporters: set[str] = set()
    for who, outcomes in batches:
        failures = sum(outcomes)
        tail = 0
        for failed in outcomes:
            tail = tail + 1 if failed else 0
        successes = len(outcomes) - failures
        verdict = processes[who].send(failures=failures, successes=successes, trailing=tail)
        if successes:
            run, reporters = tail, ({f"p{who}"} if tail else set())
        else:
            run += failures
            reporters.add(f"p{who}")
        if run or verdict.exists:
            assert (verdict.failures, verdict.reporters) == (run, len(reporters))


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 5)), max_size=30))
def test_rate_mode_sums_every_report_once(batches: list[tuple[int, int, int]]) -> None:
    """In rate mode the fleet's window holds the sum of every report's outcomes."""
    server = _server()
    config = BreakerConfig(failure_rate=1.0, minimum_calls=10_000, window=3600.0)
    processes = [Process(server, f"p{i}", config) for i in range(4)]
    calls = failed = 0
    for who, failures, successes in batches:
        verdict = processes[who].send(failures=failures, successes=successes)
        calls += failures + successes
        failed += failures
        if verdict.exists:
            assert (verdict.calls, verdict.failures) == (calls, failed)


# -- the reserve ---------------------------------------------------------------------------


class Budget:
    """One process's budget side: asks for and hands back reserve retries by hand."""

    def __init__(self, server: Any, config: BudgetConfig) -> None:
        self.server = server
        self.held = 0
        self.pending: ReserveReport | None = None
        member = ReserveMember(
            config=config, report=self._report, adopt=self._adopt, lost=lambda: None
        )
        self.channel = ReserveChannel(member, namespace=NAMESPACE)

    def _report(self, _closing: bool) -> ReserveReport | None:
        pending, self.pending = self.pending, None
        return pending

    def _adopt(self, report: ReserveReport, granted: int) -> None:
        self.held += granted - report.returned
        self.granted = granted

    def exchange(self, returned: int = 0, wanted: int = 0) -> int:
        """Hand back ``returned``, ask for ``wanted``; return what was granted."""
        self.granted = 0
        self.pending = ReserveReport(returned=returned, wanted=wanted)
        batch = self.channel.prepare(False)
        assert batch is not None
        _send(self.server, batch)
        return self.granted


def test_the_reserve_is_granted_once_across_the_fleet(server: Any) -> None:
    """Processes share min_per_second * ttl reserve retries; what comes back is granted again."""
    config = BudgetConfig(ratio=0.2, min_per_second=1.0, ttl=10.0)
    a, b = Budget(server, config), Budget(server, config)
    assert a.exchange(wanted=6) == 6
    assert b.exchange(wanted=6) == 4
    assert b.exchange(wanted=1) == 0
    assert a.exchange(returned=3) == 0
    assert b.exchange(wanted=5) == 3


def test_an_idle_reserve_writes_nothing(server: Any) -> None:
    """Handing back to a reserve nobody used creates no key."""
    config = BudgetConfig(min_per_second=1.0, ttl=10.0)
    Budget(server, config).exchange(returned=2)
    assert server.keys("*") == []


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 8), st.integers(0, 8)), max_size=30))
def test_the_fleet_never_holds_more_than_the_reserve(steps: list[tuple[int, int, int]]) -> None:
    """Whatever the asks and returns, grants minus returns never pass min_per_second * ttl."""
    server = _server()
    config = BudgetConfig(min_per_second=1.0, ttl=3600.0)
    limit = int(config.reserve)
    budgets = [Budget(server, config) for _ in range(3)]
    for who, asked_back, want in steps:
        budget = budgets[who]
        give = min(asked_back, budget.held)
        used = sum(b.held for b in budgets)
        granted = budget.exchange(returned=give, wanted=want)
        assert granted == min(want, limit - (used - give))
        assert sum(b.held for b in budgets) <= limit


# -- records -----------------------------------------------------------------------------------


class Records:
    """A record channel member, by hand: one process named ``name``."""

    def __init__(
        self, server: Any, kind: str = "ratelimit", *, name: str = "p1", live_for: float = 5.0
    ) -> None:
        self.server = server
        self.pending: list[RecordReport] = []
        self.heard: list[FleetRecord] = []
        member = RecordMember(
            kind=kind, report=self._report, adopt=self.heard.extend, lost=lambda: None
        )
        self.channel = RecordChannel(member, namespace=NAMESPACE, reporter=name, live_for=live_for)

    def _report(self, _closing: bool) -> list[RecordReport]:
        pending, self.pending = self.pending, []
        return pending

    def exchange(self, *reports: RecordReport) -> list[FleetRecord]:
        self.heard.clear()
        self.pending = list(reports)
        batch = self.channel.prepare(False)
        assert batch is not None
        _send(self.server, batch)
        return self.heard


RECORD_KEY = "https://api.example:443|1a2b3c4d"


def test_a_record_published_by_one_process_is_read_by_another(server: Any) -> None:
    """The record channel: the freshest record, with its age on the server's clock."""
    writer, reader = Records(server, name="writer"), Records(server, name="reader")
    key = RECORD_KEY
    assert reader.exchange(RecordReport(key=key)) == [FleetRecord(key=key, fields=None)]
    writer.exchange(RecordReport(key=key, fields={"remaining": "40", "reset": "30"}, ttl=5.0))
    writer.exchange(RecordReport(key=key, fields={"remaining": "39", "reset": "29"}, ttl=5.0))
    [record] = reader.exchange(RecordReport(key=key))
    assert record.fields == {"remaining": "39", "reset": "29"}
    assert 0.0 <= record.age < 1.0
    assert [(r.member, r.mine) for r in record.records] == [("writer", False)]
    assert (record.members, record.rank) == (1, 1)  # the reader only read: not a member
    for name in _keys.record_keys(NAMESPACE, "ratelimit", key):
        assert 0 < server.pttl(name) <= 5000


def test_every_member_reads_every_record_and_its_own_rank(server: Any) -> None:
    """Three processes publishing on one key: each sees all three, and a rank of its own."""
    fleet = [Records(server, name=name) for name in ("c-3", "a-1", "b-2")]
    for process in fleet:
        process.exchange(RecordReport(key=RECORD_KEY, fields={"n": process.channel.reporter}))
    heard = [process.exchange(RecordReport(key=RECORD_KEY, fields={}))[0] for process in fleet]
    assert [(record.members, record.rank) for record in heard] == [(3, 2), (3, 0), (3, 1)]
    mine = [[r.member for r in record.records if r.mine] for record in heard]
    assert mine == [["c-3"], ["a-1"], ["b-2"]]
    assert {r.member for r in heard[0].records} == {"a-1", "b-2", "c-3"}
    ages = [r.age for r in heard[-1].records]
    assert ages == sorted(ages)  # freshest first


def test_a_member_that_stopped_publishing_stops_counting(server: Any) -> None:
    """A record older than the liveness window is still read, but its writer is not a member."""
    quiet = Records(server, name="quiet", live_for=0.05)
    busy = Records(server, name="busy", live_for=0.05)
    quiet.exchange(RecordReport(key=RECORD_KEY, fields={"block": "9.000"}, ttl=5.0))
    time.sleep(0.1)
    [record] = busy.exchange(RecordReport(key=RECORD_KEY, fields={}, ttl=5.0))
    assert (record.members, record.rank) == (1, 0)
    assert {r.member for r in record.records} == {"quiet", "busy"}


def test_a_record_with_a_tiny_ttl_leaves_at_once(server: Any) -> None:
    """Publishing with a ttl of a millisecond takes the process out of the fleet's count."""
    leaving, staying = Records(server, name="leaving"), Records(server, name="staying")
    leaving.exchange(RecordReport(key=RECORD_KEY, fields={}, ttl=5.0))
    [record] = leaving.exchange(RecordReport(key=RECORD_KEY, fields={}, ttl=0.001))
    assert (record.members, record.rank) == (1, 0)  # it did publish, in this very call
    time.sleep(0.01)
    [record] = staying.exchange(RecordReport(key=RECORD_KEY, fields={}, ttl=5.0))
    assert [r.member for r in record.records] == ["staying"]
    assert record.members == 1


def test_an_unreadable_member_record_is_left_out(server: Any) -> None:
    """Garbage in one member's record (a newer writer, a stray HSET) hides only that record."""
    good = Records(server, name="good")
    records, _expiries = _keys.record_keys(NAMESPACE, "ratelimit", RECORD_KEY)
    good.exchange(RecordReport(key=RECORD_KEY, fields={"remaining": "4"}))
    server.hset(records, "stray", "not a record")
    server.hset(records, "list", "1700000000000 [1, 2]")
    server.hset(records, "numbers", '1700000000000 {"remaining": 4}')
    [record] = good.exchange(RecordReport(key=RECORD_KEY))
    assert [r.member for r in record.records] == ["good"]


def _noting(calls: list[tuple[int, int]]) -> Callable[[int, int], None]:
    return lambda members, rank: calls.append((members, rank))


def test_a_member_with_presence_is_announced_every_round(server: Any) -> None:
    """With presence, each round counts the processes on the kind's channel, keys or none."""
    heard: dict[str, list[tuple[int, int]]] = {}
    channels = []
    for name in ("b", "a", "c"):
        calls: list[tuple[int, int]] = []
        heard[name] = calls
        member = RecordMember(
            kind="ratelimit",
            report=lambda _closing: [],
            adopt=lambda _records: None,
            lost=lambda: None,
            presence=_noting(calls),
        )
        channels.append(RecordChannel(member, namespace=NAMESPACE, reporter=name, live_for=5.0))
    for _ in range(2):
        for channel in channels:
            batch = channel.prepare(False)
            assert batch is not None
            _send(server, batch)
    assert heard == {"b": [(1, 0), (3, 1)], "a": [(2, 0), (3, 0)], "c": [(3, 2), (3, 2)]}
    batch = channels[0].prepare(True)  # closing: announced for a millisecond, nothing heard
    assert batch is not None
    _send(server, batch)
    time.sleep(0.01)
    batch = channels[1].prepare(False)
    assert batch is not None
    _send(server, batch)
    assert heard["a"][-1] == (2, 0)
    assert heard["b"] == [(1, 0), (3, 1)]


def test_record_fields_and_kinds_are_checked(server: Any) -> None:
    """A kind outside letters, digits, _ and -, or a reserved field name, is refused."""
    with pytest.raises(ValueError, match="kind"):
        Records(server, kind="rate limit")
    with pytest.raises(ValueError, match="reserved"):
        Records(server).exchange(RecordReport(key="k", fields={"_at": "1"}))
    with pytest.raises(TypeError, match="strings"):
        Records(server).exchange(RecordReport(key="k", fields={"n": 1}))  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "reply",
    [None, b"OK", [1], [1, 2, 3], [b"1", []], [1, [b"a"]], [1, [b"a", 5]], ValueError("WRONGTYPE")],
)
def test_garbage_record_replies_are_refused(reply: object) -> None:
    """A reply that is not the record script's is a failed exchange, never a record."""
    with pytest.raises(ReplyError):
        parse_record(RECORD_KEY, reply)


# -- replies that make no sense -----------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        None,
        b"OK",
        [1, 2, 3],
        [1] * 12,
        [1, 1, 1, 0, 0, 0, 0, 0, b"", 0, 5, 0],  # more leases granted than asked for
        [b"1", 1, 1, 0, 0, 0, 0, 0, b"", 0, 0, 0],
        [True, 1, 1, 0, 0, 0, 0, 0, b"", 0, 0, 0],
        ValueError("WRONGTYPE"),
    ],
)
def test_garbage_replies_are_refused(reply: object) -> None:
    """A reply that is not the script's is a failed exchange, never a verdict."""
    with pytest.raises(ReplyError):
        parse_circuit(reply, ("a:1",))
