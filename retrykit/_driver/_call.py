"""The driver of one call: the facts of each attempt in, the core's decisions out.

A `RetryRunner` holds an adapter's settings and is shared by every call and thread; its
`start` returns a `RetryCall`, which the loops of `retrykit._driver._loop` feed with each
attempt's outcome. The call asks `decide`, routes each attempt to its origin, applies the
breaker, the budget, the throttle and the rate limiter through the core's rules, keeps the
history and emits the events, once each.

Nothing here decides what is retryable, how long to wait or where to send: that is
`retrykit._core`.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

from retrykit._core._bodies import drain_end, read_end
from retrykit._core._breaker import BreakerState, Ticket
from retrykit._core._decide import (
    Decision,
    Reason,
    counts_as_failure,
    decide,
    is_idempotency_key,
    is_safe_to_repeat,
    limit,
    needs_idempotency_key,
    retries_exception,
)
from retrykit._core._envelope import parse_error
from retrykit._core._headers import get_header, request_id, unreadable_wait_headers
from retrykit._core._memo import remember
from retrykit._core._origin import url_without_secrets
from retrykit._core._policy import FailureKind
from retrykit._core._routing import (
    hedge_delay,
    may_reconcile,
    moves_on,
    next_index,
    origins_for,
    with_origin,
)
from retrykit._driver._history import AttemptRecord, RetryHistory
from retrykit._errors import CircuitOpenError, RateLimitExceededError
from retrykit._fingerprint import key_fingerprint
from retrykit._observe._events import (
    AttemptFinished,
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    Event,
    FallbackUsed,
    FirstSuccess,
    Hook,
    RateLimitWaited,
    RetryScheduled,
)
from retrykit._observe._logging import (
    call_level,
    event_level,
    log_event,
    log_hook_failure,
    logger,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping, Sequence

    from retrykit._core._policy import RetryPolicy
    from retrykit._driver._trace import AttemptTrace, CallTrace, Tracer
    from retrykit._state._breaker import CircuitBreaker, StateChange
    from retrykit._state._budget import RetryBudget
    from retrykit._state._limiter import AdaptiveThrottle, RateLimiter

_OPEN: Final = BreakerState.OPEN
# Decisions a retry_on_response predicate may overturn: the policy accepted the response.
_ACCEPTED: Final = frozenset({Reason.SUCCESS, Reason.NOT_RETRYABLE_STATUS})
# Attempt durations kept per endpoint for a "p95" hedge delay, and how many are needed.
_LATENCY_SAMPLES: Final = 200
_LATENCY_MINIMUM: Final = 20


class _Latencies:
    """The last attempt durations of each endpoint, for its 95th percentile."""

    __slots__ = ("_lock", "_samples")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def add(self, endpoint: str, seconds: float) -> None:
        with self._lock:
            samples = self._samples.get(endpoint)
            if samples is None:
                samples = self._samples[endpoint] = collections.deque(maxlen=_LATENCY_SAMPLES)
                if len(self._samples) > 1000:
                    self._samples.popitem(last=False)
            samples.append(seconds)

    def p95(self, endpoint: str) -> float | None:
        with self._lock:
            samples = self._samples.get(endpoint)
            if samples is None or len(samples) < _LATENCY_MINIMUM:
                return None
            ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


ENDPOINTS_REMEMBERED: Final = 1024
"""How many endpoint names a runner remembers by method and URL."""


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
        wall_clock: Callable[[], float],
        rand: Callable[[], float],
        key_func: Callable[[str], str],
        endpoint_func: Callable[[str, str], str],
        limiter: RateLimiter | None = None,
        throttle: AdaptiveThrottle | None = None,
        fallbacks: Mapping[str, tuple[str, ...]] | None = None,
        reconcile: Callable[[Any], Any] | None = None,
        tracer: Tracer | None = None,
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
        self.fallbacks = dict(fallbacks or {})
        self.reconcile = reconcile
        self.tracer = tracer
        # Every hook's `first_success`, when each has one (`Metrics` does): a call that
        # succeeds on its first attempt then tells them without building its events.
        firsts: list[FirstSuccess] = [
            first
            for hook in self.hooks
            if callable(first := cast("FirstSuccess | None", getattr(hook, "first_success", None)))
        ]
        self.first_success: tuple[FirstSuccess, ...] | None = (
            tuple(firsts) if firsts and len(firsts) == len(self.hooks) else None
        )
        self.latencies = _Latencies()
        # The class an open circuit's rejection raises: the adapter's own subclass.
        self.circuit_error: type[CircuitOpenError] = CircuitOpenError
        # Endpoint names by method and URL: a client calls few URLs over and over.
        self._endpoints: collections.OrderedDict[tuple[str, object], str] = (
            collections.OrderedDict()
        )
        # Whether a call needs its origin's key at all (per-origin state is kept).
        self.keyed = breaker is not None or limiter is not None or throttle is not None
        # Whether a call may take the short first attempt of `retrykit._driver._first`:
        # nothing configured that must see a successful first attempt but its events.
        self.plain = (
            tracer is None
            and throttle is None
            and not self.fallbacks
            and policy.hedge_after is None
            and policy.retry_on_response is None
        )

    def start(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        policy: RetryPolicy | None = None,
        replayable: bool = True,
        deposited: bool = False,
        started: float | None = None,
        endpoint: str | None = None,
    ) -> RetryCall:
        """Begin a call: count it in the budget (unless ``deposited``) and return its driver.

        ``endpoint`` names the call's endpoint when the caller gave it (else it is named
        from the URL, and only when an event needs it).
        """
        if self.budget is not None and not deposited:
            self.budget.deposit()
        return RetryCall(
            self,
            method,
            url,
            headers,
            policy=policy or self.policy,
            replayable=replayable,
            started=started,
            endpoint=endpoint,
        )

    def endpoint(self, method: str, url: object, url_key: Hashable | None = None) -> str:
        """Return the endpoint name of ``method`` on ``url``, remembered for the next call.

        ``url`` is the URL or an object whose ``str()`` is, made only on the first call;
        ``url_key`` stands for it in the memory when given (an adapter's cheaper key).
        At most `ENDPOINTS_REMEMBERED` are kept, the oldest dropped first (URLs with ids
        in them would otherwise fill it).
        """
        key = (method, url if url_key is None else url_key)
        name = self._endpoints.get(key)
        if name is None:
            name = remember(
                self._endpoints, key, self.endpoint_func(method, str(url)), ENDPOINTS_REMEMBERED
            )
        return name

    def emit(self, event: Event) -> None:
        """Log an event and pass it to every hook; a hook that raises is logged and skipped."""
        level = event_level(event)
        if logger.isEnabledFor(level):
            log_event(event, level)
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # noqa: BLE001, PERF203 - a hook must never break the request
                log_hook_failure(hook, event)

    def observed(self, level: int) -> bool:
        """Return True if an event at ``level`` would reach a hook or a log handler."""
        return bool(self.hooks) or logger.isEnabledFor(level)


class Rejection(NamedTuple):
    """Why an attempt may not go out: the call ends before it is sent.

    ``error`` is the `CircuitOpenError` of an open circuit or the
    `RateLimitExceededError` of the rate limiter or the throttle (None when the deadline
    passed), ``history`` the call's history up to here.
    """

    error: CircuitOpenError | RateLimitExceededError | None
    history: RetryHistory


class Attempt:
    """One attempt: where it goes, its circuit ticket, and its outcome so far.

    ``target`` is the origin it is sent to when that is not the request's own (a
    fallback), else None; ``url`` is the URL it is sent to.
    """

    __slots__ = (
        "cause",
        "failed",
        "hedge",
        "key",
        "number",
        "origin",
        "paced_since",
        "settled",
        "started",
        "target",
        "ticket",
        "trace",
        "url",
        "wait_before",
    )

    def __init__(
        self,
        number: int,
        *,
        url: str,
        key: str,
        origin: str | None,
        target: str | None,
        started: float,
        wait_before: float,
        hedge: bool,
    ) -> None:
        self.number = number
        self.url = url
        self.key = key
        self.origin = origin
        self.target = target
        self.started = started
        self.wait_before = wait_before
        self.hedge = hedge
        self.ticket: Ticket | None = None
        # When the rate limiter first held this attempt (None: not held).
        self.paced_since: float | None = None
        self.settled = True
        self.failed = False
        self.cause: int | FailureKind | None = None
        self.trace: AttemptTrace | None = None

    def sending(self) -> AbstractContextManager[object]:
        """Return the context to send this attempt in: its span current, when traced."""
        return self.trace.sending() if self.trace is not None else nullcontext()


class RetryCall:
    """The driver of one call: feed it each attempt's outcome, do what it decides.

    Per attempt: `before_attempt` (None, or a `Rejection`), then `judge_response` or
    `judge_failure` (the `Decision`), then `record` with what was read of the body;
    `finish` or `abandon` end the call. ``current`` is the attempt in flight: its
    ``target`` is a fallback origin to send to, or None. ``time_left`` is the time to
    the deadline at the start of the attempt (None without a deadline): the adapter caps
    its timeouts with it. ``pace`` is how long the rate limiter asks the attempt to wait
    before it leaves: the loop waits, then asks again with `pace_again`.
    """

    __slots__ = (
        "_endpoint",
        "_fingerprint",
        "_headers",
        "_history",
        "_issued",
        "_last_decision",
        "_last_error_code",
        "_last_request_id",
        "_origins",
        "_route",
        "_trace",
        "_wait_before",
        "attempt",
        "current",
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
        started: float | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.runner = runner
        self.method = method.upper()
        self.url = url
        self.policy = policy
        self.replayable = replayable
        self._headers = headers
        self._endpoint = endpoint
        self._fingerprint: str | bool | None = False
        # The call's origins (primary first) when fallbacks are configured, else None.
        self._origins = origins_for(url, runner.fallbacks) if runner.fallbacks else None
        if self._origins is not None and len(self._origins) == 1:
            self._origins = None
        self._route = 0
        self._trace: CallTrace | None = None
        # A ticket the short first attempt already took for this call's first attempt.
        self._issued: Ticket | None = None
        # The key of the call's own URL, when the adapter knew it (None: ask key_func).
        self.key: str | None = None
        self.attempt = 0
        self.current: Attempt | None = None
        self.started = runner.clock() if started is None else started
        self.time_left: float | None = None
        self.pace = 0.0
        self._wait_before = 0.0
        self._history: list[AttemptRecord] = []
        self._last_decision: Decision | None = None
        self._last_request_id: str | None = None
        self._last_error_code: str | None = None
        self.idempotency_key: str | None = None
        # A key changes nothing for a request already safe to repeat: skip the header scan.
        self.has_idempotency_key = not is_safe_to_repeat(
            policy, self.method, has_idempotency_key=False
        ) and is_idempotency_key(get_header(headers, policy.idempotency_header.lower()))
        if needs_idempotency_key(policy, self.method, has_idempotency_key=self.has_idempotency_key):
            # The adapter sends this key on every attempt, so the server can deduplicate.
            self.idempotency_key = str(uuid.uuid4())
            self.has_idempotency_key = True

    @property
    def endpoint(self) -> str:
        """The endpoint template of this call, computed once and only when needed."""
        if self._endpoint is None:
            self._endpoint = self.runner.endpoint(self.method, self.url)
        return self._endpoint

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the call's credential, computed once and only when needed."""
        if self._fingerprint is False:
            self._fingerprint = key_fingerprint(self._headers)
        return self._fingerprint  # type: ignore[return-value]

    @property
    def safe(self) -> bool:
        """True if the request may be sent twice without being applied twice."""
        return is_safe_to_repeat(
            self.policy, self.method, has_idempotency_key=self.has_idempotency_key
        )

    # -- before an attempt -------------------------------------------------------------

    def before_attempt(self, *, hedge: bool = False) -> Rejection | None:
        """Start the next attempt (``current``), or return why it may not go out.

        In order: the deadline (no attempt starts at or after it), the origin and its
        circuit, the adaptive throttle, then the rate limiter, which may ask for a wait
        (``pace``). A hedge (``hedge=True``) goes to the next origin when there is one.
        """
        runner = self.runner
        now = runner.clock()
        if self._past_deadline(now) and self.attempt:
            return Rejection(None, self.finish(Reason.DEADLINE))
        attempt = self._next_attempt(now, hedge=hedge)
        self.current = attempt
        breaker = runner.breaker
        if breaker is not None:
            ticket = self._issued
            if ticket is None:
                admitted = breaker.admit(attempt.key, error=runner.circuit_error)
                if isinstance(admitted, CircuitOpenError):
                    return self.refuse(admitted)
                ticket = admitted
            self._issued = None
            attempt.ticket = ticket
            attempt.settled = False
            if ticket.moved:
                self._emit_change(attempt.key, _OPEN, BreakerState.HALF_OPEN)
        throttle = runner.throttle
        if throttle is not None and not throttle.admit(attempt.key):
            return self._refused(
                RateLimitExceededError.cooldown(
                    None, f"{attempt.key} is refusing most requests; this one was not sent"
                ),
                Reason.THROTTLED,
            )
        if runner.limiter is not None:
            rejection = self.pace_again()
            if rejection is not None:
                return rejection
        self.attempt += 1
        attempt.number = self.attempt
        self._trace_attempt(attempt)
        if attempt.target is not None and runner.observed(logging.INFO):
            runner.emit(
                FallbackUsed(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=attempt.number,
                    origin=attempt.target,
                    primary=self._origins[0] if self._origins else attempt.target,
                    key_fingerprint=self.fingerprint,
                )
            )
        return None

    def refuse(self, error: CircuitOpenError) -> Rejection:
        """End the call an open circuit refused (``error``, from `CircuitBreaker.allow`)."""
        runner = self.runner
        # The fail-fast path: the event only for a hook (CallFinished tells a log the same).
        if runner.hooks:
            runner.emit(
                CallRejected(
                    method=self.method,
                    endpoint=self.endpoint,
                    key=error.key,
                    retry_after=error.retry_after,
                    key_fingerprint=self.fingerprint,
                )
            )
        history = self.finish(Reason.CIRCUIT_OPEN, circuit=error.key, retry_after=error.retry_after)
        return Rejection(error, history)

    def take_ticket(self, ticket: Ticket) -> None:
        """Make ``ticket``, already issued by the circuit, the first attempt's ticket.

        Giving a probe permit back to ask for it again could lose it to another process
        of the fleet: the short first attempt hands it over instead.
        """
        self._issued = ticket

    def adopt_first(self, key: str, ticket: Ticket, started: float) -> None:
        """Take over a first attempt already sent by the short path, with its ticket."""
        attempt = Attempt(
            1,
            url=self.url,
            key=key,
            origin=None,
            target=None,
            started=started,
            wait_before=0.0,
            hedge=False,
        )
        attempt.ticket = ticket
        attempt.settled = self.runner.breaker is None
        self.current = attempt
        self.attempt = 1
        deadline = self.policy.deadline
        if deadline is not None:
            self.time_left = deadline - (self.runner.clock() - self.started)

    def _next_attempt(self, now: float, *, hedge: bool) -> Attempt:
        """Build the next attempt, routed to its origin (see retrykit._core._routing)."""
        runner = self.runner
        origins = self._origins
        if origins is None:
            key = self.key
            if key is None:
                key = runner.key_func(self.url) if runner.keyed else ""
            return Attempt(
                0,
                url=self.url,
                key=key,
                origin=None,
                target=None,
                started=now,
                wait_before=self._wait_before,
                hedge=hedge,
            )
        index = self._route
        if hedge:
            index = next_index(index, len(origins), move=True)
        index = self._first_closed(origins, index)
        if not hedge:
            self._route = index
        url = self.url if index == 0 else with_origin(self.url, origins[index])
        return Attempt(
            0,
            url=url,
            key=runner.key_func(url),
            origin=origins[index],
            target=origins[index] if index else None,
            started=now,
            wait_before=self._wait_before,
            hedge=hedge,
        )

    def _first_closed(self, origins: tuple[str, ...], index: int) -> int:
        """Return ``index``, or the next origin whose circuit is not open (rule 3)."""
        breaker = self.runner.breaker
        if breaker is None:
            return index
        for step in range(len(origins)):
            candidate = (index + step) % len(origins)
            url = self.url if candidate == 0 else with_origin(self.url, origins[candidate])
            if breaker.state(self.runner.key_func(url)) is not _OPEN:
                return candidate
        return index

    def pace_again(self) -> Rejection | None:
        """Ask the rate limiter again after waiting ``pace`` (None: the attempt may go)."""
        runner = self.runner
        limiter, attempt = runner.limiter, self.current
        if limiter is None or attempt is None:
            self.pace = 0.0
            return None
        now = runner.clock()
        if self._past_deadline(now):
            return self._refused(None, Reason.DEADLINE)
        max_wait = self.policy.max_retry_after
        if self.time_left is not None:
            max_wait = min(max_wait, self.time_left)
        try:
            self.pace = limiter.acquire(attempt.key, self._fingerprint_of, max_wait=max_wait)
        except RateLimitExceededError as exc:
            return self._refused(exc, Reason.RATE_LIMITED)
        if self.pace > 0.0:
            if attempt.paced_since is None:
                attempt.paced_since = now
        elif attempt.paced_since is not None and runner.observed(logging.DEBUG):
            runner.emit(
                RateLimitWaited(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=attempt.number or self.attempt + 1,
                    wait=now - attempt.paced_since,
                    key_fingerprint=self.fingerprint,
                )
            )
        return None

    def hedge_delay(self) -> float | None:
        """Return how long to wait for the first attempt before hedging, or None."""
        hedge_after = self.policy.hedge_after
        if hedge_after is None or not self.safe or not self.replayable:
            return None
        p95 = self.runner.latencies.p95(self.endpoint) if hedge_after == "p95" else None
        return hedge_delay(hedge_after, p95)

    def start_hedge(self) -> Attempt | None:
        """Start a hedged attempt beside the one in flight, or return None not to.

        A hedge goes only when the deadline, its origin's circuit, the throttle and the
        rate limiter let it go at once, and the retry budget pays for it; a refusal
        ends nothing, the first attempt goes on alone.
        """
        runner = self.runner
        now = runner.clock()
        if self._past_deadline(now) or self.attempt >= self.policy.max_attempts:
            return None
        attempt = self._next_attempt(now, hedge=True)
        attempt.wait_before = 0.0
        breaker = runner.breaker
        if breaker is not None:
            admitted = breaker.admit(attempt.key)
            if isinstance(admitted, CircuitOpenError):
                return None
            attempt.ticket = admitted
            attempt.settled = False
        refused = runner.throttle is not None and not runner.throttle.admit(attempt.key)
        if not refused and runner.limiter is not None:
            try:
                refused = (
                    runner.limiter.acquire(attempt.key, self._fingerprint_of, max_wait=0.0) > 0
                )
            except RateLimitExceededError:
                refused = True
        if refused or (runner.budget is not None and not runner.budget.try_withdraw()):
            self.release(attempt)
            return None
        self.attempt += 1
        attempt.number = self.attempt
        self._trace_attempt(attempt)
        return attempt

    def _trace_attempt(self, attempt: Attempt) -> None:
        """Open the attempt's span (and the call's, for the first), when a tracer is set."""
        tracer = self.runner.tracer
        if tracer is None:
            return
        if self._trace is None:
            self._trace = tracer.call(self.method, url_without_secrets(self.url), self.endpoint)
        attempt.trace = self._trace.attempt(
            attempt.number,
            wait_before=attempt.wait_before,
            hedged=attempt.hedge,
            origin=attempt.target,
        )

    def _past_deadline(self, now: float) -> bool:
        """Set ``time_left``; return True once no attempt may start any more."""
        deadline = self.policy.deadline
        if deadline is None:
            return False
        self.time_left = deadline - (now - self.started)
        return self.time_left <= 0

    def _refused(self, error: RateLimitExceededError | None, reason: Reason) -> Rejection:
        """End the call before an attempt that holds a ticket: give the ticket back."""
        attempt = self.current
        if attempt is not None:
            self.release(attempt)
        return Rejection(error, self.finish(reason))

    def _fingerprint_of(self) -> str | None:
        return self.fingerprint

    # -- after an attempt ---------------------------------------------------------------

    def judge_response(
        self, status: int, headers: Mapping[str, str], attempt: Attempt | None = None
    ) -> Decision:
        """Return what to do after a response with ``status`` and ``headers``."""
        runner = self.runner
        attempt = attempt or self.current
        assert attempt is not None  # noqa: S101 - before_attempt made it
        if runner.limiter is not None:
            runner.limiter.observe(attempt.key, self._fingerprint_of, status, headers)
        if runner.throttle is not None:
            runner.throttle.record(attempt.key, status)
        decision = self._decide(status=status, headers=headers)
        failed = counts_as_failure(self.policy, status=status)
        return self._limit(attempt, decision, failed, status, moves_on(status, None))

    def judge_failure(self, failure: FailureKind, attempt: Attempt | None = None) -> Decision:
        """Return what to do after an attempt that produced no response."""
        runner = self.runner
        attempt = attempt or self.current
        assert attempt is not None  # noqa: S101 - before_attempt made it
        if runner.throttle is not None:
            runner.throttle.record(attempt.key, None)
        if runner.limiter is not None:
            runner.limiter.failed(attempt.key, self._fingerprint_of)
        decision = self._decide(failure=failure)
        return self._limit(attempt, decision, True, failure, moves_on(None, failure))

    def failure_of(self, exc: BaseException, mapped: FailureKind | None) -> FailureKind | None:
        """Return the exception's `FailureKind`: the adapter's, or the policy's filter's.

        An exception the adapter's table does not map is retried only when the policy's
        ``retry_on_exception`` asks for it, as an unknown outcome (the safety rules apply).
        """
        if mapped is not None:
            return mapped
        if retries_exception(self.policy, exc, by_default=False):
            return FailureKind.UNKNOWN_OUTCOME
        return None

    def recheck(
        self,
        decision: Decision,
        *,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
        attempt: Attempt,
    ) -> Decision:
        """Ask the policy's ``retry_on_response`` about a response it accepted.

        True turns it into a retry, as a retryable status (``"response_rejected"``); a
        predicate that raises is logged and counts as False.
        """
        predicate = self.policy.retry_on_response
        if predicate is None or decision.reason not in _ACCEPTED:
            return decision
        try:
            refused = bool(predicate(status, headers, body))
        except Exception:  # noqa: BLE001 - a broken predicate must not break the call
            logger.exception(
                "retrykit retry_on_response %r raised; the response is kept", predicate
            )
            return decision
        if not refused:
            return decision
        rejected = self._decide(status=status, headers=headers, rejected=True)
        return self._limit(
            attempt, rejected, counts_as_failure(self.policy, status=status), status, False
        )

    def _decide(
        self,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        failure: FailureKind | None = None,
        rejected: bool = False,
    ) -> Decision:
        """Ask the core what to do after this outcome, with the call's facts and clocks."""
        runner = self.runner
        return decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            status=status,
            headers=headers,
            failure=failure,
            elapsed=runner.clock() - self.started,
            now=runner.wall_clock(),
            rand=runner.rand(),
            previous_delay=self._wait_before or None,
            rejected=rejected,
        )

    def accepts(self, *, status: int | None = None, failure: FailureKind | None = None) -> bool:
        """Return True if the policy would end the call on this outcome (for a hedged race)."""
        return not decide(
            self.policy,
            attempt=self.attempt,
            method=self.method,
            has_idempotency_key=self.has_idempotency_key,
            status=status,
            failure=failure,
        ).retry

    def needs_reconcile(
        self, decision: Decision, *, status: int | None = None, failure: FailureKind | None = None
    ) -> bool:
        """Return True if a ``reconcile`` function should be asked about this outcome."""
        return self.runner.reconcile is not None and may_reconcile(
            decision.reason, status=status, failure=failure
        )

    def reconciled(
        self,
        answer: bool | None,
        decision: Decision,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        failure: FailureKind | None = None,
    ) -> Decision:
        """Return the decision after ``reconcile`` answered (None: it could not tell).

        True: the write took effect, the call ends (``"reconciled_applied"``). False: it
        certainly did not, so one more attempt is safe and the usual rules apply.
        """
        if answer is True:
            return Decision(retry=False, delay=0.0, reason=Reason.RECONCILED_APPLIED)
        if answer is not False:
            return decision
        self.has_idempotency_key = True  # the server has certainly not applied it
        if failure is not None:
            return self.judge_failure(failure)
        assert status is not None  # noqa: S101 - a response was judged
        return self.judge_response(status, headers or {})

    def drain_until(self, decision: Decision) -> float:
        """Return the clock time by which reading a discarded response must end.

        See `retrykit._core._bodies.drain_end`: soon, and leaving the retry's wait inside
        the deadline.
        """
        deadline = self.policy.deadline
        deadline_end = None if deadline is None else self.started + deadline
        return drain_end(self.runner.clock(), deadline_end, decision.delay)

    def read_until(self) -> float | None:
        """Return the clock time by which the final body must be read (None: no deadline)."""
        return read_end(self.started, self.policy.deadline)

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
        attempt: Attempt | None = None,
    ) -> None:
        """Record the attempt's outcome and the decision taken; emit its events.

        ``body`` is what was read of the response's body (a drained or a final body),
        parsed for an error code and a request id when someone observes them.
        """
        runner = self.runner
        attempt = attempt or self.current
        assert attempt is not None  # noqa: S101 - before_attempt made it
        if not decision.retry:
            self._settle(attempt, final=True)
        if attempt.trace is not None:
            attempt.trace.end(
                status=status,
                failure=failure,
                reason=decision.reason,
                delay=decision.delay if decision.retry else None,
            )
        now = runner.clock()
        duration = now - attempt.started
        if self.policy.hedge_after == "p95":
            runner.latencies.add(self.endpoint, duration)
        self._history.append(
            AttemptRecord(
                attempt.number,
                status,
                failure,
                attempt.wait_before,
                duration,
                decision.reason,
                decision.server_wait,
                attempt.origin,
                attempt.hedge,
            )
        )
        self._last_decision = decision
        rid = error_code = None
        failed_status = status is not None and decision.reason != Reason.SUCCESS
        # A failed call's line (WARNING) names its last request id and error code.
        if runner.observed(logging.WARNING if failed_status else logging.DEBUG):
            if status is not None and headers is not None:
                rid = request_id(headers)
                if failed_status and body is not None:
                    info = parse_error(status, headers, body, policy=self.policy)
                    rid, error_code = info.request_id or rid, info.code
            # A final answer handed over unread says less than the drained ones before
            # it: keep what they said.
            if rid is not None or error_code is not None:
                self._last_request_id, self._last_error_code = rid, error_code
            if runner.observed(logging.DEBUG):
                ignored: tuple[str, ...] = ()
                if failed_status and headers is not None:
                    ignored = unreadable_wait_headers(headers, now=runner.wall_clock())
                runner.emit(
                    AttemptFinished(
                        method=self.method,
                        endpoint=self.endpoint,
                        attempt=attempt.number,
                        status=status,
                        failure=failure,
                        duration=duration,
                        request_id=rid,
                        key_fingerprint=self.fingerprint,
                        error_code=error_code,
                        origin=attempt.target,
                        hedged=attempt.hedge,
                        ignored_headers=ignored,
                    )
                )
        if decision.retry:
            self._wait_before = decision.delay
            if runner.observed(logging.INFO):
                runner.emit(
                    RetryScheduled(
                        method=self.method,
                        endpoint=self.endpoint,
                        attempt=attempt.number,
                        max_attempts=self.policy.max_attempts,
                        delay=decision.delay,
                        reason=decision.reason,
                        status=status,
                        failure=failure,
                        request_id=rid,
                        key_fingerprint=self.fingerprint,
                        server_wait=decision.server_wait,
                    )
                )

    def record_unused(
        self, attempt: Attempt, *, status: int | None = None, failure: FailureKind | None = None
    ) -> None:
        """Record an attempt of a hedged race whose answer was not used (or never came)."""
        self.release(attempt)
        if attempt.trace is not None:
            attempt.trace.end(status=status, failure=failure, reason=Reason.HEDGE_LOST, delay=None)
        self._history.append(
            AttemptRecord(
                attempt.number,
                status,
                failure,
                attempt.wait_before,
                self.runner.clock() - attempt.started,
                Reason.HEDGE_LOST,
                None,
                attempt.origin,
                True,
            )
        )

    def release(self, attempt: Attempt) -> None:
        """Give the attempt's probe permit back without an outcome (once)."""
        breaker, ticket = self.runner.breaker, attempt.ticket
        if breaker is not None and ticket is not None and not attempt.settled:
            attempt.settled = True
            breaker.release(attempt.key, ticket)

    def abandon(self) -> RetryHistory:
        """End the call after an exception the adapter does not map; return its history.

        A probe permit the attempt holds is given back without an outcome, and the
        history's reason is ``"unexpected_error"``.
        """
        if self.current is not None:
            self.release(self.current)
        return self.finish(Reason.UNEXPECTED_ERROR)

    def finish(
        self,
        reason: Reason | None = None,
        *,
        circuit: str | None = None,
        retry_after: float | None = None,
    ) -> RetryHistory:
        """End the call, emit its `CallFinished` event and return its history.

        ``circuit`` and ``retry_after`` name the open circuit that refused the call, and
        when it lets calls through again.
        """
        history_list = self._history
        last = history_list[-1] if history_list else None
        if reason is None:
            reason = self._last_decision.reason if self._last_decision else Reason.SUCCESS
        total_time = self.runner.clock() - self.started
        history = RetryHistory(attempts=tuple(history_list), reason=reason, total_time=total_time)
        succeeded = last is not None and last.reason == Reason.SUCCESS
        attempts = len(history_list)
        tracer = self.runner.tracer
        if self._trace is None and tracer is not None:
            # Refused before its first attempt: a call span with no attempt in it.
            self._trace = tracer.call(self.method, url_without_secrets(self.url), self.endpoint)
        if self._trace is not None:
            self._trace.end(
                reason=reason,
                status=last.status if last else None,
                failure=last.failure if last else None,
            )
        if self.runner.observed(call_level(succeeded=succeeded, attempts=attempts, reason=reason)):
            origins = self._origins
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
                    origin=last.origin if last and origins else None,
                    fallback=bool(last and origins and last.origin != origins[0]),
                    circuit=circuit,
                    retry_after=retry_after,
                )
            )
        return history

    # -- the rules around decide ----------------------------------------------------------

    def _limit(
        self,
        attempt: Attempt,
        decision: Decision,
        failed: bool,
        cause: int | FailureKind,
        move: bool,
    ) -> Decision:
        """Apply the breaker (probes and per-attempt counting now), routing and `limit`."""
        attempt.failed, attempt.cause = failed, cause
        if not decision.retry:
            return decision
        self._settle(attempt, final=False)
        runner = self.runner
        breaker, budget = runner.breaker, runner.budget
        circuit_open = False
        if self._origins is not None:
            if move and not attempt.hedge:
                self._route = next_index(self._route, len(self._origins), move=True)
            if breaker is not None:
                index = self._first_closed(self._origins, self._route)
                url = self.url if index == 0 else with_origin(self.url, self._origins[index])
                circuit_open = breaker.state(runner.key_func(url)) is _OPEN
        elif breaker is not None:
            circuit_open = breaker.state(attempt.key) is _OPEN
        decision = limit(
            decision,
            replayable=self.replayable,
            circuit_open=circuit_open,
            take_retry=budget.try_withdraw if budget is not None else None,
        )
        # Hooks only: the call's CallFinished line tells a log the same.
        if decision.reason == Reason.BUDGET_EXHAUSTED and runner.hooks:
            runner.emit(
                BudgetExhausted(
                    method=self.method,
                    endpoint=self.endpoint,
                    attempt=attempt.number,
                    key_fingerprint=self.fingerprint,
                )
            )
        return decision

    def _settle(self, attempt: Attempt, *, final: bool) -> None:
        """Give the attempt's outcome to the breaker when it counts (see `CircuitBreaker`).

        A probe's outcome and, with ``counts="attempts"``, every attempt's count at
        once; otherwise only the call's final outcome counts.
        """
        breaker, ticket = self.runner.breaker, attempt.ticket
        if breaker is None or ticket is None or attempt.settled:
            return
        if not (final or ticket.is_probe or breaker.per_attempt):
            return
        attempt.settled = True
        change: StateChange | None
        if attempt.failed:
            change = breaker.record_failure(attempt.key, ticket, attempt.cause)
        else:
            change = breaker.record_success(attempt.key, ticket)
        if change is not None:
            self._emit_change(change.key, change.old, change.new)

    def _emit_change(self, key: str, old: BreakerState, new: BreakerState) -> None:
        if self.runner.observed(logging.WARNING if new is _OPEN else logging.INFO):
            self.runner.emit(CircuitStateChanged(key=key, old=old, new=new))
