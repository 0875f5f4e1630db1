"""A fleet of real processes sharing rate limiters through a real redis-server.

Four worker processes (spawned) call a `RateLimitServer` in this process through a
requests `RetryAdapter` (one attempt per call, no breaker, no budget) with a
`RateLimiter(store=RedisStore(...))` each, from several threads at once. The server
counts what it let through and refused, and when each request came. Intervals are
short (``sync_interval=0.1``) to keep the suite quick. The last tests run two limiters
in this process against the same Redis: a block between them, garbage records, a frozen
server.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import redis

from retrykit import RateLimiter, RateLimitExceededError
from retrykit._fleet import _keys
from retrykit.redis import RedisStore
from tests.ratelimit_server import RateLimitServer
from tests.redis_fleet import Fleet, RedisServer, limiter_worker, redis_binary

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SYNC = 0.1
WORKERS = 4
THREADS = 4
LIMIT = 20  # requests per one-second window, on the server
LEAD = 0.2  # seconds from sending "run" to the workers' first calls
ORIGIN = "https://api.example:443"


def _nobody() -> str | None:
    return None


pytestmark = pytest.mark.timeout(120)

_namespaces = iter(range(1_000_000))


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer(redis_binary()) as running:
        yield running


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    redis_binary()  # skip or fail before spawning anything
    workers = Fleet(WORKERS, target=limiter_worker)
    try:
        yield workers
    finally:
        workers.close()


def _setup(fleet: Fleet, redis_port: int | None, **limiter: Any) -> None:
    fleet.ask(
        "setup",
        {
            "redis_port": redis_port,
            "namespace": f"ratelimit-{next(_namespaces)}",
            "sync_interval": SYNC,
            "limiter": limiter,
            "threads": THREADS,
        },
    )


def _run(
    fleet: Fleet, url: str, duration: float, *, every: float = 0.0, threads: int = THREADS
) -> tuple[float, list[dict[str, Any]]]:
    """Have every worker call ``url``/w<index> for ``duration`` s; return the start and reports."""
    start_at = time.monotonic() + LEAD
    reports = []
    for index in range(len(fleet)):
        args = {
            "url": f"{url}w{index}",
            "start_at": start_at,
            "duration": duration,
            "every": every,
            "threads": threads,
        }
        fleet._conns[index].send(("run", args))
    for conn in fleet._conns:
        assert conn.poll(duration + 60), "a worker did not finish its run"
        reports.append(conn.recv())
    return start_at, reports


def _outcomes(reports: list[dict[str, Any]]) -> collections.Counter[str]:
    return collections.Counter(outcome for report in reports for _, _, outcome in report["calls"])


HAMMER = 2.0  # seconds of calls as fast as allowed: parts of two windows of the server, or three


def _hammer(fleet: Fleet, redis_port: int | None) -> tuple[int, int]:
    """Four processes of four threads as fast as their limiters let them: (429s, 200s)."""
    with RateLimitServer(limit=LIMIT, window=1.0) as server:
        _setup(fleet, redis_port)
        start, reports = _run(fleet, server.url("/"), HAMMER)
        outcomes = _outcomes(reports)
        assert set(outcomes) <= {"200", "429"}, outcomes
        assert server.most_in_a_window <= LIMIT
        arrivals = [status for at, _, status in server.arrivals() if at < start + HAMMER]
        return arrivals.count(429), arrivals.count(200)


def test_a_shared_limiter_keeps_the_fleet_under_the_servers_limit(
    redis_server: RedisServer, fleet: Fleet
) -> None:
    """With a store, 4 processes get (almost) no 429 where they got many, at about the limit.

    Measured (2 cores, 20 per 1 s window, 2 s): alone 12 to 20 429s, shared none, for
    40 to 60 200s either way (as the run meets two windows or three).
    """
    alone = _hammer(fleet, None)
    shared = _hammer(fleet, redis_server.port)
    figures = f"429s: {shared[0]} shared, {alone[0]} alone; 200s: {shared[1]} and {alone[1]}"
    print(figures)
    assert shared[0] <= 2, figures
    assert alone[0] >= 5 * max(1, shared[0]), figures
    # Two seconds meet two or three windows of 20: the fleet spends nearly all it may.
    assert shared[1] >= 0.8 * LIMIT * HAMMER, figures


def test_a_configured_rate_is_the_fleets(redis_server: RedisServer, fleet: Fleet) -> None:
    """RateLimiter(rate=20, per=1.0) in four processes: the server sees 20 a second, not 80.

    Measured (2 cores, 2 threads a process): 20.0 a second, four requests every 0.2 s.
    """
    seconds = 1.6
    with RateLimitServer(limit=100_000, window=60.0) as server:
        _setup(fleet, redis_server.port, rate=20, per=1.0)
        start, reports = _run(fleet, server.url("/"), seconds, threads=2)
        outcomes = _outcomes(reports)
        assert set(outcomes) == {"200"}, outcomes
        times = [at for at, _, _ in server.arrivals() if at < start + seconds]
    rate = len(times) / seconds
    print(f"fleet rate: {rate:.1f}/s")
    assert 15.0 <= rate <= 25.0, f"{rate:.1f}/s in {len(times)} requests"


def test_a_retry_after_heard_by_one_blocks_every_process(
    redis_server: RedisServer, fleet: Fleet
) -> None:
    """One process's 429 with Retry-After: 2 stops the others within two sync intervals.

    Measured (2 cores, sync_interval=0.1): another process's last request came 25 to 50 ms
    after the 429, and the next one after the block.
    """
    with RateLimitServer(limit=100_000, window=60.0) as server:
        _setup(fleet, redis_server.port)
        start_at = time.monotonic() + LEAD
        for index in range(len(fleet)):
            args = {
                "url": server.url(f"/w{index}"),
                "start_at": start_at,
                "duration": 2.6,
                "every": 0.02,
                "threads": 1,
            }
            fleet._conns[index].send(("run", args))
        time.sleep(max(0.0, start_at + 0.3 - time.monotonic()))
        server.refuse_next(2)
        reports = [conn.recv() for conn in fleet._conns if conn.poll(60)]
        arrivals = server.arrivals()
    assert len(reports) == WORKERS
    [(refused_at, refused_path, _)] = [a for a in arrivals if a[2] == 429]
    others = [at - refused_at for at, path, _ in arrivals if path != refused_path]
    during = [delta for delta in others if 0.0 < delta < 2.0]
    print(f"last request of another process {max(during, default=0.0):.3f} s after the 429")
    assert during, "the others sent nothing after the 429 at all"
    assert max(during) <= 2 * SYNC + 0.05, sorted(during)[-5:]
    assert any(delta >= 2.0 for delta in others)  # and they resume after the block


def test_redis_killed_mid_run_changes_nothing_for_callers(fleet: Fleet) -> None:
    """Redis SIGKILLed during the run: no call sees an exception; limiters go on locally."""
    with RedisServer(redis_binary()) as doomed, RateLimitServer(limit=LIMIT, window=1.0) as server:
        _setup(fleet, doomed.port)
        start_at = time.monotonic() + LEAD
        for index in range(len(fleet)):
            args = {"url": server.url(f"/w{index}"), "start_at": start_at, "duration": 1.6}
            fleet._conns[index].send(("run", args))
        time.sleep(max(0.0, start_at + 0.6 - time.monotonic()))
        doomed.kill()
        killed_at = time.monotonic()
        reports = [conn.recv() for conn in fleet._conns if conn.poll(60)]
        arrivals = server.arrivals()
    assert len(reports) == WORKERS
    outcomes = _outcomes(reports)
    assert set(outcomes) <= {"200", "429"}, outcomes
    after = [status for at, _, status in arrivals if at > killed_at]
    assert after.count(200) >= LIMIT // 2  # the limiters still let calls through
    degraded = [name for report in reports for _, name in report["events"]]
    assert degraded.count("StorageDegraded") == WORKERS
    assert all(report["healthy"] is False for report in reports)


# -- in this process: two limiters on one Redis ------------------------------------------


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _limiter_on(port: int, namespace: str) -> tuple[RedisStore, RateLimiter]:
    store = RedisStore(
        redis.Redis(host="127.0.0.1", port=port), namespace=namespace, sync_interval=0.05
    )
    return store, RateLimiter(store=store)


def _blocked(limiter: RateLimiter) -> bool:
    try:
        return limiter.acquire(ORIGIN, _nobody, max_wait=60.0) > 1.0
    except RateLimitExceededError:
        return True


def test_a_block_travels_between_two_limiters(redis_server: RedisServer) -> None:
    """A 429 with Retry-After heard by one limiter holds the other's next request, in memory."""
    namespace = f"ratelimit-{next(_namespaces)}"
    (store_a, a), (store_b, b) = (
        _limiter_on(redis_server.port, namespace),
        _limiter_on(redis_server.port, namespace),
    )
    try:
        for limiter in (a, b):
            assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
            limiter.observe(
                ORIGIN, _nobody, 200, {"X-RateLimit-Remaining": "50", "X-RateLimit-Reset": "60"}
            )
        a.acquire(ORIGIN, _nobody, max_wait=60.0)
        a.observe(ORIGIN, _nobody, 429, {"Retry-After": "30"})
        _wait_for(lambda: _blocked(b))
        assert 29.0 < b.acquire(ORIGIN, _nobody, max_wait=60.0) <= 33.0
    finally:
        store_a.close()
        store_b.close()


