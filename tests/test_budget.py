"""The retry budget: Finagle's arithmetic over a sliding window, with a fake clock."""

from __future__ import annotations

import math
import pickle
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import RetryBudget
from retrykit._core._budget import BudgetConfig, BudgetLedger, WindowCounts


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def withdraw_all(budget: RetryBudget, limit: int = 100_000) -> int:
    taken = 0
    while taken < limit and budget.try_withdraw():
        taken += 1
    return taken


def test_no_traffic_leaves_the_reserve() -> None:
    """With no requests, min_per_second * ttl retries are available, and no more."""
    budget = RetryBudget(ratio=0.2, min_per_second=10.0, ttl=10.0, clock=FakeClock())
    assert budget.available() == 100
    assert withdraw_all(budget) == 100
    assert budget.try_withdraw() is False


def test_each_request_adds_ratio_of_a_retry() -> None:
    """N requests add ratio * N retries on top of the reserve."""
    budget = RetryBudget(ratio=0.2, min_per_second=1.0, ttl=10.0, clock=FakeClock())
    for _ in range(50):
        budget.deposit()
    assert withdraw_all(budget) == 10 + 10


def test_finagle_defaults() -> None:
    """With the defaults, 1,000 requests in a window allow 100 + 200 retries."""
    budget = RetryBudget(clock=FakeClock())
    for _ in range(1000):
        budget.deposit()
    assert withdraw_all(budget) == 300


def test_fractional_ratio_is_not_lost_to_rounding() -> None:
    """0.29 * 100 requests allow 29 retries, though the float product is 28.999..."""
    budget = RetryBudget(ratio=0.29, min_per_second=0.0, ttl=1.0, clock=FakeClock())
    for _ in range(100):
        budget.deposit()
    assert withdraw_all(budget) == 29


def test_zero_budget_never_allows_a_retry() -> None:
    """ratio=0 and min_per_second=0 turn retries off, whatever the traffic."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.0, clock=FakeClock())
    for _ in range(100):
        budget.deposit()
    assert budget.try_withdraw() is False


def test_deposits_expire_after_ttl() -> None:
    """Requests older than ttl no longer earn retries."""
    clock = FakeClock()
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(5):
        budget.deposit()
    clock.now = 9.99
    assert budget.available() == 5
    clock.now = 10.0
    assert budget.available() == 0


def test_retries_are_given_back_after_ttl() -> None:
    """A spent reserve is available again once the retries that spent it are ttl old."""
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, min_per_second=1.0, ttl=5.0, clock=clock)
    assert withdraw_all(budget) == 5
    clock.now = 4.0
    assert budget.try_withdraw() is False
    clock.now = 5.0
    assert withdraw_all(budget) == 5


def test_available_is_never_negative() -> None:
    """When earned retries expire before the retries that spent them, none is available."""
    clock = FakeClock()
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, ttl=10.0, clock=clock)
    for _ in range(10):
        budget.deposit()
    clock.now = 5.0
    assert withdraw_all(budget) == 10
    clock.now = 10.0  # the deposits expired, the withdrawals (at 5.0) have not
    assert budget.available() == 0
    assert budget.try_withdraw() is False


def test_window_counts_forget_between_nine_tenths_and_all_of_the_span() -> None:
    """An event is counted for at least 0.9 * span and at most span seconds."""
    counts = WindowCounts(10.0)
    counts.add(0.5, 1, 0)
    assert counts.sums(9.0) == (1, 0)
    assert counts.sums(9.99) == (1, 0)
    assert counts.sums(10.0) == (0, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ratio": -0.1},
        {"ratio": float("inf")},
        {"min_per_second": -1.0},
        {"min_per_second": float("nan")},
        {"ttl": 0.0},
        {"ttl": -1.0},
        {"ttl": float("inf")},
    ],
)
def test_invalid_settings_are_rejected(kwargs: dict[str, Any]) -> None:
    """Negative, infinite or NaN settings (and a zero ttl) raise ValueError."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryBudget(**kwargs)


def test_non_numeric_setting_is_a_type_error() -> None:
    """A setting that is not a number raises TypeError."""
    with pytest.raises(TypeError, match="ratio"):
        BudgetConfig(ratio="0.2")  # type: ignore[arg-type]


events = st.lists(
    st.tuples(st.sampled_from(["deposit", "withdraw"]), st.floats(0.0, 3.0)), max_size=200
)


@given(
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0]),
    min_per_second=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    ttl=st.sampled_from([1.0, 2.0, 10.0]),
    steps=events,
)
def test_retries_in_any_window_stay_within_the_budget(
    ratio: float, min_per_second: float, ttl: float, steps: list[tuple[str, float]]
) -> None:
    """Whenever a retry is granted, retries in the window <= reserve + ratio * requests there.

    Checked at each grant: a retry granted earlier stays counted after the requests that
    earned it leave the window, so the bound is about the moment of the decision.
    """
    ledger = BudgetLedger(BudgetConfig(ratio=ratio, min_per_second=min_per_second, ttl=ttl))
    width = ttl / 10
    now = 0.0
    history: list[tuple[float, str]] = []
    for action, step in steps:
        now += step
        if action == "deposit":
            ledger.deposit(now)
            history.append((now, "deposit"))
        elif ledger.try_withdraw(now):
            history.append((now, "withdraw"))
            current = math.floor(now / width)
            recent = [kind for t, kind in history if math.floor(t / width) > current - 10]
            granted = recent.count("withdraw")
            assert granted <= min_per_second * ttl + ratio * recent.count("deposit") + 1e-9
        assert ledger.available(now) >= 0


@given(steps=events)
def test_a_refusal_means_no_whole_retry_was_left(steps: list[tuple[str, float]]) -> None:
    """try_withdraw says no only when available() is 0, and yes only when it is positive."""
    ledger = BudgetLedger(BudgetConfig(ratio=0.2, min_per_second=0.5, ttl=2.0))
    now = 0.0
    for action, step in steps:
        now += step
        if action == "deposit":
            ledger.deposit(now)
            continue
        available = ledger.available(now)
        assert ledger.try_withdraw(now) is (available > 0)


def test_deposits_from_32_threads_are_all_counted() -> None:
    """Concurrent deposit() calls lose no request."""
    budget = RetryBudget(ratio=1.0, min_per_second=0.0, ttl=10.0, clock=FakeClock())

    def deposit_many() -> None:
        for _ in range(500):
            budget.deposit()

    threads = [threading.Thread(target=deposit_many) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.available() == 32 * 500


def test_concurrent_withdrawals_never_overdraw() -> None:
    """32 threads racing for 100 retries get exactly 100 between them."""
    budget = RetryBudget(ratio=0.0, min_per_second=10.0, ttl=10.0, clock=FakeClock())
    granted: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        count = withdraw_all(budget)
        with lock:
            granted.append(count)

    threads = [threading.Thread(target=take) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 100


def test_budget_pickles_its_settings() -> None:
    """A pickled budget keeps its settings and starts with a fresh window."""

    budget = RetryBudget(ratio=0.5, min_per_second=1.0, ttl=3.0)
    copy = pickle.loads(pickle.dumps(budget))  # noqa: S301 - our own data
    assert copy.config == budget.config
    assert copy.try_withdraw()
