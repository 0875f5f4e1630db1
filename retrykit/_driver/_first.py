"""The short way through a call's first attempt, for the common case: it simply succeeds.

When nothing configured must see a successful first attempt (no hooks or tracer, no
DEBUG logging, no per-request policy, no throttle, fallbacks, hedging or response
predicate), the first attempt is made with the fewest steps the rules need: count the
call in the budget, ask the circuit and the rate limiter (a dict lookup each on a
healthy origin), send, and, on a status below 400 that says nothing of a rate limit,
record the success and hand the response over with its one-attempt history. Anything
else (a rejection, a probe, an exception, an error status, rate-limit headers) hands the
attempt to the general loop of `retrykit._driver._loop`, which judges it exactly as if
it had made it: the rules are the same, only the bookkeeping is lighter.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, TypeVar

from retrykit._core._bodies import read_end
from retrykit._core._breaker import NO_CIRCUIT, Ticket
from retrykit._core._decide import Reason
from retrykit._core._headers import request_id
from retrykit._driver._call import Attempt, Rejection
from retrykit._driver._history import RetryHistory, one_success
from retrykit._driver._loop import run, run_async
from retrykit._errors import CircuitOpenError
from retrykit._fingerprint import key_fingerprint
from retrykit._observe._events import AttemptFinished, CallFinished
from retrykit._observe._logging import log_hook_failure, logger

if TYPE_CHECKING:
    from collections.abc import Mapping

    from retrykit._core._policy import RetryPolicy
    from retrykit._driver._call import RetryCall, RetryRunner
    from retrykit._driver._loop import AsyncExchange, SyncExchange, _Exchange

ResponseT = TypeVar("ResponseT")

# The first attempt to the request's own URL: what `send` needs to know of it.
FIRST: Final = Attempt(
    1, url="", key="", origin=None, target=None, started=0.0, wait_before=0.0, hedge=False
)
_SUCCESS: Final = Reason.SUCCESS


def _short_way(runner: RetryRunner, policy: RetryPolicy, method: str) -> bool:
    """Return True if this call's first attempt may take the short way."""
    return (
        runner.plain
        and policy is runner.policy
        and not (policy.auto_idempotency_key and method not in policy.idempotent_methods)
    )


def _admit(runner: RetryRunner, key: str) -> tuple[Ticket | CircuitOpenError, bool]:
    """Return the circuit's ticket (or its refusal) and whether the attempt may simply go.

    Not simply (a probe permit, or a rate limiter with something to say): the general
    loop makes the attempt, with its events, and the ticket goes with it
    (`RetryCall.take_ticket`).
    """
    breaker = runner.breaker
    ticket = NO_CIRCUIT
    if breaker is not None:
        try:
            ticket = breaker.allow(key, error=runner.circuit_error)
        except CircuitOpenError as exc:
            return exc, False
        if ticket.permit:
            return ticket, False
    limiter = runner.limiter
    return ticket, limiter is None or limiter.quiet(key)


def _unobserved_refusal(runner: RetryRunner, error: CircuitOpenError, started: float) -> Rejection:
    """Return the end of a call an open circuit refused, when no hook or log would hear of it.

    What `RetryCall.refuse` returns then, without a call's bookkeeping.
    """
    history = RetryHistory((), Reason.CIRCUIT_OPEN, runner.clock() - started)
    return Rejection(error, history)


def _succeeded(
    runner: RetryRunner, key: str, ticket: Ticket, status: int, started: float
) -> RetryHistory:
    """Record the success with the circuit; return the one-attempt history."""
    if runner.breaker is not None:
        runner.breaker.record_success(key, ticket)
    return one_success(status, runner.clock() - started)


def _tell_success(
    runner: RetryRunner,
    request: tuple[str, object, Mapping[str, str], str | None],
    answer: tuple[int, Mapping[str, str]],
    history: RetryHistory,
) -> None:
    """Emit the events of a first attempt that succeeded, as the general loop would.

    ``request`` is the call's method, URL, headers and endpoint name (None: from the
    URL), ``answer`` the response's status and headers.
    """
    method, url, headers, endpoint = request
    method = method.upper()
    endpoint = endpoint or runner.endpoint(method, str(url))
    firsts = runner.first_success
    if firsts is not None and not logger.isEnabledFor(logging.DEBUG):
        for first in firsts:
            try:
                first(method, endpoint, answer[0], history.total_time)
            except Exception:  # noqa: BLE001, PERF203 - a hook must never break the request
                event = CallFinished(
                    method, endpoint, True, _SUCCESS, 1, history.total_time, answer[0]
                )
                log_hook_failure(first, event)
        return
    fingerprint = key_fingerprint(headers)
    status = answer[0]
    rid = request_id(answer[1])
    duration = history.total_time
    runner.emit(AttemptFinished(method, endpoint, 1, status, None, duration, rid, fingerprint))
    runner.emit(
        CallFinished(method, endpoint, True, _SUCCESS, 1, duration, status, None, rid, fingerprint)
    )


def _call(
    runner: RetryRunner,
    method: str,
    url: object,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    replayable: bool,
    deposited: bool = False,
    started: float | None = None,
    endpoint: str | None = None,
) -> RetryCall:
    return runner.start(
        method,
        str(url),
        headers,
        policy=policy,
        replayable=replayable,
        deposited=deposited,
        started=started,
        endpoint=endpoint,
    )


