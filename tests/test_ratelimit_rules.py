"""The rules of retrykit._core._ratelimit, one by one, in the order of its docstring.

Pure functions and `KeyState`, with times passed in: no clock, no sleep, exact numbers.
"""

from __future__ import annotations

import math

import pytest

from retrykit._core._ratelimit import (
    LONGEST_WAIT,
    MAX_JITTER,
    NOTHING,
    PROBE_POLL,
    SHORTEST_WAIT,
    KeySnapshot,
    KeyState,
    ServerLimit,
    gcra,
    is_refusal,
    read_server_limit,
    reset_jitter,
    server_now,
    throttle_probability,
)
from tests.strategies import imf_fixdate

NOW = 1_714_521_600.0  # 2024-05-01T00:00:00Z, a whole second


def _date(unix: float) -> str:
    import datetime

    return imf_fixdate(datetime.datetime.fromtimestamp(unix, tz=datetime.timezone.utc))


# --- Rule 1: the server's word --------------------------------------------------------


@pytest.mark.parametrize("status", [429, 403])
def test_retry_after_on_a_refusal_blocks_the_key(status: int) -> None:
    """A 429's (or GitHub's 403 secondary-limit) Retry-After blocks the key for its seconds."""
    limit = read_server_limit(status, {"Retry-After": "30"}, now=NOW)
    assert limit == ServerLimit(blocked_for=30.0)


def test_retry_after_wins_over_the_rate_limit_fields() -> None:
    """With Retry-After and RateLimit on a 429, Retry-After takes precedence (draft, section 7)."""
    headers = {"Retry-After": "20", "RateLimit": '"default";r=0;t=5'}
    assert read_server_limit(429, headers, now=NOW) == ServerLimit(blocked_for=20.0)


def test_retry_after_as_an_http_date_is_read_against_date() -> None:
    """A Retry-After date minus the response's Date gives the wait, whatever the local clock."""
    server_clock = NOW + 600.0  # the server is 10 minutes ahead
    headers = {"Date": _date(server_clock), "Retry-After": _date(server_clock + 45)}
    assert read_server_limit(429, headers, now=NOW) == ServerLimit(blocked_for=45.0)


def test_retry_after_on_a_503_is_the_calls_own_wait() -> None:
    """A 503's Retry-After says the service is down, not that the key's quota is spent."""
    assert read_server_limit(503, {"Retry-After": "30"}, now=NOW) == NOTHING


def test_retry_after_on_a_success_is_ignored() -> None:
    """Retry-After means something only on a refusal."""
    assert read_server_limit(200, {"Retry-After": "30"}, now=NOW) == NOTHING


def test_x_ratelimit_remaining_and_reset() -> None:
    """X-RateLimit-Remaining and a delta X-RateLimit-Reset give the allowance."""
    headers = {"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "30"}
    assert read_server_limit(200, headers, now=NOW) == ServerLimit(remaining=7, reset_in=30.0)


def test_github_epoch_reset_on_a_403() -> None:
    """GitHub's primary limit: a 403 with remaining 0 and an epoch reset blocks until then."""
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "5000",
        "x-ratelimit-reset": str(int(NOW) + 1200),
        "x-ratelimit-resource": "core",
    }
    assert read_server_limit(403, headers, now=NOW) == ServerLimit(remaining=0, reset_in=1200.0)


@pytest.mark.parametrize("offset", [-600.0, 600.0, -3.0, 3.5])
def test_epoch_reset_read_against_a_skewed_date(offset: float) -> None:
    """A server clock minutes off: the wait is the reset minus the response's Date."""
    server_clock = NOW + offset
    headers = {
        "Date": _date(server_clock),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(server_clock) + 40),
    }
    assert read_server_limit(200, headers, now=NOW) == ServerLimit(remaining=0, reset_in=40.0)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.999, 1.5])
def test_local_clock_read_when_it_agrees_with_date(fraction: float) -> None:
    """Date has whole seconds: a local clock just after it is finer, so it is read instead."""
    headers = {
        "Date": _date(NOW),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 1),
    }
    limit = read_server_limit(200, headers, now=NOW + fraction)
    assert limit.reset_in == pytest.approx(max(0.0, 1.0 - fraction), abs=1e-6)


def test_server_now_without_a_valid_date_is_the_local_clock() -> None:
    """No Date, or one that is not an HTTP-date: the local clock."""
    assert server_now({}, NOW) == NOW
    assert server_now({"Date": "yesterday"}, NOW) == NOW


