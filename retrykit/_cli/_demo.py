"""The story ``python -m retrykit demo`` tells, against a FlakyServer on 127.0.0.1.

Both clients, a requests Session with `RetryAdapter` mounted and an httpx Client over
`RetryTransport`, go through six steps: a burst of 503, a 429 with Retry-After, a reset
on a GET and on a POST, a validation error, an outage that opens the circuit, and the
recovery through half-open. A hook prints one line per attempt as it happens; a
`Metrics` hook collects the figures printed at the end. Only 127.0.0.1 is contacted:
the clients ignore proxy settings from the environment.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import httpx
import requests

from retrykit._core._backoff import Backoff
from retrykit._core._breaker import BreakerState
from retrykit._core._envelope import parse_error
from retrykit._core._origin import origin_key
from retrykit._core._policy import RetryPolicy
from retrykit._driver._history import RetryHistory, get_history
from retrykit._errors import CircuitOpenError
from retrykit._observe._events import (
    AttemptFinished,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    Event,
    Hook,
    RetryScheduled,
)
from retrykit._observe._metrics import Metrics
from retrykit._state._breaker import CircuitBreaker
from retrykit._state._budget import RetryBudget
from retrykit.httpx import RetryTransport
from retrykit.requests import RetryAdapter
from retrykit.testing import FlakyServer, Reply, Reset

if TYPE_CHECKING:
    from collections.abc import Callable

_RECOVERY_TIMEOUT = 1.5
_FAILURE_THRESHOLD = 2
# Short waits keep the whole story within about ten seconds.
_POLICY = RetryPolicy(max_attempts=4, backoff=Backoff(base=0.05))
_TIMEOUT = 5.0
_CLIENTS = ("requests", "httpx")
_VALIDATION_ERROR = {
    "error": {
        "code": "validation_failed",
        "message": "The request has invalid fields.",
        "request_id": "req_7f3a9c",
        "details": {
            "errors": [
                {"field": "email", "message": "must contain @"},
                {"field": "age", "message": "must be 18 or more"},
            ]
        },
    }
}

_COLORS = {
    "heading": "1;36",
    "ok": "32",
    "warn": "33",
    "bad": "31",
    "dim": "2",
}


class Timeline:
    """Prints the story: headings, notes, and one line per attempt from retrykit's events.

    ``hook(client)`` returns the hook to give that client's adapter. An attempt's line is
    printed once its decision is known: at `RetryScheduled`, or at `CallFinished`.
    """

    def __init__(
        self, out: TextIO, *, color: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.out = out
        self.color = color
        self.clock = clock
        self.started = clock()
        self.circuit: dict[str, BreakerState] = dict.fromkeys(_CLIENTS, BreakerState.CLOSED)
        self._pending: dict[str, AttemptFinished | None] = dict.fromkeys(_CLIENTS)

    def hook(self, client: str) -> Hook:
        """Return a hook printing ``client``'s events."""

        def on_event(event: Event) -> None:
            self._on_event(client, event)

        return on_event

    def heading(self, text: str) -> None:
        """Print a story step's heading."""
        self._print("")
        self._print(self._paint(f"== {text}", "heading"))

    def note(self, text: str) -> None:
        """Print a fact about the step, below its attempt lines."""
        self._print(f"   {text}")

    def _on_event(self, client: str, event: Event) -> None:
        if isinstance(event, AttemptFinished):
            self._pending[client] = event
        elif isinstance(event, RetryScheduled):
            self._attempt_line(client, f"retry {event.reason}", f"wait {event.delay:.3f}s")
        elif isinstance(event, CallFinished):
            if self._pending[client] is not None:
                self._attempt_line(client, f"stop  {event.reason}", "")
        elif isinstance(event, CallRejected):
            self._line(
                client,
                event.endpoint,
                "rejected",
                "stop  circuit_open",
                f"probe in {event.retry_after:.2f}s",
            )
        elif isinstance(event, CircuitStateChanged):
            self.circuit[client] = event.new
            change = f"circuit {event.old.value} -> {event.new.value}"
            self._print(f"{self._elapsed()}  {client:<8}  {self._paint(change, _tone(event.new))}")

    def _attempt_line(self, client: str, decision: str, wait: str) -> None:
        attempt = self._pending[client]
        self._pending[client] = None
        if attempt is None:
            return
        if attempt.status is not None:
            outcome = str(attempt.status)
            if attempt.error_code:
                outcome += f" {attempt.error_code}"
        else:
            outcome = attempt.failure.value if attempt.failure else "error"
        self._line(client, attempt.endpoint, outcome, decision, wait)

    def _line(self, client: str, endpoint: str, outcome: str, decision: str, wait: str) -> None:
        state = self.circuit[client]
        ok = outcome[:1] in "23"
        tone = (
            "ok" if ok else "bad" if outcome == "rejected" or not outcome[:1].isdigit() else "warn"
        )
        decision_tone = "warn" if decision.startswith("retry") else "ok" if ok else "bad"
        self._print(
            f"{self._elapsed()}  {client:<8}  {_short(endpoint):<15}  "
            f"{self._paint(f'{outcome:<22}', tone)}  "
            f"{self._paint(f'{decision:<25}', decision_tone)}  {wait:<15}  "
            f"{self._paint(f'circuit {state.value}', _tone(state))}"
        )

    def _elapsed(self) -> str:
        return self._paint(f"{self.clock() - self.started:6.2f}s", "dim")

    def _paint(self, text: str, tone: str) -> str:
        if not self.color:
            return text
        return f"\033[{_COLORS[tone]}m{text}\033[0m"

    def _print(self, text: str) -> None:
        print(text.rstrip(), file=self.out, flush=True)


