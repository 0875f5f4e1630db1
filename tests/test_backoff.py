"""Backoff: each jitter formula, the published policies it reproduces, and its validation."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from retrykit import Backoff
from tests.strategies import JITTER_KINDS, backoffs, rands

if TYPE_CHECKING:
    from retrykit._core._backoff import JitterKind

_previous = st.none() | st.floats(min_value=0.0, max_value=1e6)


@pytest.mark.parametrize(
    ("jitter", "retry", "rand", "previous", "expected"),
    [
        ("none", 1, 0.5, None, 1.0),
        ("none", 3, 0.75, None, 4.0),
        ("full", 3, 0.0, None, 0.0),
        ("full", 3, 0.5, None, 2.0),
        ("full", 4, 0.25, None, 2.0),
        ("equal", 3, 0.0, None, 2.0),
        ("equal", 3, 0.5, None, 3.0),
        ("equal", 4, 0.75, None, 7.0),
        ("proportional", 3, 0.0, None, 4.0),
        ("proportional", 3, 0.5, None, 4.5),
        ("proportional", 4, 0.75, None, 9.5),
        ("decorrelated", 1, 0.0, None, 1.0),
        ("decorrelated", 1, 0.5, None, 2.0),
        ("decorrelated", 2, 0.5, 4.0, 6.5),
        ("decorrelated", 5, 0.25, 8.0, 6.75),
        ("decorrelated", 6, 0.5, 20.0, 30.0),
    ],
)
def test_jitter_formula(
    jitter: JitterKind, retry: int, rand: float, previous: float | None, expected: float
) -> None:
    """Each jitter kind computes exactly its documented formula from rand and previous."""
    backoff = Backoff(base=1.0, multiplier=2.0, cap=30.0, jitter=jitter, jitter_ratio=0.25)
    assert backoff.delay(retry, rand=rand, previous=previous) == expected


@pytest.mark.parametrize("retry", [1, 2, 3, 4, 5, 6, 7, 8])
def test_raw_is_capped_exponential(retry: int) -> None:
    """raw(retry) is min(cap, base * multiplier ** (retry - 1))."""
    backoff = Backoff(base=0.5, multiplier=3.0, cap=100.0)
    assert backoff.raw(retry) == min(100.0, 0.5 * 3.0 ** (retry - 1))


def test_policy_one_second_doubling() -> None:
    """'1 s, doubling: 1, 2, 4' is Backoff(base=1, multiplier=2, jitter='none')."""
    backoff = Backoff(base=1.0, multiplier=2.0, jitter="none")
    assert [backoff.delay(retry, rand=0.5) for retry in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_policy_doubling_capped_at_ten_seconds() -> None:
    """'min(1 s * 2^n, 10 s)' is jitter='none' with cap=10."""
    backoff = Backoff(base=1.0, multiplier=2.0, cap=10.0, jitter="none")
    delays = [backoff.delay(retry, rand=0.0) for retry in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize(
    ("retry", "raw"),
    [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 30.0), (7, 30.0), (20, 30.0)],
)
def test_policy_capped_at_thirty_seconds_plus_twenty_percent(retry: int, raw: float) -> None:
    """'min(1 s * 2^(n-1), 30 s) plus up to 20 % jitter' is proportional with ratio 0.2."""
    backoff = Backoff(base=1.0, multiplier=2.0, cap=30.0, jitter="proportional", jitter_ratio=0.2)
    assert backoff.delay(retry, rand=0.0) == raw
    assert backoff.delay(retry, rand=0.5) == pytest.approx(raw * 1.1)
    low, high = backoff.bounds(retry)
    assert low == raw
    assert high == pytest.approx(raw * 1.2)


def test_default_backoff_is_full_jitter_one_second_doubling_capped_at_thirty() -> None:
    """The default Backoff is full jitter over 1 s doubling, capped at 30 s."""
    assert Backoff() == Backoff(base=1.0, multiplier=2.0, cap=30.0, jitter="full", jitter_ratio=0.2)


@pytest.mark.parametrize("field", ["base", "multiplier", "cap", "jitter_ratio"])
@pytest.mark.parametrize("value", [-1.0, -0.001, math.nan, math.inf, -math.inf])
def test_negative_or_non_finite_number_rejected(field: str, value: float) -> None:
    """A negative, NaN or infinite number is refused when the Backoff is built."""
    with pytest.raises(ValueError, match=field):
        Backoff(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["base", "multiplier", "cap", "jitter_ratio"])
@pytest.mark.parametrize("value", ["1", None, True])
def test_non_number_rejected(field: str, value: object) -> None:
    """A value that is not a number (a bool included) is refused with TypeError."""
    with pytest.raises(TypeError, match=field):
        Backoff(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("jitter", ["random", "FULL", "", "exponential"])
def test_unknown_jitter_rejected(jitter: str) -> None:
    """A jitter name outside the five known kinds is refused."""
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=jitter)  # type: ignore[arg-type]


@pytest.mark.parametrize("jitter", JITTER_KINDS)
@pytest.mark.parametrize("multiplier", [2.0, 2])
def test_huge_retry_number_does_not_overflow(jitter: JitterKind, multiplier: float) -> None:
    """Retry 10 000 gives a delay within the cap instead of raising OverflowError."""
    backoff = Backoff(multiplier=multiplier, cap=30.0, jitter=jitter, jitter_ratio=0.2)
    low, high = backoff.bounds(10_000)
    assert low <= backoff.delay(10_000, rand=0.5) <= high <= 36.0


def test_huge_retry_number_with_zero_base_stays_zero() -> None:
    """A zero base waits zero at any retry number, even when the exponential overflows."""
    backoff = Backoff(base=0.0, jitter="none")
    assert backoff.delay(10_000, rand=0.5) == 0.0


@pytest.mark.parametrize("jitter", JITTER_KINDS)
@pytest.mark.parametrize("rand", [-0.1, 1.0, 1.5, math.nan, -math.inf, math.inf])
def test_rand_outside_unit_interval_rejected(jitter: JitterKind, rand: float) -> None:
    """A rand outside [0, 1) is a caller bug and raises ValueError."""
    with pytest.raises(ValueError, match="rand"):
        Backoff(jitter=jitter).delay(1, rand=rand)


@pytest.mark.parametrize("jitter", JITTER_KINDS)
@pytest.mark.parametrize("retry", [0, -1])
def test_retry_below_one_rejected(jitter: JitterKind, retry: int) -> None:
    """Retries count from 1: a retry number below 1 raises ValueError."""
    with pytest.raises(ValueError, match="retry counts from 1"):
        Backoff(jitter=jitter).delay(retry, rand=0.5)


@pytest.mark.parametrize(
    ("previous", "expected"), [(None, (1.0, 3.0)), (4.0, (1.0, 12.0)), (20.0, (1.0, 30.0))]
)
def test_decorrelated_bounds_reach_three_times_the_previous_wait(
    previous: float | None, expected: tuple[float, float]
) -> None:
    """Decorrelated jitter waits from base up to 3 times the previous wait, capped."""
    backoff = Backoff(base=1.0, cap=30.0, jitter="decorrelated")
    assert backoff.bounds(2, previous=previous) == expected


def test_largest_draw_stays_within_the_high_bound() -> None:
    """The largest rand below 1 never waits past bounds()'s high end, for any jitter kind."""
    largest = math.nextafter(1.0, 0.0)
    for jitter in JITTER_KINDS:
        backoff = Backoff(base=0.3, multiplier=1.7, cap=7.7, jitter=jitter, jitter_ratio=0.33)
        for retry in range(1, 40):
            low, high = backoff.bounds(retry, previous=5.1)
            assert low <= backoff.delay(retry, rand=largest, previous=5.1) <= high


