"""decide: what is retried, what never is, how long to wait, and when to stop."""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from retrykit import (
    Backoff,
    Decision,
    FailureKind,
    Reason,
    RetryPolicy,
    counts_as_failure,
    decide,
    is_safe_to_repeat,
    needs_idempotency_key,
)
from retrykit._core._decide import proves_not_processed, retries_status
from tests.strategies import (
    error_statuses,
    failures,
    header_mappings,
    methods,
    nows,
    policies,
    rands,
    response_headers,
    statuses,
    unsafe_methods,
)

# Waits 1, 2, 4, ... with no jitter, so every expected delay is exact.
POLICY = RetryPolicy(backoff=Backoff(base=1.0, multiplier=2.0, cap=30.0, jitter="none"))
RFC_EXAMPLE = 784_111_777.0  # Sun, 06 Nov 1994 08:49:37 GMT
NOW = 1_714_521_600.0  # 2024-05-01T00:00:00Z
CONNECT = FailureKind.CONNECT
UNKNOWN = FailureKind.UNKNOWN_OUTCOME
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", "get", "put")

_TABLE: list[tuple[str, bool, int | None, FailureKind | None, bool, str]] = [
    # A safe request is retried on every retry status and on both failure kinds.
    *[
        (m, False, s, None, True, Reason.RETRYABLE_STATUS)
        for m in SAFE_METHODS
        for s in RETRY_STATUSES
    ],
    *[(m, False, None, CONNECT, True, Reason.CONNECT_FAILED) for m in SAFE_METHODS],
    *[(m, False, None, UNKNOWN, True, Reason.UNKNOWN_OUTCOME) for m in SAFE_METHODS],
    # An unsafe request without a key is retried only where the server did not act.
    *[(m, False, None, CONNECT, True, Reason.CONNECT_FAILED) for m in ("POST", "PATCH", "post")],
    *[
        (m, False, s, None, True, Reason.RETRYABLE_STATUS)
        for m in ("POST", "PATCH")
        for s in (408, 429)
    ],
    *[(m, False, None, UNKNOWN, False, Reason.UNSAFE_METHOD) for m in ("POST", "PATCH", "patch")],
    *[
        (m, False, s, None, False, Reason.UNSAFE_METHOD)
        for m in ("POST", "PATCH")
        for s in (500, 502, 503, 504)
    ],
    # An idempotency key makes any method safe to repeat.
    *[
        (m, True, s, None, True, Reason.RETRYABLE_STATUS)
        for m in ("POST", "PATCH")
        for s in RETRY_STATUSES
    ],
    *[(m, True, None, UNKNOWN, True, Reason.UNKNOWN_OUTCOME) for m in ("POST", "PATCH")],
    ("POST", True, None, CONNECT, True, Reason.CONNECT_FAILED),
    # Other error statuses are final, whatever the method.
    *[
        (m, k, s, None, False, Reason.NOT_RETRYABLE_STATUS)
        for m, k in (("GET", False), ("POST", False), ("POST", True))
        for s in (400, 401, 403, 404, 409, 410, 413, 418, 422, 423, 451, 501, 505, 511)
    ],
    # Anything below 400 is an answer.
    *[
        (m, k, s, None, False, Reason.SUCCESS)
        for m, k in (("GET", False), ("POST", False), ("PATCH", True))
        for s in (100, 200, 201, 204, 299, 301, 302, 304, 307, 308)
    ],
]


@pytest.mark.parametrize(("method", "has_key", "status", "failure", "retry", "reason"), _TABLE)
def test_what_is_retried(
    *,
    method: str,
    has_key: bool,
    status: int | None,
    failure: FailureKind | None,
    retry: bool,
    reason: str,
) -> None:
    """Each (method, idempotency key, outcome) is retried or not, for the documented reason."""
    decision = decide(
        POLICY,
        attempt=1,
        method=method,
        has_idempotency_key=has_key,
        status=status,
        failure=failure,
    )
    assert (decision.retry, decision.reason) == (retry, reason)
    assert decision.delay == (1.0 if retry else 0.0)


