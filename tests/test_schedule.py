"""schedule_rows and timeline: a policy's waits per retry, and a call's attempts in time."""

from __future__ import annotations

import itertools
import math
import sys
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import Backoff, Reason, RetryPolicy, decide
from retrykit._core._schedule import (
    LONGEST_RAND,
    MEDIAN_RAND,
    ScheduleRow,
    Timeline,
    TimelineRow,
    schedule_rows,
    timeline,
)
from tests.strategies import JITTER_KINDS, backoffs, policies, rands


def test_default_backoff_schedule() -> None:
    """Full jitter over 1 s doubling: waits from 0 up to 1, 2, 4, 8 s; worst total 15 s."""
    assert schedule_rows(Backoff(), 4) == [
        ScheduleRow(1, 0.0, 0.5, 1.0, 1.0),
        ScheduleRow(2, 0.0, 1.0, 2.0, 3.0),
        ScheduleRow(3, 0.0, 2.0, 4.0, 7.0),
        ScheduleRow(4, 0.0, 4.0, 8.0, 15.0),
    ]


def test_proportional_schedule_adds_jitter_on_top() -> None:
    """Proportional jitter never waits less than the raw wait and at most 20 % more."""
    rows = schedule_rows(Backoff(jitter="proportional", jitter_ratio=0.2), 3)
    assert [row.low for row in rows] == [1.0, 2.0, 4.0]
    assert [row.high for row in rows] == pytest.approx([1.2, 2.4, 4.8])
    assert rows[-1].worst_total == pytest.approx(8.4)


def test_decorrelated_columns_follow_their_own_chain() -> None:
    """With decorrelated jitter each column grows from its own previous wait."""
    rows = schedule_rows(Backoff(base=1.0, cap=100.0, jitter="decorrelated"), 3)
    assert [row.low for row in rows] == [1.0, 1.0, 1.0]
    assert [row.median for row in rows] == [2.0, 3.5, 5.75]
    assert [row.high for row in rows] == [3.0, 9.0, 27.0]
    assert [row.worst_total for row in rows] == [3.0, 12.0, 39.0]


def test_no_retries_no_rows() -> None:
    """A policy with one attempt has an empty schedule."""
    assert schedule_rows(Backoff(), 0) == []


@given(backoffs(), st.integers(min_value=1, max_value=12))
def test_rows_are_delay_and_bounds(backoff: Backoff, retries: int) -> None:
    """Each row is delay(rand=0), delay(rand=MEDIAN_RAND) and the high bound, in order."""
    rows = schedule_rows(backoff, retries)
    assert [row.retry for row in rows] == list(range(1, retries + 1))
    for row in rows:
        assert row.low <= row.median <= row.high


@given(backoffs(), st.integers(min_value=1, max_value=12))
def test_worst_total_is_the_sum_of_the_highs(backoff: Backoff, retries: int) -> None:
    """The worst total of a retry is the sum of every longest wait up to it."""
    total = 0.0
    for row in schedule_rows(backoff, retries):
        total += row.high
        assert row.worst_total == total


def test_median_is_the_middle_draw() -> None:
    """The median column is the wait drawn with rand=0.5."""
    assert MEDIAN_RAND == 0.5


# -- timeline ---------------------------------------------------------------------------

_NO_JITTER = Backoff(jitter="none")


def _starts(result: Timeline) -> list[tuple[float, float]]:
    return [(row.earliest, row.latest) for row in result.rows]


def test_default_policy_timeline() -> None:
    """Four attempts that fail at once start by 0, 1, 3 and 7 s; the call ends by 7 s."""
    result = timeline(RetryPolicy())
    assert [row.attempt for row in result.rows] == [1, 2, 3, 4]
    assert [row.earliest for row in result.rows] == [0.0, 0.0, 0.0, 0.0]
    assert [row.latest for row in result.rows] == pytest.approx([0.0, 1.0, 3.0, 7.0])
    assert [row.wait_max for row in result.rows] == pytest.approx([0.0, 1.0, 2.0, 4.0])
    assert not any(row.may_not_start for row in result.rows)
    assert result.stop is Reason.ATTEMPTS_EXHAUSTED
    assert result.deadline == 60.0
    assert result.server_wait is None
    assert result.latest_end == pytest.approx(7.0)