def test_ietf_field_with_its_policy() -> None:
    """RateLimit: "default";r=50;t=30 gives 50 remaining for 30 s."""
    headers = {"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=50;t=30'}
    assert read_server_limit(200, headers, now=NOW) == ServerLimit(remaining=50, reset_in=30.0)


def test_ietf_t_is_always_delta_seconds() -> None:
    """An IETF t is never read as a Unix time, however large (it is capped at a day)."""
    headers = {"RateLimit": f'"default";r=0;t={int(NOW)}'}
    assert read_server_limit(200, headers, now=NOW).reset_in == LONGEST_WAIT


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ('"burst";r=5;t=1, "day";r=0;t=3600', (0, 3600.0)),
        ('"burst";r=0;t=1, "day";r=0;t=3600', (0, 3600.0)),
        ('"burst";r=0;t=1, "day";r=20;t=3600', (0, 1.0)),
        ('"burst";r=50;t=1, "day";r=3;t=3600', (3, 3600.0)),
        ('"a";r=3;t=1, "b";r=3;t=9', (3, 9.0)),
        ('"broken";r=x;t=1, "day";r=8;t=60', (8, 60.0)),
        ("burst;r=4;t=2", (4, 2.0)),
    ],
)
def test_ietf_most_restrictive_item_binds(field: str, expected: tuple[int, float]) -> None:
    """Of several service limits, one with nothing left (the longest) binds, else the fewest."""
    limit = read_server_limit(200, {"RateLimit": field}, now=NOW)
    assert (limit.remaining, limit.reset_in) == expected


@pytest.mark.parametrize(
    "field",
    [
        '"default";r=-1;t=30',
        '"default";r=1.5;t=30',
        '"default";r="5";t=30',
        '"default";t=30',
        '"default";r=5',
        '"default";r=5;t=-3',
        '"default";r=1234567890123456;t=1',
        ";r=5;t=1",
        "",
        ",,,",
    ],
)
def test_malformed_ietf_field_is_ignored(field: str) -> None:
    """A malformed RateLimit field says nothing (the draft: it MUST be ignored)."""
    assert not read_server_limit(200, {"RateLimit": field}, now=NOW).said


def test_malformed_ietf_field_falls_back_to_the_other_families() -> None:
    """A RateLimit field that cannot be read leaves X-RateLimit-* to speak."""
    headers = {
        "RateLimit": "nonsense",
        "X-RateLimit-Remaining": "3",
        "X-RateLimit-Reset": "9",
    }
    assert read_server_limit(200, headers, now=NOW) == ServerLimit(remaining=3, reset_in=9.0)


@pytest.mark.parametrize(
    ("reset", "expected"),
    [("6m0s", 360.0), ("1m30s", 90.0), ("20ms", 0.02), ("1h", 3600.0), ("1.5s", 1.5)],
)
def test_reset_as_a_duration(reset: str, expected: float) -> None:
    """A reset given as a duration ("6m0s", "20ms") is read."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    assert read_server_limit(200, headers, now=NOW).reset_in == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "9" * 5000},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9" * 5000},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9" * 400 + ".5"},
        {"RateLimit": f'"d";r=0;t={"9" * 5000}'},
        {"X-RateLimit-Remaining": "9" * 5000, "X-RateLimit-Reset": "1"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9" * 300 + "h"},
    ],
)
def test_huge_numbers_give_bounded_waits(headers: dict[str, str]) -> None:
    """Thousands of digits never give an infinite, NaN or negative wait: at most a day."""
    for status in (200, 403, 429):
        limit = read_server_limit(status, headers, now=NOW)
        for wait in (limit.blocked_for, limit.reset_in):
            assert wait is None or 0.0 <= wait <= LONGEST_WAIT


def test_a_reset_in_the_past_is_zero() -> None:
    """An epoch reset already past is a wait of 0, never negative."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) - 50)}
    assert read_server_limit(200, headers, now=NOW).reset_in == 0.0


def test_nothing_said() -> None:
    """A response without rate-limit fields says nothing."""
    assert read_server_limit(200, {"Content-Type": "text/plain"}, now=NOW) == NOTHING
    assert not NOTHING.said


# --- Rule 2: counting down ------------------------------------------------------------


def _known(remaining: int, reset_in: float, now: float = 0.0) -> KeyState:
    state = KeyState(probe=False)
    state.learn(ServerLimit(remaining=remaining, reset_in=reset_in), now)
    return state


def test_remaining_requests_go_then_the_next_waits_for_the_reset() -> None:
    """With 2 remaining, two requests go at once and the third waits for the reset."""
    state = _known(2, 10.0)
    for _ in range(2):
        assert state.server_wait(1.0) == 0.0
        state.take(1.0, 0.0)
    assert state.server_wait(1.0) == pytest.approx(9.0)