def test_decide_needs_a_status_or_a_failure() -> None:
    """Calling decide with neither a status nor a failure is a caller bug: ValueError."""
    with pytest.raises(ValueError, match="status or a failure"):
        decide(POLICY, attempt=1, method="GET")


def test_success_needs_no_headers_or_clock() -> None:
    """A success gives a stop with no wait and no server wait."""
    assert decide(POLICY, attempt=1, method="GET", status=200) == Decision(
        retry=False, delay=0.0, reason=Reason.SUCCESS, server_wait=None
    )


@pytest.mark.parametrize(("attempt", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0)])
def test_delay_follows_the_backoff_for_each_attempt(attempt: int, delay: float) -> None:
    """The wait after attempt n is the backoff's delay for retry n."""
    decision = decide(POLICY, attempt=attempt, method="GET", status=503)
    assert decision == Decision(retry=True, delay=delay, reason=Reason.RETRYABLE_STATUS)


def test_rand_drives_the_jitter() -> None:
    """The caller's rand is the jitter draw: full jitter with rand=0.5 waits half the raw delay."""
    policy = RetryPolicy(backoff=Backoff(jitter="full"))
    assert decide(policy, attempt=3, method="GET", status=503, rand=0.5).delay == 2.0


def test_previous_delay_drives_decorrelated_jitter() -> None:
    """previous_delay feeds decorrelated jitter: base 1, previous 4, rand 0.5 waits 6.5."""
    policy = RetryPolicy(backoff=Backoff(jitter="decorrelated"))
    decision = decide(policy, attempt=2, method="GET", status=503, rand=0.5, previous_delay=4.0)
    assert decision.delay == 6.5


@pytest.mark.parametrize(
    ("failure", "status"), [(None, 503), (None, 429), (CONNECT, None), (UNKNOWN, None)]
)
def test_attempts_exhausted_at_max_attempts(
    failure: FailureKind | None, status: int | None
) -> None:
    """After max_attempts attempts the call stops with 'attempts_exhausted'."""
    policy = attrs.evolve(POLICY, max_attempts=3)
    assert decide(policy, attempt=2, method="GET", status=status, failure=failure).retry
    for attempt in (3, 4):
        assert decide(
            policy, attempt=attempt, method="GET", status=status, failure=failure
        ) == Decision(retry=False, delay=0.0, reason=Reason.ATTEMPTS_EXHAUSTED)


def test_one_attempt_means_no_retry() -> None:
    """max_attempts=1 stops after the first attempt."""
    policy = attrs.evolve(POLICY, max_attempts=1)
    decision = decide(policy, attempt=1, method="GET", failure=CONNECT)
    assert decision.reason == Reason.ATTEMPTS_EXHAUSTED


def test_unsafe_reason_wins_over_exhausted() -> None:
    """On the last attempt an unsafe POST still reports why it was not retryable."""
    decision = decide(POLICY, attempt=4, method="POST", status=503)
    assert decision.reason == Reason.UNSAFE_METHOD