def test_the_longest_waits_are_the_backoffs_bounds() -> None:
    """The latest starts add up the upper ends of Backoff.bounds, each jitter kind alike."""
    for jitter in JITTER_KINDS:
        backoff = Backoff(base=0.5, multiplier=3, cap=10, jitter=jitter, jitter_ratio=0.25)
        result = timeline(RetryPolicy(max_attempts=6, backoff=backoff, deadline=None))
        rows = schedule_rows(backoff, 5)
        assert [row.wait_min for row in result.rows[1:]] == [row.low for row in rows]
        assert [row.wait_max for row in result.rows[1:]] == pytest.approx(
            [row.high for row in rows]
        )
        assert result.rows[-1].latest == pytest.approx(rows[-1].worst_total)


def test_attempt_time_is_added_before_every_wait() -> None:
    """With each attempt taking 0.5 s, attempt n starts (n - 1) * 0.5 s later."""
    result = timeline(RetryPolicy(backoff=_NO_JITTER), attempt_time=0.5)
    assert _starts(result) == [(0.0, 0.0), (1.5, 1.5), (4.0, 4.0), (8.5, 8.5)]
    assert result.latest_end == 9.0


def test_min_wait_raises_the_shortest_waits() -> None:
    """Full jitter may draw 0, but no wait is shorter than min_wait."""
    result = timeline(RetryPolicy(min_wait=0.25))
    assert [row.earliest for row in result.rows] == [0.0, 0.25, 0.5, 0.75]
    assert [row.wait_min for row in result.rows[1:]] == [0.25, 0.25, 0.25]


def test_decorrelated_chains_follow_their_own_previous_wait() -> None:
    """The shortest draws stay at base; the longest grow from the previous longest."""
    backoff = Backoff(base=1.0, cap=100.0, jitter="decorrelated")
    result = timeline(RetryPolicy(backoff=backoff, deadline=None))
    assert [row.earliest for row in result.rows] == [0.0, 1.0, 2.0, 3.0]
    assert [row.latest for row in result.rows] == pytest.approx([0.0, 3.0, 12.0, 39.0])


def test_no_attempt_starts_at_the_deadline() -> None:
    """Attempt 3 would start at exactly 3 s: a 3 s deadline stops the call after attempt 2."""
    result = timeline(RetryPolicy(backoff=_NO_JITTER, deadline=3.0))
    assert _starts(result) == [(0.0, 0.0), (1.0, 1.0)]
    assert result.stop is Reason.DEADLINE
    assert result.latest_end == 1.0


def test_an_attempt_the_deadline_may_cut() -> None:
    """With a 5 s deadline, attempt 4 (latest 7 s) starts only if the waits are short."""
    result = timeline(RetryPolicy(deadline=5))
    last = result.rows[-1]
    assert last == TimelineRow(4, 0.0, 5.0, 0.0, last.wait_max, may_not_start=True)
    assert last.wait_max == pytest.approx(4.0)
    assert [row.may_not_start for row in result.rows] == [False, False, False, True]
    assert result.stop is Reason.ATTEMPTS_EXHAUSTED
    assert result.latest_end == 5.0


def test_an_attempt_time_is_cut_at_the_deadline() -> None:
    """Attempts that would run past the deadline end with it."""
    result = timeline(RetryPolicy(backoff=_NO_JITTER, deadline=2.0), attempt_time=1.5)
    assert _starts(result) == [(0.0, 0.0)]
    assert result.stop is Reason.DEADLINE
    assert result.latest_end == 1.5
    longer = timeline(RetryPolicy(backoff=_NO_JITTER, deadline=1.0), attempt_time=1.5)
    assert longer.latest_end == 1.0


