"""AdaptiveThrottle: the Google SRE formula, on a fake clock with a seeded random source.

The overloaded server here has room for a fifth of what the client offers (it refuses
the rest, 80 % at first): with the throttle, the requests that reach it fall toward
``k`` times the ones it accepts, and the share it refuses falls from 80 % to about half.
"""

from __future__ import annotations

import math
import pickle
import random

import pytest

from retrykit import AdaptiveThrottle
from retrykit.testing import FakeClock

ORIGIN = "https://api.example.com:443"


class _Capacity:
    """A server with room for ``per_second`` requests a second (up to 5 saved up); 429 past it."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.credits = 0
        self.slot = 0

    def answer(self, now: float) -> int:
        slot = math.floor(now * self.per_second + 1e-9)  # whole slots: no rounding drift
        self.credits = min(5, self.credits + slot - self.slot)
        self.slot = slot
        if self.credits > 0:
            self.credits -= 1
            return 200
        return 429


def _offer(
    throttle: AdaptiveThrottle,
    clock: FakeClock,
    server: _Capacity,
    *,
    seconds: float,
    per_second: float,
) -> tuple[int, int, int]:
    """Offer ``per_second`` requests for ``seconds``; return (offered, sent, accepted)."""
    offered = sent = accepted = 0
    step = 1.0 / per_second
    for _ in range(round(seconds * per_second)):
        clock.advance(step)
        offered += 1
        if not throttle.admit(ORIGIN):
            continue
        sent += 1
        status = server.answer(clock.monotonic())
        accepted += status == 200
        throttle.record(ORIGIN, status)
    return offered, sent, accepted


def test_requests_reaching_an_overloaded_server_fall_toward_k_times_accepts() -> None:
    """100 a second offered, room for 20: about 40 a second are sent (k = 2), 60 shed."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(k=2.0, window=120.0, clock=clock, rand=random.Random(7).random)
    server = _Capacity(per_second=20.0)
    _offer(throttle, clock, server, seconds=240.0, per_second=100.0)  # converge
    offered, sent, accepted = _offer(throttle, clock, server, seconds=120.0, per_second=100.0)
    assert sent == pytest.approx(2.0 * accepted, rel=0.1)
    assert accepted >= 0.8 * 20 * 120  # most of the server's room is still used
    assert (sent - accepted) / sent < 0.55  # refused: about half, down from 80 %
    assert offered - sent > 0.5 * offered  # shed locally, never sent


def test_without_the_throttle_the_server_refuses_80_percent() -> None:
    """The same load unthrottled: four in five requests are refused (the baseline)."""
    clock = FakeClock()
    server = _Capacity(per_second=20.0)
    statuses = []
    for _ in range(12_000):
        clock.advance(0.01)
        statuses.append(server.answer(clock.monotonic()))
    assert statuses.count(429) / len(statuses) == pytest.approx(0.8, abs=0.001)


def test_a_larger_k_sends_more() -> None:
    """k = 3 lets about three times the accepted requests through."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(k=3.0, clock=clock, rand=random.Random(3).random)
    server = _Capacity(per_second=20.0)
    _offer(throttle, clock, server, seconds=240.0, per_second=100.0)
    _, sent, accepted = _offer(throttle, clock, server, seconds=120.0, per_second=100.0)
    assert sent == pytest.approx(3.0 * accepted, rel=0.1)


def test_a_healthy_server_has_nothing_rejected() -> None:
    """Every request accepted: not one is rejected locally, over ten minutes."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rand=random.Random(1).random)
    offered, sent, accepted = _offer(
        throttle, clock, _Capacity(per_second=1_000.0), seconds=600.0, per_second=50.0
    )
    assert sent == offered == accepted


