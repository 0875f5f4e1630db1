"""`RedisStore` against a real redis-server, in this process: the store's own behaviour.

Building one does no I/O, request threads never send a command, a missing, restarted or
nonsensical Redis degrades it to local-only and back with one WARNING each, a script
Redis lost is loaded again, and the reserve is shared. Processes are in
test_redis_fleet.py; the scripts' rules in test_redis_scripts.py.
"""

from __future__ import annotations

import logging
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

from retrykit import (
    BreakerState,
    CircuitBreaker,
    CircuitStateChanged,
    RetryBudget,
    RetryPolicy,
    StorageDegraded,
    StorageRecovered,
)
from retrykit.httpx import RetryTransport
from retrykit.redis import RedisStore
from tests.redis_fleet import RedisServer, free_port, redis_binary

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

KEY = "https://api.example:443"
SYNC = 0.05

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer(redis_binary()) as running:
        yield running


_namespaces = iter(range(1_000_000))


@pytest.fixture
def namespace() -> str:
    return f"store-{next(_namespaces)}"


class RecordingConnection(redis.Connection):
    """A connection that notes the thread of every command it sends."""

    threads: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads it

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        RecordingConnection.threads.append(threading.current_thread().name)
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _store(server_or_port: RedisServer | int, namespace: str, **options: Any) -> RedisStore:
    port = server_or_port if isinstance(server_or_port, int) else server_or_port.port
    options.setdefault("sync_interval", SYNC)
    return RedisStore(redis.Redis(host="127.0.0.1", port=port), namespace=namespace, **options)


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "names"),
    [
        ({"namespace": 3}, TypeError, "namespace"),
        ({"namespace": ""}, ValueError, "namespace"),
        ({"namespace": "billing api"}, ValueError, "namespace"),
        ({"namespace": "a{b}"}, ValueError, "namespace"),
        ({"sync_interval": 0}, ValueError, "sync_interval"),
        ({"sync_interval": "1"}, TypeError, "sync_interval"),
        ({"sync_interval": float("nan")}, ValueError, "sync_interval"),
        ({"min_reporters": 0}, ValueError, "min_reporters"),
        ({"min_reporters": True}, TypeError, "min_reporters"),
        ({"timeout": 5.0}, ValueError, "timeout"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"degrade_after": 1.5}, TypeError, "degrade_after"),
        ({"max_wait": 0}, ValueError, "max_wait"),
        ({"hooks": print}, TypeError, "hooks"),
        ({"hooks": [1]}, TypeError, "hooks"),
    ],
)
def test_every_argument_is_checked(options: dict[str, Any], error: type, names: str) -> None:
    """A wrong argument fails when the store is built, naming the parameter."""
    arguments: dict[str, Any] = {"namespace": "billing-api", **options}
    with pytest.raises(error, match=names):
        RedisStore(redis.Redis(port=free_port()), **arguments)


def test_the_client_must_be_a_sync_redis_client() -> None:
    """An asyncio client or another object is refused, saying why."""
    with pytest.raises(TypeError, match="synchronous"):
        RedisStore(redis.asyncio.Redis(), namespace="n")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"client must be a redis\.Redis"):
        RedisStore("redis://localhost", namespace="n")  # type: ignore[arg-type]


def test_the_store_uses_its_own_short_timeout_pool() -> None:
    """The store's connections time out after `timeout` and never retry; yours are untouched."""
    client = redis.Redis(host="127.0.0.1", port=free_port(), db=3, socket_timeout=7)
    store = RedisStore(client, namespace="n", timeout=0.05)
    own = store._client.connection_pool
    assert own is not client.connection_pool
    settings = own.connection_kwargs
    assert (settings["socket_timeout"], settings["socket_connect_timeout"]) == (0.05, 0.05)
    assert (settings["db"], settings["port"]) == (
        3,
        client.connection_pool.connection_kwargs["port"],
    )
    assert settings["retry"].get_retries() == 0
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 7
    store.close()


def test_a_store_does_not_pickle() -> None:
    """A store holds connections and a thread: pickling one says to build one per process."""
    store = RedisStore(redis.Redis(port=free_port()), namespace="n")
    with pytest.raises(TypeError, match="build one"):
        pickle.dumps(store)


# -- no I/O on the request path ------------------------------------------------------------


def test_building_a_store_sends_nothing_and_joining_writes_nothing(
    server: RedisServer, namespace: str
) -> None:
    """A new store sends no command; a breaker joining only reads, and creates no key."""
    RecordingConnection.threads.clear()
    client = redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=RecordingConnection, port=server.port)
    )
    store = RedisStore(client, namespace=namespace, sync_interval=SYNC)
    time.sleep(0.1)
    assert RecordingConnection.threads == []
    CircuitBreaker(store=store)
    _wait_for(lambda: store.stats().rounds >= 1)
    store.close()
    assert server.client().keys(f"*{namespace}*") == []


