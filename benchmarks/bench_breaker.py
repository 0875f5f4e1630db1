"""What the circuit breaker and the retry budget save in an outage, and what they cost.

Run ``python benchmarks/bench_breaker.py [calls]``. Three parts:

1. A simulated outage: ``calls`` GET calls to a server that answers 503 to everything,
   driven through the sans-IO core (`decide` with ``RetryPolicy(max_attempts=4)``) the way
   the retry driver drives it: ``deposit()`` once per call, ``allow()`` before each
   attempt, ``record_failure()`` after it, ``try_withdraw()`` before each retry. Calls
   arrive at each of ``ARRIVAL_RATES`` a second; a discrete-event loop moves a fake clock to each
   attempt, and each retry is scheduled ``delay`` seconds after the attempt before it.
   Nothing sleeps and nothing touches the network.
2. The cost of a call the breaker rejects (``allow()`` raising `CircuitOpenError`),
   next to one it lets through on a healthy circuit (``allow()`` + ``record_success()``),
   both timed in-process.
3. The same bookkeeping next to a real keep-alive request to a server on 127.0.0.1, alone
   and with 16 threads sharing one breaker and one budget.
"""

from __future__ import annotations

import heapq
import http.client
import http.server
import random
import statistics
import sys
import threading
import time
import timeit
from typing import Any, Final

from retrykit import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    FailureKind,
    RetryBudget,
    RetryPolicy,
    counts_as_failure,
    decide,
)

_OPEN: Final = BreakerState.OPEN
DEFAULT_CALLS: Final = 1000
ARRIVAL_RATES: Final = (10.0, 100.0, 1000.0)  # calls a second during the outage
KEY: Final = "https://api.example:443"
POLICY: Final = RetryPolicy(max_attempts=4)
THREADS: Final = 16
REPEATS: Final = 8


def simulate_outage(
    calls: int,
    *,
    budget: bool,
    breaker: bool,
    arrival_rate: float,
    seed: int = 0,
    counts: str = "calls",
) -> int:
    """Return the requests that reach a server answering 503 to all of ``calls`` calls."""
    now = 0.0

    def clock() -> float:
        return now

    retry_budget = RetryBudget(clock=clock) if budget else None
    circuit_breaker = CircuitBreaker(clock=clock, counts=counts) if breaker else None
    rng = random.Random(seed)
    # (time, call, attempt, delay before this attempt): one entry per attempt to make.
    agenda: list[tuple[float, int, int, float | None]] = [
        (index / arrival_rate, index, 1, None) for index in range(calls)
    ]
    heapq.heapify(agenda)
    starts = [index / arrival_rate for index in range(calls)]
    sent = 0
    while agenda:
        now, call, attempt, previous_delay = heapq.heappop(agenda)
        if attempt == 1 and retry_budget is not None:
            retry_budget.deposit()
        ticket = None
        if circuit_breaker is not None:
            try:
                ticket = circuit_breaker.allow(KEY)
            except CircuitOpenError:
                continue
        sent += 1
        decision = decide(
            POLICY,
            attempt=attempt,
            method="GET",
            status=503,
            headers={},
            elapsed=now - starts[call],
            rand=rng.random(),
            previous_delay=previous_delay,
        )
        # As the driver does: a probe's outcome (and with counts="attempts" every
        # attempt's) counts at once, otherwise only the call's final outcome does.
        failed = counts_as_failure(POLICY, status=503)
        settled = False
        counts_now = ticket is not None and (ticket.is_probe or not decision.retry)
        if (
            circuit_breaker is not None
            and ticket is not None
            and failed
            and (counts_now or circuit_breaker.per_attempt)
        ):
            circuit_breaker.record_failure(KEY, ticket, 503)
            settled = True
        retry = decision.retry
        if (
            retry
            and circuit_breaker is not None
            and circuit_breaker.state(KEY) is BreakerState.OPEN
        ):
            retry = False
        if retry and retry_budget is not None and not retry_budget.try_withdraw():
            retry = False
        if not retry:
            if circuit_breaker is not None and ticket is not None and failed and not settled:
                circuit_breaker.record_failure(KEY, ticket, 503)
            continue
        heapq.heappush(agenda, (now + decision.delay, call, attempt + 1, decision.delay))
    return sent