def test_a_burst_of_first_requests_is_never_rejected() -> None:
    """Fifty requests at once before any answer: all are admitted (counted once answered)."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rand=random.Random(1).random)
    assert all(throttle.admit(ORIGIN) for _ in range(50))
    for _ in range(50):
        throttle.record(ORIGIN, 200)
    assert throttle.rejection_chance(ORIGIN) == 0.0


def test_failures_that_are_not_refusals_count_as_accepted() -> None:
    """A 500 is work the server took on: it does not feed the throttle."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rand=lambda: 0.0)
    for _ in range(100):
        throttle.record(ORIGIN, 500)
    assert throttle.rejection_chance(ORIGIN) == 0.0
    assert throttle.admit(ORIGIN)


@pytest.mark.parametrize("status", [429, 503, None])
def test_refusals_and_no_response_raise_the_rejection_chance(status: int | None) -> None:
    """Ten refusals (or answers that never came) in a row: (10 - 0) / 11 of requests shed."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rand=lambda: 0.5)
    for _ in range(10):
        throttle.record(ORIGIN, status)
    assert throttle.rejection_chance(ORIGIN) == pytest.approx(10 / 11)
    assert not throttle.admit(ORIGIN)  # 0.5 < 10 / 11
    assert throttle.rejection_chance(ORIGIN) == pytest.approx(11 / 12)  # it counts itself


def test_the_formula_uses_k_times_accepts() -> None:
    """20 requests, 5 accepted, k = 2: (20 - 10) / 21."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock)
    for index in range(20):
        throttle.record(ORIGIN, 200 if index < 5 else 429)
    assert throttle.rejection_chance(ORIGIN) == pytest.approx(10 / 21)


def test_refusals_are_forgotten_after_the_window() -> None:
    """Two minutes after the refusals, nothing is rejected any more."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(window=120.0, clock=clock, rand=lambda: 0.0)
    for _ in range(100):
        throttle.record(ORIGIN, 429)
    assert not throttle.admit(ORIGIN)
    clock.advance(120.0)
    assert throttle.rejection_chance(ORIGIN) == 0.0
    assert throttle.admit(ORIGIN)


def test_origins_are_throttled_apart() -> None:
    """Refusals from one origin shed nothing to another."""
    clock = FakeClock()
    throttle = AdaptiveThrottle(clock=clock, rand=lambda: 0.0)
    for _ in range(50):
        throttle.record(ORIGIN, 503)
    assert throttle.rejection_chance("https://other.example.com:443") == 0.0


def test_rand_is_not_drawn_when_nothing_can_be_rejected() -> None:
    """Against a healthy origin, no random number is spent per request."""

    def never() -> float:
        raise AssertionError("rand was drawn")

    throttle = AdaptiveThrottle(clock=FakeClock(), rand=never)
    for _ in range(10):
        assert throttle.admit(ORIGIN)
        throttle.record(ORIGIN, 200)


def test_max_keys_bounds_memory() -> None:
    """At most max_keys origins are counted (the least recently used go first)."""
    throttle = AdaptiveThrottle(max_keys=20, clock=FakeClock())
    for index in range(500):
        origin = f"https://host{index}.example.com:443"
        throttle.admit(origin)
        throttle.record(origin, 200)
    assert len(throttle) == 20


def test_pickles_its_settings_only() -> None:
    """A pickled throttle keeps k and window and starts with empty counts."""
    throttle = AdaptiveThrottle(k=3.0, window=60.0)
    throttle.record(ORIGIN, 429)
    copy = pickle.loads(pickle.dumps(throttle))  # noqa: S301 - our own data
    assert repr(copy) == "AdaptiveThrottle(k=3, window=60)"
    assert copy.rejection_chance(ORIGIN) == 0.0


@pytest.mark.parametrize(
    ("settings", "error", "name"),
    [
        ({"k": 0.5}, ValueError, "k"),
        ({"k": True}, TypeError, "k"),
        ({"window": 0}, ValueError, "window"),
        ({"max_keys": 0}, ValueError, "max_keys"),
        ({"rand": 1}, TypeError, "rand"),
    ],
)
def test_bad_settings_fail_when_built(
    settings: dict[str, object], error: type[Exception], name: str
) -> None:
    """Each wrong argument fails at construction, naming the parameter."""
    with pytest.raises(error, match=name):
        AdaptiveThrottle(**settings)  # type: ignore[arg-type]
