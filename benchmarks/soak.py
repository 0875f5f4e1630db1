"""Soak: 16 threads for a minute against a server that fails in every way, writes counted.

Run ``python benchmarks/soak.py [--seconds 60] [--threads 16] [--seed 0] [--output PATH]``.
Threads take turns at the four client kinds (requests, httpx, httpx under asyncio and
under trio), each with its own client, and make calls as fast as they can for the given
time: GETs, POSTs carrying an ``Idempotency-Key`` and POSTs without one, each on a path
of its own whose FlakyServer script opens with a fault drawn at random (resets before and
after the read, garbage, cut heads and bodies, hangs, huge, stalled and trickling bodies,
HTTP/1.0, interim 100s, a length that lies) and ends with the answer.

The server keeps a ledger of the writes it applied: a POST is applied when its step
processed it (a 2xx, or a fault that struck after the server read it: a reset after the
read, garbage, a hang, a cut body), once per idempotency key (the server deduplicates
those, as a real one would). The Markdown report gives the calls and their outcomes per
client, and three figures that must be 0: writes applied twice, calls that outlived the
deadline by more than the grace, and connections still open once every client is closed.
The exit status is 1 if any of them is not 0.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import random
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import attrs
import httpx
import requests

from retrykit import Backoff, RetryPolicy
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter
from retrykit.testing import (
    FlakyServer,
    Garbage,
    Hang,
    ReceivedRequest,
    Reply,
    Reset,
    SlowBody,
    StalledBody,
    Step,
    Trickle,
    Truncated,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

KINDS: Final = ("requests", "httpx", "asyncio", "trio")
DEADLINE: Final = 2.0
"""Each call's deadline (seconds)."""
GRACE: Final = 0.5
"""How far past the deadline a call may end before it counts as a hang."""
TIMEOUT: Final = 0.5
"""Each call's client timeout (seconds)."""
POLICY: Final = RetryPolicy(deadline=DEADLINE, backoff=Backoff(base=0.005, cap=0.05))
WRITE_ID: Final = "X-Write-Id"
_STALL: Final = 30.0
_MIB: Final = 1024 * 1024

# (name, weight, the steps before the answer)
FAULTS: Final[tuple[tuple[str, int, tuple[Step, ...]], ...]] = (
    ("none", 6, ()),
    ("503", 4, (Reply(503),)),
    ("429 Retry-After: 0", 2, (Reply(429, {"Retry-After": "0"}),)),
    ("reset after the read", 3, (Reset(),)),
    ("reset before the read", 3, (Reset(after_read=False),)),
    ("garbage status line", 2, (Garbage(),)),
    ("cut head", 2, (Garbage(b"HTTP/1.1 200 OK\r\nContent-Le"),)),
    ("body shorter than its length", 2, (Truncated(),)),
    ("cut chunked body", 2, (Truncated(declared_length=64, body=b"abc", chunked=True),)),
    ("hang", 1, (Hang(_STALL),)),
    ("503 of 10 GB, stalled", 1, (StalledBody(declared_length=10 * 1024**3, sent=_MIB),)),
    ("503 chunked, 2 MiB, stalled", 1, (StalledBody(declared_length=None, sent=2 * _MIB),)),
    ("503 chunked, 16 KiB, stalled", 1, (StalledBody(declared_length=None, sent=16 * 1024),)),
    ("503 trickling", 1, (Trickle(503, body=b"abcdef", interval=0.1),)),
    ("503 body late", 1, (SlowBody(503, body=b"busy", delay=0.3),)),
    ("HTTP/1.0 503", 2, (Reply(503, version="HTTP/1.0"),)),
    ("HTTP/1.0 503 to the close", 1, (Garbage(b"HTTP/1.0 503 Busy\r\n\r\ncome back"),)),
    ("interim 100 then 503", 2, (Reply(503, interim=(100,)),)),
    ("longer than its length", 2, ()),  # the answer itself lies; see _answer
    ("answer trickling past the deadline", 1, ()),  # so does this one; see _Plan
)
# Bounded by the deadline only where retrykit reads the final body (requests without
# stream=True, httpx with read_body=True); where the caller reads it, its own timeouts
# bound it, as they would without retrykit.
_READ_BY_THE_LOOP: Final = frozenset({"answer trickling past the deadline"})


