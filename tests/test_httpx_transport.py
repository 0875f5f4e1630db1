"""retrykit.httpx.RetryTransport against a real, misbehaving server on 127.0.0.1.

The helpers at the top (`check_history`, `scenario_transport_args`...) are shared with the
async and httpx2 tests, so every variant checks the shared scenarios the same way.
"""

from __future__ import annotations

import logging
import pickle
import socket
import sys
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import retrykit
from retrykit import (
    Backoff,
    CircuitBreaker,
    FailureKind,
    Reason,
    RetryBudget,
    RetryHistory,
    RetryPolicy,
    get_history,
)
from retrykit._adapters._httpx import failure_kind
from retrykit.httpx import (
    HISTORY_EXTENSION,
    POLICY_EXTENSION,
    READ_BODY_EXTENSION,
    CircuitOpenError,
    RetryTransport,
)
from retrykit.testing import FakeClock, FlakyServer, Reply, Reset, SlowBody, Truncated
from tests.scenarios import SCENARIO_NOW, SCENARIOS, Scenario

if TYPE_CHECKING:
    from collections.abc import Iterator

    from retrykit import Event

SECRET = "sk_live_SECRET123"
FAST = RetryPolicy(max_attempts=4, backoff=Backoff(base=0.001, cap=0.01))


# -- helpers shared with test_httpx_async.py and test_httpx2.py ----------------------------


def scenario_transport_args(scenario: Scenario, clock: FakeClock) -> dict[str, Any]:
    """The transport arguments a scenario runs with (the sleep is added by the caller)."""
    return {
        "policy": scenario.policy(),
        "breaker": None,
        "budget": None,
        "read_body": scenario.reads_body,
        "clock": clock,
        "wall_clock": clock.time,
        "rand": lambda: 0.5,
    }


def outcomes(history: RetryHistory) -> tuple[int | FailureKind | None, ...]:
    """Each attempt's status, or its FailureKind when it got no response."""
    return tuple(a.status if a.status is not None else a.failure for a in history.attempts)


def check_history(
    scenario: Scenario, server: FlakyServer, history: RetryHistory | None, clock: FakeClock
) -> None:
    """Assert what the history, the server and the sleep saw, as the scenario says."""
    assert history is not None
    assert outcomes(history) == scenario.attempts
    assert history.reason == scenario.reason
    received = server.received(scenario.path)
    assert len(received) == scenario.hits
    for index, record in enumerate(received):
        assert record.method == scenario.method
        assert record.body == scenario.sent_body(scenario.step_for(index))
        for name, value in scenario.headers:
            assert record.header(name) == value
    assert len(clock.sleeps) == scenario.hits - 1
    for waited, minimum in zip(clock.sleeps, scenario.min_waits, strict=False):
        assert waited >= minimum


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_no_secret(*texts: str) -> None:
    """Assert that the credential appears in none of ``texts``."""
    for text in texts:
        assert "SECRET123" not in text, text