def _tone(state: BreakerState) -> str:
    return {BreakerState.CLOSED: "ok", BreakerState.HALF_OPEN: "warn"}.get(state, "bad")


def _short(endpoint: str) -> str:
    """Return ``GET /path`` for ``GET 127.0.0.1:PORT/path``: the host is the same throughout."""
    method, _, rest = endpoint.partition(" ")
    slash = rest.find("/")
    return f"{method} {rest[slash:] if slash >= 0 else rest}"


@attrs.frozen
class Outcome:
    """What the caller got from one call: a response, or an exception."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: Exception | None
    history: RetryHistory | None


class DemoClient:
    """One client of the story, sending through its retry adapter and its own breaker."""

    def __init__(self, name: str, base_url: str, hooks: list[Hook]) -> None:
        self.name = name
        self.base_url = base_url
        self.breaker = CircuitBreaker(
            failure_threshold=_FAILURE_THRESHOLD, recovery_timeout=_RECOVERY_TIMEOUT
        )
        budget = RetryBudget()
        self._session: requests.Session | None = None
        self._client: httpx.Client | None = None
        if name == "requests":
            session = requests.Session()
            session.trust_env = False  # no proxy from the environment: only 127.0.0.1
            session.mount(
                "http://",
                RetryAdapter(policy=_POLICY, breaker=self.breaker, budget=budget, hooks=hooks),
            )
            self._session = session
        else:
            transport = RetryTransport(
                policy=_POLICY, breaker=self.breaker, budget=budget, hooks=hooks, read_body=True
            )
            self._client = httpx.Client(transport=transport, timeout=_TIMEOUT, trust_env=False)

    def send(self, method: str, path: str, json: Any = None) -> Outcome:
        """Make one call (with its retries) and return what the caller got."""
        url = self.base_url + path
        try:
            if self._session is not None:
                response = self._session.request(method, url, json=json, timeout=_TIMEOUT)
                return Outcome(
                    response.status_code,
                    response.headers,
                    response.content,
                    None,
                    get_history(response),
                )
            assert self._client is not None  # noqa: S101 - one of the two is always set
            reply = self._client.request(method, url, json=json)
            return Outcome(
                reply.status_code, reply.headers, reply.content, None, get_history(reply)
            )
        except (requests.RequestException, httpx.HTTPError, CircuitOpenError) as exc:
            return Outcome(None, {}, b"", exc, get_history(exc))

    def close(self) -> None:
        """Close the client and its connections."""
        if self._session is not None:
            self._session.close()
        if self._client is not None:
            self._client.close()


def _got(outcome: Outcome) -> str:
    """Say what the caller got, and after how many attempts."""
    history = outcome.history
    attempts = len(history.attempts) if history else 0
    tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else "at once"
    if outcome.error is not None:
        what = f"{type(outcome.error).__module__.split('.')[0]}.{type(outcome.error).__name__}"
        return f"caller got {what} {tries}"
    return f"caller got {outcome.status} {tries}"


def run_demo(color: str = "auto", out: TextIO | None = None) -> int:
    """Run the story and print it to ``out`` (default stdout); return the exit status, 0.

    ``color`` is "auto" (colour only when ``out`` is a terminal), "always" or "never".
    """
    stream: TextIO = out if out is not None else sys.stdout
    use_color = color == "always" or (color == "auto" and stream.isatty())
    # The story prints every event itself; keep retrykit's warnings off stderr.
    log = logging.getLogger("retrykit")
    quiet = logging.NullHandler()
    log.addHandler(quiet)
    try:
        with FlakyServer() as server:
            _story(server, Timeline(stream, color=use_color))
    finally:
        log.removeHandler(quiet)
    return 0


def _story(server: FlakyServer, timeline: Timeline) -> None:
    metrics = Metrics()
    clients = [
        DemoClient(name, server.base_url, [timeline.hook(name), metrics]) for name in _CLIENTS
    ]
    timeline.note(
        f"FlakyServer on {server.base_url}; policy: {_POLICY.max_attempts} attempts, "
        f"Backoff(base={_POLICY.backoff.base}), full jitter; breaker: opens after "
        f"{_FAILURE_THRESHOLD} failed calls in a row, probes after {_RECOVERY_TIMEOUT} s"
    )
    timeline.note("columns: time, client, endpoint, outcome, decision, wait, circuit state")
    try:
        _burst(server, timeline, clients)
        _rate_limited(server, timeline, clients)
        _resets(server, timeline, clients)
        _validation(server, timeline, clients)
        _outage_and_recovery(server, timeline, clients)
    finally:
        for client in clients:
            client.close()
    timeline.heading("metrics per endpoint (both clients, from retrykit.Metrics)")
    for line in metrics.render().splitlines():
        timeline.note(line)


def _burst(server: FlakyServer, timeline: Timeline, clients: list[DemoClient]) -> None:
    timeline.heading("1. burst of 503, recovered by retries")
    for client in clients:
        server.script("/burst", [Reply(503), Reply(503), Reply(200, body=b"fine")])
        outcome = client.send("GET", "/burst")
        timeline.note(f"{client.name}: {_got(outcome)}: two 503s never reached the caller")


def _rate_limited(server: FlakyServer, timeline: Timeline, clients: list[DemoClient]) -> None:
    timeline.heading("2. 429 with Retry-After: 1, honoured")
    for client in clients:
        server.script(
            "/quota", [Reply(429, headers={"Retry-After": "1"}), Reply(200, body=b"fine")]
        )
        outcome = client.send("GET", "/quota")
        waited = outcome.history.attempts[-1].wait_before if outcome.history else 0.0
        timeline.note(
            f"{client.name}: {_got(outcome)}: the server said Retry-After: 1 and retrykit "
            f"waited {waited:.3f} s, never less"
        )


def _resets(server: FlakyServer, timeline: Timeline, clients: list[DemoClient]) -> None:
    timeline.heading("3. connection reset: the GET is retried, the POST is not")
    for client in clients:
        server.script("/reset", [Reset(), Reply(200, body=b"fine")])
        outcome = client.send("GET", "/reset")
        timeline.note(f"{client.name} GET: {_got(outcome)}: a GET can safely be sent again")
        server.script("/payments", [Reset(), Reply(201, body=b"created")])
        hits_before = server.hits("/payments")
        outcome = client.send("POST", "/payments", json={"amount": 100})
        timeline.note(
            f"{client.name} POST: {_got(outcome)}: the server may have taken the payment, "
            f"so it was sent once (server hits: {server.hits('/payments') - hits_before})"
        )


def _validation(server: FlakyServer, timeline: Timeline, clients: list[DemoClient]) -> None:
    timeline.heading("4. validation error (422), parsed from its envelope, not retried")
    server.script("/users", Reply.json(_VALIDATION_ERROR, status=422))
    for client in clients:
        outcome = client.send("POST", "/users", json={"email": "nobody", "age": 12})
        timeline.note(f"{client.name}: {_got(outcome)}: a 422 is final, asking again won't help")
        if outcome.status is not None:
            info = parse_error(outcome.status, outcome.headers, outcome.body)
            fields = ", ".join(f"{e.field}: {e.message}" for e in info.field_errors)
            timeline.note(f"  envelope code: {info.code}; request id: {info.request_id}")
            timeline.note(f"  field errors: {fields}")
            timeline.note(f"  user message: {info.user_message}")


def _outage_and_recovery(
    server: FlakyServer, timeline: Timeline, clients: list[DemoClient]
) -> None:
    timeline.heading("5. outage: every call gets 503, the circuit opens, then calls fail fast")
    server.script("/orders", Reply(503))
    for client in clients:
        for call in range(1, _FAILURE_THRESHOLD + 1):
            outcome = client.send("GET", "/orders")
            state = client.breaker.state(origin_key(server.base_url)).value
            timeline.note(
                f"{client.name}: {_got(outcome)}: failed call {call} of {_FAILURE_THRESHOLD} "
                f"(circuit {state})"
            )
        hits_before = server.hits("/orders")
        started = time.monotonic()
        outcome = client.send("GET", "/orders")
        took = (time.monotonic() - started) * 1000
        timeline.note(
            f"{client.name}: {_got(outcome)}: raised locally in {took:.1f} ms, nothing sent; "
            f"server hits {hits_before} -> {server.hits('/orders')} (unchanged)"
        )
    opened = time.monotonic()

    timeline.heading("6. recovery through half-open: a probe succeeds, the circuit closes")
    timeline.note(
        f"waiting {_RECOVERY_TIMEOUT + 0.1:.1f} s for the recovery timeout; the server is back"
    )
    time.sleep(max(0.0, opened + _RECOVERY_TIMEOUT + 0.1 - time.monotonic()))
    server.script("/orders", Reply(200, body=b"fine"))
    for client in clients:
        outcome = client.send("GET", "/orders")
        timeline.note(
            f"{client.name}: {_got(outcome)}: the probe succeeded; "
            f"circuit {client.breaker.state(origin_key(server.base_url)).value}"
        )