def _answer(method: str, fault: str) -> Step:
    body = b"created" if method == "POST" else b"ok"
    status = 201 if method == "POST" else 200
    if fault == "longer than its length":
        # Declares the body, sends more: the rest meets the client's next call.
        return Reply(status, {"Content-Length": str(len(body))}, body + b"EXTRA")
    if fault == "answer trickling past the deadline":
        # 3 s of body, one byte every 0.1 s: where the loop reads it, cut at the deadline.
        return Trickle(status, body=body * 5, interval=0.1)
    return Reply(status, body=body)


def applies(step: Step | None) -> bool:
    """Return True if a POST answered by ``step`` was applied by the server."""
    if isinstance(step, (Reply, SlowBody, Trickle)):
        return 200 <= step.status < 300
    if isinstance(step, Reset):
        return step.after_read
    if isinstance(step, Truncated):
        return 200 <= step.status < 300
    # Garbage and Hang strike after the server read the request; a stalled or trickling
    # body here is a 503 (not applied).
    return isinstance(step, (Garbage, Hang))


@attrs.frozen
class Result:
    """One call: its client, method, fault, what the caller got, and how long it took."""

    kind: str
    method: str
    fault: str
    outcome: str
    elapsed: float


@attrs.frozen
class Ledger:
    """What the server applied: writes sent, writes applied, and those applied twice."""

    writes: int
    applied: int
    duplicates: int


def ledger(records: Iterable[ReceivedRequest]) -> Ledger:
    """Replay the server's records: each POST applied at most once per idempotency key."""
    applied: collections.Counter[str] = collections.Counter()
    keys: set[str] = set()
    writes: set[str] = set()
    for record in records:
        write = record.header(WRITE_ID)
        if record.method != "POST" or write is None:
            continue
        writes.add(write)
        if not applies(record.step):
            continue
        key = record.header("Idempotency-Key")
        if key:
            if key in keys:
                continue  # the server deduplicates a key it has seen
            keys.add(key)
        applied[write] += 1
    duplicates = sum(count - 1 for count in applied.values() if count > 1)
    return Ledger(len(writes), sum(applied.values()), duplicates)


@attrs.frozen
class Soak:
    """The figures of a soak run."""

    seconds: float
    threads: int
    results: tuple[Result, ...]
    ledger: Ledger
    leaked: int

    @property
    def hangs(self) -> int:
        """Calls that ended more than GRACE past the deadline."""
        return sum(result.elapsed > DEADLINE + GRACE for result in self.results)

    @property
    def ok(self) -> bool:
        """True when no write was applied twice, no call hung and no connection leaked."""
        return self.ledger.duplicates == 0 and self.hangs == 0 and self.leaked == 0


class _Plan:
    """One thread's calls: what to send, and on which freshly scripted path."""

    def __init__(self, server: FlakyServer, thread: int, seed: int, *, reads_body: bool) -> None:
        self._server = server
        self._thread = thread
        self._random = random.Random(seed * 1000 + thread)
        self._count = 0
        faults = [fault for fault in FAULTS if reads_body or fault[0] not in _READ_BY_THE_LOOP]
        self._names = [name for name, _, _ in faults]
        self._weights = [weight for _, weight, _ in faults]
        self._steps = {name: steps for name, _, steps in faults}

    def next(self) -> tuple[str, str, str, dict[str, str]]:
        """Script a new path; return the method, its URL, the fault and the headers."""
        self._count += 1
        draw = self._random.random()
        method = "GET" if draw < 0.5 else "POST"
        headers = {WRITE_ID: str(uuid.UUID(int=self._random.getrandbits(128)))}
        if method == "POST" and draw < 0.75:
            headers["Idempotency-Key"] = f"key-{self._thread}-{self._count}"
        [fault] = self._random.choices(self._names, self._weights)
        path = f"/soak/{self._thread}/{self._count}"
        self._server.script(path, [*self._steps[fault], _answer(method, fault)])
        return method, self._server.url(path), fault, headers