class ClosingTransport(httpx.MockTransport):
    """A MockTransport that remembers being closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as flaky:
        yield flaky


def fast_client(**kwargs: Any) -> httpx.Client:
    """A client whose transport retries with millisecond waits and no breaker or budget."""
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("breaker", None)
    kwargs.setdefault("budget", None)
    return httpx.Client(transport=RetryTransport(**kwargs), timeout=5)


# -- the shared scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(server: FlakyServer, scenario: Scenario) -> None:
    """Each shared scenario: one request per attempt, the right outcome, history and waits."""
    server.script(scenario.path, scenario.steps)
    clock = FakeClock(wall_start=SCENARIO_NOW)
    transport = RetryTransport(sleep=clock.sleep, **scenario_transport_args(scenario, clock))
    with httpx.Client(transport=transport, timeout=scenario.timeout) as client:
        request = client.build_request(
            scenario.method,
            server.url(scenario.path),
            content=scenario.body,
            headers=dict(scenario.headers),
        )
        if scenario.failure is None:
            response = client.send(request)
            assert response.status_code == scenario.status
            history = get_history(response)
        else:
            with pytest.raises(httpx.TransportError) as info:
                client.send(request)
            assert failure_kind(info.value) is scenario.failure
            history = get_history(info.value)
    check_history(scenario, server, history, clock)


# -- outcomes, bodies and the read_body switch ---------------------------------------------


def test_post_read_timeout_is_sent_once(server: FlakyServer) -> None:
    """A POST whose answer times out is never repeated: the server sees it exactly once."""
    server.script("/charge", [Reply(201, delay=1.0), Reply(201)])
    transport = RetryTransport(policy=FAST, breaker=None, budget=None)
    with (
        httpx.Client(transport=transport, timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.post(server.url("/charge"), content=b"amount=100")
    assert server.hits("/charge") == 1
    history = get_history(info.value)
    assert history is not None
    assert history.reason == Reason.UNSAFE_METHOD


def test_connect_failure_is_retried_for_post() -> None:
    """A refused connection never reached the server, so even a POST is retried."""
    url = f"http://127.0.0.1:{closed_port()}/orders"
    policy = RetryPolicy(max_attempts=3, backoff=Backoff(base=0.001))
    with fast_client(policy=policy) as client, pytest.raises(httpx.ConnectError) as info:
        client.post(url, content=b"{}")
    history = get_history(info.value)
    assert history is not None
    assert outcomes(history) == (FailureKind.CONNECT,) * 3


def test_bytes_body_replayed_exactly(server: FlakyServer) -> None:
    """A bytes body reaches the server byte for byte on every attempt."""
    body = bytes(range(256)) * 10
    server.script("/put", [Reply(503), Reply(502), Reply(200)])
    with fast_client() as client:
        response = client.put(server.url("/put"), content=body)
    assert response.status_code == 200
    assert [record.body for record in server.received("/put")] == [body] * 3


def test_streaming_body_sent_once(server: FlakyServer) -> None:
    """A generator body cannot be replayed: it is sent once, and the history says why."""
    server.script("/upload", [Reply(503), Reply(200)])

    def chunks() -> Iterator[bytes]:
        yield b"part1-"
        yield b"part2"

    with fast_client() as client:
        response = client.put(server.url("/upload"), content=chunks())
    assert response.status_code == 503
    assert server.hits("/upload") == 1
    assert server.received("/upload")[0].body == b"part1-part2"
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.BODY_NOT_REPLAYABLE


def test_auto_idempotency_key_same_on_every_attempt(server: FlakyServer) -> None:
    """With auto_idempotency_key, a POST gets one fresh key, sent on every attempt."""
    server.script("/pay", [Reply(503), Reply(503), Reply(201)])
    policy = RetryPolicy(backoff=Backoff(base=0.001), auto_idempotency_key=True)
    with fast_client(policy=policy) as client:
        response = client.post(server.url("/pay"), content=b"x")
    assert response.status_code == 201
    keys = {record.header("Idempotency-Key") for record in server.received("/pay")}
    assert len(keys) == 1
    uuid.UUID(str(keys.pop()))


def test_truncated_body_reaches_caller_by_default(server: FlakyServer) -> None:
    """With read_body off (the default), a body cut short is the caller's error, unretried."""
    server.script("/t", [Truncated(), Reply(200)])
    with fast_client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(server.url("/t"))
    assert server.hits("/t") == 1


def test_read_body_retries_truncated_body(server: FlakyServer) -> None:
    """With read_body on, a body cut short on a GET is retried and the caller gets a whole one."""
    server.script("/t", [Truncated(), Reply(200, body=b"whole")])
    with fast_client(read_body=True) as client:
        response = client.get(server.url("/t"))
    assert response.content == b"whole"
    assert server.hits("/t") == 2


def test_read_body_retries_timeout_mid_body(server: FlakyServer) -> None:
    """With read_body on, a read timeout in the middle of the body is retried on a GET."""
    server.script("/slow", [SlowBody(delay=1.0, immediate_bytes=3), Reply(200, body=b"fast")])
    transport = RetryTransport(policy=FAST, breaker=None, budget=None, read_body=True)
    with httpx.Client(transport=transport, timeout=0.2) as client:
        response = client.get(server.url("/slow"))
    assert response.content == b"fast"
    assert server.hits("/slow") == 2