def test_retry_after_is_the_shortest_wait() -> None:
    """A Retry-After of 5 s on every answer: each wait is max(5, backoff)."""
    result = timeline(RetryPolicy(backoff=_NO_JITTER, max_attempts=5, deadline=None), retry_after=5)
    assert [row.earliest for row in result.rows] == [0.0, 5.0, 10.0, 15.0, 23.0]
    assert result.server_wait == 5.0


def test_retry_after_longer_than_max_retry_after_stops_the_call() -> None:
    """A server asking for 120 s (max_retry_after is 60 s) gets no retry: one attempt."""
    result = timeline(RetryPolicy(), retry_after=120)
    assert _starts(result) == [(0.0, 0.0)]
    assert result.stop is Reason.RETRY_AFTER_TOO_LONG
    assert result.server_wait == 120.0
    assert result.latest_end == 0.0


def test_retry_after_past_the_deadline_stops_the_call() -> None:
    """30 s waits and a 60 s deadline: attempt 3 would start at 60 s, so the call stops."""
    result = timeline(RetryPolicy(), retry_after=30)
    assert _starts(result) == [(0.0, 0.0), (30.0, 30.0)]
    assert result.stop is Reason.DEADLINE


def test_an_ignored_retry_after_changes_nothing() -> None:
    """With respect_retry_after=False the timeline is the backoff's alone."""
    policy = RetryPolicy(respect_retry_after=False)
    assert timeline(policy, retry_after=120) == timeline(policy)
    assert timeline(policy, retry_after=120).server_wait is None


def test_a_tiny_retry_after_is_read_exactly() -> None:
    """The header is written in plain digits, so 1e-07 s is not lost to "1e-07"."""
    result = timeline(RetryPolicy(backoff=Backoff(base=0.0)), retry_after=1e-7)
    assert result.rows[1].wait_min == 1e-7


def test_one_attempt_is_the_whole_timeline() -> None:
    """max_attempts=1: one row, and the call ends with it."""
    result = timeline(RetryPolicy(max_attempts=1))
    assert _starts(result) == [(0.0, 0.0)]
    assert result.stop is Reason.ATTEMPTS_EXHAUSTED


def test_a_status_the_policy_does_not_retry_ends_at_once() -> None:
    """The assumed status is a choice: one the policy does not retry gives one row."""
    result = timeline(RetryPolicy(retry_statuses={429}))
    assert result.stop is Reason.NOT_RETRYABLE_STATUS
    assert len(timeline(RetryPolicy(retry_statuses={429}), status=429).rows) == 4


@pytest.mark.parametrize(
    ("attempt_time", "retry_after", "error", "message"),
    [
        (-1.0, None, ValueError, "'attempt_time' must be >= 0"),
        (math.inf, None, ValueError, "'attempt_time' must be finite"),
        (0.0, math.nan, ValueError, "'retry_after' must be finite"),
        (0.0, True, TypeError, "'retry_after' must be a number"),
    ],
)
def test_bad_assumptions_are_refused(
    attempt_time: float, retry_after: float | None, error: type[Exception], message: str
) -> None:
    """An attempt time or Retry-After that is not seconds >= 0 fails, naming it."""
    with pytest.raises(error, match=message):
        timeline(RetryPolicy(), attempt_time=attempt_time, retry_after=retry_after)


def test_huge_waits_saturate_instead_of_reaching_inf() -> None:
    """Waits of 1e308 s add up to the largest float, not inf."""
    backoff = Backoff(base=1e308, cap=1e308, jitter="proportional", jitter_ratio=1e10)
    result = timeline(RetryPolicy(backoff=backoff, deadline=None), attempt_time=1e308)
    assert result.rows[-1].latest == sys.float_info.max
    assert result.latest_end == sys.float_info.max


_HUGE = st.floats(min_value=0.0, max_value=sys.float_info.max)


def _huge_policies() -> st.SearchStrategy[RetryPolicy]:
    backoff = st.builds(
        Backoff,
        base=_HUGE,
        multiplier=_HUGE,
        cap=_HUGE,
        jitter=st.sampled_from(JITTER_KINDS),
        jitter_ratio=_HUGE,
    )
    return st.builds(
        RetryPolicy,
        max_attempts=st.integers(min_value=1, max_value=30),
        backoff=backoff,
        max_retry_after=_HUGE,
        deadline=st.none() | st.floats(min_value=1e-9, max_value=sys.float_info.max),
        min_wait=_HUGE,
    )


