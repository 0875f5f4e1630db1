"""A fleet of real processes sharing breakers through a real redis-server.

Every scenario runs worker processes (spawned) that make real HTTP calls through a
requests `RetryAdapter` to a `FlakyServer` in this process, each with its own
`CircuitBreaker(store=RedisStore(...))`. Policies make one attempt per call, so a call
is one hit and one outcome. Intervals and breaks are short to keep the suite quick.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

import pytest

from retrykit import CircuitBreaker, origin_key
from retrykit.redis import RedisStore
from retrykit.testing import FlakyServer, Reply
from tests.redis_fleet import Fleet, RedisServer, redis_binary

if TYPE_CHECKING:
    from collections.abc import Iterator

SYNC = 0.1
WORKERS = 4

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer(redis_binary()) as running:
        yield running


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    redis_binary()  # skip or fail before spawning anything
    workers = Fleet(WORKERS)
    try:
        yield workers
    finally:
        workers.close()


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    with FlakyServer() as running:
        yield running


def _setup(
    fleet: Fleet,
    redis_port: int | None,
    namespace: str,
    *,
    only: list[int] | None = None,
    min_reporters: int = 1,
    **breaker: Any,
) -> None:
    settings = {"failure_threshold": 5, "recovery_timeout": 30.0, **breaker}
    fleet.ask(
        "setup",
        {
            "redis_port": redis_port,
            "namespace": namespace,
            "sync_interval": SYNC,
            "min_reporters": min_reporters,
            "breaker": settings,
        },
        only=only,
    )


def _opened_at(report: dict[str, Any]) -> float | None:
    for at, _key, _old, new in report["changes"]:
        if new == "open":
            return float(at)
    return None


def _states_become(fleet: Fleet, key: str, expected: list[str], timeout: float = 3.0) -> list[str]:
    """Poll the workers' states of ``key`` until they are ``expected`` (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        states = [answer["state"] for answer in fleet.ask("state", {"key": key})]
        if states == expected or time.monotonic() > deadline:
            return states
        time.sleep(SYNC / 2)


def _outcomes(reports: list[dict[str, Any]]) -> set[str]:
    return {outcome for report in reports for _at, _latency, outcome in report["calls"]}