def test_read_body_extension_overrides_transport(server: FlakyServer) -> None:
    """``extensions={"retry_read_body": ...}`` turns the switch on or off for one request."""
    server.script("/on", [Truncated(), Reply(200, body=b"whole")])
    server.script("/off", [Truncated(), Reply(200)])
    with fast_client(read_body=False) as client:
        assert client.get(server.url("/on"), extensions={READ_BODY_EXTENSION: True}).is_success
    with fast_client(read_body=True) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(server.url("/off"), extensions={READ_BODY_EXTENSION: False})
    assert (server.hits("/on"), server.hits("/off")) == (2, 1)


def test_read_body_response_is_still_a_normal_response(server: FlakyServer) -> None:
    """A body read inside the loop still decodes, streams and reports its elapsed time."""
    server.script("/json", Reply.json({"a": 1}))
    with fast_client(read_body=True) as client:
        assert client.get(server.url("/json")).json() == {"a": 1}
        with client.stream("GET", server.url("/json")) as response:
            assert b"".join(response.iter_bytes()) == b'{"a": 1}'
        assert response.elapsed.total_seconds() >= 0


def test_stream_returns_before_body_when_switch_off(server: FlakyServer) -> None:
    """With read_body off, client.stream gets the headers before the body has arrived."""
    # The rest of the body is held back for 30 s, far past the client's 5 s timeout: the
    # headers can only have come first (by order, not by a wall-clock bound).
    server.script("/big", SlowBody(body=b"x" * 1000, delay=30.0, immediate_bytes=10))
    with fast_client() as client, client.stream("GET", server.url("/big")) as response:
        assert response.status_code == 200
        assert response.headers["Content-Length"] == "1000"
        assert next(response.iter_raw()) == b"x" * 10


def test_deadline_stops_a_long_wait(server: FlakyServer) -> None:
    """A Retry-After that would end past the deadline is not waited for."""
    server.script("/d", [Reply(503, {"Retry-After": "5"}), Reply(200)])
    clock = FakeClock()
    policy = RetryPolicy(backoff=Backoff(base=0.001), deadline=2.0)
    with fast_client(policy=policy, sleep=clock.sleep, clock=clock) as client:
        response = client.get(server.url("/d"))
    assert response.status_code == 503
    assert clock.sleeps == []
    history = response.extensions[HISTORY_EXTENSION]
    assert history.reason == Reason.DEADLINE


# -- connections ---------------------------------------------------------------------------


def test_connection_reused_after_1000_retried_requests(server: FlakyServer) -> None:
    """Discarded responses release their connection: 1,000 retried calls stay in the pool."""
    server.script("/r", [Reply(503, body=b"busy, retry"), Reply(200, body=b"ok")] * 1000)
    limits = httpx.Limits(max_connections=2)
    transport = RetryTransport(
        transport=httpx.HTTPTransport(limits=limits),
        policy=FAST,
        breaker=None,
        budget=None,
        sleep=lambda _: None,
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(1000):
            assert client.get(server.url("/r")).status_code == 200
    assert server.hits("/r") == 2000
    assert server.connections_opened <= 2


def test_large_discarded_response_is_closed_not_read(server: FlakyServer) -> None:
    """A discarded response too big to drain is closed; the retry still succeeds."""
    server.script("/huge", [Reply(503, body=b"x" * (2 * 1024 * 1024)), Reply(200)])
    with fast_client() as client:
        assert client.get(server.url("/huge")).status_code == 200


def test_mounts(server: FlakyServer) -> None:
    """A RetryTransport mounted for one origin retries there and nowhere else."""
    with FlakyServer() as other:
        server.script("/m", [Reply(503), Reply(200)])
        other.script("/m", [Reply(503), Reply(200)])
        mounted = RetryTransport(policy=FAST, breaker=None, budget=None)
        with httpx.Client(mounts={server.base_url: mounted}) as client:
            assert client.get(server.url("/m")).status_code == 200
            assert client.get(other.url("/m")).status_code == 503
        assert (server.hits("/m"), other.hits("/m")) == (2, 1)


def test_closing_closes_inner_transport() -> None:
    """Closing the client (or the transport) closes the transport it wraps."""
    inner = ClosingTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=RetryTransport(transport=inner)) as client:
        client.get("http://retrykit.invalid/")
    assert inner.closed
    other = ClosingTransport(lambda request: httpx.Response(200))
    with RetryTransport(transport=other):
        pass
    assert other.closed