_ANY_POLICY = policies().flatmap(
    lambda policy: st.builds(attrs.evolve, st.just(policy), min_wait=st.floats(0.0, 10.0))
)
_ATTEMPT_TIMES = st.floats(min_value=0.0, max_value=100.0)
_RETRY_AFTERS = st.none() | st.floats(min_value=0.0, max_value=1e5)


@given(_ANY_POLICY | _huge_policies(), _ATTEMPT_TIMES | _HUGE, st.none() | _HUGE)
def test_every_time_is_finite_and_in_order(
    policy: RetryPolicy, attempt_time: float, retry_after: float | None
) -> None:
    """Earliest <= latest, both never decrease, all finite, however huge the input."""
    result = timeline(policy, attempt_time=attempt_time, retry_after=retry_after)
    rows = result.rows
    assert 1 <= len(rows) <= policy.max_attempts
    assert [row.attempt for row in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert 0.0 <= row.earliest <= row.latest
        assert 0.0 <= row.wait_min <= row.wait_max
        values = (row.earliest, row.latest, row.wait_min, row.wait_max)
        assert all(math.isfinite(value) for value in values)
    for before, after in itertools.pairwise(rows):
        assert before.earliest <= after.earliest
        assert before.latest <= after.latest
    assert math.isfinite(result.latest_end)
    assert result.latest_end >= rows[-1].earliest


@given(_ANY_POLICY | _huge_policies(), _ATTEMPT_TIMES, _RETRY_AFTERS)
def test_nothing_starts_at_or_after_the_deadline(
    policy: RetryPolicy, attempt_time: float, retry_after: float | None
) -> None:
    """Every earliest start is before the deadline; a latest start only reaches it when cut."""
    result = timeline(policy, attempt_time=attempt_time, retry_after=retry_after)
    if policy.deadline is None:
        assert not any(row.may_not_start for row in result.rows)
        return
    for row in result.rows:
        assert row.earliest < policy.deadline
        if row.may_not_start:
            assert row.latest == policy.deadline
        else:
            assert row.latest < policy.deadline
    assert result.latest_end <= policy.deadline


@given(
    _ANY_POLICY,
    _ATTEMPT_TIMES,
    _RETRY_AFTERS,
    st.lists(rands(), min_size=30, max_size=30),
)
def test_a_real_call_starts_each_attempt_within_its_row(
    policy: RetryPolicy, attempt_time: float, retry_after: float | None, draws: list[float]
) -> None:
    """Replaying decide with any draws: attempt n starts within row n, and no row is missing."""
    result = timeline(policy, attempt_time=attempt_time, retry_after=retry_after)
    # The header in plain digits, every digit of the float kept.
    headers = None if retry_after is None else {"Retry-After": f"{Decimal(repr(retry_after)):f}"}
    start, previous, attempt = 0.0, None, 1
    while True:
        row = result.rows[attempt - 1]
        assert row.earliest <= start <= row.latest
        decision = decide(
            policy,
            attempt=attempt,
            method="GET",
            status=503,
            headers=headers,
            elapsed=start + attempt_time,
            rand=draws[attempt - 1],
            previous_delay=previous,
        )
        if not decision.retry:
            break
        start, previous, attempt = (
            start + attempt_time + decision.delay,
            decision.delay,
            attempt + 1,
        )
    assert attempt <= len(result.rows)
    if attempt < len(result.rows):
        # Only the deadline ends a call before the shortest draws would: the rows after
        # this one are the ones it may cut.
        assert decision.reason is Reason.DEADLINE
        assert all(row.may_not_start for row in result.rows[attempt:])


def test_the_longest_draw_is_below_one() -> None:
    """LONGEST_RAND is the largest rand a caller can pass: the longest wait there is."""
    assert LONGEST_RAND < 1.0
    assert math.nextafter(LONGEST_RAND, 2.0) == 1.0