def _outcome(status: int | None, error: BaseException | None) -> str:
    if error is not None:
        return f"{type(error).__module__.split('.')[0]}.{type(error).__name__}"
    return f"{status}"


Send: TypeAlias = "Callable[[str, str, dict[str, str]], int]"


def _sync_client(kind: str, settings: dict[str, Any]) -> tuple[Send, Callable[[], None]]:
    """Return a blocking client's send function and its close."""
    if kind == "requests":
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", RetryAdapter(**settings))

        def send_requests(method: str, url: str, headers: dict[str, str]) -> int:
            body = b"{}" if method == "POST" else None
            response = session.request(method, url, headers=headers, data=body, timeout=TIMEOUT)
            return response.status_code

        return send_requests, session.close
    client = httpx.Client(transport=RetryTransport(**settings), trust_env=False)

    def send_httpx(method: str, url: str, headers: dict[str, str]) -> int:
        body = b"{}" if method == "POST" else None
        response = client.request(method, url, headers=headers, content=body, timeout=TIMEOUT)
        return response.status_code

    return send_httpx, client.close


def _sync_worker(
    kind: str, plan: _Plan, until: float, results: list[Result], settings: dict[str, Any]
) -> None:
    send, close = _sync_client(kind, settings)
    label = _label(kind, settings)
    try:
        while time.monotonic() < until:
            method, url, fault, headers = plan.next()
            started = time.monotonic()
            status: int | None = None
            error: BaseException | None = None
            try:
                status = send(method, url, headers)
            except Exception as exc:  # every outcome is counted
                error = exc
            elapsed = time.monotonic() - started
            results.append(Result(label, method, fault, _outcome(status, error), elapsed))
            del error
    finally:
        close()


def _label(kind: str, settings: dict[str, Any]) -> str:
    return f"{kind} read_body" if settings.get("read_body") else kind


async def _async_worker(
    kind: str, plan: _Plan, until: float, results: list[Result], settings: dict[str, Any]
) -> None:
    transport = AsyncRetryTransport(**settings)
    label = _label(kind, settings)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        while time.monotonic() < until:
            method, url, fault, headers = plan.next()
            body = b"{}" if method == "POST" else None
            started = time.monotonic()
            status: int | None = None
            error: BaseException | None = None
            try:
                response = await client.request(
                    method, url, headers=headers, content=body, timeout=TIMEOUT
                )
                status = response.status_code
            except Exception as exc:  # every outcome is counted
                error = exc
            elapsed = time.monotonic() - started
            results.append(Result(label, method, fault, _outcome(status, error), elapsed))
            del error


def _worker(
    kind: str, plan: _Plan, until: float, results: list[Result], settings: dict[str, Any]
) -> None:
    if kind in ("requests", "httpx"):
        _sync_worker(kind, plan, until, results, settings)
    else:
        anyio.run(_async_worker, kind, plan, until, results, settings, backend=kind)


