"""RateLimiter: the core's rules behind a lock and a clock, per origin and credential.

Every test runs on a `FakeClock` (monotonic and wall time move together) with a fixed
``rand``, so each wait is exact.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import RateLimiter, RateLimitError, RateLimitExceededError
from retrykit._core._ratelimit import PROBE_POLL, KeySnapshot
from retrykit._state._limiter import SeenSilent
from retrykit.testing import FakeClock

ORIGIN = "https://api.example.com:443"
OTHER = "https://other.example.com:443"


def _none() -> str | None:
    return None


def _limiter(clock: FakeClock, **settings: object) -> RateLimiter:
    return RateLimiter(clock=clock, rand=lambda: 0.5, **settings)  # type: ignore[arg-type]


def _exhaust(limiter: RateLimiter, reset: str = "30", origin: str = ORIGIN) -> None:
    """Send one request and answer it with nothing remaining until ``reset``."""
    assert limiter.acquire(origin, _none, max_wait=60.0) == 0.0
    limiter.observe(origin, _none, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})


def test_next_request_waits_for_the_reset_plus_jitter() -> None:
    """After 'remaining 0, reset in 30 s' the next request waits 30 s and up to 1 s more."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _exhaust(limiter)
    wait = limiter.acquire(ORIGIN, _none, max_wait=60.0)
    assert wait == pytest.approx(30.0 + 0.5 * 1.0)  # rand 0.5 of min(3 s, 1 s)
    clock.advance(wait)
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == 0.0


def test_a_short_reset_gets_a_tenth_of_itself_as_jitter() -> None:
    """Jitter is at most a tenth of the wait: 2 s gets at most 0.2 s."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, rand=lambda: 0.999)
    _exhaust(limiter, reset="2")
    assert 2.0 < limiter.acquire(ORIGIN, _none, max_wait=60.0) < 2.2


def test_a_wait_past_max_wait_fails_at_once_with_the_cooldown() -> None:
    """A reset beyond the caller's limit: RateLimitExceededError, with retry_after and a message."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _exhaust(limiter, reset="120")
    with pytest.raises(RateLimitExceededError) as caught:
        limiter.acquire(ORIGIN, _none, max_wait=60.0)
    error = caught.value
    assert isinstance(error, RateLimitError)
    assert error.status == 429
    assert error.retry_after == 120.0
    assert error.info.user_message == "Too many requests. Please try again in 2 minutes."
    assert "nothing was sent" in str(error)
    assert clock.sleeps == []


def test_a_refused_request_reserves_nothing() -> None:
    """A refusal takes no slot: after the reset the next request goes at once."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _exhaust(limiter, reset="120")
    for _ in range(5):
        with pytest.raises(RateLimitExceededError):
            limiter.acquire(ORIGIN, _none, max_wait=10.0)
    clock.advance(120.0)
    assert limiter.acquire(ORIGIN, _none, max_wait=10.0) == 0.0


def test_a_429s_retry_after_blocks_every_caller() -> None:
    """One caller's 429 with Retry-After 20 makes every other caller of the key wait 20 s."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.observe(ORIGIN, _none, 429, {"Retry-After": "20"})
    for _ in range(3):
        assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(20.5)
    with pytest.raises(RateLimitExceededError) as caught:
        limiter.acquire(ORIGIN, _none, max_wait=5.0)
    assert caught.value.retry_after == 20.0


def test_credentials_are_paced_apart() -> None:
    """Two API keys on one origin have their own quotas."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(ORIGIN, lambda: "key-a", max_wait=60.0)
    limiter.observe(
        ORIGIN, lambda: "key-a", 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}
    )
    assert limiter.acquire(ORIGIN, lambda: "key-a", max_wait=60.0) > 29.0
    limiter.acquire(ORIGIN, lambda: "key-b", max_wait=60.0)  # key-b's first request
    limiter.observe(
        ORIGIN, lambda: "key-b", 200, {"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "30"}
    )
    assert limiter.acquire(ORIGIN, lambda: "key-b", max_wait=60.0) == 0.0


def test_origins_are_paced_apart() -> None:
    """A spent quota on one origin holds nothing on another."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _exhaust(limiter)
    assert limiter.acquire(OTHER, _none, max_wait=60.0) == 0.0