def test_ten_thousand_calls_send_no_command_from_a_request_thread(
    server: RedisServer, namespace: str
) -> None:
    """Every Redis command comes from the store's thread, never from a call."""
    RecordingConnection.threads.clear()
    client = redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=RecordingConnection, port=server.port)
    )
    store = RedisStore(client, namespace=namespace, sync_interval=SYNC)
    breaker = CircuitBreaker(store=store)
    budget = RetryBudget(store=store)
    transport = RetryTransport(
        httpx.MockTransport(lambda request: httpx.Response(200, text="ok")),
        breaker=breaker,
        budget=budget,
        policy=RetryPolicy(max_attempts=2),
    )
    with httpx.Client(transport=transport) as http:
        for _ in range(10_000):
            assert http.get("https://api.example/v1/users").status_code == 200
    time.sleep(3 * SYNC)
    store.close()
    threads = set(RecordingConnection.threads)
    assert threads == {f"retrykit-fleet-{namespace}"}
    assert len(RecordingConnection.threads) >= 2  # it did share (a poll, a reserve share)


# -- failures of Redis ------------------------------------------------------------------------


def test_redis_down_at_start_degrades_with_one_warning(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No server: the store goes local-only (one WARNING, one event); the breaker works."""
    events: list[object] = []
    caplog.set_level(logging.WARNING, logger="retrykit")
    store = _store(free_port(), namespace, hooks=[events.append])
    breaker = CircuitBreaker(failure_threshold=2, store=store)
    for _ in range(2):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    assert breaker.state(KEY) is BreakerState.OPEN
    _wait_for(lambda: not store.healthy)
    time.sleep(0.3)  # more failed pings: still one event, one warning
    store.close()
    assert [type(event) for event in events] == [StorageDegraded]
    degraded = events[0]
    assert isinstance(degraded, StorageDegraded)
    assert (degraded.namespace, degraded.errors) == (namespace, 3)
    assert "ConnectionError" in degraded.error
    warnings = [r for r in caplog.records if r.name == "retrykit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "local-only" in warnings[0].getMessage()


def test_redis_coming_up_is_adopted_with_one_warning(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that starts later: StorageRecovered, one WARNING, and the fleet is shared."""
    events: list[object] = []
    caplog.set_level(logging.WARNING, logger="retrykit")
    late = RedisServer(redis_binary())
    store = _store(late.port, namespace, hooks=[events.append], max_wait=0.2)
    breaker = CircuitBreaker(failure_threshold=3, store=store)
    breaker.record_success(KEY, breaker.allow(KEY))
    _wait_for(lambda: not store.healthy)
    with late:
        _wait_for(lambda: store.healthy)
        other = _store(late, namespace)
        peer = CircuitBreaker(failure_threshold=3, store=other)
        for _ in range(3):
            peer.record_failure(KEY, peer.allow(KEY), 503)
        _wait_for(lambda: breaker.state(KEY) is BreakerState.OPEN)
        other.close()
        store.close()
    kinds = [type(event) for event in events]
    assert kinds == [StorageDegraded, StorageRecovered, CircuitStateChanged]
    recovered = events[1]
    assert isinstance(recovered, StorageRecovered)
    assert recovered.down_for > 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("local-only after" in message for message in warnings) == 1
    assert sum("answers again" in message for message in warnings) == 1
    assert f"circuit {KEY} closed -> open" in warnings  # the change the fleet caused here


def test_a_script_redis_lost_is_loaded_again(server: RedisServer, namespace: str) -> None:
    """After SCRIPT FLUSH (or a restart) the store loads its scripts and goes on."""
    store = _store(server, namespace)
    breaker = CircuitBreaker(failure_threshold=4, store=store)
    peer_store = _store(server, namespace)
    peer = CircuitBreaker(failure_threshold=4, store=peer_store)
    breaker.record_failure(KEY, breaker.allow(KEY), 503)
    peer.record_success(KEY, peer.allow(KEY))
    time.sleep(3 * SYNC)
    server.client().script_flush()
    for _ in range(3):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    _wait_for(lambda: peer.state(KEY) is BreakerState.OPEN)
    assert store.stats().errors == 0
    store.close()
    peer_store.close()


class _JunkServer:
    """A TCP server on 127.0.0.1 that answers ``reply`` to anything it is sent."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(65536):
                    conn.sendall(self.reply)
            except OSError:
                return

    def close(self) -> None:
        self._closed = True
        self._sock.close()


@pytest.mark.parametrize("reply", [b"+OK\r\n", b"NOT REDIS AT ALL\r\n", b":42\r\n"])
def test_a_server_answering_garbage_degrades_the_store(namespace: str, reply: bytes) -> None:
    """Replies that make no sense are failed exchanges: local-only, and no caller sees it."""
    junk = _JunkServer(reply)
    events: list[object] = []
    try:
        store = _store(junk.port, namespace, hooks=[events.append])
        breaker = CircuitBreaker(failure_threshold=2, store=store)
        budget = RetryBudget(store=store)
        for _ in range(20):
            breaker.record_success(KEY, breaker.allow(KEY))
            budget.deposit()
            time.sleep(0.01)
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
        assert breaker.state(KEY) is BreakerState.OPEN
        _wait_for(lambda: not store.healthy)
        assert budget.try_withdraw()  # the local reserve
        store.close()
    finally:
        junk.close()
    assert isinstance(events[0], StorageDegraded)


def test_a_frozen_redis_never_blocks_a_call(namespace: str) -> None:
    """With Redis stopped (SIGSTOP), breaker and budget calls stay in-memory fast."""
    with RedisServer(redis_binary()) as frozen:
        store = _store(frozen, namespace)
        breaker = CircuitBreaker(store=store)
        budget = RetryBudget(store=store)
        breaker.record_success(KEY, breaker.allow(KEY))
        time.sleep(2 * SYNC)
        frozen.freeze()
        try:
            slowest = 0.0
            for _ in range(400):
                began = time.perf_counter()
                budget.deposit()
                breaker.record_success(KEY, breaker.allow(KEY))
                budget.try_withdraw()
                slowest = max(slowest, time.perf_counter() - began)
                time.sleep(0.001)
            _wait_for(lambda: not store.healthy)
        finally:
            frozen.thaw()
        store.close()
    assert slowest < 0.05  # any wait on Redis would take its 75 ms timeout


# -- sharing -----------------------------------------------------------------------------------


def test_idle_workers_share_one_reserve(server: RedisServer, namespace: str) -> None:
    """Five budgets with a store grant about one reserve between them; alone, five reserves."""
    stores = [_store(server, namespace) for _ in range(5)]
    shared = [RetryBudget(ratio=0.0, min_per_second=2.0, ttl=5.0, store=s) for s in stores]
    alone = [RetryBudget(ratio=0.0, min_per_second=2.0, ttl=5.0) for _ in range(5)]
    for budget in shared + alone:
        budget.deposit()
    time.sleep(3 * SYNC)
    granted = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for budget in shared:
            budget.deposit()
            granted += budget.try_withdraw()
        time.sleep(0.01)
    for store in stores:
        store.close()
    alone_granted = sum(budget.try_withdraw() for budget in alone for _ in range(20))
    assert alone_granted == 50
    assert 10 <= granted <= 10 + 5  # the fleet reserve, plus at most a share in flight each


def test_closing_hands_back_leases(server: RedisServer, namespace: str) -> None:
    """A closed store returns its unused probe lease at once, for another process to take."""
    recovery = 0.3
    store = _store(server, namespace)
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=recovery, store=store)
    for _ in range(2):
        breaker.record_failure(KEY, breaker.allow(KEY), 503)
    time.sleep(recovery + 4 * SYNC)  # past the fleet's break (it opened a round later)
    with pytest.raises(Exception, match="open"):
        breaker.allow(KEY)  # no lease yet: the syncer asks for one
    leases_key = f"retrykit:{{{namespace}|{KEY}}}:leases"
    client = server.client()
    _wait_for(lambda: client.zcard(leases_key) == 1)
    store.close()
    assert client.zcard(leases_key) == 0
    assert breaker.allow(KEY).is_probe  # local-only now: the local rules let a probe out


def test_a_closed_store_takes_no_new_member() -> None:
    """Joining a closed store fails loudly; closing twice is fine."""
    store = RedisStore(redis.Redis(port=free_port()), namespace="n")
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        CircuitBreaker(store=store)


def test_a_forked_child_gets_a_name_and_a_syncer_of_its_own(server: RedisServer) -> None:
    """After fork the child's store has a new reporter name and its own running thread."""
    code = textwrap.dedent(
        f"""
        import os, threading, time, redis
        from retrykit import CircuitBreaker
        from retrykit.redis import RedisStore
        store = RedisStore(redis.Redis(port={server.port}), namespace="fork", sync_interval=0.05)
        breaker = CircuitBreaker(store=store)
        parent = store.reporter
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            alive = any(t.name == "retrykit-fleet-fork" for t in threading.enumerate())
            os.write(write, f"{{store.reporter != parent}} {{alive}}".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.read(read, 100).decode())
        store.close()
        """
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_calls_never_wait_for_a_frozen_redis(namespace: str, backend: str) -> None:
    """Beneath asyncio and trio the store's thread syncs; a frozen Redis stalls no loop."""
    import anyio

    from retrykit.httpx import AsyncRetryTransport

    with RedisServer(redis_binary()) as frozen:
        store = _store(frozen, namespace)
        transport = AsyncRetryTransport(
            httpx.MockTransport(lambda request: httpx.Response(200, text="ok")),
            breaker=CircuitBreaker(store=store),
            budget=RetryBudget(store=store),
        )
        latencies: list[float] = []

        async def calls() -> None:
            async with httpx.AsyncClient(transport=transport) as http:
                for _ in range(300):
                    began = time.perf_counter()
                    assert (await http.get("https://api.example/v1")).status_code == 200
                    latencies.append(time.perf_counter() - began)
                    await anyio.sleep(0.002)

        anyio.run(calls, backend=backend)  # Redis up: warm
        frozen.freeze()
        try:
            latencies.clear()
            anyio.run(calls, backend=backend)
        finally:
            frozen.thaw()
        store.close()
    assert max(latencies) < 0.05  # any wait on Redis would take its 75 ms timeout