# -- per-request policy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "hits"),
    [
        (None, 1),
        (RetryPolicy(max_attempts=1), 1),
        (RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001)), 2),
    ],
    ids=["none", "max_attempts_1", "max_attempts_2"],
)
def test_policy_extension(server: FlakyServer, policy: RetryPolicy | None, hits: int) -> None:
    """``extensions={"retry_policy": ...}`` replaces the policy; None makes one attempt."""
    server.script("/p", Reply(503))
    with fast_client() as client:
        response = client.get(server.url("/p"), extensions={POLICY_EXTENSION: policy})
    assert response.status_code == 503
    assert server.hits("/p") == hits


def test_policy_extension_must_be_a_policy(server: FlakyServer) -> None:
    """A wrong value under the policy key is a TypeError, before anything is sent."""
    with fast_client() as client, pytest.raises(TypeError, match="retry_policy"):
        client.get(server.url("/p"), extensions={POLICY_EXTENSION: 3})
    assert server.hits("/p") == 0


# -- breaker, budget and exceptions --------------------------------------------------------


def test_open_circuit_rejects_without_network(server: FlakyServer) -> None:
    """Once the circuit opens, calls raise CircuitOpenError and nothing reaches the server."""
    server.script("/down", Reply(503))
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60, counts="attempts")
    policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
    with fast_client(policy=policy, breaker=breaker) as client:
        client.get(server.url("/down"))
        opened, hits = server.connections_opened, server.hits("/down")
        with pytest.raises(CircuitOpenError) as info:
            client.get(server.url("/down"))
    assert (server.connections_opened, server.hits("/down")) == (opened, hits)
    error = info.value
    assert isinstance(error, retrykit.CircuitOpenError)
    assert isinstance(error, httpx.TransportError)
    assert error.key == server.base_url
    assert error.request.url == server.url("/down")
    history = get_history(error)
    assert history is not None
    assert history.reason == Reason.CIRCUIT_OPEN


def test_circuit_open_error_pickles() -> None:
    """CircuitOpenError survives pickling with its type, key and wait."""
    data = pickle.dumps(CircuitOpenError("http://a:80", 2.5))
    error = pickle.loads(data)  # noqa: S301 - our own bytes
    assert type(error) is CircuitOpenError
    assert (error.key, error.retry_after) == ("http://a:80", 2.5)


def test_circuit_open_error_is_an_httpx_transport_error_in_full() -> None:
    """Built without httpx's __init__ chain, it still behaves as httpx's own errors do."""
    request = httpx.Request("GET", "http://a/")
    bare = CircuitOpenError("http://a:80", 1.5, opened_by=503)
    assert isinstance(bare, httpx.TransportError)
    assert bare.args == ("http://a:80",)
    assert (bare.key, bare.retry_after, bare.opened_by) == ("http://a:80", 1.5, 503)
    with pytest.raises(RuntimeError, match="has not been set"):
        _ = bare.request  # as httpx.TransportError("...").request raises
    assert CircuitOpenError("http://a:80", 1.5, request=request).request is request
    assert set(vars(httpx.TransportError("x"))) <= set(vars(bare))