@pytest.mark.parametrize(
    ("headers", "now", "server_wait"),
    [
        ({"Retry-After": "30"}, 0.0, 30.0),
        ({"retry-after": "2.5"}, 0.0, 2.5),
        ({"RETRY-AFTER": " 45 "}, 0.0, 45.0),
        ({"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}, RFC_EXAMPLE - 20, 20.0),
        ({"Retry-After": "Sunday, 06-Nov-94 08:49:37 GMT"}, RFC_EXAMPLE - 20, 20.0),
        ({"Retry-After": "Sun Nov  6 08:49:37 1994"}, RFC_EXAMPLE - 20, 20.0),
    ],
)
def test_retry_after_raises_the_delay(
    headers: dict[str, str], now: float, server_wait: float
) -> None:
    """Retry-After, as seconds or a date, makes the wait at least what the server asked."""
    decision = decide(POLICY, attempt=1, method="GET", status=503, headers=headers, now=now)
    assert decision == Decision(
        retry=True, delay=server_wait, reason=Reason.RETRYABLE_STATUS, server_wait=server_wait
    )


def test_retry_after_never_shortens_the_backoff() -> None:
    """A Retry-After shorter than the backoff leaves the backoff's longer wait."""
    policy = attrs.evolve(POLICY, backoff=Backoff(base=8.0, jitter="none"))
    decision = decide(policy, attempt=1, method="GET", status=503, headers={"Retry-After": "2"})
    assert (decision.delay, decision.server_wait) == (8.0, 2.0)


def test_retry_after_on_429_for_post() -> None:
    """A POST refused with 429 waits what Retry-After asks, then retries."""
    decision = decide(POLICY, attempt=1, method="POST", status=429, headers={"Retry-After": "7"})
    assert (decision.retry, decision.delay) == (True, 7.0)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("headers", "now"),
    [
        ({"Retry-After": "61"}, 0.0),
        ({"Retry-After": "3600"}, 0.0),
        ({"Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"}, RFC_EXAMPLE - 120),
    ],
)
def test_retry_after_too_long_stops(status: int, headers: dict[str, str], now: float) -> None:
    """A Retry-After above max_retry_after stops at once, with no wait."""
    decision = decide(POLICY, attempt=1, method="GET", status=status, headers=headers, now=now)
    assert decision.retry is False
    assert decision.reason == Reason.RETRY_AFTER_TOO_LONG
    assert decision.delay == 0.0
    assert decision.server_wait is not None
    assert decision.server_wait > POLICY.max_retry_after


def test_retry_after_equal_to_max_is_honoured() -> None:
    """A Retry-After exactly at max_retry_after is still waited for."""
    policy = attrs.evolve(POLICY, deadline=None)
    decision = decide(policy, attempt=1, method="GET", status=503, headers={"Retry-After": "60"})
    assert (decision.retry, decision.delay) == (True, 60.0)


@pytest.mark.parametrize(
    ("reset", "server_wait"),
    [("20", 20.0), (str(int(NOW) + 15), 15.0), (str(int(NOW + 15) * 1000), 15.0)],
)
def test_429_uses_rate_limit_reset(reset: str, server_wait: float) -> None:
    """A 429 without Retry-After waits until X-RateLimit-Reset (seconds or a timestamp)."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    decision = decide(POLICY, attempt=1, method="GET", status=429, headers=headers, now=NOW)
    assert decision == Decision(
        retry=True, delay=server_wait, reason=Reason.RETRYABLE_STATUS, server_wait=server_wait
    )


def test_429_uses_ietf_ratelimit_reset() -> None:
    """A 429 with the IETF RateLimit field waits its t= reset."""
    headers = {"RateLimit": '"default";r=0;t=12', "RateLimit-Policy": '"default";q=100;w=60'}
    decision = decide(POLICY, attempt=1, method="GET", status=429, headers=headers)
    assert (decision.delay, decision.server_wait) == (12.0, 12.0)


def test_retry_after_preferred_over_rate_limit_reset() -> None:
    """When a 429 carries both, Retry-After is the server's answer, not the reset."""
    headers = {"Retry-After": "5", "X-RateLimit-Reset": "20"}
    decision = decide(POLICY, attempt=1, method="GET", status=429, headers=headers)
    assert (decision.delay, decision.server_wait) == (5.0, 5.0)


def test_rate_limit_reset_ignored_on_503() -> None:
    """A rate-limit reset only sets the wait on a 429, not on other statuses."""
    headers = {"X-RateLimit-Reset": "20"}
    decision = decide(POLICY, attempt=1, method="GET", status=503, headers=headers)
    assert (decision.delay, decision.server_wait) == (1.0, None)


def test_rate_limit_reset_too_long_stops() -> None:
    """A 429 whose reset is further away than max_retry_after stops at once."""
    headers = {"X-RateLimit-Reset": "90"}
    decision = decide(POLICY, attempt=1, method="GET", status=429, headers=headers)
    assert (decision.retry, decision.reason) == (False, Reason.RETRY_AFTER_TOO_LONG)


@pytest.mark.parametrize("headers", [{"Retry-After": "30"}, {"X-RateLimit-Reset": "30"}])
def test_respect_retry_after_false_ignores_the_server(headers: dict[str, str]) -> None:
    """With respect_retry_after=False the wait is the backoff alone, however long the ask."""
    policy = attrs.evolve(POLICY, respect_retry_after=False, max_retry_after=0.0)
    decision = decide(policy, attempt=1, method="GET", status=429, headers=headers)
    assert decision == Decision(retry=True, delay=1.0, reason=Reason.RETRYABLE_STATUS)


@pytest.mark.parametrize("value", ["soon", "-5", "1e3", "Sun, 31 Feb 1994 08:49:37 GMT", ""])
def test_malformed_retry_after_falls_back_to_backoff(value: str) -> None:
    """A Retry-After that cannot be read is ignored: the backoff sets the wait."""
    headers = {"Retry-After": value}
    decision = decide(POLICY, attempt=1, method="GET", status=503, headers=headers)
    assert (decision.retry, decision.delay, decision.server_wait) == (True, 1.0, None)


def test_headers_ignored_on_a_failure() -> None:
    """An attempt that produced no response has no server wait."""
    decision = decide(
        POLICY, attempt=1, method="GET", failure=CONNECT, headers={"Retry-After": "30"}
    )
    assert (decision.delay, decision.server_wait) == (1.0, None)


@pytest.mark.parametrize(
    ("elapsed", "retry"), [(0.0, True), (5.0, True), (5.999, True), (6.0, False), (20.0, False)]
)
def test_deadline_stops_a_wait_that_would_end_past_it(elapsed: float, retry: bool) -> None:
    """A retry whose wait would end at or after the deadline stops at once ('deadline')."""
    policy = attrs.evolve(POLICY, backoff=Backoff(base=4.0, jitter="none"), deadline=10.0)
    decision = decide(policy, attempt=1, method="GET", status=503, elapsed=elapsed)
    assert decision.retry is retry
    assert decision.reason == (Reason.RETRYABLE_STATUS if retry else Reason.DEADLINE)
    assert decision.delay == (4.0 if retry else 0.0)


def test_deadline_counts_the_server_wait() -> None:
    """The deadline is checked against the wait the server asked for, not just the backoff."""
    policy = attrs.evolve(POLICY, deadline=10.0)
    decision = decide(
        policy, attempt=1, method="GET", status=503, headers={"Retry-After": "5"}, elapsed=6.0
    )
    assert decision == Decision(retry=False, delay=0.0, reason=Reason.DEADLINE, server_wait=5.0)


def test_custom_idempotent_methods() -> None:
    """Only the policy's idempotent methods are safe: with {'GET'}, a PUT is not retried on 503."""
    policy = attrs.evolve(POLICY, idempotent_methods={"GET"})
    assert decide(policy, attempt=1, method="PUT", status=503).reason == Reason.UNSAFE_METHOD
    assert decide(policy, attempt=1, method="GET", status=503).retry


def test_custom_retry_statuses() -> None:
    """Only the policy's retry statuses are retried, 429 for a POST included."""
    policy = attrs.evolve(POLICY, retry_statuses={503})
    assert decide(policy, attempt=1, method="GET", status=500).reason == (
        Reason.NOT_RETRYABLE_STATUS
    )
    assert decide(policy, attempt=1, method="POST", status=429).reason == (
        Reason.NOT_RETRYABLE_STATUS
    )


@pytest.mark.parametrize(
    ("method", "has_key", "safe"),
    [("GET", False, True), ("put", False, True), ("POST", False, False), ("PATCH", True, True)],
)
def test_is_safe_to_repeat(method: str, has_key: bool, safe: bool) -> None:
    """A request is safe to repeat if its method is idempotent or it carries a key."""
    assert is_safe_to_repeat(POLICY, method, has_idempotency_key=has_key) is safe


@pytest.mark.parametrize(
    ("status", "failure", "failed"),
    [
        (None, CONNECT, True),
        (None, UNKNOWN, True),
        (500, None, True),
        (503, None, True),
        (504, None, True),
        (501, None, False),
        (429, None, False),
        (408, None, False),
        (404, None, False),
        (200, None, False),
    ],
)
def test_counts_as_failure(status: int | None, failure: FailureKind | None, failed: bool) -> None:
    """Only no response or a retryable 5xx counts against a circuit; 4xx and 429 never do."""
    assert counts_as_failure(POLICY, status=status, failure=failure) is failed


@given(
    policy=policies(),
    attempt=st.integers(min_value=1, max_value=12),
    method=unsafe_methods(),
    headers=header_mappings(),
    elapsed=st.floats(min_value=0.0, max_value=1e5),
    now=nows(),
    rand=rands(),
)
def test_unsafe_request_never_retried_on_unknown_outcome(
    *,
    policy: RetryPolicy,
    attempt: int,
    method: str,
    headers: dict[str, str],
    elapsed: float,
    now: float,
    rand: float,
) -> None:
    """A POST or PATCH without a key is never retried once its outcome is unknown."""
    assume(method.upper() not in policy.idempotent_methods)
    decision = decide(
        policy,
        attempt=attempt,
        method=method,
        failure=UNKNOWN,
        headers=headers,
        elapsed=elapsed,
        now=now,
        rand=rand,
    )
    assert decision.retry is False


@given(
    policy=policies(),
    attempt=st.integers(min_value=1, max_value=3) | st.integers(min_value=1, max_value=12),
    method=methods(),
    has_key=st.booleans(),
    outcome=st.one_of(
        error_statuses().map(lambda s: (s, None)),
        statuses().map(lambda s: (s, None)),
        failures().map(lambda f: (None, f)),
    ),
    headers=st.none() | response_headers(),
    elapsed=st.floats(min_value=0.0, max_value=1e5),
    now=nows(),
    rand=rands(),
    previous_delay=st.none() | st.floats(min_value=0.0, max_value=1e4),
)
def test_retry_delay_bounded_by_backoff_server_and_deadline(
    *,
    policy: RetryPolicy,
    attempt: int,
    method: str,
    has_key: bool,
    outcome: tuple[int | None, FailureKind | None],
    headers: dict[str, str] | None,
    elapsed: float,
    now: float,
    rand: float,
    previous_delay: float | None,
) -> None:
    """A retry waits no longer than the backoff bound or the server's ask, nor past the deadline."""
    status, failure = outcome
    decision = decide(
        policy,
        attempt=attempt,
        method=method,
        has_idempotency_key=has_key,
        status=status,
        failure=failure,
        headers=headers,
        elapsed=elapsed,
        now=now,
        rand=rand,
        previous_delay=previous_delay,
    )
    if not decision.retry:
        assert decision.delay == 0.0
        return
    _, high = policy.backoff.bounds(attempt, previous=previous_delay)
    assert 0.0 <= decision.delay <= max(high, decision.server_wait or 0.0)
    if decision.server_wait is not None:
        assert decision.server_wait <= policy.max_retry_after
        assert decision.delay >= decision.server_wait
    if policy.deadline is not None:
        assert elapsed + decision.delay <= policy.deadline
    assert attempt < policy.max_attempts


@given(policies(), st.integers(min_value=1, max_value=12), methods(), error_statuses())
def test_status_outside_retry_statuses_never_retried(
    policy: RetryPolicy, attempt: int, method: str, status: int
) -> None:
    """A status the policy does not list is never retried, whatever the method."""
    assume(status not in policy.retry_statuses)
    decision = decide(
        policy, attempt=attempt, method=method, has_idempotency_key=True, status=status
    )
    assert decision == Decision(retry=False, delay=0.0, reason=Reason.NOT_RETRYABLE_STATUS)


@pytest.mark.parametrize(
    ("auto", "method", "has_key", "expected"),
    [
        (True, "POST", False, True),
        (True, "patch", False, True),
        (True, "POST", True, False),
        (True, "GET", False, False),
        (True, "PUT", False, False),
        (True, "DELETE", False, False),
        (False, "POST", False, False),
    ],
)
def test_needs_idempotency_key(auto: bool, method: str, has_key: bool, expected: bool) -> None:
    """Only a POST or PATCH without a key gets one, and only with auto_idempotency_key."""
    policy = RetryPolicy(auto_idempotency_key=auto)
    assert needs_idempotency_key(policy, method, has_idempotency_key=has_key) is expected


def test_no_attempt_starts_at_the_deadline() -> None:
    """Elapsed exactly at the deadline with no wait left stops: no attempt starts there."""
    policy = attrs.evolve(POLICY, backoff=Backoff(base=0.0, jitter="none"), deadline=10.0)
    decision = decide(policy, attempt=1, method="GET", status=503, elapsed=10.0)
    assert (decision.retry, decision.reason) == (False, Reason.DEADLINE)


# --- Reason -------------------------------------------------------------------------------

REASON_VALUES = {
    "SUCCESS": "success",
    "RETRYABLE_STATUS": "retryable_status",
    "CONNECT_FAILED": "connect_failed",
    "UNKNOWN_OUTCOME": "unknown_outcome",
    "NOT_RETRYABLE_STATUS": "not_retryable_status",
    "UNSAFE_METHOD": "unsafe_method",
    "ATTEMPTS_EXHAUSTED": "attempts_exhausted",
    "DEADLINE": "deadline",
    "RETRY_AFTER_TOO_LONG": "retry_after_too_long",
    "BUDGET_EXHAUSTED": "budget_exhausted",
    "CIRCUIT_OPEN": "circuit_open",
    "BODY_NOT_REPLAYABLE": "body_not_replayable",
    "RESPONSE_REJECTED": "response_rejected",
    "RATE_LIMITED": "rate_limited",
    "THROTTLED": "throttled",
    "RECONCILED_APPLIED": "reconciled_applied",
    "HEDGE_LOST": "hedge_lost",
    "UNEXPECTED_ERROR": "unexpected_error",
}


def test_reason_values_are_the_documented_strings() -> None:
    """Every Reason keeps the string value that logs, metrics and histories have always shown."""
    assert {reason.name: reason.value for reason in Reason} == REASON_VALUES


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_reason_reads_as_its_plain_value(reason: Reason) -> None:
    """A Reason equals, prints, formats, hashes and serialises as its plain string."""
    value = REASON_VALUES[reason.name]
    assert reason == value
    assert (str(reason), f"{reason}", "%s" % reason, format(reason, "")) == (value,) * 4  # noqa: UP031
    assert json.dumps({"reason": reason}) == json.dumps({"reason": value})
    by_value: dict[str, bool] = {value: True}
    by_reason: dict[str, bool] = {reason: True}
    assert by_value[reason]
    assert by_reason[value]


def test_decision_reason_is_a_reason() -> None:
    """decide() gives a Reason member, and comparing it with its string still holds."""
    reason = decide(POLICY, attempt=1, method="GET", status=200).reason
    assert reason == "success"
    assert reason is Reason.SUCCESS


def test_decision_converts_a_plain_reason_value() -> None:
    """A Decision built with a reason's plain value holds the Reason member."""
    assert Decision(retry=False, delay=0.0, reason="deadline").reason is Reason.DEADLINE


def test_decision_refuses_an_unknown_reason() -> None:
    """A reason that is no Reason is refused when the Decision is built."""
    with pytest.raises(ValueError, match="retries_disabled"):
        Decision(retry=False, delay=0.0, reason="retries_disabled")


@pytest.mark.parametrize("status", [408, 429])
def test_statuses_that_prove_the_server_did_not_act(status: int) -> None:
    """408 and 429 say the request was not processed, so even a POST may be sent again."""
    assert proves_not_processed(status)
    assert decide(POLICY, attempt=1, method="POST", status=status).retry


@pytest.mark.parametrize("status", [400, 409, 500, 502, 503, 504])
def test_other_statuses_prove_nothing(status: int) -> None:
    """Any other status leaves open whether the server acted."""
    assert not proves_not_processed(status)


@given(policies(), error_statuses())
def test_retries_status_is_decides_status_rule(policy: RetryPolicy, status: int) -> None:
    """retries_status says what decide does with a status for a safe first attempt."""
    assume(policy.max_attempts > 1 and policy.deadline is None)
    decision = decide(policy, attempt=1, method="GET", has_idempotency_key=True, status=status)
    assert retries_status(policy, status) is decision.retry


def test_repeated_retry_after_waits_the_longest() -> None:
    """A 503 whose Retry-After came twice ("2, 5") waits the longer of the two."""
    decision = decide(POLICY, attempt=1, method="GET", status=503, headers={"Retry-After": "2, 5"})
    assert (decision.retry, decision.delay, decision.server_wait) == (True, 5.0, 5.0)
