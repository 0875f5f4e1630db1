"""What a RedisStore costs a call, what it saves in an outage, and what it sends to Redis.

Run ``python benchmarks/bench_fleet.py [--quick]``; it prints Markdown. It starts a
``redis-server`` of its own on a free 127.0.0.1 port (no persistence, a temp dir) and a
`FlakyServer`; without a redis-server binary the figures that need one say so.

1. Happy path: a `RetryTransport` over `httpx.MockTransport` (no sockets, so the figure
   is retrykit's own cost) with a breaker and a budget, without a store (twice: the two
   give the noise floor) and with a `RedisStore` on a live Redis, timed in interleaved
   rounds in one process; the figure is the median per round of the paired difference.
   The same for the bookkeeping alone (``deposit``, ``allow``, ``record_success``), where
   the few tens of nanoseconds a store adds are visible at all.
2. Outage: four member processes (this file run with ``--member``) each make a call
   every 200 ms to a server answering 503 to everything, through a requests
   `RetryAdapter` with one attempt per call and ``failure_threshold=5``: first each with
   its own breaker, then with ``CircuitBreaker(store=RedisStore(...))``. The figure is
   the server's hits before every member is open, and how long after the fleet's fifth
   failure the last member opened.
3. Commands: the Redis commands a store sends per second, while its process makes about
   a thousand calls a second to one origin, then to three (``sync_interval`` 0.5 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final

import httpx
import redis

from retrykit import CircuitBreaker, RetryBudget, RetryPolicy
from retrykit.httpx import RetryTransport
from retrykit.redis import RedisStore
from retrykit.testing import FlakyServer, Reply

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MEMBERS: Final = 4
THRESHOLD: Final = 5
EVERY: Final = 0.2
FLEET_SYNC: Final = 0.1


# -- a redis-server of our own ---------------------------------------------------------------


@contextlib.contextmanager
def redis_server() -> Iterator[int | None]:
    """Run redis-server on a free port for the block; yield the port (None without a binary)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="retrykit-bench-redis-") as directory:
        process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port, socket_timeout=0.5)
            deadline = time.monotonic() + 10
            while True:
                try:
                    if client.ping():
                        break
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            client.close()
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


# -- 1. the happy path ----------------------------------------------------------------------


def _client(store: RedisStore | None) -> httpx.Client:
    transport = RetryTransport(
        httpx.MockTransport(lambda request: httpx.Response(200, text="ok")),
        breaker=CircuitBreaker(store=store),
        budget=RetryBudget(store=store),
        policy=RetryPolicy(max_attempts=3),
    )
    return httpx.Client(transport=transport)


def _interleave(
    blocks: dict[str, Callable[[], None]], *, rounds: int, per_block: int
) -> dict[str, list[float]]:
    """Time each block once per round, in rotating order; microseconds per call."""
    names = list(blocks)
    for block in blocks.values():
        block()  # warm-up
    values: dict[str, list[float]] = {name: [] for name in names}
    for start in range(rounds):
        for offset in range(len(names)):
            name = names[(start + offset) % len(names)]
            began = time.perf_counter()
            blocks[name]()
            values[name].append((time.perf_counter() - began) / per_block * 1e6)
    return values