def outage_table(calls: int) -> str:
    """Return the Markdown table of requests per call in the simulated outage, by arrival rate."""
    rows: list[tuple[str, bool, bool, str, float | None]] = [
        ("no protection", False, False, "calls", None),
        ("retry budget alone", True, False, "calls", 1.3),
        ("circuit breaker + retry budget (default, counts calls)", True, True, "calls", 0.15),
        ("circuit breaker (counts='attempts') + retry budget", True, True, "attempts", 0.05),
    ]
    rate_cells = " | ".join(f"{rate:g} calls/s" for rate in ARRIVAL_RATES)
    lines = [
        (
            f"Outage: {calls} calls, every attempt answered 503; RetryPolicy(max_attempts=4), "
            "default CircuitBreaker() and RetryBudget(). Requests sent per call, by arrival rate:"
        ),
        "",
        f"| protection | target | {rate_cells} |",
        "|---|---:|" + "---:|" * len(ARRIVAL_RATES),
    ]
    for name, budget, breaker, counts, target in rows:
        cells = []
        for rate in ARRIVAL_RATES:
            sent = simulate_outage(
                calls, budget=budget, breaker=breaker, arrival_rate=rate, counts=counts
            )
            per_call = sent / calls
            verdict = "" if target is None else (" met" if per_call <= target else " NOT MET")
            cells.append(f"{per_call:.3f}{verdict}")
        target_cell = "-" if target is None else f"<= {target}"
        lines.append(f"| {name} | {target_cell} | {' | '.join(cells)} |")
    lines += [
        "",
        (
            "The budget allows ratio (0.2) of the requests plus min_per_second (10) retries a "
            "second, so in a long outage it sends about 1 + 0.2 + 10 / rate requests per call: "
            "the 1.3 target holds from about 200 calls/s, or whenever the whole outage fits in "
            "one ttl (10 s) window; below that the floor of 10 retries a second dominates."
        ),
        (
            "Counting calls (the default) waits for 5 calls to fail all their attempts before "
            "opening, so calls that arrive meanwhile still go out: about 0.1 requests per call "
            "when calls overlap, against 0.005 when every attempt counts. That is the price "
            "of the burst rows below: counting attempts turns a burst that retries absorb "
            "into an outage of its own."
        ),
        "",
        burst_table(),
    ]
    return "\n".join(lines)


def simulate_burst(concurrency: int, *, counts: str, seed: int = 0) -> int:
    """Return how many of ``concurrency`` simultaneous calls end in a 200.

    Each call's attempts get 503, then a reset, then 200: retries absorb the whole burst.
    Driven through the core and a real `CircuitBreaker` on a fake clock, as the driver
    does (see `simulate_outage`).
    """
    now = 0.0

    def clock() -> float:
        return now

    circuit_breaker = CircuitBreaker(clock=clock, counts=counts)
    retry_budget = RetryBudget(clock=clock)
    rng = random.Random(seed)
    outcomes = (503, None, 200)  # None: a reset after the request was sent
    agenda: list[tuple[float, int, int, float | None]] = [
        (0.0, index, 1, None) for index in range(concurrency)
    ]
    for _ in range(concurrency):
        retry_budget.deposit()
    succeeded = 0
    while agenda:
        now, call, attempt, previous_delay = heapq.heappop(agenda)
        try:
            ticket = circuit_breaker.allow(KEY)
        except CircuitOpenError:
            continue
        status = outcomes[min(attempt, 3) - 1]
        failure = FailureKind.UNKNOWN_OUTCOME if status is None else None
        decision = decide(
            POLICY,
            attempt=attempt,
            method="GET",
            status=status,
            failure=failure,
            rand=rng.random(),
            previous_delay=previous_delay,
        )
        failed = counts_as_failure(POLICY, status=status, failure=failure)
        final = not decision.retry
        if final or ticket.is_probe or circuit_breaker.per_attempt:
            if failed:
                circuit_breaker.record_failure(KEY, ticket, status or failure)
            else:
                circuit_breaker.record_success(KEY, ticket)
        if final:
            succeeded += status == 200
            continue
        if circuit_breaker.state(KEY) is BreakerState.OPEN or not retry_budget.try_withdraw():
            continue
        heapq.heappush(agenda, (now + decision.delay, call, attempt + 1, decision.delay))
    return succeeded


def burst_table(concurrency: int = 20) -> str:
    """Return the Markdown table of the burst: how many calls succeed, by counting mode."""
    lines = [
        (
            f"Burst: {concurrency} calls at once, each answered 503, then a reset, then 200 "
            "(every call would succeed on its third attempt). Calls that end in a 200:"
        ),
        "",
        "| breaker counts | target | calls that got 200 |",
        "|---|---:|---:|",
    ]
    for counts, target in (("calls", concurrency), ("attempts", None)):
        succeeded = simulate_burst(concurrency, counts=counts)
        verdict = "" if target is None else (" met" if succeeded >= target else " NOT MET")
        target_cell = "-" if target is None else f"{target}"
        lines.append(f"| {counts!r} | {target_cell} | {succeeded}{verdict} |")
    return "\n".join(lines)


def _best_ns(statement: str, setup_globals: dict[str, Any], rounds: int) -> float:
    """Return the fastest of 5 timeit runs of ``statement``, in ns per run."""
    timer = timeit.Timer(statement, globals=setup_globals)
    return min(timer.timeit(rounds) for _ in range(5)) / rounds * 1e9


