"""retrykit.httpx.AsyncRetryTransport under asyncio and trio, against a real server on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from retrykit import (
    Backoff,
    CircuitBreaker,
    FailureKind,
    Reason,
    RetryBudget,
    RetryPolicy,
    get_history,
)
from retrykit._adapters._httpx import failure_kind
from retrykit.httpx import (
    HISTORY_EXTENSION,
    POLICY_EXTENSION,
    AsyncRetryTransport,
    CircuitOpenError,
)
from retrykit.testing import FakeClock, FlakyServer, Reply, Reset, SlowBody, Truncated
from tests.scenarios import SCENARIO_NOW, SCENARIOS, Scenario
from tests.test_httpx_transport import (
    FAST,
    SECRET,
    assert_no_secret,
    check_history,
    closed_port,
    outcomes,
    scenario_transport_args,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from retrykit import Event

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as flaky:
        yield flaky


def fast_client(**kwargs: Any) -> httpx.AsyncClient:
    """A client whose transport retries with millisecond waits and no breaker or budget."""
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("breaker", None)
    kwargs.setdefault("budget", None)
    return httpx.AsyncClient(transport=AsyncRetryTransport(**kwargs), timeout=5)


class ClosingTransport(httpx.MockTransport):
    """A MockTransport that remembers being closed."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_scenario(server: FlakyServer, scenario: Scenario) -> None:
    """Each shared scenario: one request per attempt, the right outcome, history and waits."""
    server.script(scenario.path, scenario.steps)
    clock = FakeClock(wall_start=SCENARIO_NOW)
    args = scenario_transport_args(scenario, clock)
    transport = AsyncRetryTransport(sleep=clock.async_sleep, **args)
    async with httpx.AsyncClient(transport=transport, timeout=scenario.timeout) as client:
        request = client.build_request(
            scenario.method,
            server.url(scenario.path),
            content=scenario.body,
            headers=dict(scenario.headers),
        )
        if scenario.failure is None:
            response = await client.send(request)
            assert response.status_code == scenario.status
            history = get_history(response)
        else:
            with pytest.raises(httpx.TransportError) as info:
                await client.send(request)
            assert failure_kind(info.value) is scenario.failure
            history = get_history(info.value)
    check_history(scenario, server, history, clock)


async def test_post_read_timeout_is_sent_once(server: FlakyServer) -> None:
    """A POST whose answer times out is never repeated: the server sees it exactly once."""
    server.script("/charge", [Reply(201, delay=1.0), Reply(201)])
    transport = AsyncRetryTransport(policy=FAST, breaker=None, budget=None)
    async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url("/charge"), content=b"amount=100")
    assert server.hits("/charge") == 1


async def test_connect_failure_is_retried_for_post() -> None:
    """A refused connection never reached the server, so even a POST is retried."""
    url = f"http://127.0.0.1:{closed_port()}/orders"
    async with fast_client(policy=RetryPolicy(max_attempts=3, backoff=Backoff(base=0.001))) as c:
        with pytest.raises(httpx.ConnectError) as info:
            await c.post(url, content=b"{}")
    history = get_history(info.value)
    assert history is not None
    assert outcomes(history) == (FailureKind.CONNECT,) * 3


async def test_streaming_body_sent_once(server: FlakyServer) -> None:
    """An async generator body cannot be replayed: it is sent once, and the history says why."""
    server.script("/upload", [Reply(503), Reply(200)])

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part1-"
        yield b"part2"

    async with fast_client() as client:
        response = await client.put(server.url("/upload"), content=chunks())
    assert response.status_code == 503
    assert server.received("/upload")[0].body == b"part1-part2"
    assert response.extensions[HISTORY_EXTENSION].reason == Reason.BODY_NOT_REPLAYABLE


async def test_read_body_retries_truncated_body(server: FlakyServer) -> None:
    """With read_body on, a body cut short on a GET is retried and the caller gets a whole one."""
    server.script("/t", [Truncated(), Reply(200, body=b"whole")])
    async with fast_client(read_body=True) as client:
        response = await client.get(server.url("/t"))
    assert response.content == b"whole"
    assert server.hits("/t") == 2


async def test_read_body_retries_timeout_mid_body(server: FlakyServer) -> None:
    """With read_body on, a read timeout in the middle of the body is retried on a GET."""
    server.script("/slow", [SlowBody(delay=1.0, immediate_bytes=3), Reply(200, body=b"fast")])
    transport = AsyncRetryTransport(policy=FAST, breaker=None, budget=None, read_body=True)
    async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
        response = await client.get(server.url("/slow"))
    assert response.content == b"fast"
    assert server.hits("/slow") == 2


async def test_truncated_body_reaches_caller_by_default(server: FlakyServer) -> None:
    """With read_body off (the default), a body cut short is the caller's error, unretried."""
    server.script("/t", [Truncated(), Reply(200)])
    async with fast_client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url("/t"))
    assert server.hits("/t") == 1


async def test_connection_reused_after_200_retried_requests(server: FlakyServer) -> None:
    """Discarded responses release their connection: 200 retried calls stay in the pool."""
    server.script("/r", [Reply(503, body=b"busy, retry"), Reply(200, body=b"ok")] * 200)
    limits = httpx.Limits(max_connections=2)
    inner = httpx.AsyncHTTPTransport(limits=limits)
    async with fast_client(transport=inner) as client:
        for _ in range(200):
            assert (await client.get(server.url("/r"))).status_code == 200
    assert server.hits("/r") == 400
    assert server.connections_opened <= 2


