"""The driver of one call: the facts of each attempt in, the core's decisions out.

A `RetryRunner` holds an adapter's settings and is shared by every call and thread; its
`start` returns a `RetryCall`, which the loops of `retrykit._driver._loop` feed with each
attempt's outcome. The call asks `decide`, applies the breaker and the budget through
the core's `limit`, keeps the history and emits the events, once each.

Nothing here decides what is retryable or how long to wait: that is `retrykit._core`.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Final

from retrykit._core._breaker import BreakerState, Ticket
from retrykit._core._decide import (
    Decision,
    Reason,
    counts_as_failure,
    decide,
    is_safe_to_repeat,
    limit,
    needs_idempotency_key,
)
from retrykit._core._endpoint import key_fingerprint
from retrykit._core._envelope import parse_error
from retrykit._core._headers import get_header
from retrykit._driver._history import AttemptRecord, RetryHistory
from retrykit._errors import CircuitOpenError, RateLimitExceededError
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    Event,
    Hook,
    RetryScheduled,
)
from retrykit._observe._logging import event_level, log_event, logger

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from retrykit._core._policy import FailureKind, RetryPolicy
    from retrykit._state._breaker import CircuitBreaker, StateChange
    from retrykit._state._budget import RetryBudget
    from retrykit._state._limiter import AdaptiveThrottle, RateLimiter

_REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id")
_OPEN: Final = BreakerState.OPEN


class RetryRunner:
    """An adapter's retry settings, shared by every call and every thread that uses it."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        breaker: CircuitBreaker | None,
        budget: RetryBudget | None,
        hooks: Sequence[Hook],
        clock: Callable[[], float],
        limiter: RateLimiter | None = None,
        throttle: AdaptiveThrottle | None = None,
        wall_clock: Callable[[], float],
        rand: Callable[[], float],
        key_func: Callable[[str], str],
        endpoint_func: Callable[[str, str], str],
    ) -> None:
        self.policy = policy
        self.breaker = breaker
        self.budget = budget
        self.limiter = limiter
        self.throttle = throttle
        self.hooks = tuple(hooks)
        self.clock = clock
        self.wall_clock = wall_clock
        self.rand = rand
        self.key_func = key_func
        self.endpoint_func = endpoint_func

    def start(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        policy: RetryPolicy | None = None,
        replayable: bool = True,
    ) -> RetryCall:
        """Begin a call: count it in the budget and return its driver."""
        if self.budget is not None:
            self.budget.deposit()
        return RetryCall(
            self, method, url, headers, policy=policy or self.policy, replayable=replayable
        )

    def emit(self, event: Event) -> None:
        """Log an event and pass it to every hook; a hook that raises is logged and skipped."""
        level = event_level(event)
        if logger.isEnabledFor(level):
            log_event(event, level)
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # noqa: BLE001, PERF203 - a hook must never break the request
                logger.exception("retrykit hook %r failed on %s", hook, type(event).__name__)

    def observed(self, level: int) -> bool:
        """Return True if an event at ``level`` would reach a hook or a log handler."""
        return bool(self.hooks) or logger.isEnabledFor(level)


class Rejection:
    """Why an attempt may not go out: the call ends before it is sent.

    ``error`` is the `CircuitOpenError` of an open circuit or the
    `RateLimitExceededError` of the rate limiter or the throttle (None when the deadline
    passed), ``history`` the call's history up to here.
    """

    __slots__ = ("error", "history")

    def __init__(
        self, error: CircuitOpenError | RateLimitExceededError | None, history: RetryHistory
    ) -> None:
        self.error = error
        self.history = history