def test_the_fleet_opens_together(
    fleet: Fleet, server: RedisServer, flaky: FlakyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four processes calling into an outage open after the fleet's fifth failure, not 20."""
    flaky.script("/alone", Reply(503))
    flaky.script("/shared", Reply(503))
    offsets = [i * 0.05 for i in range(WORKERS)]

    _setup(fleet, None, "scenario-1-alone")
    alone = fleet.run(flaky.url("/alone"), every=0.2, duration=1.6, offsets=offsets)
    hits_alone = flaky.hits("/alone")

    _setup(fleet, server.port, "scenario-1")
    shared = fleet.run(flaky.url("/shared"), every=0.2, duration=1.6, offsets=offsets)
    hits_shared = flaky.hits("/shared")
    received = flaky.received("/shared")
    fifth = received[4].received_at
    lags = [opened - fifth for opened in (_opened_at(report) for report in shared) if opened]

    with capsys.disabled():
        print(
            f"\n  scenario 1: hits before all 4 processes were open: {hits_alone} without a "
            f"store, {hits_shared} with RedisStore (every process open "
            f"{max(lags) * 1000:.0f} ms after the fleet's 5th failure; sync {SYNC * 1000:.0f} ms)"
        )
    assert hits_alone >= 20
    assert all(_opened_at(report) is not None for report in alone)
    assert len(lags) == WORKERS
    # The fifth failure plus at most one sync interval of traffic (2 calls here), with
    # room for a loaded machine: every process rejects within two intervals.
    assert hits_shared <= 5 + 4
    assert max(lags) <= 2 * SYNC + 0.1
    assert _outcomes(shared) <= {"503", "rejected"}


def test_min_reporters_keeps_one_bad_node_to_itself(
    fleet: Fleet, server: RedisServer, flaky: FlakyServer
) -> None:
    """With min_reporters=2, one process failing alone opens its own circuit only."""
    flaky.script("/fine", Reply(200))
    flaky.script("/broken", Reply(503))
    key = origin_key(flaky.base_url)
    _setup(fleet, server.port, "scenario-2", min_reporters=2)
    fleet.run(flaky.url("/fine"), every=0.1, duration=0.1)  # every process uses the origin
    fleet.run(flaky.url("/broken"), every=0.05, duration=0.6, only=[0])
    time.sleep(3 * SYNC)
    states = [answer["state"] for answer in fleet.ask("state", {"key": key})]
    assert states == ["open", "closed", "closed", "closed"]
    assert flaky.hits("/broken") == 5

    # The same with min_reporters=1: the one process's failures open the fleet.
    _setup(fleet, server.port, "scenario-2-control", min_reporters=1)
    fleet.run(flaky.url("/fine"), every=0.1, duration=0.1)
    fleet.run(flaky.url("/broken"), every=0.05, duration=0.6, only=[0])
    assert _states_become(fleet, key, ["open"] * WORKERS) == ["open"] * WORKERS


def test_one_probe_for_the_fleet_and_its_success_closes_everyone(
    fleet: Fleet, server: RedisServer, flaky: FlakyServer
) -> None:
    """After the break exactly one probe reaches the server, and its success closes all."""
    flaky.script("/recovering", Reply(503))
    url = flaky.url("/recovering")
    _setup(fleet, server.port, "scenario-3", recovery_timeout=0.8, half_open_max_calls=1)
    fleet.run(url, every=0.1, duration=0.6, offsets=[i * 0.025 for i in range(WORKERS)])
    assert {answer["state"] for answer in fleet.ask("state", {"key": origin_key(url)})} == {"open"}
    flaky.script("/recovering", Reply(200))
    before = len(flaky.received("/recovering"))
    reports = fleet.run(url, every=0.05, duration=2.0, lead=0.0)

    closed = []
    for report in reports:
        times = [at for at, _key, _old, new in report["changes"] if new == "closed"]
        assert len(times) == 1, report["changes"]
        closed.append(times[0])
    probes = [
        hit for hit in flaky.received("/recovering")[before:] if hit.received_at <= min(closed)
    ]
    assert len(probes) == 1
    assert max(closed) - min(closed) <= 2 * SYNC + 0.1
    half_opened = [
        report for report in reports if any(new == "half_open" for *_, new in report["changes"])
    ]
    assert len(half_opened) == 1  # only the lease holder probed


def test_a_killed_redis_changes_nothing_for_callers_and_the_fleet_resyncs(
    fleet: Fleet, flaky: FlakyServer
) -> None:
    """SIGKILL, then a restart: no caller sees an error, breakers still open, all resync."""
    flaky.script("/steady", Reply(200))
    flaky.script("/down", Reply(503))
    with RedisServer(redis_binary()) as redis_server:
        _setup(fleet, redis_server.port, "scenario-4")
        first = fleet.run(flaky.url("/steady"), every=0.05, duration=0.3)
        redis_server.kill()
        during = fleet.run(flaky.url("/down"), every=0.05, duration=1.0)
        redis_server.start()  # the same port, empty
        time.sleep(1.5)  # reconnection waits of at most max_wait (0.5 s), jittered
        states = fleet.ask("state", {"key": origin_key(flaky.base_url)})

        assert _outcomes(first) == {"200"}
        assert _outcomes(during) == {"503", "rejected"}  # the local breakers opened
        assert [answer["state"] for answer in states] == ["open"] * WORKERS
        for answer in states:
            names = [name for _at, name in answer["events"]]
            assert names[:2] == ["StorageDegraded", "StorageRecovered"], names
            assert answer["healthy"] is True

        # The fleet shares again: another member's failures open the circuit everywhere.
        other = FlakyServer().start()
        try:
            other.script("/ok", Reply(200))
            fleet.run(other.url("/ok"), every=0.1, duration=0.1)
            key = origin_key(other.base_url)
            with RedisStore(
                redis_server.client(), namespace="scenario-4", sync_interval=SYNC
            ) as store:
                breaker = CircuitBreaker(failure_threshold=5, store=store)
                for _ in range(5):
                    breaker.record_failure(key, breaker.allow(key), 503)
                assert _states_become(fleet, key, ["open"] * WORKERS) == ["open"] * WORKERS
        finally:
            other.close()


def test_a_frozen_redis_does_not_slow_successful_calls(
    fleet: Fleet, flaky: FlakyServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGSTOP on Redis: the p99 latency of successful calls stays where it was."""
    flaky.script("/fast", Reply(200, body=b"ok"))
    url = flaky.url("/fast")
    with RedisServer(redis_binary()) as redis_server:
        _setup(fleet, redis_server.port, "scenario-5", only=[0, 1])
        fleet.run(url, every=0.01, duration=0.3, only=[0, 1])  # warm connections up
        healthy: list[float] = []
        frozen: list[float] = []
        for _cycle in range(2):
            for report in fleet.run(url, every=0.01, duration=0.75, only=[0, 1]):
                healthy += [latency for _at, latency, _outcome in report["calls"]]
                assert _outcomes([report]) == {"200"}
            redis_server.freeze()
            try:
                for report in fleet.run(url, every=0.01, duration=0.75, only=[0, 1]):
                    frozen += [latency for _at, latency, _outcome in report["calls"]]
                    assert _outcomes([report]) == {"200"}
            finally:
                redis_server.thaw()
        answers = fleet.ask("state", {"key": origin_key(url)}, only=[0, 1])

    def p99(values: list[float]) -> float:
        return statistics.quantiles(values, n=100)[98]

    with capsys.disabled():
        print(
            f"\n  scenario 5: p99 of successful calls {p99(healthy) * 1000:.2f} ms with Redis "
            f"up, {p99(frozen) * 1000:.2f} ms with Redis frozen "
            f"({len(healthy)} and {len(frozen)} calls)"
        )
    assert p99(frozen) < p99(healthy) + 0.020
    for answer in answers:
        assert "StorageDegraded" in [name for _at, name in answer["events"]]


def test_a_newcomer_adopts_the_open_fleet_and_resets_nothing(
    fleet: Fleet, server: RedisServer, flaky: FlakyServer
) -> None:
    """A new store and breaker joining an open fleet rejects at once; the fleet stays open."""
    flaky.script("/outage", Reply(503))
    url = flaky.url("/outage")
    key = origin_key(url)
    _setup(fleet, server.port, "scenario-6", only=[0, 1, 2])
    fleet.run(url, every=0.05, duration=0.5, only=[0, 1, 2])
    client = server.client()
    state_key = f"retrykit:{{scenario-6|{key}}}:state"
    before = client.hgetall(state_key)
    assert before[b"s"] == b"o"
    hits = flaky.hits("/outage")

    _setup(fleet, server.port, "scenario-6", only=[3])
    time.sleep(3 * SYNC)  # the newcomer has made no call: it learns from the index
    [report] = fleet.run(url, every=0.05, duration=0.3, only=[3])
    assert _outcomes([report]) == {"rejected"}
    assert flaky.hits("/outage") == hits
    fleet.ask("close", only=[3])
    after = client.hgetall(state_key)
    assert after[b"s"] == b"o"
    assert after[b"g"] == before[b"g"]
