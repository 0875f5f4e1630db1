"""Coming from the peers: policies from their objects, their predicates, and a decorator."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import httpx_retries
import pytest
import urllib3

import retrykit
from retrykit import (
    Backoff,
    MigrationWarning,
    Reason,
    RetryPolicy,
    decide,
    get_history,
)
from retrykit.testing import FakeClock, FlakyServer, Reply
from tests.clients import KINDS, Call, send


def test_urllib3_total_counts_retries() -> None:
    """urllib3's total=3 means three retries: max_attempts=4."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MigrationWarning)
        policy = RetryPolicy.from_urllib3(urllib3.Retry(total=3, raise_on_status=False))
    assert policy.max_attempts == 4


def test_urllib3_settings_carry_over() -> None:
    """status_forcelist, allowed_methods, backoff and Retry-After carry over."""
    retry = urllib3.Retry(
        total=5,
        status_forcelist=[429, 503],
        allowed_methods=["GET", "PUT"],
        backoff_factor=0.5,
        backoff_max=10,
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    with pytest.warns(MigrationWarning, match="backoff_factor"):
        policy = RetryPolicy.from_urllib3(retry)
    assert policy.retry_statuses == {429, 503}
    assert policy.idempotent_methods == {"GET", "PUT"}
    assert policy.backoff == Backoff(base=0.5, multiplier=2.0, cap=10.0, jitter="none")
    assert not policy.respect_retry_after


def test_what_does_not_translate_is_named() -> None:
    """Each urllib3 setting with no equivalent gets a warning naming it."""
    retry = urllib3.Retry(total=2, redirect=3, allowed_methods=None)
    with pytest.warns(MigrationWarning) as caught:
        policy = RetryPolicy.from_urllib3(retry)
    text = " ".join(str(w.message) for w in caught)
    for setting in ("raise_on_status", "redirect", "allowed_methods"):
        assert setting in text
    assert "POST" in policy.idempotent_methods  # allowed_methods=None retries every method


def test_httpx_retries_settings_carry_over() -> None:
    """httpx-retries' total, backoff, statuses and methods carry over; total counts retries."""
    retry = httpx_retries.Retry(
        total=3, backoff_factor=0.25, status_forcelist=[503], allowed_methods=["GET"]
    )
    policy = RetryPolicy.from_httpx_retries(retry)
    assert policy.max_attempts == 4
    assert policy.retry_statuses == {503}
    assert policy.idempotent_methods == {"GET"}
    assert policy.backoff.base == 0.5
    assert policy.backoff.jitter == "full"


def test_a_peers_retry_given_as_policy_points_at_the_converter() -> None:
    """Passing a urllib3 Retry where a RetryPolicy belongs says how to convert it."""
    from retrykit.httpx import RetryTransport

    with pytest.raises(TypeError, match="from_urllib3"):
        RetryTransport(policy=urllib3.Retry(3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="from_httpx_retries"):
        RetryTransport(policy=httpx_retries.Retry())  # type: ignore[arg-type]


def test_min_wait_is_a_floor_for_every_wait() -> None:
    """min_wait raises a short backoff wait; a longer one is kept."""
    policy = RetryPolicy(backoff=Backoff(base=0.01, jitter="none"), min_wait=0.5)
    assert decide(policy, attempt=1, method="GET", status=503).delay == 0.5
    long = RetryPolicy(backoff=Backoff(base=2.0, jitter="none"), min_wait=0.5)
    assert decide(long, attempt=1, method="GET", status=503).delay == 2.0


def _errors_in_body(status: int, headers: object, body: bytes | None) -> bool:
    return body is not None and b'"error"' in body


@pytest.mark.parametrize("kind", KINDS)
def test_a_200_with_an_error_body_is_retried_by_the_predicate(kind: str) -> None:
    """retry_on_response sees the body a read-body mode read, and retries a 200 it refuses."""
    with FlakyServer() as server:
        server.script("/q", [Reply(200, body=b'{"error": "busy"}'), Reply(200, body=b'{"ok": 1}')])
        policy = RetryPolicy(backoff=Backoff(base=0.001), retry_on_response=_errors_in_body)
        outcome = send(kind, Call(server.url("/q")), policy=policy, read_body=True)
    assert outcome.body == b'{"ok": 1}'
    assert outcome.history is not None
    assert [str(a.reason) for a in outcome.history.attempts] == [
        Reason.RESPONSE_REJECTED,
        Reason.SUCCESS,
    ]


def test_a_post_refused_by_the_predicate_is_not_sent_again() -> None:
    """The server processed the POST: a predicate cannot make it safe to repeat."""
    with FlakyServer() as server:
        server.script("/q", Reply(200, body=b'{"error": "busy"}'))
        policy = RetryPolicy(backoff=Backoff(base=0.001), retry_on_response=_errors_in_body)
        outcome = send("requests", Call(server.url("/q"), method="POST", body=b"x"), policy=policy)
        assert server.hits("/q") == 1
    assert outcome.history is not None
    assert outcome.history.reason == Reason.UNSAFE_METHOD


def test_an_exception_the_adapter_does_not_map_is_retried_when_asked() -> None:
    """retry_on_exception extends the adapter's table; the error counts as an unknown outcome."""

    class Flaky(httpx.BaseTransport):
        def __init__(self) -> None:
            self.calls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.calls += 1
            if self.calls == 1:
                raise ValueError("the inner transport broke")
            return httpx.Response(200, request=request)

    from retrykit.httpx import RetryTransport

    inner = Flaky()
    policy = RetryPolicy(backoff=Backoff(base=0.001), retry_on_exception=(ValueError,))
    with httpx.Client(transport=RetryTransport(inner, policy=policy)) as client:
        assert client.get("https://api.example.invalid/").status_code == 200
    assert inner.calls == 2


def test_the_decorator_retries_a_function_under_the_policy() -> None:
    """@retrykit.retry retries a plain function with the policy's waits, and stops at the end."""
    clock = FakeClock()
    calls = []

    @retrykit.retry(
        RetryPolicy(max_attempts=3, backoff=Backoff(base=1.0, jitter="none")),
        sleep=clock.sleep,
        clock=clock,
    )
    def flaky(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return value * 2

    assert flaky(21) == 42
    assert clock.sleeps == [1.0, 2.0]
    assert flaky.__name__ == "flaky"


def test_the_decorator_gives_up_with_the_history() -> None:
    """After max_attempts the last exception is raised, carrying the attempts."""
    clock = FakeClock()

    @retrykit.retry(RetryPolicy(max_attempts=2), sleep=clock.sleep, clock=clock)
    def broken() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError) as info:
        broken()
    history = get_history(info.value)
    assert history is not None
    assert (len(history.attempts), history.reason) == (2, Reason.ATTEMPTS_EXHAUSTED)


def test_the_decorator_retries_only_what_the_filter_names() -> None:
    """With retry_on_exception set, other exceptions are raised at once."""
    calls = []

    @retrykit.retry(RetryPolicy(retry_on_exception=(ConnectionError,)), sleep=lambda _s: None)
    def wrong() -> None:
        calls.append(1)
        raise KeyError("a bug, not a blip")

    with pytest.raises(KeyError):
        wrong()
    assert calls == [1]


def test_the_decorator_serves_async_functions_too() -> None:
    """One policy serves a coroutine function; the waits are awaited."""
    clock = FakeClock()
    calls = []

    @retrykit.retry(
        RetryPolicy(backoff=Backoff(base=0.5, jitter="none")), sleep=clock.async_sleep, clock=clock
    )
    async def fetch() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise TimeoutError
        return "ok"

    assert asyncio.run(fetch()) == "ok"
    assert clock.sleeps == [0.5]


def test_the_decorator_never_retries_a_keyboard_interrupt() -> None:
    """KeyboardInterrupt is not an Exception: it passes through at once."""
    calls = []

    @retrykit.retry(sleep=lambda _s: None)
    def interrupted() -> None:
        calls.append(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert calls == [1]
