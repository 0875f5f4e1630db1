"""The retry loops, written once: the adapters supply the steps that differ per client.

For each attempt: ask the call whether it may go out (waiting as the rate limiter asks),
send it to its origin, judge the status and headers (racing a hedged attempt when the
policy hedges), ask ``reconcile`` about a write whose outcome is unknown, then either
hand the final response over (its body read when the mode reads bodies) or read at most
the drain allowance of a response that will be retried, close it, wait and go again.
An exception from sending or reading is judged by its `FailureKind` from the adapter's
table; one the table does not know ends the call unretried. The sync and async loops
are twins, kept apart as the house style asks.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

import anyio

from retrykit._core._bodies import drain_allowance
from retrykit._core._decide import Decision, Reason
from retrykit._core._headers import get_header

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping

    from anyio.streams.memory import MemoryObjectReceiveStream

    from retrykit._core._policy import FailureKind
    from retrykit._driver._call import Attempt, Rejection, RetryCall
    from retrykit._driver._history import RetryHistory

ResponseT = TypeVar("ResponseT")


class _Exchange(Protocol[ResponseT]):
    """The steps both kinds of adapter supply, sync or async alike."""

    def head(self, response: ResponseT) -> tuple[int, Mapping[str, str]]:
        """Return the response's status and headers."""
        ...  # pragma: no cover - a protocol

    def failure_kind(self, exc: BaseException) -> FailureKind | None:
        """Return the `FailureKind` of an exception from sending or reading, or None."""
        ...  # pragma: no cover - a protocol

    def deliver(self, response: ResponseT, body: bytes | None, history: RetryHistory) -> ResponseT:
        """Return the final response, carrying ``history`` (and ``body``, if read)."""
        ...  # pragma: no cover - a protocol

    def attach(self, exc: BaseException, history: RetryHistory) -> None:
        """Attach ``history`` to the exception about to be raised."""
        ...  # pragma: no cover - a protocol

    def rejected(self, rejection: Rejection) -> BaseException:
        """Return the exception for a call that ends before an attempt goes out."""
        ...  # pragma: no cover - a protocol

    def applied(self, history: RetryHistory, response: ResponseT | None) -> BaseException:
        """Return the `WriteAppliedError` for a write that reconcile found applied."""
        ...  # pragma: no cover - a protocol

    def rewind(self) -> None:
        """Make the request body ready to be sent again."""
        ...  # pragma: no cover - a protocol

    def stamp(self, name: str, value: str) -> None:
        """Set header ``name`` of the request (the call's idempotency key)."""
        ...  # pragma: no cover - a protocol

    @property
    def reads_body(self) -> bool:
        """Whether the final response's body is read inside the loop (`read` returns it)."""
        ...  # pragma: no cover - a protocol

    def url_key(self) -> Hashable:
        """Return a hashable standing for the request's URL, cheaper than its text."""
        ...  # pragma: no cover - a protocol

    def request_headers(self) -> Mapping[str, str]:
        """Return the request's headers, for the call's fingerprint and idempotency rules."""
        ...  # pragma: no cover - a protocol