def _paired(values: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(a - b for a, b in zip(values[name], values[base], strict=True))


Row = tuple[str, str, str, str, str]


def happy_path(port: int | None, *, rounds: int, per_block: int) -> list[Row]:
    """Rows: the added microseconds per call of a configured store, next to the noise."""
    store = (
        None
        if port is None
        else RedisStore(redis.Redis(port=port), namespace="bench-happy", sync_interval=0.5)
    )
    clients = {"no store": _client(None), "no store again": _client(None)}
    if store is not None:
        clients["RedisStore"] = _client(store)
    url = "https://api.example/v1/items"

    def block(client: httpx.Client) -> Callable[[], None]:
        def run() -> None:
            for _ in range(per_block):
                client.get(url)

        return run

    values = _interleave(
        {name: block(client) for name, client in clients.items()},
        rounds=rounds,
        per_block=per_block,
    )
    for client in clients.values():
        client.close()
    base = statistics.median(values["no store"])
    noise = _paired(values, "no store again", "no store")
    spread = statistics.median(
        abs(a - b) for a, b in zip(values["no store again"], values["no store"], strict=True)
    )
    rows: list[Row] = [
        (
            "happy path",
            "us per call, breaker + budget, no store (in-process)",
            f"{base:.1f}",
            "-",
            "-",
        ),
        (
            "happy path",
            "no store vs the same again: paired median (noise floor)",
            f"{noise:+.2f} us (spread {spread:.2f})",
            "-",
            "-",
        ),
    ]
    rows += _bookkeeping(store, rounds=rounds, per_block=per_block * 20)
    if store is None:
        rows.append(("happy path", "RedisStore vs no store", "n/a: no redis-server", "", ""))
    else:
        added = _paired(values, "RedisStore", "no store")
        met = "yes" if abs(added) <= max(2 * spread, 0.05 * base) else "**no**"
        rows.append(
            (
                "happy path",
                "RedisStore (live Redis) vs no store: paired median added per call",
                f"{added:+.2f} us ({added / base * 100:+.1f} %)",
                "within noise",
                met,
            )
        )
        store.close()
    return rows


def _bookkeeping(store: RedisStore | None, *, rounds: int, per_block: int) -> list[Row]:
    """Rows: a healthy call's breaker and budget bookkeeping alone, without and with a store."""
    key = "https://api.example:443"

    def block(breaker: CircuitBreaker, budget: RetryBudget) -> Callable[[], None]:
        def run() -> None:
            for _ in range(per_block):
                budget.deposit()
                breaker.record_success(key, breaker.allow(key))

        return run

    blocks = {"no store": block(CircuitBreaker(), RetryBudget())}
    if store is not None:
        blocks["RedisStore"] = block(CircuitBreaker(store=store), RetryBudget(store=store))
    values = _interleave(blocks, rounds=rounds, per_block=per_block)
    base = statistics.median(values["no store"])
    rows: list[Row] = [
        (
            "happy path",
            "bookkeeping alone (deposit, allow, record_success), no store",
            f"{base * 1000:.0f} ns",
            "-",
            "-",
        )
    ]
    if store is not None:
        added = _paired(values, "RedisStore", "no store") * 1000
        rows.append(
            (
                "happy path",
                "bookkeeping alone, RedisStore vs no store: paired median added",
                f"{added:+.0f} ns",
                "-",
                "-",
            )
        )
    return rows


# -- 2. the outage, four processes --------------------------------------------------------


def member(arguments: dict[str, Any]) -> None:
    """A member process: build, say ready, wait for the start time, call, report as JSON."""
    import requests

    from retrykit.requests import CircuitOpenError, RetryAdapter

    opened: list[float] = []
    store = None
    if arguments["redis_port"] is not None:
        store = RedisStore(
            redis.Redis(port=arguments["redis_port"]),
            namespace=arguments["namespace"],
            sync_interval=FLEET_SYNC,
        )
    breaker = CircuitBreaker(
        failure_threshold=THRESHOLD,
        recovery_timeout=30.0,
        store=store,
        on_state_change=lambda _key, _old, new: (
            opened.append(time.monotonic()) if new.value == "open" else None
        ),
    )
    session = requests.Session()
    session.mount(
        "http://", RetryAdapter(breaker=breaker, budget=None, policy=RetryPolicy(max_attempts=1))
    )
    print("ready", flush=True)
    start = float(sys.stdin.readline()) + arguments["offset"]
    rejected = sent = 0
    for index in range(arguments["calls"]):
        pause = start + index * EVERY - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            session.get(arguments["url"], timeout=5).close()
            sent += 1
        except CircuitOpenError:
            rejected += 1
    if store is not None:
        store.close()
    print(
        json.dumps(
            {"opened_at": opened[0] if opened else None, "sent": sent, "rejected": rejected}
        ),
        flush=True,
    )


def _members(url: str, port: int | None, namespace: str, calls: int) -> list[dict[str, Any]]:
    processes = []
    for index in range(MEMBERS):
        arguments = {
            "url": url,
            "redis_port": port,
            "namespace": namespace,
            "calls": calls,
            "offset": index * EVERY / MEMBERS,
        }
        processes.append(
            subprocess.Popen(  # noqa: S603 - this file, as a member
                [sys.executable, __file__, "--member", json.dumps(arguments)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a member did not start")
    start = time.monotonic() + 0.2
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"{start}\n")
        process.stdin.flush()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=60)
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def outage(port: int | None, *, calls: int) -> list[Row]:
    """Rows: hits before all four members are open, without and with a store."""
    rows: list[Row] = []
    with FlakyServer() as server:
        server.script("/alone", Reply(503))
        server.script("/shared", Reply(503))
        alone = _members(server.url("/alone"), None, "bench-alone", calls)
        hits_alone = server.hits("/alone")
        all_open = all(result["opened_at"] for result in alone)
        rows.append(
            (
                "outage",
                f"hits before all {MEMBERS} processes are open, each its own breaker",
                str(hits_alone) + ("" if all_open else " (not all opened)"),
                f">= {MEMBERS * THRESHOLD}",
                "-",
            )
        )
        if port is None:
            rows.append(("outage", "hits with RedisStore", "n/a: no redis-server", "", ""))
            return rows
        shared = _members(server.url("/shared"), port, "bench-outage", calls)
        hits = server.hits("/shared")
        fifth = server.received("/shared")[THRESHOLD - 1].received_at
        opened = [result["opened_at"] for result in shared]
        lag = max(opened) - fifth if all(opened) else float("nan")
        target = THRESHOLD + 2 * MEMBERS * FLEET_SYNC / EVERY
        rows.append(
            (
                "outage",
                f"hits before all {MEMBERS} are open, CircuitBreaker(store=RedisStore)",
                str(hits),
                f"<= {target:.0f} (5th failure + one interval of traffic, x2)",
                "yes" if hits <= target else "**no**",
            )
        )
        rows.append(
            (
                "outage",
                "last process open after the fleet's 5th failure",
                f"{lag * 1000:.0f} ms",
                f"<= {2 * FLEET_SYNC * 1000:.0f} ms (two intervals)",
                "yes" if lag <= 2 * FLEET_SYNC else "**no**",
            )
        )
    return rows


# -- 3. commands per second ----------------------------------------------------------------


def commands(port: int | None, *, seconds: float) -> list[Row]:
    """Rows: commands a store sends per second while its process calls 1, then 3 origins."""
    if port is None:
        return [
            ("commands", "Redis commands per second per process", "n/a: no redis-server", "", "")
        ]
    rows: list[Row] = []
    for origins in (1, 3):
        store = RedisStore(redis.Redis(port=port), namespace=f"bench-commands-{origins}")
        urls = [f"https://api{i}.example/v1/items" for i in range(origins)]
        with _client(store) as client:
            began = time.monotonic()
            before = store.stats().commands
            calls = 0
            while time.monotonic() - began < seconds:
                client.get(urls[calls % origins])
                calls += 1
                if calls % 50 == 0:
                    time.sleep(0.04)  # about a thousand calls a second
            elapsed = time.monotonic() - began
            sent = store.stats().commands - before
        store.close()
        rows.append(
            (
                "commands",
                (
                    f"Redis commands per second, {calls / elapsed:.0f} calls/s to "
                    f"{origins} origin{'s' if origins > 1 else ''}, sync_interval 0.5 s"
                ),
                f"{sent / elapsed:.1f}",
                f"<= {2 * origins + 2} (a poll per origin per round)",
                "yes" if sent / elapsed <= 2 * origins + 2 else "**no**",
            )
        )
    return rows


def main(quick: bool = False) -> str:
    """Run every part, print the Markdown report and return it."""
    with redis_server() as port:
        rows = happy_path(port, rounds=3 if quick else 15, per_block=300 if quick else 3000)
        rows += outage(port, calls=6 if quick else 10)
        rows += commands(port, seconds=0.6 if quick else 4.0)
    lines = [
        (
            f"### Fleet store ({'quick' if quick else 'full'} run; Python "
            f"{sys.version.split()[0]}, {os.cpu_count()} CPUs)"
        ),
        "",
        "| part | figure | measured | target | met |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    report = "\n".join(lines)
    print(report)
    return report


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--member":
        member(json.loads(sys.argv[2]))
    else:
        main(quick="--quick" in sys.argv[1:])