def soak(seconds: float = 60.0, threads: int = 16, seed: int = 0) -> Soak:
    """Run the soak for ``seconds`` on ``threads`` threads; return its figures."""
    settings: dict[str, Any] = {"policy": POLICY, "breaker": None}
    results: list[Result] = []
    # Import the event loops' backends once, here: a first import of trio racing in four
    # threads can fail half-way, and httpcore then takes trio for missing.
    for backend in ("asyncio", "trio"):
        importlib.import_module(backend)
        importlib.import_module(f"anyio._backends._{backend}")
    with FlakyServer(read_timeout=10.0) as server:
        until = time.monotonic() + seconds
        workers = []
        for index in range(threads):
            kind = KINDS[index % len(KINDS)]
            # Every other round of the kinds, httpx reads the final body in the loop.
            read_body = kind != "requests" and (index // len(KINDS)) % 2 == 1
            plan = _Plan(server, index, seed, reads_body=read_body or kind == "requests")
            own = {**settings, "read_body": True} if read_body else settings
            workers.append(
                threading.Thread(
                    target=_worker,
                    args=(kind, plan, until, results, own),
                    name=f"soak-{kind}-{index}",
                )
            )
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        # Every client is closed; what a dropped pool still holds goes with the collector.
        gc.collect()
        settle = time.monotonic() + 5.0
        while server.connections_open and time.monotonic() < settle:
            time.sleep(0.05)
        leaked = server.connections_open
        books = ledger(server.received())
    return Soak(seconds, threads, tuple(results), books, leaked)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def report(result: Soak) -> str:
    """Return the run's figures as Markdown."""
    calls = len(result.results)
    verdict = "every figure that must be 0 is 0" if result.ok else "FAILED: a figure is not 0"
    slowest = max((r.elapsed for r in result.results), default=0.0)
    lines = [
        f"# Soak: {result.threads} threads, {result.seconds:g} s, every fault",
        "",
        f"{calls} calls ({calls / result.seconds:.0f} a second); {verdict}.",
        "",
        *_table(
            ("figure", "value", "must be"),
            [
                ("calls", calls, ""),
                ("writes sent (POSTs)", result.ledger.writes, ""),
                ("writes applied", result.ledger.applied, ""),
                ("duplicates applied", result.ledger.duplicates, 0),
                (f"hangs past the deadline ({DEADLINE:g} s + {GRACE:g} s)", result.hangs, 0),
                ("connections leaked", result.leaked, 0),
                ("slowest call (s)", f"{slowest:.2f}", f"<= {DEADLINE + GRACE:g}"),
            ],
        ),
        "",
        "## Outcomes per client",
        "",
    ]
    rows = []
    labels = sorted(
        {r.kind for r in result.results}, key=lambda label: (KINDS.index(label.split()[0]), label)
    )
    for kind in labels:
        mine = [r for r in result.results if r.kind == kind]
        outcomes = collections.Counter(r.outcome for r in mine)
        success = sum(count for outcome, count in outcomes.items() if outcome[:1] == "2")
        others = ", ".join(
            f"{outcome} {count}"
            for outcome, count in sorted(outcomes.items())
            if outcome[:1] != "2"
        )
        rows.append((kind, len(mine), success, others or "-"))
    lines += _table(("client", "calls", "2xx", "other outcomes"), rows)
    lines += ["", "## The slowest calls", ""]
    slow = sorted(result.results, key=lambda r: r.elapsed, reverse=True)[:5]
    lines += _table(
        ("client", "method", "fault", "outcome", "seconds"),
        [(r.kind, r.method, r.fault, r.outcome, f"{r.elapsed:.2f}") for r in slow],
    )
    lines += ["", "## Faults played", ""]
    faults = collections.Counter(r.fault for r in result.results)
    lines += _table(("fault", "calls"), faults.most_common())
    return "\n".join(lines) + "\n"


def main(seconds: float = 60.0, threads: int = 16, seed: int = 0, output: str | None = None) -> int:
    """Run the soak, print its report (and write it to ``output``); return 0 if it held."""
    result = soak(seconds, threads, seed)
    text = report(result)
    print(text, end="")
    if output is not None:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0 if result.ok else 1


def _cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--threads", type=int, default=16, help="how many threads (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    parser.add_argument("--output", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    return main(args.seconds, args.threads, args.seed, args.output)


if __name__ == "__main__":
    sys.exit(_cli())
