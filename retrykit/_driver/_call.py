"""The retry driver both adapters share: one object per call, applying the core's decisions.

An adapter turns each attempt's outcome into a status and headers, or a FailureKind, and
hands it to `RetryCall`; the call asks `decide`, then applies the breaker, the budget and
the replayability of the body, emits events and keeps the attempt history. The adapter
only sends, sleeps, and returns or raises what the call tells it to.

Nothing here decides what is retryable or how long to wait: that is `retrykit._core`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from retrykit._core._breaker import BreakerState
from retrykit._core._decide import (
    Decision,
    Reason,
    counts_as_failure,
    decide,
    is_safe_to_repeat,
    needs_idempotency_key,
)
from retrykit._core._endpoint import endpoint_template, key_fingerprint
from retrykit._core._envelope import parse_error
from retrykit._core._headers import get_header
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._errors import CircuitOpenError
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
    from retrykit._state._breaker import CircuitBreaker
    from retrykit._state._budget import RetryBudget

_REQUEST_ID_HEADERS = ("x-request-id", "request-id")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@attrs.frozen
class AttemptRecord:
    """One attempt of a call: its outcome, the wait before it, and how long it took.

    ``status`` is set when the attempt got a response, ``failure`` when it did not.
    """

    attempt: int
    status: int | None
    failure: FailureKind | None
    wait_before: float
    duration: float
    reason: str


@attrs.frozen
class RetryHistory:
    """Every attempt of one call, and why the loop stopped (a `Reason` string).

    Found on the final response or exception: ``response.retry_history`` and
    ``exc.retry_history`` for requests, ``response.extensions["retry_history"]`` and
    ``exc.retry_history`` for httpx. `get_history` reads any of them.
    """

    attempts: tuple[AttemptRecord, ...]
    reason: str
    total_time: float

    @property
    def retries(self) -> int:
        """How many attempts followed the first."""
        return max(0, len(self.attempts) - 1)


def get_history(obj: object) -> RetryHistory | None:
    """Return the `RetryHistory` carried by a response or an exception, or None."""
    history = getattr(obj, "retry_history", None)
    if isinstance(history, RetryHistory):
        return history
    extensions = getattr(obj, "extensions", None)
    if isinstance(extensions, Mapping):
        history = extensions.get("retry_history")
        if isinstance(history, RetryHistory):
            return history
    return None


_origin_cache: dict[str, str] = {}
_ORIGIN_CACHE_SIZE = 4096


def origin_key(url: str) -> str:
    """Return the circuit key of a URL: its origin, ``scheme://host:port``, lower-cased."""
    # Every request needs its key: parse each distinct "scheme://authority" prefix once.
    end = url.find("/", url.find("://") + 3)
    prefix = url if end < 0 else url[:end]
    key = _origin_cache.get(prefix)
    if key is None:
        if len(_origin_cache) >= _ORIGIN_CACHE_SIZE:
            _origin_cache.clear()
        key = _origin_cache[prefix] = _parse_origin(prefix)
    return key


def _parse_origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if not authority.rpartition("]")[2].count(":"):
        authority = f"{authority}:{_DEFAULT_PORTS.get(scheme, '')}"
    return f"{scheme}://{authority.lower()}"