def bookkeeping_costs(rounds: int) -> dict[str, float]:
    """Return ns per call of the breaker's and budget's work on allowed and rejected calls."""
    healthy = CircuitBreaker()
    broken = CircuitBreaker(failure_threshold=1, recovery_timeout=3600.0)
    broken.force_open(KEY)
    budget = RetryBudget()
    names: dict[str, Any] = {
        "healthy": healthy,
        "broken": broken,
        "budget": budget,
        "KEY": KEY,
        "CircuitOpenError": CircuitOpenError,
    }
    healthy.allow(KEY)
    rejected = (
        "try:\n    broken.allow(KEY)\nexcept CircuitOpenError:\n    pass"  # the whole rejection
    )
    return {
        "allowed": _best_ns("healthy.record_success(KEY, healthy.allow(KEY))", names, rounds),
        "allowed + budget": _best_ns(
            "budget.deposit(); healthy.record_success(KEY, healthy.allow(KEY))", names, rounds
        ),
        "rejected": _best_ns(rejected, names, rounds),
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Stay quiet."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # 16 clients connecting at once overflow the default of 5


def _requests(
    connection: http.client.HTTPConnection,
    count: int,
    breaker: CircuitBreaker | None,
    budget: RetryBudget | None,
) -> None:
    """Send ``count`` keep-alive GETs, with the breaker and budget bookkeeping if given."""
    for _ in range(count):
        if budget is not None:
            budget.deposit()
        ticket = breaker.allow(KEY) if breaker is not None else None
        connection.request("GET", "/")
        connection.getresponse().read()
        if breaker is not None and ticket is not None:
            breaker.record_success(KEY, ticket)


def _throughput(port: int, threads: int, per_thread: int, *, protected: bool) -> float:
    """Return requests per second with ``threads`` clients sharing one breaker and budget."""
    breaker = CircuitBreaker() if protected else None
    budget = RetryBudget() if protected else None
    connections = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(threads)
    ]
    for connection in connections:
        connection.connect()
    start = threading.Barrier(threads + 1)

    def client(connection: http.client.HTTPConnection) -> None:
        start.wait()
        _requests(connection, per_thread, breaker, budget)

    workers = [threading.Thread(target=client, args=(connection,)) for connection in connections]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return threads * per_thread / elapsed


def loopback_figures(calls: int) -> dict[str, float]:
    """Return a loopback request's cost, and 16-thread throughput bare and protected.

    The single-request cost is the best of several runs (the one least disturbed by other
    work on a shared machine); the throughputs are medians of interleaved runs.
    """
    server = _Server(("127.0.0.1", 0), _Handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    port = server.server_address[1]
    try:
        count = max(20, calls // 2)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        single = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            _requests(connection, count, None, None)
            single.append((time.perf_counter() - started) / count * 1e9)
        connection.close()
        per_thread = max(5, calls // 8)
        runs: dict[bool, list[float]] = {False: [], True: []}
        for repeat in range(REPEATS):
            # Alternate which mode goes first: the run right after another one shares the
            # machine with the server threads that are still closing its connections.
            for protected in (repeat % 2 == 0, repeat % 2 == 1):
                runs[protected].append(_throughput(port, THREADS, per_thread, protected=protected))
    finally:
        server.shutdown()
        server.server_close()
    return {
        "request_ns": min(single),
        "bare_rps": statistics.median(runs[False]),
        "protected_rps": statistics.median(runs[True]),
    }


def cost_table(calls: int) -> str:
    """Return the Markdown table of bookkeeping costs, next to a loopback request."""
    costs = bookkeeping_costs(max(1000, calls * 20))
    loopback = loopback_figures(calls)
    allowed, rejected = costs["allowed"], costs["rejected"]
    request = loopback["request_ns"]
    overhead = costs["allowed + budget"] / request
    kept = loopback["protected_rps"] / loopback["bare_rps"]
    return "\n".join(
        [
            "| figure | value | target | met |",
            "|---|---:|---:|---|",
            f"| allowed call: allow() + record_success() | {allowed:.0f} ns | - | - |",
            f"| rejected call: allow() raising CircuitOpenError | {rejected:.0f} ns | - | - |",
            f"| rejected / allowed | {rejected / allowed:.1f} x | - | - |",
            f"| loopback keep-alive GET (127.0.0.1) | {request / 1000:.1f} us | - | - |",
            f"| rejected call / loopback GET | {rejected / request:.4f} x | - | - |",
            (
                "| happy-path bookkeeping (deposit + allow + record_success) / loopback GET "
                f"| {overhead:.2%} | <= 5 % | {'yes' if overhead <= 0.05 else 'NOT MET'} |"
            ),
            (
                f"| {THREADS} threads, one breaker and budget: throughput kept "
                f"| {kept:.1%} | >= 95 % | {'yes' if kept >= 0.95 else 'NOT MET'} |"
            ),
        ]
    )


def main(calls: int = DEFAULT_CALLS) -> str:
    """Run the outage simulation and the cost measurements; print and return the Markdown."""
    result = f"{outage_table(calls)}\n\n{cost_table(calls)}"
    print(result)
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CALLS)