def _begin(
    runner: RetryRunner,
    exchange: _Exchange[Any],
    method: str,
    url: object,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    replayable: bool,
    endpoint: str | None,
    key: str | None,
) -> RetryCall | tuple[str, Ticket, float]:
    """Start a call: a `RetryCall` for the general loop, or (key, ticket, started) to go short.

    Raises the rejection of an open circuit.
    """
    if not _short_way(runner, policy, method):
        call = _call(
            runner, method, url, headers, policy=policy, replayable=replayable, endpoint=endpoint
        )
        if call.idempotency_key is not None:
            exchange.stamp(policy.idempotency_header, call.idempotency_key)
        return call
    started = runner.clock()
    if runner.budget is not None:
        runner.budget.deposit()
    if not runner.keyed:
        key = ""
    elif key is None:
        key = runner.key_func(str(url))
    ticket, go = _admit(runner, key)
    if isinstance(ticket, CircuitOpenError) and not runner.observed(logging.INFO):
        raise exchange.rejected(_unobserved_refusal(runner, ticket, started))
    if isinstance(ticket, CircuitOpenError) or not go:
        call = _call(
            runner,
            method,
            url,
            headers,
            policy=policy,
            replayable=replayable,
            deposited=True,
            started=started,
            endpoint=endpoint,
        )
        if isinstance(ticket, CircuitOpenError):
            raise exchange.rejected(call.refuse(ticket))
        call.key = key
        if runner.breaker is not None:
            call.take_ticket(ticket)
        return call
    return key, ticket, started


def _handed_over(
    runner: RetryRunner,
    method: str,
    url: object,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    replayable: bool,
    endpoint: str | None,
    first: tuple[str, Ticket, float],
) -> RetryCall:
    """Return the call whose first attempt the short way sent, for the general loop to judge."""
    key, ticket, started = first
    call = _call(
        runner,
        method,
        url,
        headers,
        policy=policy,
        replayable=replayable,
        deposited=True,
        started=started,
        endpoint=endpoint,
    )
    call.adopt_first(key, ticket, started)
    return call


def call_first(
    runner: RetryRunner,
    exchange: SyncExchange[ResponseT],
    method: str,
    url: object,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    replayable: bool,
    endpoint: str | None = None,
    key: str | None = None,
) -> ResponseT:
    """Make a call: the short way while it succeeds, the general loop from the first doubt.

    ``url`` is the request's URL, or an object whose ``str()`` is (made only when needed);
    ``key`` its ``key_func`` key when the adapter knows it already.
    """
    begun = _begin(
        runner,
        exchange,
        method,
        url,
        headers,
        policy=policy,
        replayable=replayable,
        endpoint=endpoint,
        key=key,
    )
    if not isinstance(begun, tuple):
        return run(begun, exchange)
    key, ticket, started = begun
    response: ResponseT | None = None
    try:
        response = exchange.send(policy.deadline, FIRST)
        status, answer = exchange.head(response)
        if status < 400 and not (runner.limiter is not None and exchange.speaks_of_limits(answer)):
            body = exchange.read(response, read_end(started, policy.deadline), runner.clock)
            history = _succeeded(runner, key, ticket, status, started)
            if runner.observed(logging.DEBUG):
                _tell_success(runner, (method, url, headers, endpoint), (status, answer), history)
            return exchange.deliver(response, body, history)
    except BaseException as exc:  # noqa: BLE001 - the general loop judges it
        error: BaseException | None = exc
        response = None
    else:
        error = None
    call = _handed_over(
        runner,
        method,
        url,
        headers,
        policy=policy,
        replayable=replayable,
        endpoint=endpoint,
        first=begun,
    )
    return run(call, exchange, (response, error))


async def call_first_async(
    runner: RetryRunner,
    exchange: AsyncExchange[ResponseT],
    method: str,
    url: object,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    replayable: bool,
    endpoint: str | None = None,
    key: str | None = None,
) -> ResponseT:
    """Make a call as `call_first` does, for an async client."""
    begun = _begin(
        runner,
        exchange,
        method,
        url,
        headers,
        policy=policy,
        replayable=replayable,
        endpoint=endpoint,
        key=key,
    )
    if not isinstance(begun, tuple):
        return await run_async(begun, exchange)
    key, ticket, started = begun
    response: ResponseT | None = None
    try:
        response = await exchange.send(policy.deadline, FIRST)
        status, answer = exchange.head(response)
        if status < 400 and not (runner.limiter is not None and exchange.speaks_of_limits(answer)):
            body = await exchange.read(response, read_end(started, policy.deadline), runner.clock)
            history = _succeeded(runner, key, ticket, status, started)
            if runner.observed(logging.DEBUG):
                _tell_success(runner, (method, url, headers, endpoint), (status, answer), history)
            return exchange.deliver(response, body, history)
    except BaseException as exc:  # noqa: BLE001 - the general loop judges it
        error: BaseException | None = exc
        response = None
    else:
        error = None
    call = _handed_over(
        runner,
        method,
        url,
        headers,
        policy=policy,
        replayable=replayable,
        endpoint=endpoint,
        first=begun,
    )
    return await run_async(call, exchange, (response, error))