def test_budget_stops_retries(server: FlakyServer) -> None:
    """An empty retry budget lets the first attempt through and no retry."""
    server.script("/b", [Reply(503), Reply(200)])
    budget = RetryBudget(ratio=0.0, min_per_second=0.0)
    with fast_client(budget=budget) as client:
        response = client.get(server.url("/b"))
    assert response.status_code == 503
    assert response.extensions[HISTORY_EXTENSION].reason == Reason.BUDGET_EXHAUSTED
    assert server.hits("/b") == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("x"), FailureKind.CONNECT),
        (httpx.ConnectTimeout("x"), FailureKind.CONNECT),
        (httpx.PoolTimeout("x"), FailureKind.CONNECT),
        (httpx.ReadTimeout("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.WriteTimeout("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.ReadError("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.WriteError("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.CloseError("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.RemoteProtocolError("x"), FailureKind.UNKNOWN_OUTCOME),
        (httpx.ProxyError("x"), None),
        (httpx.UnsupportedProtocol("x"), None),
        (httpx.LocalProtocolError("x"), None),
        (CircuitOpenError("http://a:80", 1.0), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_failure_kind(error: httpx.TransportError, expected: FailureKind | None) -> None:
    """Each httpx transport error maps to the documented FailureKind, or propagates."""
    assert failure_kind(error) is expected


@pytest.mark.parametrize(
    "error", [httpx.UnsupportedProtocol("no"), ValueError("bug")], ids=["httpx", "other"]
)
def test_unmapped_exceptions_propagate_unretried(error: Exception) -> None:
    """Errors that would fail the same way again are raised at once, unchanged."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise error

    transport = RetryTransport(transport=httpx.MockTransport(handler), policy=FAST)
    with httpx.Client(transport=transport) as client, pytest.raises(type(error)) as info:
        client.get("http://retrykit.invalid/")
    assert info.value is error
    assert len(calls) == 1


# -- hooks, logs and secrets ---------------------------------------------------------------


def test_hooks_see_events_in_order(server: FlakyServer) -> None:
    """Hooks get each attempt, each scheduled retry and the end of the call, in order."""
    server.script("/h", [Reply(503), Reply(200)])
    events: list[Event] = []
    with fast_client(hooks=[events.append]) as client:
        client.get(server.url("/h"))
    assert [type(event).__name__ for event in events] == [
        "AttemptFinished",
        "RetryScheduled",
        "AttemptFinished",
        "CallFinished",
    ]


def test_raising_hook_never_breaks_the_request(
    server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged, and the request goes on as if it were not there."""
    server.script("/h", [Reply(503), Reply(200)])

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.ERROR, logger="retrykit"), fast_client(hooks=[broken]) as client:
        assert client.get(server.url("/h")).status_code == 200
    assert any("hook" in record.getMessage() for record in caplog.records)


def test_secret_never_leaks(server: FlakyServer, caplog: pytest.LogCaptureFixture) -> None:
    """The credential is in no log record, exception, history or event."""
    server.script("/s", [Reply(503), Reset()])
    events: list[Event] = []
    headers = {"Authorization": f"Bearer {SECRET}"}
    policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60, counts="attempts")
    with (
        caplog.at_level(logging.DEBUG),
        fast_client(policy=policy, breaker=breaker, hooks=[events.append]) as client,
    ):
        url = server.url(f"/s?api_key={SECRET}")
        with pytest.raises(httpx.ReadError) as read_error:
            client.get(url, headers=headers)
        with pytest.raises(CircuitOpenError) as circuit_error:
            client.get(url, headers=headers)
    texts = [repr(event) for event in events]
    for error in (read_error.value, circuit_error.value):
        texts += [str(error), repr(error), repr(get_history(error))]
    for record in caplog.records:
        if record.name.startswith("retrykit"):
            texts += [record.getMessage(), repr(vars(record))]
    assert any(record.name.startswith("retrykit") for record in caplog.records)
    assert events
    assert_no_secret(*texts)


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without httpx installed, importing retrykit.httpx says which extra to install."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "retrykit.httpx")
    with pytest.raises(ImportError, match=r"retrykit-http\[httpx\]"):
        __import__("retrykit.httpx")
