"""`retry`: the same policy around code that is not an HTTP call, sync or async.

Each failed attempt is judged by `decide` as an outcome that cannot be known (the code is
the caller's, and the caller chose to retry it); the waits, attempts and deadline are the
policy's, as for an HTTP call. The history of the attempts rides on the exception raised
at the end, as on the adapters' (`retrykit.get_history`).
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from retrykit._core._decide import Reason, decide, retries_exception
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._driver._history import AttemptRecord, RetryHistory, attach_history
from retrykit._driver._settings import check_policy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

_P = ParamSpec("_P")
_R = TypeVar("_R")

_UNKNOWN = FailureKind.UNKNOWN_OUTCOME


class _Attempts:
    """One call's attempts: what the core decided after each, and the history so far."""

    __slots__ = ("clock", "policy", "previous", "rand", "records", "started")

    def __init__(
        self, policy: RetryPolicy, clock: Callable[[], float], rand: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.rand = rand
        self.started = clock()
        self.previous: float | None = None
        self.records: list[AttemptRecord] = []

    def after(self, exc: BaseException, attempt_started: float) -> float | None:
        """Return the wait before the next attempt, or None to give up (with the history)."""
        now = self.clock()
        number = len(self.records) + 1
        if not retries_exception(self.policy, exc, by_default=True):
            decision_reason, delay = Reason.UNEXPECTED_ERROR, None
        else:
            decision = decide(
                self.policy,
                attempt=number,
                method="CALL",
                has_idempotency_key=True,  # the caller chose to retry this code
                failure=_UNKNOWN,
                elapsed=now - self.started,
                rand=self.rand(),
                previous_delay=self.previous,
            )
            decision_reason, delay = decision.reason, decision.delay if decision.retry else None
        self.records.append(
            AttemptRecord(
                number,
                None,
                _UNKNOWN,
                self.previous or 0.0,
                now - attempt_started,
                decision_reason,
            )
        )
        if delay is None:
            history = RetryHistory(
                attempts=tuple(self.records), reason=decision_reason, total_time=now - self.started
            )
            attach_history(exc, history)
            return None
        self.previous = delay
        return delay


def retry(
    policy: RetryPolicy | None = None,
    *,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Return a decorator that retries a function (or coroutine function) under ``policy``.

    An ``Exception`` raised by the function is retried when the policy's
    ``retry_on_exception`` allows it (every ``Exception`` when that is None), with the
    policy's backoff, ``max_attempts``, ``min_wait`` and ``deadline``; the last one is
    raised with its ``retry_history``. KeyboardInterrupt and cancellation are never
    retried. ``sleep`` defaults to ``time.sleep`` (sync) or ``anyio.sleep`` (async; or
    ``asyncio.sleep`` without anyio); ``clock`` and ``rand`` are for tests::

        @retrykit.retry(RetryPolicy(max_attempts=5, retry_on_exception=(ConnectionError,)))
        def fetch_quote() -> float: ...
    """
    checked = check_policy(policy)

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        if inspect.iscoroutinefunction(func):
            return cast("Callable[_P, _R]", _async_wrapper(func, checked, sleep, clock, rand))

        wait = sleep or time.sleep

        @functools.wraps(func)
        def retried(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            attempts = _Attempts(checked, clock, rand)
            while True:
                attempt_started = clock()
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    delay = attempts.after(exc, attempt_started)
                    if delay is None:
                        raise
                wait(delay)

        return retried

    return decorate


def _async_wrapper(
    func: Callable[..., Awaitable[Any]],
    policy: RetryPolicy,
    sleep: Callable[[float], object] | None,
    clock: Callable[[], float],
    rand: Callable[[], float],
) -> Callable[..., Awaitable[Any]]:
    wait = sleep or _async_sleep()

    @functools.wraps(func)
    async def retried(*args: Any, **kwargs: Any) -> Any:
        attempts = _Attempts(policy, clock, rand)
        while True:
            attempt_started = clock()
            try:
                return await func(*args, **kwargs)
            except Exception as exc:
                delay = attempts.after(exc, attempt_started)
                if delay is None:
                    raise
            await cast("Awaitable[object]", wait(delay))

    return retried


def _async_sleep() -> Callable[[float], Awaitable[None]]:
    try:
        import anyio  # noqa: PLC0415 - optional: works under asyncio and trio
    except ImportError:  # pragma: no cover - anyio comes with the httpx extra
        import asyncio  # noqa: PLC0415

        return asyncio.sleep
    return anyio.sleep
