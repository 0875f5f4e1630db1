"""schedule_rows: a policy's waits per retry, and the worst time spent waiting so far."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import Backoff
from retrykit._core._schedule import MEDIAN_RAND, ScheduleRow, schedule_rows
from tests.strategies import backoffs


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