async def test_cancel_during_wait(server: FlakyServer) -> None:
    """Cancelling a call that waits out a Retry-After returns at once and leaks no connection."""
    server.script("/wait", [Reply(503, {"Retry-After": "30"}), Reply(200)])
    transport = AsyncRetryTransport(breaker=None, budget=None)
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        start = time.monotonic()
        with anyio.move_on_after(0.2) as scope:
            await client.get(server.url("/wait"))
        assert scope.cancelled_caught
        assert time.monotonic() - start < 2
        assert server.hits("/wait") == 1
        # The 503's connection went back to the pool: the next call reuses it.
        assert (await client.get(server.url("/next"))).status_code == 200
    assert server.connections_opened == 1


async def test_policy_extension_none_makes_one_attempt(server: FlakyServer) -> None:
    """``extensions={"retry_policy": None}`` turns retries off for one call."""
    server.script("/p", Reply(503))
    async with fast_client() as client:
        response = await client.get(server.url("/p"), extensions={POLICY_EXTENSION: None})
        assert response.status_code == 503
        assert server.hits("/p") == 1
        policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
        await client.get(server.url("/p"), extensions={POLICY_EXTENSION: policy})
    assert server.hits("/p") == 3


async def test_open_circuit_rejects_without_network(server: FlakyServer) -> None:
    """Once the circuit opens, calls raise CircuitOpenError and nothing reaches the server."""
    server.script("/down", Reply(503))
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60, counts="attempts")
    policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
    async with fast_client(policy=policy, breaker=breaker) as client:
        await client.get(server.url("/down"))
        opened, hits = server.connections_opened, server.hits("/down")
        with pytest.raises(CircuitOpenError) as info:
            await client.get(server.url("/down"))
    assert (server.connections_opened, server.hits("/down")) == (opened, hits)
    assert info.value.request.url == server.url("/down")


async def test_budget_stops_retries(server: FlakyServer) -> None:
    """An empty retry budget lets the first attempt through and no retry."""
    server.script("/b", [Reply(503), Reply(200)])
    async with fast_client(budget=RetryBudget(ratio=0.0, min_per_second=0.0)) as client:
        response = await client.get(server.url("/b"))
    assert response.extensions[HISTORY_EXTENSION].reason == Reason.BUDGET_EXHAUSTED
    assert server.hits("/b") == 1


async def test_hooks_see_events_in_order(server: FlakyServer) -> None:
    """Hooks get each attempt, each scheduled retry and the end of the call, in order."""
    server.script("/h", [Reply(503), Reply(200)])
    events: list[Event] = []
    async with fast_client(hooks=[events.append]) as client:
        await client.get(server.url("/h"))
    assert [type(event).__name__ for event in events] == [
        "AttemptFinished",
        "RetryScheduled",
        "AttemptFinished",
        "CallFinished",
    ]


async def test_raising_hook_never_breaks_the_request(
    server: FlakyServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that raises is logged, and the request goes on as if it were not there."""
    server.script("/h", [Reply(503), Reply(200)])

    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.ERROR, logger="retrykit"):
        async with fast_client(hooks=[broken]) as client:
            assert (await client.get(server.url("/h"))).status_code == 200
    assert any("hook" in record.getMessage() for record in caplog.records)


async def test_secret_never_leaks(server: FlakyServer, caplog: pytest.LogCaptureFixture) -> None:
    """The credential is in no log record, exception, history or event."""
    server.script("/s", [Reply(503), Reset()])
    events: list[Event] = []
    headers = {"Authorization": f"Bearer {SECRET}"}
    policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=60, counts="attempts")
    with caplog.at_level(logging.DEBUG):
        async with fast_client(policy=policy, breaker=breaker, hooks=[events.append]) as client:
            with pytest.raises(httpx.ReadError) as read_error:
                await client.get(server.url("/s"), headers=headers)
            with pytest.raises(CircuitOpenError) as circuit_error:
                await client.get(server.url("/s"), headers=headers)
    texts = [repr(event) for event in events]
    for error in (read_error.value, circuit_error.value):
        texts += [str(error), repr(error), repr(get_history(error))]
    texts += [repr(vars(r)) for r in caplog.records if r.name.startswith("retrykit")]
    assert events
    assert_no_secret(*texts)


async def test_mounts(server: FlakyServer) -> None:
    """An AsyncRetryTransport mounted for one origin retries there and nowhere else."""
    with FlakyServer() as other:
        server.script("/m", [Reply(503), Reply(200)])
        other.script("/m", [Reply(503), Reply(200)])
        mounted = AsyncRetryTransport(policy=FAST, breaker=None, budget=None)
        async with httpx.AsyncClient(mounts={server.base_url: mounted}) as client:
            assert (await client.get(server.url("/m"))).status_code == 200
            assert (await client.get(other.url("/m"))).status_code == 503


async def test_closing_closes_inner_transport() -> None:
    """Closing the client (or the transport) closes the transport it wraps."""
    inner = ClosingTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=AsyncRetryTransport(transport=inner)) as client:
        await client.get("http://retrykit.invalid/")
    assert inner.closed
    other = ClosingTransport(lambda request: httpx.Response(200))
    async with AsyncRetryTransport(transport=other):
        pass
    assert other.closed


async def test_unmapped_exception_propagates_unretried() -> None:
    """An exception that is not an httpx transport error is raised at once, unchanged."""
    calls: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise ValueError("bug")

    transport = AsyncRetryTransport(transport=httpx.MockTransport(handler), policy=FAST)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(ValueError, match="bug"):
            await client.get("http://retrykit.invalid/")
    assert len(calls) == 1
