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
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from retrykit._core._bodies import read_end
from retrykit._core._breaker import NO_CIRCUIT, Ticket
from retrykit._core._decide import Reason
from retrykit._core._headers import request_id
from retrykit._driver._call import Rejection
from retrykit._driver._history import RetryHistory, one_success
from retrykit._driver._loop import run, run_async
from retrykit._errors import CircuitOpenError
from retrykit._fingerprint import key_fingerprint
from retrykit._observe._events import AttemptFinished, CallFinished
from retrykit._observe._logging import log_hook_failure, logger

if TYPE_CHECKING:
    from retrykit._core._policy import RetryPolicy
    from retrykit._driver._call import RetryCall, RetryRunner
    from retrykit._driver._loop import AsyncExchange, SyncExchange, _Exchange

ResponseT = TypeVar("ResponseT")

# A call as the adapter describes it: method, URL (or an object whose str() is), policy,
# whether its body replays, and its endpoint name (None: from the URL when needed).
_Order: TypeAlias = "tuple[str, object, RetryPolicy, bool, str | None]"

_SUCCESS: Final = Reason.SUCCESS
_CIRCUIT_OPEN: Final = Reason.CIRCUIT_OPEN
_DEBUG: Final = logging.DEBUG
_INFO: Final = logging.INFO
_new: Final = tuple.__new__


def _unobserved_refusal(runner: RetryRunner, error: CircuitOpenError, started: float) -> Rejection:
    """Return the end of a call an open circuit refused, when no hook or log would hear of it.

    What `RetryCall.refuse` returns then, without a call's bookkeeping.
    """
    history = _new(RetryHistory, ((), _CIRCUIT_OPEN, runner.clock() - started))
    return _new(Rejection, (error, history))


def _tell_success(
    runner: RetryRunner,
    exchange: _Exchange[Any],
    order: _Order,
    answer: tuple[int, object],
    history: RetryHistory,
) -> None:
    """Emit the events of a first attempt that succeeded, as the general loop would.

    ``answer`` is the response's status and the response.
    """
    method, url, _, _, endpoint = order
    method = method.upper()
    endpoint = endpoint or runner.endpoint(method, url, exchange.url_key())
    status, response = answer
    duration = history.total_time
    firsts = runner.first_success
    if firsts is not None and not logger.isEnabledFor(_DEBUG):
        for first in firsts:
            try:
                first(method, endpoint, status, duration)
            except Exception:  # noqa: BLE001, PERF203 - a hook must never break the request
                event = CallFinished(method, endpoint, True, _SUCCESS, 1, duration, status)
                log_hook_failure(first, event)
        return
    fingerprint = key_fingerprint(exchange.request_headers())
    rid = request_id(exchange.head(response)[1])
    runner.emit(AttemptFinished(method, endpoint, 1, status, None, duration, rid, fingerprint))
    runner.emit(
        CallFinished(method, endpoint, True, _SUCCESS, 1, duration, status, None, rid, fingerprint)
    )


def _call(
    runner: RetryRunner, exchange: _Exchange[Any], order: _Order, started: float | None
) -> RetryCall:
    """Return the call for the general loop (counted in the budget already if ``started``)."""
    method, url, policy, replayable, endpoint = order
    return runner.start(
        method,
        str(url),
        exchange.request_headers(),
        policy=policy,
        replayable=replayable,
        deposited=started is not None,
        started=started,
        endpoint=endpoint,
    )