def test_remaining_counts_down_as_requests_leave() -> None:
    """'3 remaining' lets exactly three more go before the reset, answers or not."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(ORIGIN, _none, max_wait=60.0)
    limiter.observe(ORIGIN, _none, 200, {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "10"})
    assert [limiter.acquire(ORIGIN, _none, max_wait=60.0) for _ in range(3)] == [0.0] * 3
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(10.5)


def test_concurrent_first_requests_wait_for_the_first_answer() -> None:
    """Ten calls at once to a new origin: one goes, nine wait until its answer comes."""
    clock = FakeClock()
    limiter = _limiter(clock)
    callers = [lambda: None for _ in range(10)]
    waits = [limiter.acquire(ORIGIN, caller, max_wait=60.0) for caller in callers]
    assert waits == [0.0] + [PROBE_POLL] * 9
    clock.advance(0.004)
    limiter.observe(
        ORIGIN, callers[0], 200, {"X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "1"}
    )
    again = [limiter.acquire(ORIGIN, caller, max_wait=60.0) for caller in callers[1:]]
    assert again[:4] == [0.0] * 4
    assert all(wait > 0.9 for wait in again[4:])


def test_the_first_requests_own_retry_is_not_held() -> None:
    """A first request that got no answer retries at once: its call is not held for itself."""
    clock = FakeClock()
    limiter = _limiter(clock)
    call = lambda: None  # noqa: E731 - one function per call, as the driver passes
    assert limiter.acquire(ORIGIN, call, max_wait=60.0) == 0.0
    clock.advance(0.001)  # the connection was reset; no answer
    assert limiter.acquire(ORIGIN, call, max_wait=60.0) == 0.0


def test_told_of_a_failure_the_next_request_goes() -> None:
    """`failed` for the first request's call lets the next request go in its place at once."""
    clock = FakeClock()
    limiter = _limiter(clock)
    first, second = (lambda: None), (lambda: None)
    limiter.acquire(ORIGIN, first, max_wait=60.0)
    assert limiter.acquire(ORIGIN, second, max_wait=60.0) == PROBE_POLL
    limiter.failed(ORIGIN, first)
    assert limiter.acquire(ORIGIN, second, max_wait=60.0) == 0.0


def test_no_hold_past_max_wait() -> None:
    """A call that may not wait for the first answer goes rather than fail."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(ORIGIN, lambda: None, max_wait=60.0)
    assert limiter.acquire(ORIGIN, lambda: None, max_wait=0.001) == 0.0


def test_probe_wait_zero_turns_the_hold_off() -> None:
    """RateLimiter(probe_wait=0): concurrent first requests all go at once."""
    clock = FakeClock()
    limiter = _limiter(clock, probe_wait=0.0)
    assert [limiter.acquire(ORIGIN, lambda: None, max_wait=60.0) for _ in range(5)] == [0.0] * 5


def test_an_origin_that_says_nothing_costs_no_fingerprint() -> None:
    """After an answer without rate-limit fields, requests go without even a fingerprint."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(ORIGIN, _none, max_wait=60.0)
    limiter.observe(ORIGIN, _none, 200, {"Content-Type": "text/plain"})
    assert len(limiter) == 0

    def no_fingerprint() -> str | None:
        raise AssertionError("the fingerprint was computed")

    for _ in range(3):
        assert limiter.acquire(ORIGIN, no_fingerprint, max_wait=60.0) == 0.0
        limiter.observe(ORIGIN, no_fingerprint, 200, {})


