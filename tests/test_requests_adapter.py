"""retrykit.requests.RetryAdapter against a real, misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import pickle
import socket
import sys
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests
import requests.adapters

import retrykit
from retrykit import (
    AttemptFinished,
    Backoff,
    CallFinished,
    CallRejected,
    CircuitBreaker,
    FailureKind,
    Reason,
    RetryBudget,
    RetryHistory,
    RetryPolicy,
    RetryScheduled,
    get_history,
)
from retrykit._adapters._requests import _failure_kind
from retrykit.requests import CircuitOpenError, RetryAdapter
from retrykit.testing import FakeClock, FlakyServer, Reply, Reset, Truncated
from tests.scenarios import SCENARIOS, Scenario

if TYPE_CHECKING:
    from collections.abc import Iterator

    from retrykit import Event

FAST = RetryPolicy(backoff=Backoff(base=0.001, cap=0.01))


def mounted(adapter: RetryAdapter) -> requests.Session:
    """Return a Session with ``adapter`` mounted for http:// and https://."""
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fake_adapter(clock: FakeClock, **kwargs: Any) -> RetryAdapter:
    """Return a RetryAdapter whose waits and clocks are ``clock``'s (no real sleeping)."""
    kwargs.setdefault("policy", FAST)
    return RetryAdapter(sleep=clock.sleep, clock=clock.monotonic, wall_clock=clock.time, **kwargs)


def outcomes(history: RetryHistory | None) -> list[int | FailureKind | None]:
    """Each attempt's status, or its FailureKind when it got no response."""
    assert history is not None
    return [a.status if a.status is not None else a.failure for a in history.attempts]