class SyncExchange(_Exchange[ResponseT], Protocol[ResponseT]):
    """One call's steps for a blocking client."""

    def send_first(self, time_left: float | None, limits: bool) -> tuple[ResponseT, int, bool]:
        """Send the request itself as the first attempt, as `send` would.

        Return the response unread, its status, and (when ``limits``, else False) whether
        its headers speak of a rate limit (`retrykit._core._ratelimit.mentions_rate_limit`).
        """
        ...  # pragma: no cover - a protocol

    def send(self, time_left: float | None, attempt: Attempt) -> ResponseT:
        """Send ``attempt`` (to its origin), timeouts cut to ``time_left``; return it unread.

        A hedged attempt is sent from a worker thread, beside another: it must send a
        copy of the request.
        """
        ...  # pragma: no cover - a protocol

    def read(
        self, response: ResponseT, until: float | None, clock: Callable[[], float]
    ) -> bytes | None:
        """Read the final response's body when this mode reads bodies (else None).

        Raises the client's read timeout once ``clock()`` passes ``until`` (None: never).
        """
        ...  # pragma: no cover - a protocol

    def chunks(self, response: ResponseT, timeout: float) -> Iterator[bytes]:
        """Yield a discarded response's raw body, one network read at a time.

        No read waits longer than ``timeout`` seconds (the drain's time left).
        """
        ...  # pragma: no cover - a protocol

    def close(self, response: ResponseT) -> None:
        """Release the response (its connection goes back to the pool if read whole)."""
        ...  # pragma: no cover - a protocol

    def sleep(self, seconds: float) -> None:
        """Wait between attempts."""
        ...  # pragma: no cover - a protocol

    def reconcile(self, time_left: float | None) -> bool | None:
        """Ask the user's ``reconcile`` about the request, within ``time_left`` (None: unsure)."""
        ...  # pragma: no cover - a protocol

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` on a worker thread (for a hedged attempt)."""
        ...  # pragma: no cover - a protocol


class AsyncExchange(_Exchange[ResponseT], Protocol[ResponseT]):
    """One call's steps for an async client."""

    async def send_first(
        self, time_left: float | None, limits: bool
    ) -> tuple[ResponseT, int, bool]:
        """Send the request itself as the first attempt, as `SyncExchange.send_first` does."""
        ...  # pragma: no cover - a protocol

    async def send(self, time_left: float | None, attempt: Attempt) -> ResponseT:
        """Send ``attempt`` (to its origin), timeouts cut to ``time_left``; return it unread."""
        ...  # pragma: no cover - a protocol

    async def read(
        self, response: ResponseT, until: float | None, clock: Callable[[], float]
    ) -> bytes | None:
        """Read the final response's body when this mode reads bodies (else None).

        Raises the client's read timeout once ``clock()`` passes ``until`` (None: never).
        """
        ...  # pragma: no cover - a protocol

    def chunks(self, response: ResponseT) -> AsyncIterator[bytes]:
        """Yield a discarded response's raw body, one network read at a time."""
        ...  # pragma: no cover - a protocol

    async def close(self, response: ResponseT) -> None:
        """Release the response (its connection goes back to the pool if read whole)."""
        ...  # pragma: no cover - a protocol

    async def sleep(self, seconds: float) -> None:
        """Wait between attempts."""
        ...  # pragma: no cover - a protocol

    async def reconcile(self, time_left: float | None) -> bool | None:
        """Ask the user's ``reconcile`` about the request, within ``time_left`` (None: unsure)."""
        ...  # pragma: no cover - a protocol


class _Outcome(Generic[ResponseT]):
    """How one attempt (or a hedged race) ended, and what the call decided."""

    __slots__ = ("attempt", "decision", "error", "failure", "headers", "response", "status")

    def __init__(
        self,
        attempt: Attempt,
        decision: Decision,
        *,
        response: ResponseT | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        error: BaseException | None = None,
        failure: FailureKind | None = None,
    ) -> None:
        self.attempt = attempt
        self.decision = decision
        self.response = response
        self.status = status
        self.headers = headers
        self.error = error
        self.failure = failure


# -- the blocking loop ------------------------------------------------------------------


def run(
    call: RetryCall, exchange: SyncExchange[ResponseT], first: _Sent[ResponseT] | None = None
) -> ResponseT:
    """Run ``call`` to its end; return the final response or raise the final exception.

    ``first`` is the first attempt's answer when the short path already sent it.
    """
    # A retried response read whole, kept until the next attempt really starts: a call
    # stopped before then (the deadline, a circuit, the rate limiter) returns it.
    held: tuple[ResponseT, bytes] | None = None
    while True:
        if first is not None:
            assert call.current is not None  # noqa: S101 - adopt_first made it
            outcome = _judged(call, exchange, call.current, *first)
            first = None
        else:
            rejection = call.before_attempt()
            while rejection is None and call.pace > 0:
                exchange.sleep(call.pace)
                rejection = call.pace_again()
            if rejection is not None:
                if held is not None:
                    return exchange.deliver(held[0], held[1], rejection.history)
                raise exchange.rejected(rejection)
            delay = call.hedge_delay()
            outcome = _once(call, exchange) if delay is None else _race(call, exchange, delay)
        decision = outcome.decision
        if call.needs_reconcile(decision, status=outcome.status, failure=outcome.failure):
            decision = _reconciled(call, outcome, exchange.reconcile(call.time_left))
        if outcome.response is None:
            held = None
            _end_on_exception(call, exchange, outcome, decision)
        else:
            final, decision, held = _respond(call, exchange, outcome, decision)
            if final is not None:
                return final
        exchange.rewind()
        if decision.delay > 0:
            exchange.sleep(decision.delay)


def _respond(
    call: RetryCall,
    exchange: SyncExchange[ResponseT],
    outcome: _Outcome[ResponseT],
    decision: Decision,
) -> tuple[ResponseT | None, Decision, tuple[ResponseT, bytes] | None]:
    """Hand a final response over, or release one that will be retried.

    Returns the final response (or None), the decision, and a retried response read whole
    (kept until the next attempt starts).
    """
    attempt, response = outcome.attempt, outcome.response
    status, headers = outcome.status, outcome.headers
    if response is None or status is None or headers is None:  # pragma: no cover - run checks
        raise TypeError("an outcome without a response")
    body: bytes | None = None
    if not decision.retry:
        if decision.reason == Reason.RECONCILED_APPLIED:
            exchange.close(response)
            call.record(decision, status=status, headers=headers, attempt=attempt)
            raise exchange.applied(call.finish(), response)
        try:
            body = exchange.read(response, call.read_until(), call.runner.clock)
        except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless retried
            return None, _judge_exception(call, exchange, exc, attempt), None
        decision = call.recheck(
            decision, status=status, headers=headers, body=body, attempt=attempt
        )
        if not decision.retry:
            call.record(decision, status=status, headers=headers, body=body, attempt=attempt)
            return exchange.deliver(response, body, call.finish()), decision, None
    if body is not None:  # read whole, then refused by the policy's retry_on_response
        whole = True
        exchange.close(response)
    else:
        allowance = drain_allowance(get_header(headers, "content-length"))
        clock = call.runner.clock
        until = call.drain_until(decision)
        chunks = exchange.chunks(response, max(0.0, until - clock()))
        body, whole = _drain(chunks, allowance, until, clock)
        exchange.close(response)
    if not call.still_fits(decision):
        final = _deadline_stop(
            call,
            exchange,
            decision,
            response,
            status=status,
            headers=headers,
            body=body,
            whole=whole,
            attempt=attempt,
        )
        return final, decision, None
    call.record(decision, status=status, headers=headers, body=body, attempt=attempt)
    return None, decision, (response, body) if whole else None


def _once(call: RetryCall, exchange: SyncExchange[ResponseT]) -> _Outcome[ResponseT]:
    """Send the current attempt and judge its status and headers, or its exception."""
    attempt = call.current
    assert attempt is not None  # noqa: S101 - before_attempt made it
    response: ResponseT | None = None
    try:
        with attempt.sending():
            response = exchange.send(call.time_left, attempt)
        status, headers = exchange.head(response)
    except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless mapped
        if response is not None:
            exchange.close(response)
        return _failed(call, exchange, attempt, exc)
    return _Outcome(
        attempt,
        call.judge_response(status, headers, attempt),
        response=response,
        status=status,
        headers=headers,
    )


def _race(call: RetryCall, exchange: SyncExchange[ResponseT], delay: float) -> _Outcome[ResponseT]:
    """Send the current attempt, and a hedge if it has not answered after ``delay``.

    The first answer the policy accepts wins; an answer it would retry waits for the
    other attempt, if one is still out. Every attempt runs on a worker thread; one whose
    answer comes after the race is over closes its own response there.
    """
    first = call.current
    assert first is not None  # noqa: S101 - before_attempt made it
    answers: queue.Queue[tuple[Attempt, ResponseT | None, BaseException | None]] = queue.Queue()
    over = threading.Event()
    time_left = call.time_left

    def send(attempt: Attempt) -> None:
        try:
            with attempt.sending():
                response = exchange.send(time_left, attempt)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            answers.put((attempt, None, exc))
            return
        if over.is_set():
            exchange.close(response)  # the race is over: drop this answer here
            return
        answers.put((attempt, response, None))

    exchange.submit(_in_this_context(send, first))
    out = {first}
    try:
        answer = answers.get(timeout=delay)
    except queue.Empty:
        hedge = call.start_hedge()
        if hedge is not None:
            out.add(hedge)
            exchange.submit(_in_this_context(send, hedge))
        answer = answers.get()
    try:
        while True:
            attempt, response, error = answer
            out.discard(attempt)
            outcome = _judge_answer(call, exchange, attempt, response, error, last=not out)
            if outcome is not None:
                return outcome
            answer = answers.get()
    finally:
        over.set()
        for attempt in out:
            call.record_unused(attempt)
        while not answers.empty():
            late = answers.get_nowait()[1]
            if late is not None:
                exchange.close(late)


def _in_this_context(send: Callable[[Attempt], None], attempt: Attempt) -> Callable[[], None]:
    """Return ``send(attempt)`` to run in a copy of this thread's context variables.

    A worker thread then sees the caller's current span (and any other context), so the
    attempt's spans have the call's as their parent.
    """
    context = contextvars.copy_context()
    return lambda: context.run(send, attempt)


def _judge_answer(
    call: RetryCall,
    exchange: SyncExchange[ResponseT],
    attempt: Attempt,
    response: ResponseT | None,
    error: BaseException | None,
    *,
    last: bool,
) -> _Outcome[ResponseT] | None:
    """Return the outcome this answer ends the race with, or None to wait for the other."""
    if error is not None:
        failure = call.failure_of(error, exchange.failure_kind(error))
        if not last and (failure is None or not call.accepts(failure=failure)):
            call.record_unused(attempt, failure=failure)
            return None
        return _failed(call, exchange, attempt, error)
    assert response is not None  # noqa: S101 - an answer is a response or an error
    status, headers = exchange.head(response)
    if not last and not call.accepts(status=status):
        call.record_unused(attempt, status=status)
        exchange.close(response)
        return None
    return _Outcome(
        attempt,
        call.judge_response(status, headers, attempt),
        response=response,
        status=status,
        headers=headers,
    )


# -- the async loop -----------------------------------------------------------------------


async def run_async(
    call: RetryCall, exchange: AsyncExchange[ResponseT], first: _Sent[ResponseT] | None = None
) -> ResponseT:
    """Run ``call`` to its end; return the final response or raise the final exception."""
    held: tuple[ResponseT, bytes] | None = None
    while True:
        if first is not None:
            assert call.current is not None  # noqa: S101 - adopt_first made it
            outcome = _judged(call, exchange, call.current, *first)
            first = None
        else:
            rejection = call.before_attempt()
            while rejection is None and call.pace > 0:
                await exchange.sleep(call.pace)
                rejection = call.pace_again()
            if rejection is not None:
                if held is not None:
                    return exchange.deliver(held[0], held[1], rejection.history)
                raise exchange.rejected(rejection)
            delay = call.hedge_delay()
            if delay is None:
                outcome = await _once_async(call, exchange)
            else:
                outcome = await _race_async(call, exchange, delay)
        decision = outcome.decision
        if call.needs_reconcile(decision, status=outcome.status, failure=outcome.failure):
            decision = _reconciled(call, outcome, await exchange.reconcile(call.time_left))
        if outcome.response is None:
            held = None
            _end_on_exception(call, exchange, outcome, decision)
        else:
            final, decision, held = await _respond_async(call, exchange, outcome, decision)
            if final is not None:
                return final
        exchange.rewind()
        if decision.delay > 0:
            await exchange.sleep(decision.delay)


async def _respond_async(
    call: RetryCall,
    exchange: AsyncExchange[ResponseT],
    outcome: _Outcome[ResponseT],
    decision: Decision,
) -> tuple[ResponseT | None, Decision, tuple[ResponseT, bytes] | None]:
    """Hand a final response over, or release one that will be retried (see `_respond`)."""
    attempt, response = outcome.attempt, outcome.response
    status, headers = outcome.status, outcome.headers
    if response is None or status is None or headers is None:  # pragma: no cover - run checks
        raise TypeError("an outcome without a response")
    body: bytes | None = None
    if not decision.retry:
        if decision.reason == Reason.RECONCILED_APPLIED:
            await exchange.close(response)
            call.record(decision, status=status, headers=headers, attempt=attempt)
            raise exchange.applied(call.finish(), response)
        try:
            body = await exchange.read(response, call.read_until(), call.runner.clock)
        except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless retried
            return None, _judge_exception(call, exchange, exc, attempt), None
        decision = call.recheck(
            decision, status=status, headers=headers, body=body, attempt=attempt
        )
        if not decision.retry:
            call.record(decision, status=status, headers=headers, body=body, attempt=attempt)
            return exchange.deliver(response, body, call.finish()), decision, None
    if body is not None:  # read whole, then refused by the policy's retry_on_response
        whole = True
        await exchange.close(response)
    else:
        allowance = drain_allowance(get_header(headers, "content-length"))
        until = call.drain_until(decision)
        chunks = exchange.chunks(response)
        body, whole = await _drain_async(chunks, allowance, until, call.runner.clock)
        await exchange.close(response)
    if not call.still_fits(decision):
        final = _deadline_stop(
            call,
            exchange,
            decision,
            response,
            status=status,
            headers=headers,
            body=body,
            whole=whole,
            attempt=attempt,
        )
        return final, decision, None
    call.record(decision, status=status, headers=headers, body=body, attempt=attempt)
    return None, decision, (response, body) if whole else None


async def _once_async(call: RetryCall, exchange: AsyncExchange[ResponseT]) -> _Outcome[ResponseT]:
    """Send the current attempt and judge its status and headers, or its exception."""
    attempt = call.current
    assert attempt is not None  # noqa: S101 - before_attempt made it
    response: ResponseT | None = None
    try:
        with attempt.sending():
            response = await exchange.send(call.time_left, attempt)
        status, headers = exchange.head(response)
    except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless mapped
        if response is not None:
            await exchange.close(response)
        return _failed(call, exchange, attempt, exc)
    return _Outcome(
        attempt,
        call.judge_response(status, headers, attempt),
        response=response,
        status=status,
        headers=headers,
    )


async def _race_async(
    call: RetryCall, exchange: AsyncExchange[ResponseT], delay: float
) -> _Outcome[ResponseT]:
    """Race the current attempt against a hedge after ``delay``, as `_race` does.

    The loser is cancelled (its connection closed by the client) when the race ends.
    """
    first = call.current
    assert first is not None  # noqa: S101 - before_attempt made it
    answers_in, answers = anyio.create_memory_object_stream[
        tuple["Attempt", Any, BaseException | None]
    ](4)
    time_left = call.time_left
    out = {first}
    result: _Outcome[ResponseT] | None = None

    async def send(attempt: Attempt) -> None:
        response = None
        try:
            with attempt.sending():
                response = await exchange.send(time_left, attempt)
            answers_in.send_nowait((attempt, response, None))
            response = None
        except anyio.get_cancelled_exc_class():
            if response is not None:
                with anyio.CancelScope(shield=True):
                    await exchange.close(response)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the racing task
            answers_in.send_nowait((attempt, None, exc))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(send, first)
            answer = None
            with anyio.move_on_after(delay):
                answer = await answers.receive()
            if answer is None:
                hedge = call.start_hedge()
                if hedge is not None:
                    out.add(hedge)
                    group.start_soon(send, hedge)
                answer = await answers.receive()
            while result is None:
                attempt, response, error = answer
                out.discard(attempt)
                result = await _judge_answer_async(
                    call, exchange, attempt, response, error, last=not out
                )
                if result is None:
                    answer = await answers.receive()
            group.cancel_scope.cancel()
    finally:
        for attempt in out:
            call.record_unused(attempt)
        await _close_late(exchange, answers)
        answers_in.close()
    assert result is not None  # noqa: S101 - the race loop ends with an outcome
    return result


async def _close_late(
    exchange: AsyncExchange[ResponseT],
    answers: MemoryObjectReceiveStream[tuple[Attempt, Any, BaseException | None]],
) -> None:
    """Close every answer that came in while the race was being decided."""
    while True:
        try:
            late = answers.receive_nowait()[1]
        except (anyio.WouldBlock, anyio.EndOfStream):
            break
        if late is not None:
            with anyio.CancelScope(shield=True):
                await exchange.close(late)
    answers.close()


async def _judge_answer_async(
    call: RetryCall,
    exchange: AsyncExchange[ResponseT],
    attempt: Attempt,
    response: ResponseT | None,
    error: BaseException | None,
    *,
    last: bool,
) -> _Outcome[ResponseT] | None:
    """Return the outcome this answer ends the race with, or None to wait for the other."""
    if error is not None:
        failure = call.failure_of(error, exchange.failure_kind(error))
        if not last and (failure is None or not call.accepts(failure=failure)):
            call.record_unused(attempt, failure=failure)
            return None
        return _failed(call, exchange, attempt, error)
    assert response is not None  # noqa: S101 - an answer is a response or an error
    status, headers = exchange.head(response)
    if not last and not call.accepts(status=status):
        call.record_unused(attempt, status=status)
        await exchange.close(response)
        return None
    return _Outcome(
        attempt,
        call.judge_response(status, headers, attempt),
        response=response,
        status=status,
        headers=headers,
    )


# -- shared steps ---------------------------------------------------------------------------

_Sent: TypeAlias = "tuple[ResponseT | None, BaseException | None]"
"""What one attempt's send gave: its response, or the exception it raised."""


def _judged(
    call: RetryCall,
    exchange: _Exchange[ResponseT],
    attempt: Attempt,
    response: ResponseT | None,
    error: BaseException | None,
) -> _Outcome[ResponseT]:
    """Judge a sent attempt's response (status and headers), or its exception."""
    if error is not None:
        return _failed(call, exchange, attempt, error)
    assert response is not None  # noqa: S101 - a send gives a response or an error
    status, headers = exchange.head(response)
    return _Outcome(
        attempt,
        call.judge_response(status, headers, attempt),
        response=response,
        status=status,
        headers=headers,
    )


def _failed(
    call: RetryCall, exchange: _Exchange[ResponseT], attempt: Attempt, exc: BaseException
) -> _Outcome[ResponseT]:
    """Judge an exception from sending; re-raise it when the adapter's table does not map it."""
    failure = call.failure_of(exc, exchange.failure_kind(exc))
    if failure is None:
        exchange.attach(exc, call.abandon())
        raise exc
    return _Outcome(attempt, call.judge_failure(failure, attempt), error=exc, failure=failure)


def _reconciled(call: RetryCall, outcome: _Outcome[ResponseT], answer: bool | None) -> Decision:
    """Return the decision after the user's ``reconcile`` answered about this outcome."""
    return call.reconciled(
        answer,
        outcome.decision,
        status=outcome.status,
        headers=outcome.headers,
        failure=outcome.failure,
    )


def _end_on_exception(
    call: RetryCall,
    exchange: _Exchange[ResponseT],
    outcome: _Outcome[ResponseT],
    decision: Decision,
) -> None:
    """Record an attempt that got no response; raise unless the call retries."""
    error = outcome.error
    assert error is not None  # noqa: S101 - no response means an error
    call.record(decision, failure=outcome.failure, attempt=outcome.attempt)
    if decision.reason == Reason.RECONCILED_APPLIED:
        raise exchange.applied(call.finish(), None) from error
    if not decision.retry:
        exchange.attach(error, call.finish())
        raise error


def _judge_exception(
    call: RetryCall, exchange: _Exchange[ResponseT], exc: BaseException, attempt: Attempt
) -> Decision:
    """Judge an exception from reading a final body; re-raise it when the call ends with it."""
    failure = call.failure_of(exc, exchange.failure_kind(exc))
    if failure is None:
        exchange.attach(exc, call.abandon())
        raise exc
    decision = call.judge_failure(failure, attempt)
    call.record(decision, failure=failure, attempt=attempt)
    if not decision.retry:
        exchange.attach(exc, call.finish())
        raise exc
    return decision


def _deadline_stop(
    call: RetryCall,
    exchange: _Exchange[ResponseT],
    decision: Decision,
    response: ResponseT,
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    whole: bool,
    attempt: Attempt,
) -> ResponseT:
    """End a call whose retry no longer fits before the deadline after its drain."""
    stop = Decision(
        retry=False, delay=0.0, reason=Reason.DEADLINE, server_wait=decision.server_wait
    )
    call.record(stop, status=status, headers=headers, body=body, attempt=attempt)
    history = call.finish()
    if whole:
        return exchange.deliver(response, body, history)
    from retrykit._driver._call import Rejection  # noqa: PLC0415 - a rare path

    raise exchange.rejected(Rejection(None, history))


def _drain(
    chunks: Iterator[bytes], allowance: int, until: float, clock: Callable[[], float]
) -> tuple[bytes, bool]:
    """Read a discarded body: return what was read and whether that was all of it.

    Stops past ``allowance`` bytes or once ``clock()`` reaches ``until``; a body that
    breaks off is simply not whole (its connection is dropped by the close).
    """
    parts: list[bytes] = []
    if allowance <= 0:
        return b"", False
    size = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > allowance or clock() >= until:
                return b"".join(parts), False
    except Exception:  # noqa: BLE001 - a broken body: the close drops the connection
        return b"".join(parts), False
    return b"".join(parts), True


async def _drain_async(
    chunks: AsyncIterator[bytes], allowance: int, until: float, clock: Callable[[], float]
) -> tuple[bytes, bool]:
    """Read a discarded body, as `_drain` does; a read blocked past ``until`` is cancelled."""
    parts: list[bytes] = []
    if allowance <= 0:
        return b"", False
    size = 0
    whole = False
    with anyio.move_on_after(max(0.0, until - clock())):
        try:
            async for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size > allowance or clock() >= until:
                    break
            else:
                whole = True
        except Exception:  # noqa: BLE001 - a broken body: the close drops the connection
            whole = False
    return b"".join(parts), whole
