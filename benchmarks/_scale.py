"""Scenarios 12 and 13 (issue 19): many distinct hosts, and a fleet store configured.

12. Distinct hosts: `client.get` round-robin over N distinct hostnames through
    `httpx.MockTransport`, for each N of `Sizes.host_counts`, timed in interleaved rounds
    next to a bare client doing the same; the cost per call must stay flat (within 10 %
    of one host). Then the memory that 100,000 healthy hosts leave behind, traced with
    tracemalloc: under 1 MiB, since a host that never failed needs no circuit.
13. A fleet store: the happy path with a `RedisStore` (on a redis-server of our own, on a
    free 127.0.0.1 port) under the breaker and the budget, paired per round against the
    same transport without it, and against a second copy of that transport to show what
    the noise alone gives. Without a ``redis-server`` on PATH the row says it skipped.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from typing import TYPE_CHECKING, Final

import _peers
import bench_fleet
import httpx
import redis
from _measure import Timings, interleave, repeat
from _peers import Contender
from _scenarios import NO, NONE, YES, Section, Sizes, Verdict, markdown_table

from retrykit import CircuitBreaker, RateLimiter, RetryBudget
from retrykit.httpx import RetryTransport
from retrykit.redis import RedisStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

FLAT: Final = 1.10  # cost per call at N hosts / at one host, at most
HEALTHY_MIB: Final = 1.0  # traced growth after the healthy hosts, below
_MiB: Final = 1024 * 1024
_WARM_HOSTS: Final = 200  # first-use allocations (caches, interned strings) before tracing


def _met(ok: bool) -> str:
    return YES if ok else NO


def _hosts_label(count: int) -> str:
    return f"{count:,} host" + ("" if count == 1 else "s")


def _host_urls(count: int, prefix: str) -> list[str]:
    return [f"http://{prefix}{index}.example.test/items" for index in range(count)]


def _round_robin(call: Callable[[str], int], urls: Sequence[str], count: int) -> Callable[[], None]:
    """Return a block of ``count`` calls, each to the next of ``urls`` (carried across blocks)."""
    cycle: Iterator[str] = itertools.cycle(urls)

    def block() -> None:
        for _ in range(count):
            call(next(cycle))

    return block


def _retrykit_client(breaker: CircuitBreaker | None = None) -> tuple[httpx.Client, RetryTransport]:
    transport = RetryTransport(
        _peers.inner_transport(in_process=True),
        policy=_peers.POLICY,
        breaker=breaker or CircuitBreaker(),
        budget=RetryBudget(),
        limiter=RateLimiter(),
    )
    return httpx.Client(transport=transport), transport


def _time_hosts(sizes: Sizes) -> Timings:
    """Time bare httpx and retrykit at each host count, round-robin, interleaved."""
    names: list[str] = []
    blocks: list[Callable[[], None]] = []
    clients: list[httpx.Client] = []
    for count in sizes.host_counts:
        urls = _host_urls(count, f"n{count}-")
        bare = httpx.Client(transport=_peers.inner_transport(in_process=True))
        ours, transport = _retrykit_client()
        clients += [bare, ours]
        # One pass over every host first, so each timed call meets a host seen before, as
        # a long round-robin would (the bare client keeps nothing per host).
        for url in urls:
            transport.handle_request(httpx.Request("GET", url)).close()
        for name, client in (
            (f"httpx, {_hosts_label(count)}", bare),
            (f"retrykit, {_hosts_label(count)}", ours),
        ):
            names.append(name)
            blocks.append(_round_robin(_peers.client_call(client), urls, sizes.host_calls))
    try:
        return interleave(names, blocks, rounds=sizes.local_rounds, per_block=sizes.host_calls)
    finally:
        for client in clients:
            client.close()


def _healthy_memory(hosts: int) -> tuple[float, float, int]:
    """Return (traced growth MiB, peak MiB, circuits kept) after ``hosts`` healthy hosts."""
    breaker = CircuitBreaker()
    client, transport = _retrykit_client(breaker)

    def send(url: str) -> None:
        transport.handle_request(httpx.Request("GET", url)).close()

    try:
        for url in _host_urls(_WARM_HOSTS, "warm"):
            send(url)
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            # One URL at a time: a list of them all would count in the peak.
            for index in range(hosts):
                send(f"http://healthy{index}.example.test/items")
            gc.collect()
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        client.close()
    return (current - base) / _MiB, (peak - base) / _MiB, len(breaker.snapshots())


def distinct_hosts(sizes: Sizes) -> Section:
    """Scenario 12: the cost per call over 1 to 100,000 hosts; memory for healthy hosts."""
    timings = _time_hosts(sizes)
    one = sizes.host_counts[0]
    rows: list[list[str]] = []
    verdicts: list[Verdict] = []
    for count in sizes.host_counts:
        bare, ours = f"httpx, {_hosts_label(count)}", f"retrykit, {_hosts_label(count)}"
        flat = timings.paired_ratio(ours, f"retrykit, {_hosts_label(one)}")
        rows.append(
            [
                f"{count:,}",
                f"{timings.median(bare):.1f}",
                timings.paired_ratio(bare, f"httpx, {_hosts_label(one)}").show(".3f"),
                f"{timings.median(ours):.1f}",
                flat.show(".3f"),
                timings.paired_added(ours, bare).show(),
            ]
        )
        if count != one:
            verdicts.append(
                Verdict(
                    "12 hosts",
                    f"retrykit RetryTransport (defaults): us per call at {count:,} distinct "
                    f"hosts / at {one:,}, in process",
                    flat.show(".3f", "x"),
                    f"<= {FLAT}x",
                    _met(flat.median <= FLAT),
                )
            )
    growth, peak, circuits = _healthy_memory(sizes.memory_hosts)
    verdicts += [
        Verdict(
            "12 hosts",
            f"traced growth after {sizes.memory_hosts:,} healthy hosts, defaults (peak)",
            f"{growth:.3f} MiB ({peak:.3f})",
            f"< {HEALTHY_MIB:.0f} MiB",
            _met(growth < HEALTHY_MIB),
        ),
        Verdict(
            "12 hosts",
            f"circuits kept after {sizes.memory_hosts:,} healthy hosts (none failed)",
            f"{circuits:,}",
            "0",
            _met(circuits == 0),
        ),
    ]
    table = markdown_table(
        [
            "distinct hosts",
            "httpx us / call",
            "x one host",
            "retrykit us / call",
            "x one host",
            "retrykit added us",
        ],
        rows,
    )
    table += (
        f"\n\nAfter {sizes.memory_hosts:,} healthy hosts: traced growth {growth:.3f} MiB "
        f"(peak {peak:.3f} MiB), {circuits:,} circuits kept."
    )
    limits = (
        f"**Distinct hosts.** `client.get` over httpx.MockTransport (no sockets, no DNS), "
        f"every answer a 200, each block of {sizes.host_calls} calls going round-robin "
        f"over its own N hostnames; retrykit has its defaults (CircuitBreaker, RetryBudget, "
        f"RateLimiter), no hook. Before timing, retrykit's transport meets every host once, "
        f"so the timed calls are the steady state of a long round-robin (a host last seen "
        f"N calls ago); the bare client keeps nothing per host and needs no such pass. Each "
        f"'x one host' is paired per round [first and third quartiles], over "
        f"{sizes.local_rounds} rounds; the bare client's column shows what the client and "
        f"the machine's caches do with N alone (a larger working set costs everyone), so "
        f"retrykit's column is judged ({FLAT}x) with that beside it. retrykit's "
        f"`origin_key` cache is one per process, so the blocks at large N also empty it "
        f"for the others, as in a process that talks to that many hosts. The memory "
        f"figure is a fresh transport with the defaults, {_WARM_HOSTS} other hosts first "
        f"(first-use allocations), then `handle_request` to each of "
        f"{sizes.memory_hosts:,} new hosts under tracemalloc, read after a gc.collect(): "
        f"Python allocations only, every bounded cache's fill included; 'circuits kept' is "
        f"the breaker's `snapshots()`."
    )
    return Section(
        f"12. Distinct hosts: cost per call from {one:,} to {sizes.host_counts[-1]:,} hosts, "
        f"memory for {sizes.memory_hosts:,}",
        table,
        tuple(verdicts),
        limits,
    )


# --- 13. A fleet store ------------------------------------------------------------------------

_STORE_ROWS: Final = (
    "httpx",
    "retrykit RetryTransport",
    "retrykit RetryTransport, again",
    "retrykit RetryTransport, RedisStore",
)


def _store_contenders(store: RedisStore) -> list[Contender]:
    def retrykit(name: str, store: RedisStore | None) -> Contender:
        transport = RetryTransport(
            _peers.inner_transport(in_process=True),
            policy=_peers.POLICY,
            breaker=CircuitBreaker(store=store),
            budget=RetryBudget(store=store),
        )
        client = httpx.Client(transport=transport)
        return Contender(name, _peers.client_call(client), client.close)

    bare = httpx.Client(transport=_peers.inner_transport(in_process=True))
    return [
        Contender(_STORE_ROWS[0], _peers.client_call(bare), bare.close),
        retrykit(_STORE_ROWS[1], None),
        retrykit(_STORE_ROWS[2], None),
        retrykit(_STORE_ROWS[3], store),
    ]


def fleet_store(sizes: Sizes) -> Section:
    """Scenario 13: the happy path with a RedisStore configured, against none."""
    title = f"13. A fleet store: RedisStore on the happy path ({sizes.local_rounds} rounds)"
    figure = "retrykit RetryTransport, RedisStore: added us vs no store (paired), in process"
    with bench_fleet.redis_server() as port:
        if port is None:
            return Section(
                title,
                "skipped: no redis-server on PATH",
                (
                    Verdict(
                        "13 fleet store", figure, "skipped: no redis-server", "within noise", NONE
                    ),
                ),
                "**Fleet store.** Needs a `redis-server` binary on PATH; none was found.",
            )
        store = RedisStore(redis.Redis(port=port), namespace="bench-store", sync_interval=0.5)
        contenders = _store_contenders(store)
        url = "http://api.example.test/items"
        try:
            timings = interleave(
                [c.name for c in contenders],
                [repeat(c.call, url, sizes.happy_local) for c in contenders],
                rounds=sizes.local_rounds,
                per_block=sizes.happy_local,
            )
        finally:
            for contender in contenders:
                contender.close()
            store.close()
    base = _STORE_ROWS[1]
    added = timings.paired_added(_STORE_ROWS[3], base)
    noise = timings.paired_added(_STORE_ROWS[2], base)
    band = max(abs(noise.low), abs(noise.high))
    rows = [
        [
            name,
            f"{timings.median(name):.1f}",
            "-" if name in _STORE_ROWS[:2] else timings.paired_added(name, base).show(),
        ]
        for name in _STORE_ROWS
    ]
    verdict = Verdict(
        "13 fleet store",
        figure,
        f"{added.show(unit=' us')} (same transport again: {noise.show()})",
        f"<= the noise ({band:.1f} us)",
        _met(added.median <= band),
    )
    limits = (
        "**Fleet store.** `client.get` over httpx.MockTransport, every answer a 200, with "
        "the breaker and the budget on; the RedisStore row shares both through a "
        "redis-server of the harness's own on 127.0.0.1 (no persistence), syncing in the "
        "background every 0.5 s, so its thread competes for the same cores. 'added us' is "
        f"paired per round with the no-store row [first and third quartiles], over "
        f"{sizes.local_rounds} rounds of {sizes.happy_local} calls; the 'again' row is a "
        "second transport configured the same, so its spread is the noise of a comparison "
        "that should give nothing, and the store is within noise when its median is no "
        "larger than the larger magnitude of that row's quartiles. The rate limiter takes "
        "no store; requests' adapter shares the same breaker and budget code and is not "
        "timed here."
    )
    return Section(
        title,
        markdown_table(["contender", "us / request", "added us vs no store"], rows),
        (verdict,),
        limits,
    )