class RetryCall:
    """The driver of one call: feed it each attempt's outcome, do what it decides.

    Per attempt: `before_attempt` (None, or a `Rejection`), then `judge_response` or
    `judge_failure` (the `Decision`), then `record` with what was read of the body;
    `finish` or `abandon` end the call. ``time_left`` is the time to the deadline at
    the start of the attempt (None without a deadline): the adapter caps its timeouts
    with it. ``pace`` is how long the rate limiter asks the attempt to wait before it
    leaves: the loop waits, then asks again with `pace_again`.
    """

    __slots__ = (
        "_attempt_started",
        "_cause",
        "_endpoint",
        "_failed",
        "_fingerprint",
        "_headers",
        "_history",
        "_last_decision",
        "_last_error_code",
        "_last_request_id",
        "_settled",
        "_ticket",
        "_wait_before",
        "attempt",
        "has_idempotency_key",
        "idempotency_key",
        "key",
        "method",
        "pace",
        "policy",
        "replayable",
        "runner",
        "started",
        "time_left",
        "url",
    )

    def __init__(
        self,
        runner: RetryRunner,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        policy: RetryPolicy,
        replayable: bool,
    ) -> None:
        self.runner = runner
        self.method = method.upper()
        self.url = url
        self.policy = policy
        self.replayable = replayable
        self.key = (
            runner.key_func(url)
            if runner.breaker is not None
            or runner.limiter is not None
            or runner.throttle is not None
            else ""
        )
        self._headers = headers
        self._endpoint: str | None = None
        self._fingerprint: str | bool | None = False
        self.attempt = 0
        self.started = runner.clock()
        self.time_left: float | None = None
        self.pace = 0.0
        self._attempt_started = self.started
        self._wait_before = 0.0
        self._history: list[AttemptRecord] = []
        self._last_decision: Decision | None = None
        self._last_request_id: str | None = None
        self._last_error_code: str | None = None
        self._ticket: Ticket | None = None
        self._settled = True
        self._failed = False
        self._cause: int | FailureKind | None = None
        self.idempotency_key: str | None = None
        # A key changes nothing for a request already safe to repeat: skip the header scan.
        self.has_idempotency_key = not is_safe_to_repeat(
            policy, self.method, has_idempotency_key=False
        ) and (get_header(headers, policy.idempotency_header.lower()) is not None)
        if needs_idempotency_key(policy, self.method, has_idempotency_key=self.has_idempotency_key):
            # The adapter sends this key on every attempt, so the server can deduplicate.
            self.idempotency_key = str(uuid.uuid4())
            self.has_idempotency_key = True

    @property
    def endpoint(self) -> str:
        """The endpoint template of this call, computed once and only when needed."""
        if self._endpoint is None:
            self._endpoint = self.runner.endpoint_func(self.method, self.url)
        return self._endpoint

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the call's credential, computed once and only when needed."""
        if self._fingerprint is False:
            self._fingerprint = key_fingerprint(self._headers)
        return self._fingerprint  # type: ignore[return-value]

    def before_attempt(self) -> Rejection | None:
        """Start the next attempt, or return why it may not go out (the call is then over).

        In order: the deadline (no attempt starts at or after it), the circuit, the
        adaptive throttle, then the rate limiter, which may ask for a wait (``pace``).
        """
        runner = self.runner
        now = runner.clock()
        if self._past_deadline(now) and self.attempt:
            return Rejection(None, self.finish(Reason.DEADLINE))
        breaker = runner.breaker
        if breaker is not None:
            try:
                ticket = breaker.allow(self.key)
            except CircuitOpenError as exc:
                # Rejections are the fail-fast path: build the event only for an observer.
                if runner.observed(logging.INFO):
                    runner.emit(
                        CallRejected(
                            method=self.method,
                            endpoint=self.endpoint,
                            key=exc.key,
                            retry_after=exc.retry_after,
                            key_fingerprint=self.fingerprint,
                        )
                    )
                return Rejection(exc, self.finish(Reason.CIRCUIT_OPEN))
            self._ticket = ticket
            self._settled = False
            if ticket.moved:
                self._emit_change(self.key, _OPEN, BreakerState.HALF_OPEN)
        throttle = runner.throttle
        if throttle is not None and not throttle.admit(self.key):
            return self._refused(
                RateLimitExceededError.cooldown(
                    None, f"{self.key} is refusing most requests; this one was not sent"
                ),
                Reason.THROTTLED,
            )
        if runner.limiter is not None:
            rejection = self.pace_again()
            if rejection is not None:
                return rejection
        self.attempt += 1
        self._attempt_started = now
        return None

    def pace_again(self) -> Rejection | None:
        """Ask the rate limiter again after waiting ``pace`` (None: the attempt may go)."""
        runner = self.runner
        limiter = runner.limiter
        if limiter is None:
            self.pace = 0.0
            return None
        now = runner.clock()
        if self._past_deadline(now):
            return self._refused(None, Reason.DEADLINE)
        max_wait = self.policy.max_retry_after
        if self.time_left is not None:
            max_wait = min(max_wait, self.time_left)
        try:
            self.pace = limiter.acquire(self.key, self._fingerprint_of, max_wait=max_wait)
        except RateLimitExceededError as exc:
            return self._refused(exc, Reason.RATE_LIMITED)
        return None

    def _past_deadline(self, now: float) -> bool:
        """Set ``time_left``; return True once no attempt may start any more."""
        deadline = self.policy.deadline
        if deadline is None:
            return False
        self.time_left = deadline - (now - self.started)
        return self.time_left <= 0

    def _refused(self, error: RateLimitExceededError | None, reason: str) -> Rejection:
        """End the call before an attempt that holds a ticket: give the ticket back."""
        breaker, ticket = self.runner.breaker, self._ticket
        if breaker is not None and ticket is not None and not self._settled:
            self._settled = True
            breaker.release(self.key, ticket)
        return Rejection(error, self.finish(reason))

    def _fingerprint_of(self) -> str | None:
        return self.fingerprint

    def judge_response(self, status: int, headers: Mapping[str, str]) -> Decision:
        """Return what to do after a response with ``status`` and ``headers``."""
        runner = self.runner
        if runner.limiter is not None:
            runner.limiter.observe(self.key, self._fingerprint_of, status, headers)
        if runner.throttle is not None:
            runner.throttle.record(self.key, status)
        decision = decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            status=status,
            headers=headers,
            elapsed=runner.clock() - self.started,
            now=runner.wall_clock(),
            rand=runner.rand(),
            previous_delay=self._wait_before or None,
        )
        return self._limit(decision, counts_as_failure(self.policy, status=status), status)

    def judge_failure(self, failure: FailureKind) -> Decision:
        """Return what to do after an attempt that produced no response."""
        runner = self.runner
        if runner.throttle is not None:
            runner.throttle.record(self.key, None)
        decision = decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            failure=failure,
            elapsed=runner.clock() - self.started,
            now=runner.wall_clock(),
            rand=runner.rand(),
            previous_delay=self._wait_before or None,
        )
        return self._limit(decision, True, failure)

    def drain_until(self, decision: Decision) -> float | None:
        """Return the clock time by which reading a discarded response must end, or None.

        The drain must leave the retry's wait inside the deadline.
        """
        deadline = self.policy.deadline
        if deadline is None:
            return None
        return self.started + deadline - decision.delay

    def still_fits(self, decision: Decision) -> bool:
        """Return True if the retry, after its wait, still starts before the deadline."""
        deadline = self.policy.deadline
        return deadline is None or self.runner.clock() + decision.delay < self.started + deadline

    def record(
        self,
        decision: Decision,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        failure: FailureKind | None = None,
        body: bytes | None = None,
    ) -> None:
        """Record the attempt's outcome and the decision taken; emit its events.

        ``body`` is what was read of the response's body (a drained or a final body),
        parsed for an error code and a request id when someone observes them.
        """
        runner = self.runner
        if not decision.retry:
            self._settle(final=True)
        now = runner.clock()
        duration = now - self._attempt_started
        self._history.append(
            AttemptRecord(
                self.attempt,
                status,
                failure,
                self._wait_before,
                duration,
                decision.reason,
                decision.server_wait,
            )
        )
        self._last_decision = decision
        request_id = error_code = None
        failed_status = status is not None and decision.reason != Reason.SUCCESS
        if runner.observed(logging.INFO if failed_status else logging.DEBUG):
            if status is not None and headers is not None:
                request_id = _request_id(headers)
                if failed_status and body is not None:
                    info = parse_error(status, headers, body)
                    request_id, error_code = info.request_id, info.code
            self._last_request_id, self._last_error_code = request_id, error_code
            if runner.observed(logging.DEBUG):
                runner.emit(
                    AttemptFinished(
                        method=self.method,
                        endpoint=self.endpoint,
                        attempt=self.attempt,
                        status=status,
                        failure=failure,
                        duration=duration,
                        request_id=request_id,
                        key_fingerprint=self.fingerprint,
                        error_code=error_code,
                    )
                )
        if decision.retry:
            self._wait_before = decision.delay
            if runner.observed(logging.INFO):
                runner.emit(
                    RetryScheduled(
                        method=self.method,
                        endpoint=self.endpoint,
                        attempt=self.attempt,
                        max_attempts=self.policy.max_attempts,
                        delay=decision.delay,
                        reason=decision.reason,
                        status=status,
                        failure=failure,
                        request_id=request_id,
                        key_fingerprint=self.fingerprint,
                        server_wait=decision.server_wait,
                    )
                )

    def abandon(self) -> RetryHistory:
        """End the call after an exception the adapter does not map; return its history.

        A probe permit the attempt holds is given back without an outcome, and the
        history's reason is ``"unexpected_error"``.
        """
        breaker, ticket = self.runner.breaker, self._ticket
        if breaker is not None and ticket is not None and not self._settled:
            self._settled = True
            breaker.release(self.key, ticket)
        return self.finish(Reason.UNEXPECTED_ERROR)

    def finish(self, reason: str | None = None) -> RetryHistory:
        """End the call, emit its `CallFinished` event and return its history."""
        history_list = self._history
        last = history_list[-1] if history_list else None
        if reason is None:
            reason = self._last_decision.reason if self._last_decision else Reason.SUCCESS
        total_time = self.runner.clock() - self.started
        history = RetryHistory(attempts=tuple(history_list), reason=reason, total_time=total_time)
        succeeded = last is not None and last.reason == Reason.SUCCESS
        if self.runner.observed(logging.DEBUG if succeeded else logging.INFO):
            self.runner.emit(
                CallFinished(
                    method=self.method,
                    endpoint=self.endpoint,
                    succeeded=succeeded,
                    reason=reason,
                    attempts=len(history_list),
                    total_time=total_time,
                    status=last.status if last else None,
                    failure=last.failure if last else None,
                    request_id=self._last_request_id,
                    key_fingerprint=self.fingerprint,
                    error_code=self._last_error_code,
                )
            )
        return history

    def _limit(self, decision: Decision, failed: bool, cause: int | FailureKind) -> Decision:
        """Apply the breaker (probes and per-attempt counting now) and the core's `limit`."""
        self._failed, self._cause = failed, cause
        if not decision.retry:
            return decision
        self._settle(final=False)
        runner = self.runner
        breaker, budget = runner.breaker, runner.budget
        decision = limit(
            decision,
            replayable=self.replayable,
            circuit_open=breaker is not None and breaker.state(self.key) is _OPEN,
            take_retry=budget.try_withdraw if budget is not None else None,
        )
        if decision.reason == Reason.BUDGET_EXHAUSTED and runner.observed(logging.WARNING):
            runner.emit(
                BudgetExhausted(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=self.attempt,
                    key_fingerprint=self.fingerprint,
                )
            )
        return decision

    def _settle(self, *, final: bool) -> None:
        """Give the attempt's outcome to the breaker when it counts (see `CircuitBreaker`).

        A probe's outcome and, with ``counts="attempts"``, every attempt's count at
        once; otherwise only the call's final outcome counts.
        """
        breaker, ticket = self.runner.breaker, self._ticket
        if breaker is None or ticket is None or self._settled:
            return
        if not (final or ticket.is_probe or breaker.per_attempt):
            return
        self._settled = True
        change: StateChange | None
        if self._failed:
            change = breaker.record_failure(self.key, ticket, self._cause)
        else:
            change = breaker.record_success(self.key, ticket)
        if change is not None:
            self._emit_change(change.key, change.old, change.new)

    def _emit_change(self, key: str, old: BreakerState, new: BreakerState) -> None:
        if self.runner.observed(logging.INFO):
            self.runner.emit(CircuitStateChanged(key=key, old=old, new=new))


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = get_header(headers, name)
        if value:
            return value
    return None