def test_requests_in_flight_are_counted_before_their_answers() -> None:
    """Requests count as they leave: an answer sent before they arrived cannot raise the count."""
    state = _known(3, 10.0)
    state.take(0.1, 0.0)
    state.take(0.1, 0.0)
    # The server answered the first request before the other two reached it.
    state.learn(ServerLimit(remaining=2, reset_in=9.9), 0.2)
    assert state.remaining == 1


def test_an_answer_about_the_same_window_only_lowers_the_count() -> None:
    """Within a second of the known reset, the smaller count and the later reset win."""
    state = _known(5, 10.0)
    state.learn(ServerLimit(remaining=1, reset_in=10.5), 0.0)
    assert (state.remaining, state.reset_at) == (1, 10.5)
    state.learn(ServerLimit(remaining=4, reset_in=9.5), 0.0)
    assert (state.remaining, state.reset_at) == (1, 10.5)


def test_a_later_reset_starts_a_new_window() -> None:
    """A reset more than a second after the known one is a new window: its count is taken."""
    state = _known(0, 1.0)
    state.learn(ServerLimit(remaining=9, reset_in=30.0), 0.5)
    assert (state.remaining, state.reset_at) == (9, 30.5)


def test_an_answer_about_an_earlier_window_is_ignored() -> None:
    """An answer that crossed a newer one (its reset long before) changes nothing."""
    state = _known(9, 60.0)
    state.learn(ServerLimit(remaining=0, reset_in=2.0), 0.0)
    assert (state.remaining, state.reset_at) == (9, 60.0)


def test_an_answer_about_a_window_already_over_is_ignored() -> None:
    """A reset of 0 (the window it counted has ended) says nothing of the next one."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5)
    state.learn(ServerLimit(remaining=0, reset_in=0.0), 0.1)
    assert state.remaining is None
    assert state.probe_wait(0.1) > 0  # still waiting for a real answer


def test_a_block_waits_its_seconds_for_every_request() -> None:
    """After a Retry-After of 30 s, every request waits for what is left of it."""
    state = KeyState(probe=False)
    state.learn(ServerLimit(blocked_for=30.0), 5.0)
    assert state.server_wait(5.0) == 30.0
    assert state.server_wait(20.0) == 15.0
    assert state.server_wait(35.0) == 0.0


def test_a_block_never_shortens() -> None:
    """A shorter Retry-After after a longer one leaves the longer block."""
    state = KeyState(probe=False)
    state.learn(ServerLimit(blocked_for=30.0), 0.0)
    state.learn(ServerLimit(blocked_for=5.0), 1.0)
    assert state.blocked_until == 30.0


# --- Rule 3: one request first --------------------------------------------------------


def test_a_new_key_sends_one_request_and_holds_the_others() -> None:
    """The first request to a new key goes; the next waits, asking again every PROBE_POLL."""
    state = KeyState(probe=True)
    assert state.probe_wait(0.0, "call-1") == 0.0
    state.take(0.0, 0.5, "call-1")
    assert state.probe_wait(0.001, "call-2") == PROBE_POLL


def test_the_probes_answer_releases_the_others() -> None:
    """Once the probe's answer comes, the others go within the count it gives."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    state.learn(ServerLimit(remaining=2, reset_in=1.0), 0.003)
    assert state.probe_wait(0.004, "call-2") == 0.0
    assert state.remaining == 2


def test_an_answer_crossing_the_probe_still_counts_it() -> None:
    """A request of the old window answered in the new one, the probe out: 9 left, not 10.

    The server counted the late request and will count the probe: were the probe not
    taken from the new count, the window would get 11 requests.
    """
    state = _known(3, 1.0)
    state.take(0.999, 0.5, "late")  # leaves before the reset, arrives after it
    state.take(1.0, 0.5, "probe")  # the new window's first request
    state.learn(ServerLimit(remaining=9, reset_in=1.0), 1.002)  # the late one's answer
    assert state.remaining == 8
    state.learn(ServerLimit(remaining=8, reset_in=0.997), 1.003)  # the probe's
    assert state.remaining == 8
    assert (state.in_flight, state.carried) == (0, 0)


def test_requests_left_over_from_an_earlier_window_count_against_the_new_one() -> None:
    """Five requests of a window that ended 50 ms after they left: the new count loses 5."""
    state = _known(6, 0.05)
    for _ in range(5):
        state.take(0.0, 0.5, None)
    state.take(0.06, 0.5, "probe")  # the window is over: the probe goes
    state.learn(ServerLimit(remaining=4, reset_in=0.94), 0.07)  # a late one, counted in it
    assert state.remaining == 0  # 4, less the 4 others and the probe still out, floored
    assert state.server_wait(0.07) == pytest.approx(0.94)