def test_a_silent_origin_that_starts_counting_is_followed() -> None:
    """An origin that sends rate-limit fields only near the end of its quota is still obeyed."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire(ORIGIN, _none, max_wait=60.0)
    limiter.observe(ORIGIN, _none, 200, {})
    limiter.acquire(ORIGIN, _none, max_wait=60.0)
    limiter.observe(ORIGIN, _none, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"})
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(5.25)


def test_clock_skew_wait_is_reset_minus_date() -> None:
    """A server 10 minutes ahead sending an epoch reset: the wait is reset minus its Date."""
    clock = FakeClock(wall_start=1_700_000_000.0)
    limiter = _limiter(clock)
    server_time = 1_700_000_000 + 600
    limiter.acquire(ORIGIN, _none, max_wait=60.0)
    limiter.observe(
        ORIGIN,
        _none,
        200,
        {
            "Date": "Tue, 14 Nov 2023 22:23:20 GMT",  # 1_700_000_600
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(server_time + 12),
        },
    )
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(12.5)


def test_a_configured_rate_paces_before_any_429() -> None:
    """RateLimiter(rate=5, per=1.0, burst=2): two at once, then one every 0.2 s."""
    clock = FakeClock()
    limiter = _limiter(clock, rate=5, per=1.0, burst=2, probe_wait=0.0)
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == 0.0
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == 0.0
    wait = limiter.acquire(ORIGIN, _none, max_wait=60.0)
    assert wait == pytest.approx(0.2)  # no jitter on a configured pace
    clock.advance(wait)
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == 0.0


def test_a_configured_rate_refuses_waits_past_max_wait() -> None:
    """RateLimiter(rate=100, per=60.0, burst=10): the 11th request at once would wait 0.6 s."""
    clock = FakeClock()
    limiter = _limiter(clock, rate=100, per=60.0, burst=10, probe_wait=0.0)
    for _ in range(10):
        assert limiter.acquire(ORIGIN, _none, max_wait=0.1) == 0.0
    with pytest.raises(RateLimitExceededError) as caught:
        limiter.acquire(ORIGIN, _none, max_wait=0.1)
    assert caught.value.retry_after == pytest.approx(0.6)
    assert "configured rate limit" in str(caught.value)


def test_max_keys_bounds_memory() -> None:
    """However many origins and credentials come and go, at most max_keys of each are held."""
    clock = FakeClock()
    limiter = _limiter(clock, max_keys=50)
    counting = {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "30"}
    for index in range(2_000):
        origin = f"https://host{index % 300}.example.com:443"

        def fingerprint(index: int = index) -> str | None:
            return f"key-{index}"

        limiter.acquire(origin, fingerprint, max_wait=60.0)
        limiter.observe(origin, fingerprint, 200, counting if index % 2 else {})
        clock.advance(0.01)
    assert len(limiter) <= 50
    assert len(limiter._silent) <= 50
    assert sum(limiter._held.values()) == len(limiter)


def test_snapshot_and_adopt_share_a_block_between_processes() -> None:
    """A block seen by one limiter, adopted by another, holds there too."""
    clock_a, clock_b = FakeClock(start=100.0), FakeClock(start=5_000.0)
    a, b = _limiter(clock_a), _limiter(clock_b)
    a.acquire(ORIGIN, _none, max_wait=60.0)
    a.observe(ORIGIN, _none, 429, {"Retry-After": "30"})
    snapshot = a.snapshot(ORIGIN, None)
    assert snapshot is not None
    assert snapshot.blocked_until == pytest.approx(clock_a.time() + 30.0)
    b.adopt(ORIGIN, None, snapshot)
    assert b.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(30.5)
    assert a.snapshot(OTHER, None) is None


def test_adopt_a_window_from_elsewhere() -> None:
    """A window adopted from the fleet counts down here from the fleet's count."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.adopt(ORIGIN, None, KeySnapshot(remaining=1, reset_at=clock.time() + 10.0))
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == 0.0
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) == pytest.approx(10.5)