def test_garbage_in_the_fleets_records_changes_nothing_here(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Records no retrykit wrote (another program, a newer version) are ignored, with a note."""
    namespace = f"ratelimit-{next(_namespaces)}"
    records, expiries = _keys.record_keys(namespace, "ratelimit", f"{ORIGIN}|")
    raw = redis_server.client()
    raw.hset(records, mapping={"stray": "garbage", "newer": '9999999999999 {"block": "soon"}'})
    raw.zadd(expiries, {"stray": 9e15, "newer": 9e15})
    caplog.set_level(logging.DEBUG, logger="retrykit")
    store, limiter = _limiter_on(redis_server.port, namespace)
    try:
        for _ in range(20):
            assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
            limiter.observe(
                ORIGIN, _nobody, 200, {"X-RateLimit-Remaining": "900", "X-RateLimit-Reset": "60"}
            )
            time.sleep(0.02)
        _wait_for(lambda: any(r.name == "retrykit.ratelimit" for r in caplog.records))
        assert store.healthy
    finally:
        store.close()
    notes = [r for r in caplog.records if r.name == "retrykit.ratelimit"]
    assert notes[0].levelno == logging.WARNING
    assert "newer" in notes[0].getMessage()


def test_a_frozen_redis_costs_the_limiter_nothing(redis_server: RedisServer) -> None:
    """SIGSTOPped Redis: acquire and observe stay in memory; the store goes local-only."""
    namespace = f"ratelimit-{next(_namespaces)}"
    store, limiter = _limiter_on(redis_server.port, namespace)
    try:
        limiter.acquire(ORIGIN, _nobody, max_wait=60.0)
        _wait_for(lambda: store.stats().rounds >= 2)
        redis_server.freeze()
        try:
            started = time.monotonic()
            for left in range(200, 0, -1):
                assert limiter.acquire(ORIGIN, _nobody, max_wait=60.0) == 0.0
                limiter.observe(
                    ORIGIN,
                    _nobody,
                    200,
                    {"X-RateLimit-Remaining": str(left), "X-RateLimit-Reset": "60"},
                )
            assert time.monotonic() - started < 0.5
            _wait_for(lambda: not store.healthy)
        finally:
            redis_server.thaw()
        _wait_for(lambda: store.healthy, timeout=10.0)
    finally:
        store.close()
