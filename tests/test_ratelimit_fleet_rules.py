"""Fleet shares (rule 8 of retrykit._core._ratelimit): pure rules, numbers and times passed in.

A window's quota and a configured rate are split between the processes sharing a key,
so the fleet together sends no more than one process alone would; the shares are
checked as tables, and as properties over any interleaving of a fleet's requests,
answers and exchanges against a simulated server.
"""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit._core._ratelimit import (
    ENDING,
    LONGEST_WAIT,
    KeySnapshot,
    KeyState,
    ServerLimit,
    fleet_pace,
    fleet_share,
    gcra,
    record_of,
    snapshot_of,
)

RESET = 30.0  # the simulated window ends 30 s after the start


# -- fleet_share ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "members", "shares"),
    [
        (20, 4, [5, 5, 5, 5]),
        (19, 4, [5, 5, 5, 4]),
        (3, 4, [1, 1, 1, 0]),
        (1, 3, [1, 0, 0]),
        (0, 3, [0, 0, 0]),
        (-2, 2, [0, 0]),
        (7, 1, [7]),
    ],
)
def test_a_total_is_split_with_the_remainder_to_the_first_ranks(
    total: int, members: int, shares: list[int]
) -> None:
    """Each takes total // members; the first total % members ranks one more."""
    assert [fleet_share(total, members, rank) for rank in range(members)] == shares


def test_odd_members_and_ranks_take_the_smaller_share() -> None:
    """Members below 1 count as 1; a rank outside the fleet gets the base share."""
    assert fleet_share(9, 0, 0) == 9
    assert fleet_share(9, -3, 0) == 9
    assert fleet_share(10, 4, 4) == 2
    assert fleet_share(10, 4, -1) == 2


