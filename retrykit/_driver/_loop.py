"""The retry loops, written once: the adapters supply the steps that differ per client.

For each attempt: ask the call whether it may go out, send, read the status and headers,
judge them, then either hand the final response over (its body read when the mode
reads bodies) or read at most the drain allowance of a response that will be retried,
close it, wait and go again. An exception from sending or reading is judged by its
`FailureKind` from the adapter's table; one the table does not know ends the call
unretried. The sync and async loops are twins, kept apart as the house style asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

import anyio

from retrykit._core._bodies import drain_allowance
from retrykit._core._decide import Decision, Reason
from retrykit._core._headers import get_header

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

    from retrykit._core._policy import FailureKind
    from retrykit._driver._call import Rejection, RetryCall
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

    def rewind(self) -> None:
        """Make the request body ready to be sent again."""
        ...  # pragma: no cover - a protocol


class SyncExchange(_Exchange[ResponseT], Protocol[ResponseT]):
    """One call's steps for a blocking client."""

    def send(self, time_left: float | None) -> ResponseT:
        """Send one attempt, its timeouts cut to ``time_left``; return the unread response."""
        ...  # pragma: no cover - a protocol

    def read(self, response: ResponseT) -> bytes | None:
        """Read the final response's body when this mode reads bodies (else None)."""
        ...  # pragma: no cover - a protocol

    def chunks(self, response: ResponseT) -> Iterator[bytes]:
        """Yield a discarded response's raw body, one network read at a time."""
        ...  # pragma: no cover - a protocol

    def close(self, response: ResponseT) -> None:
        """Release the response (its connection goes back to the pool if read whole)."""
        ...  # pragma: no cover - a protocol

    def sleep(self, seconds: float) -> None:
        """Wait between attempts."""
        ...  # pragma: no cover - a protocol


class AsyncExchange(_Exchange[ResponseT], Protocol[ResponseT]):
    """One call's steps for an async client."""

    async def send(self, time_left: float | None) -> ResponseT:
        """Send one attempt, its timeouts cut to ``time_left``; return the unread response."""
        ...  # pragma: no cover - a protocol

    async def read(self, response: ResponseT) -> bytes | None:
        """Read the final response's body when this mode reads bodies (else None)."""
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


def run(call: RetryCall, exchange: SyncExchange[ResponseT]) -> ResponseT:
    """Run ``call`` to its end; return the final response or raise the final exception."""
    # A retried response read whole, kept until the next attempt really starts: a call
    # stopped before then (the deadline, a circuit, the rate limiter) returns it.
    held: tuple[ResponseT, bytes] | None = None
    while True:
        rejection = call.before_attempt()
        while rejection is None and call.pace > 0:
            exchange.sleep(call.pace)
            rejection = call.pace_again()
        if rejection is not None:
            if held is not None:
                return exchange.deliver(held[0], held[1], rejection.history)
            raise exchange.rejected(rejection)
        held = None
        response: ResponseT | None = None
        try:
            response = exchange.send(call.time_left)
            status, headers = exchange.head(response)
            decision = call.judge_response(status, headers)
            body = None if decision.retry else exchange.read(response)
        except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless retried
            if response is not None:
                exchange.close(response)
            decision = _judge_exception(call, exchange, exc)
        else:
            if not decision.retry:
                call.record(decision, status=status, headers=headers, body=body)
                return exchange.deliver(response, body, call.finish())
            allowance = drain_allowance(get_header(headers, "content-length"))
            until = call.drain_until(decision)
            body, whole = _drain(exchange.chunks(response), allowance, until, call.runner.clock)
            exchange.close(response)
            if not call.still_fits(decision):
                return _deadline_stop(
                    call,
                    exchange,
                    decision,
                    response,
                    status=status,
                    headers=headers,
                    body=body,
                    whole=whole,
                )
            call.record(decision, status=status, headers=headers, body=body)
            if whole:
                held = (response, body)
        exchange.rewind()
        if decision.delay > 0:
            exchange.sleep(decision.delay)