def test_answers_lost_to_a_cancelled_request_are_forgotten_after_two_windows() -> None:
    """A request whose answer never comes weighs on one new window's count, not forever."""
    state = _known(5, 1.0)
    state.take(0.0, 0.5, None)  # never answered
    state.take(1.0, 0.5, "probe")
    state.learn(ServerLimit(remaining=9, reset_in=1.0), 1.01)
    assert state.remaining == 8  # the lost one might yet arrive
    state.take(2.0, 0.5, "probe")
    state.learn(ServerLimit(remaining=9, reset_in=1.0), 2.01)
    assert state.remaining == 9


def test_an_answer_that_says_nothing_releases_the_others_for_good() -> None:
    """A server that does not count for us: after its first answer nothing is held."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    state.learn(NOTHING, 0.003)
    assert state.probe_wait(0.004, "call-2") == 0.0
    assert state.probe_until is None


def test_the_probes_own_retry_is_not_held() -> None:
    """The probe got no answer and its call tries again: that attempt goes, as the new probe."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    assert state.probe_wait(0.002, "call-1") == 0.0
    state.take(0.002, 0.5, "call-1")
    assert state.probe_wait(0.003, "call-2") == PROBE_POLL
    assert state.probe_until == 0.502


def test_a_probe_that_failed_lets_the_next_request_probe() -> None:
    """Told that the probe got no response, the next request goes at once, as the probe."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    state.failed("call-2")  # not the probe: nothing changes
    assert state.probe_wait(0.001, "call-3") == PROBE_POLL
    state.failed("call-1")
    assert state.probe_wait(0.001, "call-3") == 0.0


def test_the_hold_lasts_at_most_probe_wait() -> None:
    """Without any answer, requests go freely once ``probe_wait`` has passed."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    assert state.probe_wait(0.495, "call-2") == pytest.approx(0.005)
    assert state.probe_wait(0.5, "call-2") == 0.0
    assert state.probe_until is None
    assert state.prober is None  # the probe's call is no longer held on to


def test_the_end_of_a_window_starts_a_probe() -> None:
    """After the reset the quota is not assumed whole (draft 4.1.2): one request goes first."""
    state = _known(0, 1.0)
    assert state.server_wait(1.0) == 0.0
    assert state.remaining is None
    state.take(1.0, 0.5, "call-1")
    assert state.probe_wait(1.001, "call-2") == PROBE_POLL


def test_after_a_block_one_request_goes_first() -> None:
    """A Retry-After means the count was wrong: after it, one request first."""
    state = _known(5, 60.0)
    state.learn(ServerLimit(blocked_for=2.0), 1.0)
    assert state.remaining is None
    assert state.server_wait(3.0) == 0.0
    state.take(3.0, 0.5, "call-1")
    assert state.probe_wait(3.001, "call-2") == PROBE_POLL


def test_probe_wait_zero_holds_nothing() -> None:
    """With ``probe_wait`` 0 the first request holds nobody."""
    state = KeyState(probe=True)
    state.take(0.0, 0.0, "call-1")
    assert state.probe_wait(0.001, "call-2") == 0.0


# --- Rule 4: jitter at the reset ------------------------------------------------------


@pytest.mark.parametrize("wait", [0.05, 1.0, 9.0, 30.0, 86_400.0])
def test_jitter_is_at_most_a_tenth_and_one_second(wait: float) -> None:
    """Jitter lies in [0, min(0.1 * wait, 1 s)), spread by ``rand``."""
    assert reset_jitter(wait, 0.0) == 0.0
    high = reset_jitter(wait, 0.999_999)
    assert 0.0 < high < min(0.1 * wait, MAX_JITTER)
    assert reset_jitter(wait, 0.5) == pytest.approx(0.5 * min(0.1 * wait, MAX_JITTER))


# --- Rule 5: a configured limit (GCRA) ------------------------------------------------


def test_gcra_lets_a_burst_go_then_one_per_interval() -> None:
    """burst=3 at 5 per second: three go at once, the fourth 0.2 s later."""
    tat, granted = -math.inf, 0
    while True:
        wait, new_tat = gcra(tat, 0.0, interval=0.2, burst=3)
        if wait:
            break
        tat, granted = new_tat, granted + 1
    assert granted == 3
    assert wait == pytest.approx(0.2)
    assert gcra(tat, 0.2, interval=0.2, burst=3)[0] == 0.0