def _begin(
    runner: RetryRunner, exchange: _Exchange[Any], order: _Order, key: str | None
) -> RetryCall | tuple[str, Ticket, float] | BaseException:
    """Start a call: a `RetryCall` for the general loop, or (key, ticket, started) to go short.

    The short way is for the transport's own policy, when nothing configured must see the
    attempt (`RetryRunner.plain`) and no idempotency key is to be added. It counts the
    call in the budget and asks the circuit and the rate limiter (a dict lookup each on a
    healthy origin). A probe permit, or a rate limiter with something to say, goes the
    general way with its ticket (`RetryCall.take_ticket`). An open circuit's refusal
    comes back as the exception to raise.
    """
    method, url, policy, _, _ = order
    if not (
        runner.plain
        and policy is runner.policy
        and (not policy.auto_idempotency_key or method in policy.idempotent_methods)
    ):
        call = _call(runner, exchange, order, None)
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
    breaker = runner.breaker
    ticket = NO_CIRCUIT
    refused = None
    if breaker is not None:
        admitted = breaker.admit(key, error=runner.circuit_error)
        if not isinstance(admitted, CircuitOpenError):
            ticket = admitted
        elif not (runner.hooks or logger.isEnabledFor(_INFO)):
            return exchange.rejected(_unobserved_refusal(runner, admitted, started))
        else:
            refused = admitted
    limiter = runner.limiter
    if refused is None and not ticket.permit and (limiter is None or limiter.quiet(key)):
        return key, ticket, started
    call = _call(runner, exchange, order, started)
    if refused is not None:
        return exchange.rejected(call.refuse(refused))
    call.key = key
    if breaker is not None:
        call.take_ticket(ticket)
    return call


def _handed_over(
    runner: RetryRunner, exchange: _Exchange[Any], order: _Order, first: tuple[str, Ticket, float]
) -> RetryCall:
    """Return the call whose first attempt the short way sent, for the general loop to judge."""
    key, ticket, started = first
    call = _call(runner, exchange, order, started)
    call.adopt_first(key, ticket, started)
    return call


def call_first(
    runner: RetryRunner,
    exchange: SyncExchange[ResponseT],
    method: str,
    url: object,
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
    order = (method, url, policy, replayable, endpoint)
    begun = _begin(runner, exchange, order, key)
    if not isinstance(begun, tuple):
        if isinstance(begun, BaseException):
            try:
                raise begun
            finally:
                del begun  # else its traceback holds this frame, which holds it: a cycle
        return run(begun, exchange)
    key, ticket, started = begun
    response: ResponseT | None = None
    try:
        response, status, speaks = exchange.send_first(policy.deadline, runner.limiter is not None)
        if status < 400 and not speaks:
            body = None
            if exchange.reads_body:
                body = exchange.read(response, read_end(started, policy.deadline), runner.clock)
            if runner.breaker is not None:
                runner.breaker.record_success(key, ticket)
            history = one_success(status, runner.clock() - started)
            if runner.hooks or logger.isEnabledFor(_DEBUG):
                _tell_success(runner, exchange, order, (status, response), history)
            return exchange.deliver(response, body, history)
    except BaseException as exc:  # noqa: BLE001 - the general loop judges it
        error: BaseException | None = exc
        response = None
    else:
        error = None
    call = _handed_over(runner, exchange, order, begun)
    return run(call, exchange, (response, error))


async def call_first_async(
    runner: RetryRunner,
    exchange: AsyncExchange[ResponseT],
    method: str,
    url: object,
    *,
    policy: RetryPolicy,
    replayable: bool,
    endpoint: str | None = None,
    key: str | None = None,
) -> ResponseT:
    """Make a call as `call_first` does, for an async client."""
    order = (method, url, policy, replayable, endpoint)
    begun = _begin(runner, exchange, order, key)
    if not isinstance(begun, tuple):
        if isinstance(begun, BaseException):
            try:
                raise begun
            finally:
                del begun  # else its traceback holds this frame, which holds it: a cycle
        return await run_async(begun, exchange)
    key, ticket, started = begun
    response: ResponseT | None = None
    try:
        response, status, speaks = await exchange.send_first(
            policy.deadline, runner.limiter is not None
        )
        if status < 400 and not speaks:
            body = None
            if exchange.reads_body:
                body = await exchange.read(
                    response, read_end(started, policy.deadline), runner.clock
                )
            if runner.breaker is not None:
                runner.breaker.record_success(key, ticket)
            history = one_success(status, runner.clock() - started)
            if runner.hooks or logger.isEnabledFor(_DEBUG):
                _tell_success(runner, exchange, order, (status, response), history)
            return exchange.deliver(response, body, history)
    except BaseException as exc:  # noqa: BLE001 - the general loop judges it
        error: BaseException | None = exc
        response = None
    else:
        error = None
    call = _handed_over(runner, exchange, order, begun)
    return await run_async(call, exchange, (response, error))