@given(st.integers(0, 10_000), st.integers(1, 64))
def test_shares_add_up_to_the_total_and_differ_by_one_at_most(total: int, members: int) -> None:
    """However the total and the fleet, the shares sum to the total, nearly equal."""
    shares = [fleet_share(total, members, rank) for rank in range(members)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


@given(st.integers(0, 10_000), st.integers(1, 64), st.data())
def test_a_share_never_shrinks_as_the_total_grows(
    total: int, members: int, data: st.DataObject
) -> None:
    """A larger quota heard later never lowers a member's share (so adopting it is safe)."""
    rank = data.draw(st.integers(0, members - 1))
    assert fleet_share(total, members, rank) <= fleet_share(total + 1, members, rank)


# -- fleet_pace -----------------------------------------------------------------------


def test_a_configured_rate_is_split_between_members() -> None:
    """20 a second in four processes: 5 a second each, a burst of at least one."""
    interval, burst = fleet_pace(0.05, 1, 4, 0)
    assert interval == pytest.approx(0.2)
    assert burst == 1
    assert [fleet_pace(0.1, 10, 4, rank)[1] for rank in range(4)] == [3, 3, 2, 2]
    assert fleet_pace(0.05, 8, 1, 0) == (0.05, 8)
    assert fleet_pace(0.05, 8, 0, 0) == (0.05, 8)


@given(
    st.floats(0.001, 10.0),
    st.integers(1, 50),
    st.integers(1, 16),
    st.floats(0.0, 30.0),
)
def test_the_fleet_sends_no_more_than_the_whole_limit(
    interval: float, burst: int, members: int, seconds: float
) -> None:
    """Every member sending as fast as GCRA lets it: at most max(burst, members) + t/interval."""
    sent = 0
    for rank in range(members):
        mine, share = fleet_pace(interval, burst, members, rank)
        tat, now = -math.inf, 0.0
        while now <= seconds:
            wait, after = gcra(tat, now, interval=mine, burst=share)
            if wait == 0.0:
                tat = after
                sent += 1
            else:
                now += wait
    assert sent <= max(burst, members) + seconds / interval + 1e-6


# -- the window's quota on KeyState -----------------------------------------------------


def _fleet(members: int) -> list[KeyState]:
    states = []
    for rank in range(members):
        state = KeyState(probe=True)
        state.members, state.rank = members, rank
        states.append(state)
    return states


def test_alone_the_share_is_the_whole_count() -> None:
    """Without a fleet the allowance is the server's count, as rule 2 says."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "probe")
    state.learn(ServerLimit(remaining=9, reset_in=RESET), 0.0)
    assert (state.quota, state.sent, state.allowance()) == (10, 1, 9)


def test_four_first_answers_split_one_quota() -> None:
    """Four processes' first answers (19, 18, 17, 16 left) give 5 + 5 + 4 + 4 minus probes."""
    states = _fleet(4)
    for index, state in enumerate(states):
        state.take(0.0, 0.5, "probe")
        state.learn(ServerLimit(remaining=19 - index, reset_in=RESET), 0.0)
    assert [state.allowance() for state in states] == [4, 4, 3, 3]
    assert sum(state.allowance() or 0 for state in states) + 4 <= 20


def test_the_largest_quota_heard_raises_a_share() -> None:
    """Adopting the window's first answer (19 left) gives each its share of all 20."""
    states = _fleet(4)
    for index, state in enumerate(states):
        state.take(0.0, 0.5, "probe")
        state.learn(ServerLimit(remaining=19 - index, reset_in=RESET), 0.0)
    first = states[0].snapshot(0.0)
    for state in states[1:]:
        state.adopt(first, 0.0, now=0.0)
    assert [state.quota for state in states] == [20, 20, 20, 20]
    assert [state.allowance() for state in states] == [4, 4, 4, 4]


def test_a_share_of_nothing_waits_for_the_reset() -> None:
    """Three left for four processes: the last rank waits, then sends one request first."""
    states = _fleet(4)
    last = states[3]
    last.take(0.0, 0.5, "probe")
    last.learn(ServerLimit(remaining=2, reset_in=5.0), 0.0)
    assert last.allowance() == -1
    assert last.server_wait(1.0) == pytest.approx(4.0)
    assert last.server_wait(5.0) == 0.0
    assert last.probe_until == -math.inf  # the next request is the probe


def test_a_new_window_adopted_counts_the_requests_still_out() -> None:
    """A window learned from the fleet while two requests are out: they count against the share."""
    state = _fleet(2)[0]
    state.take(0.0, 0.0)
    state.take(0.0, 0.0)
    state.adopt(KeySnapshot(remaining=9, reset_at=RESET, quota=10), 0.0, now=0.0)
    assert (state.sent, state.allowance()) == (2, 3)


def test_an_adopted_block_is_as_one_heard_here() -> None:
    """A later Retry-After from the fleet blocks, drops the count; one request goes first after."""
    state = KeyState(probe=False)
    state.learn(ServerLimit(remaining=9, reset_in=RESET), 0.0)
    state.adopt(KeySnapshot(blocked_until=2.0), 0.0, now=0.0)
    assert state.server_wait(0.5) == pytest.approx(1.5)
    assert (state.remaining, state.probe_until) == (None, -math.inf)
    state.adopt(KeySnapshot(blocked_until=2.0), 0.0, now=0.5)  # the same again: nothing
    assert state.probe_until == -math.inf


def test_a_window_about_to_end_or_over_is_not_adopted() -> None:
    """A record that may be about the window that just ended is not taken for the next."""
    state = KeyState(probe=True)
    state.adopt(KeySnapshot(remaining=0, reset_at=10.0 + ENDING / 2, quota=20), 0.0, now=10.0)
    assert state.remaining is None
    state.learn(ServerLimit(remaining=15, reset_in=1.0), 10.0)
    state.adopt(KeySnapshot(remaining=0, reset_at=10.05, quota=20), 0.0, now=10.0)
    assert state.remaining == 15


def test_adopting_rolls_an_ended_window_first() -> None:
    """A window of ours that ended is forgotten before a record of the next is merged."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "probe")
    state.learn(ServerLimit(remaining=0, reset_in=1.0), 0.0)
    state.adopt(KeySnapshot(remaining=12, reset_at=2.0, quota=20), 0.0, now=1.01)
    assert (state.remaining, state.reset_at) == (12, 2.0)


# -- any interleaving against a simulated server ------------------------------------------------

actions = st.lists(
    st.tuples(st.sampled_from(["send", "deliver", "adopt"]), st.integers(0, 7), st.integers(0, 7)),
    max_size=300,
)


class _Window:
    """A server's fixed window of ``limit`` requests, and a fleet's requests on the way."""

    def __init__(self, limit: int, members: int) -> None:
        self.limit = limit
        self.counted = 0
        self.refused = 0
        self.states = _fleet(members)
        self.out: list[int] = []  # the process of each request not yet at the server
        self.calls = 0

    def send(self, who: int) -> None:
        state = self.states[who]
        self.calls += 1
        caller = f"{who}:{self.calls}"
        if state.server_wait(0.0) == 0.0 and state.probe_wait(0.0, caller) == 0.0:
            state.take(0.0, 0.5, caller)
            self.out.append(who)

    def deliver(self, index: int) -> None:
        if not self.out:
            return
        who = self.out.pop(index % len(self.out))
        self.counted += 1
        if self.counted > self.limit:
            self.refused += 1
            self.states[who].learn(ServerLimit(blocked_for=RESET), 0.0)
        else:
            self.states[who].learn(
                ServerLimit(remaining=self.limit - self.counted, reset_in=RESET), 0.0
            )

    def adopt(self, who: int, other: int) -> None:
        self.states[who].adopt(self.states[other].snapshot(0.0), 0.0, now=0.0)

    def settle(self) -> None:
        """Every request answered, every state shared with every other."""
        while self.out:
            self.deliver(0)
        for who in range(len(self.states)):
            for other in range(len(self.states)):
                self.adopt(who, other)


@given(st.integers(1, 6), st.integers(0, 40), actions)
def test_a_fleet_sending_in_any_order_is_never_refused(
    members: int, spare: int, steps: list[tuple[str, int, int]]
) -> None:
    """With at least one request a process, no interleaving makes the fleet overshoot."""
    window = _Window(members + spare, members)
    for kind, who, other in steps:
        if kind == "send":
            window.send(who % members)
        elif kind == "deliver":
            window.deliver(who)
        else:
            window.adopt(who % members, other % members)
    assert window.refused == 0
    assert window.counted + len(window.out) <= window.limit


@given(st.integers(1, 6), st.integers(0, 40), actions)
def test_a_fleet_that_shares_everything_spends_the_whole_quota(
    members: int, spare: int, steps: list[tuple[str, int, int]]
) -> None:
    """Once every answer is in and shared, the processes together may send all that is left."""
    window = _Window(members + spare, members)
    for kind, who, _other in steps:
        if kind == "send":
            window.send(who % members)
        elif kind == "deliver":
            window.deliver(who)
    window.settle()
    for who, state in enumerate(window.states):
        if state.remaining is None:
            window.send(who)  # a process that has not asked yet sends its first request
            window.settle()
    for who in range(members):
        for _ in range(window.limit):
            window.send(who)
    window.settle()
    assert window.refused == 0
    assert window.counted == window.limit


@given(st.integers(1, 6), st.integers(0, 5), actions)
def test_fewer_requests_than_processes_costs_at_most_their_first_requests(
    members: int, limit: int, steps: list[tuple[str, int, int]]
) -> None:
    """A quota smaller than the fleet: only first requests (one a process) can be refused."""
    window = _Window(limit, members)
    for kind, who, other in steps:
        if kind == "send":
            window.send(who % members)
        elif kind == "deliver":
            window.deliver(who)
        else:
            window.adopt(who % members, other % members)
    assert window.refused <= max(0, members - limit)


# -- records ----------------------------------------------------------------------------


def test_a_record_holds_seconds_from_now_and_no_arrival_time() -> None:
    """Times travel as seconds from the write, rounded up to the ms; the GCRA time stays home."""
    snapshot = KeySnapshot(
        blocked_until=1_002.0004, remaining=7, reset_at=1_030.0, tat=1_001.0, quota=20
    )
    assert record_of(snapshot, 1_000.0) == {
        "block": "2.001",
        "reset": "30.000",
        "remaining": "7",
        "quota": "20",
    }
    assert record_of(KeySnapshot(tat=2_000.0), 1_000.0) == {}
    assert record_of(KeySnapshot(blocked_until=999.0, remaining=3, reset_at=990.0), 1_000.0) == {}


def test_a_record_read_later_is_put_on_the_readers_clock() -> None:
    """Read 0.5 s after it was written, on a clock at 50: the block ends at 51.5."""
    fields = {"block": "2.000", "reset": "30.000", "remaining": "7", "quota": "20"}
    assert snapshot_of(fields, 0.5, 50.0) == KeySnapshot(
        blocked_until=51.5, remaining=7, reset_at=79.5, quota=20
    )
    assert snapshot_of({}, 0.0, 50.0) == KeySnapshot()
    assert snapshot_of({"block": "1.000"}, 3.0, 50.0) == KeySnapshot()  # over by now
    assert snapshot_of({"reset": "1", "remaining": "3"}, 2.0, 50.0) == KeySnapshot()
    assert snapshot_of({"reset": "9", "remaining": "3", "v": "2"}, 0.0, 0.0) == KeySnapshot(
        remaining=3, reset_at=9.0
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"block": "soon"},
        {"block": "-1"},
        {"block": "inf"},
        {"block": "nan"},
        {"block": "1e3"},
        {"reset": "5"},
        {"remaining": "5"},
        {"remaining": "5", "reset": "1", "quota": "x"},
        {"quota": "5"},
        {"remaining": "-1", "reset": "1"},
        {"remaining": "1" * 16, "reset": "1"},
        {"reset": "1" * 7, "remaining": "1"},
    ],
)
def test_a_malformed_record_is_refused(fields: dict[str, str]) -> None:
    """A known field that is not a number of its form makes the whole record unreadable."""
    assert snapshot_of(fields, 0.0, 0.0) is None


@given(
    st.one_of(st.just(-math.inf), st.floats(-100.0, LONGEST_WAIT)),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.floats(-100.0, LONGEST_WAIT),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.floats(0.0, 10.0),
)
def test_a_record_round_trips_within_a_millisecond(
    blocked_until: float, remaining: int | None, reset_at: float, quota: int | None, age: float
) -> None:
    """What a reader gets is what was written, moved by the age, never earlier by a ms or more."""
    snapshot = KeySnapshot(
        blocked_until=blocked_until, remaining=remaining, reset_at=reset_at, quota=quota
    )
    read = snapshot_of(record_of(snapshot, 0.0), age, age)
    assert read is not None
    if blocked_until > age:
        assert blocked_until <= read.blocked_until < blocked_until + 0.0011
    else:
        assert read.blocked_until < age + 0.0011 or read.blocked_until == -math.inf
    if remaining is not None and reset_at > age + 0.001:
        assert (read.remaining, read.quota) == (remaining, quota)
        assert reset_at <= read.reset_at < reset_at + 0.0011
    elif read.remaining is not None:
        assert read.reset_at > age


@given(
    st.dictionaries(
        st.sampled_from(["block", "reset", "remaining", "quota", "x"]), st.text(max_size=20)
    )
)
def test_any_record_reads_as_a_snapshot_or_none(fields: dict[str, str]) -> None:
    """Garbage in a record never raises: it reads as a snapshot, or as malformed."""
    read = snapshot_of(fields, 0.25, 100.0)
    assert read is None or isinstance(read, KeySnapshot)


def test_state_passed_back_and_forth_does_not_creep() -> None:
    """A block and a reset read back a few ms late, round after round, stay where they were."""
    a, b = KeyState(probe=False), KeyState(probe=False)
    a.learn(ServerLimit(remaining=10, reset_in=5.0), 0.0)
    a.learn(ServerLimit(blocked_for=3.0), 0.0)
    a.adopt(KeySnapshot(remaining=10, reset_at=5.0, quota=11), 0.0, now=0.0)
    for _ in range(100):
        for reader, writer in ((b, a), (a, b)):
            late = attrs.evolve(
                writer.snapshot(0.0),
                blocked_until=writer.blocked_until + 0.003,
                reset_at=writer.reset_at + 0.003,
            )
            reader.adopt(late, 0.0, now=0.0)
    assert a.blocked_until == 3.0
    assert b.blocked_until == pytest.approx(3.003)
    assert a.reset_at == 5.0