@pytest.mark.parametrize("previous", [None, 0.0])
def test_decorrelated_first_retry_starts_from_base(previous: float | None) -> None:
    """Without a previous delay, decorrelated jitter draws from [base, 3 * base)."""
    backoff = Backoff(base=2.0, jitter="decorrelated")
    assert backoff.delay(1, rand=0.0, previous=previous) == 2.0
    assert backoff.delay(1, rand=0.5, previous=previous) == 4.0


def test_decorrelated_previous_below_base_counts_as_base() -> None:
    """A previous delay below base (or negative) never makes a decorrelated wait negative."""
    backoff = Backoff(base=2.0, jitter="decorrelated")
    assert backoff.delay(2, rand=0.5, previous=-10.0) == 4.0
    assert backoff.delay(2, rand=0.5, previous=0.1) == 4.0


@given(backoffs(), st.integers(min_value=1, max_value=2_000), rands(), _previous)
def test_delay_within_zero_and_cap(
    backoff: Backoff, retry: int, rand: float, previous: float | None
) -> None:
    """Every kind but proportional waits between 0 and the cap."""
    delay = backoff.delay(retry, rand=rand, previous=previous)
    if backoff.jitter == "proportional":
        raw = backoff.raw(retry)
        assert raw <= delay <= raw + backoff.jitter_ratio * raw
    else:
        assert 0.0 <= delay <= backoff.cap


@given(backoffs(), st.integers(min_value=1, max_value=2_000), rands(), _previous)
# Found by hypothesis: computed apart, the high bound was one ulp below this delay.
@example(
    Backoff(
        base=1.192092896e-07,
        multiplier=0.95,
        cap=1.0,
        jitter="proportional",
        jitter_ratio=1.1550349648539335,
    ),
    237,
    0.9999999999999999,
    None,
)
def test_bounds_contain_delay(
    backoff: Backoff, retry: int, rand: float, previous: float | None
) -> None:
    """bounds() gives the smallest and largest wait, and delay() is always between them."""
    low, high = backoff.bounds(retry, previous=previous)
    assert 0.0 <= low <= backoff.delay(retry, rand=rand, previous=previous) <= high


@given(backoffs(), st.integers(min_value=1, max_value=2_000), _previous)
def test_rand_zero_gives_the_lower_bound(
    backoff: Backoff, retry: int, previous: float | None
) -> None:
    """rand=0 gives exactly the smallest wait bounds() reports."""
    low, _ = backoff.bounds(retry, previous=previous)
    assert backoff.delay(retry, rand=0.0, previous=previous) == low