class RetryRunner:
    """An adapter's retry settings, shared by every call and every thread that uses it."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        breaker: CircuitBreaker | None,
        budget: RetryBudget | None,
        hooks: Sequence[Hook],
        circuit_error: type[CircuitOpenError],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        key_func: Callable[[str], str] = origin_key,
        endpoint_func: Callable[[str, str], str] = endpoint_template,
    ) -> None:
        self.policy = policy
        self.breaker = breaker
        self.budget = budget
        self.hooks = tuple(hooks)
        self.circuit_error = circuit_error
        self.clock = clock
        self.wall_clock = wall_clock
        self.rand = rand
        self.key_func = key_func
        self.endpoint_func = endpoint_func
        if breaker is not None:
            breaker.add_listener(self._on_state_change)

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

    def _on_state_change(self, key: str, old: BreakerState, new: BreakerState) -> None:
        self.emit(CircuitStateChanged(key=key, old=old, new=new))


class RetryCall:
    """The driver of one call: feed it each attempt's outcome, do what it decides."""

    __slots__ = (
        "_attempt_started",
        "_endpoint",
        "_fingerprint",
        "_headers",
        "_history",
        "_last_decision",
        "_last_error_code",
        "_last_request_id",
        "_wait_before",
        "attempt",
        "has_idempotency_key",
        "idempotency_key",
        "key",
        "method",
        "policy",
        "replayable",
        "runner",
        "started",
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
        self.key = runner.key_func(url) if runner.breaker is not None else ""
        self._headers = headers
        self._endpoint: str | None = None
        self._fingerprint: str | bool | None = False
        self.attempt = 0
        self.started = runner.clock()
        self._attempt_started = self.started
        self._wait_before = 0.0
        self._history: list[AttemptRecord] = []
        self._last_decision: Decision | None = None
        self._last_request_id: str | None = None
        self._last_error_code: str | None = None
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

    def before_attempt(self) -> None:
        """Count the attempt and ask the breaker whether it may go out.

        Raises the adapter's `CircuitOpenError` subclass, carrying the history so far,
        when the circuit rejects the attempt.
        """
        breaker = self.runner.breaker
        if breaker is not None:
            try:
                breaker.allow(self.key)
            except CircuitOpenError as exc:
                error = self.runner.circuit_error(exc.key, exc.retry_after)
                # Rejections are the fail-fast path: build the event only for an observer.
                if self.runner.observed(logging.INFO):
                    self.runner.emit(
                        CallRejected(
                            method=self.method,
                            endpoint=self.endpoint,
                            key=exc.key,
                            retry_after=exc.retry_after,
                            key_fingerprint=self.fingerprint,
                        )
                    )
                error.retry_history = self.finish(Reason.CIRCUIT_OPEN)  # type: ignore[attr-defined]
                raise error from None
        self.attempt += 1
        self._attempt_started = self.runner.clock()

    def after_response(
        self, status: int, headers: Mapping[str, str], body: bytes | None = None
    ) -> Decision:
        """Record a response and return what to do next.

        ``body`` is the response body when the adapter has read it; it is parsed for an
        error code and request id only for error statuses that someone observes.
        """
        runner = self.runner
        now_monotonic = runner.clock()
        self._record_breaker(status=status, failure=None)
        decision = decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            status=status,
            headers=headers,
            elapsed=now_monotonic - self.started,
            now=runner.wall_clock(),
            rand=runner.rand(),
            previous_delay=self._wait_before or None,
        )
        decision = self._apply_limits(decision)
        self._history.append(
            AttemptRecord(
                attempt=self.attempt,
                status=status,
                failure=None,
                wait_before=self._wait_before,
                duration=now_monotonic - self._attempt_started,
                reason=decision.reason,
            )
        )
        if runner.hooks or logger.isEnabledFor(logging.DEBUG):
            request_id, error_code = _request_id(headers), None
            if decision.reason != Reason.SUCCESS and body is not None:
                info = parse_error(status, headers, body)
                request_id, error_code = info.request_id, info.code
            self._last_request_id, self._last_error_code = request_id, error_code
            runner.emit(
                AttemptFinished(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=self.attempt,
                    status=status,
                    failure=None,
                    duration=now_monotonic - self._attempt_started,
                    request_id=request_id,
                    key_fingerprint=self.fingerprint,
                    error_code=error_code,
                )
            )
        else:
            request_id = None
        return self._conclude(decision, status=status, failure=None, request_id=request_id)

    def after_failure(self, failure: FailureKind) -> Decision:
        """Record an attempt that produced no response and return what to do next."""
        runner = self.runner
        now_monotonic = runner.clock()
        self._record_breaker(status=None, failure=failure)
        decision = decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            failure=failure,
            elapsed=now_monotonic - self.started,
            now=runner.wall_clock(),
            rand=runner.rand(),
            previous_delay=self._wait_before or None,
        )
        decision = self._apply_limits(decision)
        self._history.append(
            AttemptRecord(
                attempt=self.attempt,
                status=None,
                failure=failure,
                wait_before=self._wait_before,
                duration=now_monotonic - self._attempt_started,
                reason=decision.reason,
            )
        )
        if runner.observed(logging.DEBUG):
            runner.emit(
                AttemptFinished(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=self.attempt,
                    status=None,
                    failure=failure,
                    duration=now_monotonic - self._attempt_started,
                    key_fingerprint=self.fingerprint,
                )
            )
        return self._conclude(decision, status=None, failure=failure, request_id=None)

    def abandon(self) -> RetryHistory:
        """End the call after an exception the adapter does not map; return its history.

        The breaker permit of the attempt is given back without counting an outcome, and
        the history's reason is ``"unexpected_error"``.
        """
        if self.runner.breaker is not None and self.attempt:
            self.runner.breaker.release(self.key)
        return self.finish(Reason.UNEXPECTED_ERROR)

    def finish(self, reason: str | None = None) -> RetryHistory:
        """End the call, emit its `CallFinished` event and return its history."""
        last = self._history[-1] if self._history else None
        reason = reason or (self._last_decision.reason if self._last_decision else Reason.SUCCESS)
        total_time = self.runner.clock() - self.started
        history = RetryHistory(attempts=tuple(self._history), reason=reason, total_time=total_time)
        succeeded = last is not None and last.reason == Reason.SUCCESS
        if self.runner.observed(logging.DEBUG if succeeded else logging.INFO):
            self.runner.emit(
                CallFinished(
                    method=self.method,
                    endpoint=self.endpoint,
                    succeeded=succeeded,
                    reason=reason,
                    attempts=len(self._history),
                    total_time=total_time,
                    status=last.status if last else None,
                    failure=last.failure if last else None,
                    request_id=self._last_request_id,
                    key_fingerprint=self.fingerprint,
                    error_code=self._last_error_code,
                )
            )
        return history

    def _record_breaker(self, *, status: int | None, failure: FailureKind | None) -> None:
        breaker = self.runner.breaker
        if breaker is None:
            return
        if counts_as_failure(self.policy, status=status, failure=failure):
            breaker.record_failure(self.key)
        else:
            breaker.record_success(self.key)

    def _apply_limits(self, decision: Decision) -> Decision:
        """Stop a retry the policy allows when the body, the circuit or the budget forbid it."""
        if not decision.retry:
            return decision
        runner = self.runner
        if not self.replayable:
            return _stop(decision, Reason.BODY_NOT_REPLAYABLE)
        if runner.breaker is not None and runner.breaker.state(self.key) is BreakerState.OPEN:
            return _stop(decision, Reason.CIRCUIT_OPEN)
        if runner.budget is not None and not runner.budget.try_withdraw():
            if runner.observed(logging.WARNING):
                runner.emit(
                    BudgetExhausted(
                        method=self.method,
                        endpoint=self.endpoint,
                        attempt=self.attempt,
                        key_fingerprint=self.fingerprint,
                    )
                )
            return _stop(decision, Reason.BUDGET_EXHAUSTED)
        return decision

    def _conclude(
        self,
        decision: Decision,
        *,
        status: int | None,
        failure: FailureKind | None,
        request_id: str | None,
    ) -> Decision:
        self._last_decision = decision
        if decision.retry:
            self._wait_before = decision.delay
            if self.runner.observed(logging.INFO):
                self.runner.emit(
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
        return decision


def _stop(decision: Decision, reason: str) -> Decision:
    return Decision(retry=False, delay=0.0, reason=reason, server_wait=decision.server_wait)


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = get_header(headers, name)
        if value:
            return value
    return None


def attach_history(target: Any, history: RetryHistory) -> None:
    """Set ``target.retry_history``, ignoring objects that refuse new attributes."""
    # Only slotted third-party objects refuse a new attribute; they go without a history.
    with contextlib.suppress(AttributeError):
        target.retry_history = history