async def run_async(call: RetryCall, exchange: AsyncExchange[ResponseT]) -> ResponseT:
    """Run ``call`` to its end; return the final response or raise the final exception."""
    held: tuple[ResponseT, bytes] | None = None
    while True:
        rejection = call.before_attempt()
        while rejection is None and call.pace > 0:
            await exchange.sleep(call.pace)
            rejection = call.pace_again()
        if rejection is not None:
            if held is not None:
                return exchange.deliver(held[0], held[1], rejection.history)
            raise exchange.rejected(rejection)
        held = None
        response: ResponseT | None = None
        try:
            response = await exchange.send(call.time_left)
            status, headers = exchange.head(response)
            decision = call.judge_response(status, headers)
            body = None if decision.retry else await exchange.read(response)
        except BaseException as exc:  # noqa: BLE001 - judged by the adapter's table, re-raised unless retried
            if response is not None:
                await exchange.close(response)
            decision = _judge_exception(call, exchange, exc)
        else:
            if not decision.retry:
                call.record(decision, status=status, headers=headers, body=body)
                return exchange.deliver(response, body, call.finish())
            allowance = drain_allowance(get_header(headers, "content-length"))
            until = call.drain_until(decision)
            body, whole = await _drain_async(
                exchange.chunks(response), allowance, until, call.runner.clock
            )
            await exchange.close(response)
            if not call.still_fits(decision):
                return _deadline_stop(
                    call,
                    exchange,
                    decision,
                    response,
                    status=status,
                    headers=headers,
                    body=body,
                    whole=whole,
                )
            call.record(decision, status=status, headers=headers, body=body)
            if whole:
                held = (response, body)
        exchange.rewind()
        if decision.delay > 0:
            await exchange.sleep(decision.delay)


def _judge_exception(
    call: RetryCall, exchange: _Exchange[ResponseT], exc: BaseException
) -> Decision:
    """Judge an exception from sending or reading; re-raise it when the call ends with it."""
    failure = exchange.failure_kind(exc)
    if failure is None:
        exchange.attach(exc, call.abandon())
        raise exc
    decision = call.judge_failure(failure)
    call.record(decision, failure=failure)
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
) -> ResponseT:
    """End a call whose retry no longer fits before the deadline after its drain."""
    stop = Decision(
        retry=False, delay=0.0, reason=Reason.DEADLINE, server_wait=decision.server_wait
    )
    call.record(stop, status=status, headers=headers, body=body)
    history = call.finish()
    if whole:
        return exchange.deliver(response, body, history)
    from retrykit._driver._call import Rejection  # noqa: PLC0415 - a rare path

    raise exchange.rejected(Rejection(None, history))


def _drain(
    chunks: Iterator[bytes], allowance: int, until: float | None, clock: Callable[[], float]
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
            if size > allowance or (until is not None and clock() >= until):
                return b"".join(parts), False
    except Exception:  # noqa: BLE001 - a broken body: the close drops the connection
        return b"".join(parts), False
    return b"".join(parts), True


async def _drain_async(
    chunks: AsyncIterator[bytes], allowance: int, until: float | None, clock: Callable[[], float]
) -> tuple[bytes, bool]:
    """Read a discarded body, as `_drain` does; a read blocked past ``until`` is cancelled."""
    parts: list[bytes] = []
    if allowance <= 0:
        return b"", False
    size = 0
    whole = False
    with anyio.move_on_after(None if until is None else max(0.0, until - clock())):
        try:
            async for chunk in chunks:
                parts.append(chunk)
                size += len(chunk)
                if size > allowance or (until is not None and clock() >= until):
                    break
            else:
                whole = True
        except Exception:  # noqa: BLE001 - a broken body: the close drops the connection
            whole = False
    return b"".join(parts), whole