@pytest.mark.parametrize("interval", [0.2, 1 / 3, 0.1, 1 / 7])
def test_gcra_burst_at_one_instant_is_never_cut_short(interval: float) -> None:
    """Rounding in the sums of intervals never refuses one of a burst sent at one instant."""
    tat = -math.inf
    for _ in range(1000):
        wait, tat = gcra(tat, 5.0, interval=interval, burst=1000)
        assert wait == 0.0
    assert gcra(tat, 5.0, interval=interval, burst=1000)[0] > 0


def test_gcra_wait_is_never_shorter_than_a_microsecond() -> None:
    """A wait is at least SHORTEST_WAIT, so a clock moved by it always gets there."""
    wait, tat = gcra(1.0, 1.0 - 1e-8, interval=0.2, burst=1)
    assert wait == SHORTEST_WAIT
    assert tat == 1.0


def test_gcra_idle_key_starts_from_now() -> None:
    """A key idle for long gets no credit beyond its burst."""
    assert gcra(5.0, 100.0, interval=0.2, burst=1) == (0.0, 100.2)


# --- Rule 7: adaptive throttling ------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "accepts", "expected"),
    [(0, 0, 0.0), (10, 10, 0.0), (10, 5, 0.0), (100, 20, 60 / 101), (10, 0, 10 / 11)],
)
def test_throttle_probability_is_the_sre_formula(
    requests: int, accepts: int, expected: float
) -> None:
    """max(0, (requests - 2 * accepts) / (requests + 1)), never 1."""
    assert throttle_probability(requests, accepts, 2.0) == pytest.approx(expected)


def test_refusals_are_429_and_503() -> None:
    """Only 429 and 503 refuse work; other errors are accepted work that failed."""
    assert is_refusal(429)
    assert is_refusal(503)
    assert not is_refusal(500)
    assert not is_refusal(None)


# --- Sharing state: snapshot and adopt ------------------------------------------------


def test_snapshot_is_in_unix_time() -> None:
    """A snapshot moves every time by the offset between the wall and monotonic clocks."""
    state = _known(4, 10.0, now=100.0)
    state.learn(ServerLimit(blocked_for=5.0), 101.0)
    state.tat = 102.0
    assert state.snapshot(1_000.0) == KeySnapshot(
        blocked_until=1_106.0, remaining=None, reset_at=-math.inf, tat=1_102.0
    )


def test_adopt_takes_the_later_block_and_arrival_time() -> None:
    """Adopting another process's state: the later block and GCRA time win."""
    state = KeyState(probe=False)
    state.adopt(KeySnapshot(blocked_until=1_050.0, tat=1_020.0), 1_000.0)
    assert (state.blocked_until, state.tat) == (50.0, 20.0)
    state.adopt(KeySnapshot(blocked_until=1_010.0, tat=1_005.0), 1_000.0)
    assert (state.blocked_until, state.tat) == (50.0, 20.0)


def test_adopt_keeps_the_smaller_count_of_the_same_window() -> None:
    """The same window elsewhere with fewer left: the smaller count is taken, never a larger."""
    state = _known(8, 30.0)
    state.adopt(KeySnapshot(remaining=3, reset_at=1_030.4), 1_000.0)
    assert state.remaining == 3
    state.adopt(KeySnapshot(remaining=7, reset_at=1_030.0), 1_000.0)
    assert state.remaining == 3


def test_adopt_takes_a_later_window_and_ends_a_probe() -> None:
    """A later window from elsewhere replaces ours; it also answers a probe."""
    state = KeyState(probe=True)
    state.take(0.0, 0.5, "call-1")
    state.adopt(KeySnapshot(remaining=6, reset_at=1_060.0), 1_000.0)
    assert (state.remaining, state.reset_at, state.probe_until) == (6, 60.0, None)


def test_adopt_twice_changes_nothing() -> None:
    """Adopting the same snapshot again is a no-op."""
    state = _known(8, 30.0)
    snapshot = KeySnapshot(blocked_until=1_002.0, remaining=3, reset_at=1_030.0, tat=1_001.0)
    state.adopt(snapshot, 1_000.0)
    before = state.snapshot(1_000.0)
    state.adopt(snapshot, 1_000.0)
    assert state.snapshot(1_000.0) == before


def test_idle_state_can_be_forgotten() -> None:
    """A state with no block, no window, no hold and no future arrival says nothing."""
    state = KeyState(probe=False)
    assert state.idle(0.0)
    state.tat = 1.0
    assert not state.idle(0.5)
    assert state.idle(1.0)
    assert not _known(3, 10.0).idle(5.0)
    assert _known(3, 10.0).idle(10.0)