def test_pickles_its_settings_only() -> None:
    """A pickled limiter keeps its settings and forgets what servers said."""
    limiter = RateLimiter(rate=100, per=60.0, burst=10, probe_wait=0.25, max_keys=7)
    _exhaust(limiter)
    copy = pickle.loads(pickle.dumps(limiter))  # noqa: S301 - our own data
    assert (copy.rate, copy.per, copy.burst, copy.probe_wait, copy.max_keys) == (
        100,
        60.0,
        10,
        0.25,
        7,
    )
    assert len(copy) == 0
    assert repr(copy) == "RateLimiter(rate=100, per=60, burst=10)"
    assert repr(RateLimiter()) == "RateLimiter()"


@pytest.mark.parametrize(
    ("settings", "error", "name"),
    [
        ({"rate": 0}, ValueError, "rate"),
        ({"rate": True}, TypeError, "rate"),
        ({"rate": float("inf")}, ValueError, "rate"),
        ({"per": -1.0}, ValueError, "per"),
        ({"burst": 0}, ValueError, "burst"),
        ({"burst": 1.5}, ValueError, "burst"),
        ({"probe_wait": -0.1}, ValueError, "probe_wait"),
        ({"probe_wait": "1"}, TypeError, "probe_wait"),
        ({"max_keys": 0}, ValueError, "max_keys"),
        ({"rand": 0.5}, TypeError, "rand"),
        ({"clock": 3}, TypeError, "clock"),
    ],
)
def test_bad_settings_fail_when_built(
    settings: dict[str, object], error: type[Exception], name: str
) -> None:
    """Each wrong argument fails at construction, naming the parameter."""
    with pytest.raises(error, match=name):
        RateLimiter(**settings)  # type: ignore[arg-type]


def _silence(limiter: RateLimiter, origin: str) -> None:
    limiter.acquire(origin, _none, max_wait=60.0)
    limiter.observe(origin, _none, 200, {})


def test_many_silent_origins_stay_quiet_in_fixed_memory() -> None:
    """Past the 1,024 known exactly, silent origins go to a filter: still quiet, no probe.

    (Benchmark scenario 12 measures the memory of 100,000 of them: under 1 MiB.)
    """
    limiter = _limiter(FakeClock())
    origins = [f"http://host{index}.example.test:80" for index in range(20_000)]
    for origin in origins:
        _silence(limiter, origin)
    assert len(limiter._silent) == 1024
    assert len(limiter) == 0
    assert all(limiter.quiet(origin) for origin in origins[::97])
    assert not limiter.quiet("http://never-seen.example.test:80")


def test_an_origin_the_filter_holds_is_followed_once_it_counts() -> None:
    """A silent origin long forgotten by name, then answering 0 remaining: it is obeyed."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _silence(limiter, ORIGIN)
    for index in range(2_000):  # pushes ORIGIN out of the exact set, into the filter
        _silence(limiter, f"http://host{index}.example.test:80")
    assert limiter.quiet(ORIGIN)
    _exhaust(limiter)
    assert not limiter.quiet(ORIGIN)
    assert limiter.acquire(ORIGIN, _none, max_wait=60.0) > 29.0


def test_the_filter_rarely_takes_a_new_origin_for_a_silent_one() -> None:
    """With 100,000 origins in it, fewer than 1 in 200 others test present."""
    seen = SeenSilent()
    for index in range(100_000):
        seen.add(f"http://host{index}.example.test:80")
    others = sum(f"https://other{index}.example.test:443" in seen for index in range(20_000))
    assert others < 20_000 / 200


@given(st.lists(st.text(max_size=40), max_size=200))
def test_the_filter_never_forgets_an_origin(origins: list[str]) -> None:
    """A Bloom filter has no false negatives: every origin added tests present."""
    seen = SeenSilent()
    for origin in origins:
        seen.add(origin)
    assert all(origin in seen for origin in origins)
    assert 5 not in seen