def closed_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Recorder:
    """A hook that keeps every event it receives."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[type]:
        return [type(event) for event in self.events]


# -- the shared scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(scenario: Scenario, flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """Each scripted failure is retried, or not, exactly as the shared scenario table says."""
    flaky_server.script(scenario.path, scenario.steps)
    session = mounted(fake_adapter(fake_clock, policy=scenario.policy()))
    result: requests.Response | requests.RequestException
    try:
        result = session.request(
            scenario.method,
            flaky_server.url(scenario.path),
            data=scenario.body or None,
            headers=dict(scenario.headers),
            timeout=scenario.timeout,
        )
    except requests.RequestException as exc:
        result = exc

    if scenario.status is not None:
        assert isinstance(result, requests.Response)
        assert result.status_code == scenario.status
    else:
        assert isinstance(result, requests.RequestException)
    history = get_history(result)
    assert outcomes(history) == list(scenario.attempts)
    assert history is not None
    assert history.reason == scenario.reason
    received = flaky_server.received(scenario.path)
    assert len(received) == scenario.hits
    for index, record in enumerate(received):
        assert record.body == scenario.sent_body(scenario.step_for(index))
        assert record.header("Idempotency-Key") == dict(scenario.headers).get("Idempotency-Key")
    assert len(fake_clock.sleeps) == scenario.hits - 1
    for wait, least in zip(fake_clock.sleeps, scenario.min_waits, strict=False):
        assert wait >= least


# -- outcome mapping -----------------------------------------------------------------------


def test_connection_refused_is_connect_and_retried_for_post(fake_clock: FakeClock) -> None:
    """A refused connection never reached the server, so even a POST is retried."""
    adapter = fake_adapter(fake_clock, policy=RetryPolicy(max_attempts=3, backoff=FAST.backoff))
    with pytest.raises(requests.ConnectionError) as info:
        mounted(adapter).post(f"http://127.0.0.1:{closed_port()}/pay", data=b"x", timeout=2)
    history = get_history(info.value)
    assert outcomes(history) == [FailureKind.CONNECT] * 3
    assert history is not None
    assert history.reason == Reason.ATTEMPTS_EXHAUSTED
    assert type(info.value) is requests.ConnectionError


def test_dns_failure_is_connect(fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that does not resolve is a CONNECT failure: the request never left."""

    def no_such_host(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    policy = RetryPolicy(max_attempts=2, backoff=FAST.backoff)
    with pytest.raises(requests.ConnectionError) as info:
        mounted(fake_adapter(fake_clock, policy=policy)).post(
            "http://no-such-host.test/", timeout=2
        )
    assert outcomes(get_history(info.value)) == [FailureKind.CONNECT] * 2


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), FailureKind.CONNECT),
        (requests.exceptions.ReadTimeout("read timed out"), FailureKind.UNKNOWN_OUTCOME),
        (requests.exceptions.ChunkedEncodingError("incomplete"), FailureKind.UNKNOWN_OUTCOME),
        (requests.ConnectionError("Connection aborted."), FailureKind.UNKNOWN_OUTCOME),
        (requests.exceptions.SSLError("certificate verify failed"), None),
        (requests.exceptions.ProxyError("Cannot connect to proxy."), None),
        (requests.exceptions.ContentDecodingError("bad gzip"), None),
        (requests.exceptions.InvalidURL("no host"), None),
        (requests.exceptions.InvalidHeader("bad value"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_exception_mapping(error: requests.RequestException, kind: FailureKind | None) -> None:
    """Each requests exception maps to the FailureKind the docs promise, or to none."""
    assert _failure_kind(error) is kind


def test_stream_true_returns_truncated_body_unread(
    flaky_server: FlakyServer, fake_clock: FakeClock
) -> None:
    """With stream=True the response comes back at once; a cut body shows only when read."""
    flaky_server.script("/big", [Truncated(), Reply(200)])
    response = mounted(fake_adapter(fake_clock)).get(flaky_server.url("/big"), stream=True)
    assert response.status_code == 200
    assert flaky_server.hits("/big") == 1
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _ = response.content
    response.close()


def test_tls_error_is_not_retried(fake_clock: FakeClock) -> None:
    """A TLS failure is not transient: it propagates at once, unchanged, after one attempt."""
    accepted: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(5)

        def answer_in_plain_text() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    accepted.append(1)
                    with conn:
                        conn.sendall(b"HTTP/1.1 400 Not TLS\r\n\r\n")

        thread = threading.Thread(target=answer_in_plain_text, daemon=True)
        thread.start()
        session = mounted(fake_adapter(fake_clock))
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://127.0.0.1:{listener.getsockname()[1]}/", timeout=2)
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
    thread.join(2)
    assert accepted == [1]
    assert fake_clock.sleeps == []


def test_urllib3_never_retries(flaky_server: FlakyServer) -> None:
    """urllib3's own retries are off: with max_attempts=1 a reset GET is sent exactly once."""
    adapter = RetryAdapter(policy=RetryPolicy(max_attempts=1))
    assert adapter.max_retries.total == 0
    assert adapter.max_retries.read is False
    flaky_server.script("/once", Reset())
    with pytest.raises(requests.ConnectionError):
        mounted(adapter).get(flaky_server.url("/once"), timeout=2)
    assert flaky_server.hits("/once") == 1


# -- request bodies and idempotency --------------------------------------------------------


def test_auto_idempotency_key_is_the_same_on_every_attempt(
    flaky_server: FlakyServer, fake_clock: FakeClock
) -> None:
    """With auto_idempotency_key a POST gets one UUID4 key, sent on every attempt."""
    policy = RetryPolicy(auto_idempotency_key=True, backoff=FAST.backoff)
    flaky_server.script("/orders", [Reply(503), Reply(503), Reply(201)])
    response = mounted(fake_adapter(fake_clock, policy=policy)).post(
        flaky_server.url("/orders"), data=b"{}", timeout=2
    )
    assert response.status_code == 201
    keys = {record.header("Idempotency-Key") for record in flaky_server.received("/orders")}
    assert len(keys) == 1
    key = keys.pop()
    assert key is not None
    assert uuid.UUID(key).version == 4


def test_caller_idempotency_key_is_kept(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """A key the caller set under the policy's header is sent as is, never replaced."""
    policy = RetryPolicy(
        auto_idempotency_key=True, idempotency_header="X-Idem", backoff=FAST.backoff
    )
    flaky_server.script("/charge", [Reply(500), Reply(200)])
    mounted(fake_adapter(fake_clock, policy=policy)).patch(
        flaky_server.url("/charge"), data=b"a", headers={"x-idem": "mine"}, timeout=2
    )
    assert [r.header("X-Idem") for r in flaky_server.received("/charge")] == ["mine", "mine"]


def test_file_body_is_rewound_to_where_it_started(
    flaky_server: FlakyServer, fake_clock: FakeClock
) -> None:
    """A file-like body is re-sent from its starting position, byte for byte."""
    upload = io.BytesIO(b"HEADERpayload bytes")
    upload.read(6)
    flaky_server.script("/upload", [Reply(503), Reply(502), Reply(200)])
    response = mounted(fake_adapter(fake_clock)).put(
        flaky_server.url("/upload"), data=upload, timeout=2
    )
    assert response.status_code == 200
    assert [r.body for r in flaky_server.received("/upload")] == [b"payload bytes"] * 3


def test_generator_body_is_sent_once(
    flaky_server: FlakyServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A generator body cannot be replayed: one attempt, reason body_not_replayable, logged."""

    def chunks() -> Iterator[bytes]:
        yield b"part1"
        yield b"part2"

    caplog.set_level(logging.DEBUG, logger="retrykit")
    flaky_server.script("/stream", [Reply(503), Reply(200)])
    response = mounted(fake_adapter(fake_clock)).put(
        flaky_server.url("/stream"), data=chunks(), timeout=2
    )
    assert response.status_code == 503
    assert flaky_server.hits("/stream") == 1
    assert flaky_server.received("/stream")[0].body == b"part1part2"
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.BODY_NOT_REPLAYABLE
    assert Reason.BODY_NOT_REPLAYABLE in caplog.text


def test_pipe_body_is_sent_once(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """A non-seekable stream (a pipe) is sent once and not retried."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"from a pipe")
    os.close(write_fd)
    flaky_server.script("/pipe", [Reply(503), Reply(200)])
    with open(read_fd, "rb", buffering=0) as pipe:
        response = mounted(fake_adapter(fake_clock)).put(
            flaky_server.url("/pipe"), data=pipe, timeout=2
        )
    assert response.status_code == 503
    assert [r.body for r in flaky_server.received("/pipe")] == [b"from a pipe"]
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.BODY_NOT_REPLAYABLE


# -- waits and the deadline ----------------------------------------------------------------


def test_never_sleeps_past_the_deadline(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """Waits stop before they would end past the policy's deadline."""
    policy = RetryPolicy(max_attempts=10, deadline=5.0, backoff=FAST.backoff)
    flaky_server.script("/slow", Reply(503, {"Retry-After": "2"}))
    response = mounted(fake_adapter(fake_clock, policy=policy)).get(
        flaky_server.url("/slow"), timeout=2
    )
    assert response.status_code == 503
    assert fake_clock.sleeps == [2.0, 2.0]
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.DEADLINE


# -- breaker, budget, hooks ----------------------------------------------------------------


def test_open_breaker_rejects_without_network(
    flaky_server: FlakyServer, fake_clock: FakeClock
) -> None:
    """Once the circuit opens, a call raises CircuitOpenError and the server sees nothing."""
    breaker = CircuitBreaker(failure_threshold=2, clock=fake_clock.monotonic)
    policy = RetryPolicy(max_attempts=1)
    session = mounted(fake_adapter(fake_clock, policy=policy, breaker=breaker))
    flaky_server.script("/down", Reply(503))
    for _ in range(2):
        assert session.get(flaky_server.url("/down"), timeout=2).status_code == 503
    with pytest.raises(CircuitOpenError) as info:
        session.get(flaky_server.url("/down"), timeout=2)
    assert flaky_server.hits("/down") == 2
    assert isinstance(info.value, retrykit.CircuitOpenError)
    assert isinstance(info.value, requests.exceptions.ConnectionError)
    assert info.value.key == f"http://127.0.0.1:{flaky_server.port}"
    history = get_history(info.value)
    assert history is not None
    assert history.reason == Reason.CIRCUIT_OPEN


def test_breaker_opening_stops_the_retries(
    flaky_server: FlakyServer, fake_clock: FakeClock
) -> None:
    """A circuit that opens during a call ends it: no retry is sent into an open circuit."""
    breaker = CircuitBreaker(failure_threshold=2, clock=fake_clock.monotonic, counts="attempts")
    flaky_server.script("/flaky", Reply(503))
    response = mounted(fake_adapter(fake_clock, breaker=breaker)).get(
        flaky_server.url("/flaky"), timeout=2
    )
    assert response.status_code == 503
    assert flaky_server.hits("/flaky") == 2
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.CIRCUIT_OPEN


def test_circuit_open_error_pickles() -> None:
    """The adapter's CircuitOpenError survives pickling with its key and wait."""
    error = pickle.loads(pickle.dumps(CircuitOpenError("http://a:80", 3.0)))  # noqa: S301
    assert isinstance(error, CircuitOpenError)
    assert (error.key, error.retry_after) == ("http://a:80", 3.0)


def test_budget_stops_retries(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """An exhausted retry budget ends the call with reason budget_exhausted."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, ttl=10.0, clock=fake_clock.monotonic)
    flaky_server.script("/busy", Reply(503))
    response = mounted(fake_adapter(fake_clock, budget=budget)).get(
        flaky_server.url("/busy"), timeout=2
    )
    assert response.status_code == 503
    assert flaky_server.hits("/busy") == 2
    history = get_history(response)
    assert history is not None
    assert history.reason == Reason.BUDGET_EXHAUSTED


def test_hooks_receive_events_in_order(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """Hooks see each attempt, each scheduled retry, then the end of the call, in order."""
    recorder = Recorder()
    flaky_server.script("/events", [Reply(503), Reply(200)])
    mounted(fake_adapter(fake_clock, hooks=[recorder])).get(flaky_server.url("/events"), timeout=2)
    assert recorder.kinds() == [AttemptFinished, RetryScheduled, AttemptFinished, CallFinished]


def test_rejection_is_an_event(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """A call refused by an open circuit is reported to hooks as CallRejected."""
    recorder = Recorder()
    breaker = CircuitBreaker(failure_threshold=1, clock=fake_clock.monotonic)
    session = mounted(
        fake_adapter(
            fake_clock, policy=RetryPolicy(max_attempts=1), breaker=breaker, hooks=[recorder]
        )
    )
    flaky_server.script("/gone", Reply(502))
    session.get(flaky_server.url("/gone"), timeout=2)
    with pytest.raises(CircuitOpenError):
        session.get(flaky_server.url("/gone"), timeout=2)
    assert CallRejected in recorder.kinds()


def test_raising_hook_does_not_break_the_request(
    flaky_server: FlakyServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged and skipped; the caller still gets its response."""

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    flaky_server.script("/hooked", [Reply(503), Reply(200)])
    with caplog.at_level(logging.ERROR, logger="retrykit"):
        response = mounted(fake_adapter(fake_clock, hooks=[broken])).get(
            flaky_server.url("/hooked"), timeout=2
        )
    assert response.status_code == 200
    assert "hook bug" in caplog.text


# -- history -------------------------------------------------------------------------------


def test_history_on_the_response(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """The final response carries retry_history: each attempt, its wait, the stop reason."""
    flaky_server.script("/h", [Reply(503), Reply(200)])
    response = mounted(fake_adapter(fake_clock)).get(flaky_server.url("/h"), timeout=2)
    history = get_history(response)
    assert history is not None
    assert history is response.retry_history  # type: ignore[attr-defined]
    assert [a.status for a in history.attempts] == [503, 200]
    assert history.attempts[1].wait_before == fake_clock.sleeps[0]
    assert history.retries == 1


def test_history_on_the_exception(flaky_server: FlakyServer, fake_clock: FakeClock) -> None:
    """The last exception is raised unchanged in type and carries retry_history."""
    flaky_server.script("/x", Reset())
    policy = RetryPolicy(max_attempts=2, backoff=FAST.backoff)
    with pytest.raises(requests.ConnectionError) as info:
        mounted(fake_adapter(fake_clock, policy=policy)).get(flaky_server.url("/x"), timeout=2)
    assert type(info.value) is requests.ConnectionError
    history = get_history(info.value)
    assert history is not None
    assert history is info.value.retry_history  # type: ignore[attr-defined]
    assert history.reason == Reason.ATTEMPTS_EXHAUSTED


# -- secrets -------------------------------------------------------------------------------


def test_secrets_never_leak(
    flaky_server: FlakyServer, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A bearer token never appears in logs, exceptions, the history or any event."""
    secret = "sk_live_SECRET123"
    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="retrykit")
    flaky_server.script("/private", [Reply(503), Reset()])
    policy = RetryPolicy(max_attempts=3, backoff=FAST.backoff)
    with pytest.raises(requests.ConnectionError) as info:
        mounted(fake_adapter(fake_clock, policy=policy, hooks=[recorder])).get(
            flaky_server.url("/private"),
            headers={"Authorization": f"Bearer {secret}", "X-API-Key": secret},
            timeout=2,
        )
    assert flaky_server.received("/private")[0].header("Authorization") == f"Bearer {secret}"
    texts = [caplog.text, str(info.value), repr(info.value), repr(get_history(info.value))]
    texts += [repr(event) for event in recorder.events]
    texts += [repr(record.__dict__) for record in caplog.records]
    assert recorder.events
    assert all(secret not in text for text in texts)


# -- the adapter as an HTTPAdapter ---------------------------------------------------------


def test_discarded_responses_return_connections_to_the_pool(flaky_server: FlakyServer) -> None:
    """After 1,000 retried requests the pool has opened no more than pool_maxsize connections."""
    clock = FakeClock()
    adapter = fake_adapter(clock, pool_maxsize=2, budget=None)
    session = mounted(adapter)
    flaky_server.script("/pool", [Reply(503, body=b"busy"), Reply(200, body=b"ok")] * 1000)
    for _ in range(1000):
        assert session.get(flaky_server.url("/pool"), timeout=2).status_code == 200
    assert flaky_server.hits("/pool") == 2000
    assert flaky_server.connections_opened <= 2


def test_streamed_discarded_responses_are_drained(flaky_server: FlakyServer) -> None:
    """With stream=True a retried response is drained, so its connection is reused."""
    adapter = fake_adapter(FakeClock(), pool_maxsize=1, budget=None)
    session = mounted(adapter)
    flaky_server.script("/s", [Reply(503, body=b"x" * 5000), Reply(200, body=b"fine")] * 50)
    for _ in range(50):
        with session.get(flaky_server.url("/s"), stream=True, timeout=2) as response:
            assert response.content == b"fine"
    assert flaky_server.connections_opened == 1


def test_one_adapter_serves_many_threads(flaky_server: FlakyServer) -> None:
    """Eight threads share one adapter, 50 requests each, every one retried once: all succeed."""
    adapter = fake_adapter(
        FakeClock(),
        breaker=CircuitBreaker(failure_threshold=1000),
        budget=RetryBudget(min_per_second=1000.0),
    )
    session = mounted(adapter)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        path = f"/thread{index}"
        for _ in range(50):
            status = session.get(flaky_server.url(path), timeout=5).status_code
            with lock:
                statuses.append(status)

    for index in range(8):
        flaky_server.script(f"/thread{index}", [Reply(503), Reply(200)] * 50)
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 400
    assert all(flaky_server.hits(f"/thread{index}") == 100 for index in range(8))


def test_session_with_the_adapter_pickles(flaky_server: FlakyServer) -> None:
    """A Session with the adapter mounted pickles, and the copy retries with the same settings."""
    policy = RetryPolicy(max_attempts=3, backoff=Backoff(base=0.001, cap=0.001))
    session = mounted(RetryAdapter(policy=policy, pool_maxsize=3))
    copy = pickle.loads(pickle.dumps(session))  # noqa: S301 - our own data
    adapter = copy.get_adapter(flaky_server.url())
    assert isinstance(adapter, RetryAdapter)
    assert adapter.policy == policy
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 3
    assert isinstance(adapter.breaker, CircuitBreaker)
    assert isinstance(adapter.budget, RetryBudget)
    flaky_server.script("/p", [Reply(503), Reply(200)])
    assert copy.get(flaky_server.url("/p"), timeout=2).status_code == 200
    assert flaky_server.hits("/p") == 2


def test_httpadapter_arguments_still_work(flaky_server: FlakyServer) -> None:
    """pool_connections, pool_maxsize and pool_block reach urllib3 as with HTTPAdapter."""
    adapter = RetryAdapter(pool_connections=3, pool_maxsize=7, pool_block=True)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 7
    assert adapter.poolmanager.connection_pool_kw["block"] is True
    assert adapter.poolmanager.pools._maxsize == 3
    assert mounted(adapter).get(flaky_server.url("/"), timeout=2).status_code == 200


def test_send_arguments_are_forwarded_unchanged(
    flaky_server: FlakyServer, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attempt gets the stream, timeout, verify, cert and proxies the Session passed."""
    seen: list[dict[str, Any]] = []
    original = requests.adapters.HTTPAdapter.send

    def spy(self: requests.adapters.HTTPAdapter, request: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    flaky_server.script("/fwd", [Reply(503), Reply(200)])
    adapter = fake_adapter(fake_clock)
    request = requests.Request("GET", flaky_server.url("/fwd")).prepare()
    proxies = {"https": "http://127.0.0.1:9"}
    response = adapter.send(
        request, stream=True, timeout=(1.5, 2.5), verify=False, cert=None, proxies=proxies
    )
    response.close()
    expected = {
        "stream": True,
        "timeout": (1.5, 2.5),
        "verify": False,
        "cert": None,
        "proxies": proxies,
    }
    assert seen == [expected, expected]


def test_close_releases_the_pools(flaky_server: FlakyServer) -> None:
    """close() empties the pools; the adapter opens new ones if used again."""
    adapter = RetryAdapter()
    session = mounted(adapter)
    session.get(flaky_server.url("/"), timeout=2)
    adapter.close()
    assert len(adapter.poolmanager.pools) == 0
    assert session.get(flaky_server.url("/"), timeout=2).status_code == 200


def test_defaults_and_off_switches() -> None:
    """RetryAdapter() has a policy, a breaker and a budget; None turns each extra off."""
    adapter = RetryAdapter()
    assert adapter.policy == RetryPolicy()
    assert isinstance(adapter.breaker, CircuitBreaker)
    assert isinstance(adapter.budget, RetryBudget)
    bare = RetryAdapter(breaker=None, budget=None)
    assert bare.breaker is None
    assert bare.budget is None


def test_missing_requests_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without requests installed, importing retrykit.requests says which extra to install."""
    monkeypatch.setitem(sys.modules, "requests", None)
    monkeypatch.delitem(sys.modules, "retrykit.requests")
    with pytest.raises(ImportError, match=r"retrykit-http\[requests\]"):
        importlib.import_module("retrykit.requests")
