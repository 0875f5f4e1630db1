"""Scenarios both adapters must pass, as plain data: one table, parametrized by each adapter test.

A scenario is one call against a `FlakyServer` path scripted with ``steps``, and what the
caller and the server must see:

- ``hits``: requests the server received on ``path``;
- ``attempts``: the outcome of each attempt in the history, a status or a `FailureKind`;
- ``status``: the final response's status, or None when the call ends in an exception;
- ``failure``: the `FailureKind` of that exception, or None when a response came back;
- ``reason``: the history's stop reason (a `Reason` string);
- ``min_waits``: a lower bound on each wait the adapter asked its sleep for.

Run each scenario with `scenario.policy()` (tiny backoff, so only Retry-After makes a
wait long), a sleep that records instead of sleeping, a wall clock returning
`SCENARIO_NOW` (for the Retry-After date), ``timeout=scenario.timeout``, and the body read
inside the retry loop when ``reads_body`` (requests: ``stream=False``; httpx: the
read-body switch on). Every received body is ``body``, except after a
``Reset(after_read=False)``, which cuts it off.
"""

from __future__ import annotations

from email.utils import formatdate

import attrs

from retrykit import Backoff, FailureKind, Reason, RetryPolicy
from retrykit.testing import Garbage, Hang, Reply, Reset, SlowBody, Step, Truncated

SCENARIO_NOW = 1_700_000_000.0
"""The Unix time the scenarios' wall clock returns (the Retry-After date is relative to it)."""

CONNECT = FailureKind.CONNECT
UNKNOWN = FailureKind.UNKNOWN_OUTCOME
IDEMPOTENCY_KEY = "scenario-key-1"


@attrs.frozen
class Scenario:
    """One scripted call and everything the caller and the server must observe."""

    name: str
    method: str
    steps: tuple[Step, ...]
    attempts: tuple[int | FailureKind, ...]
    reason: str
    status: int | None = None
    failure: FailureKind | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    max_attempts: int = 4
    timeout: float | None = 5.0
    reads_body: bool = False
    min_waits: tuple[float, ...] = ()

    @property
    def path(self) -> str:
        """The server path this scenario is scripted on."""
        return f"/{self.name}"

    @property
    def hits(self) -> int:
        """How many requests the server must see: one per attempt."""
        return len(self.attempts)

    def policy(self) -> RetryPolicy:
        """The policy to run the scenario with: its attempts, a backoff of milliseconds."""
        return RetryPolicy(max_attempts=self.max_attempts, backoff=Backoff(base=0.001, cap=0.01))

    def sent_body(self, step: Step) -> bytes:
        """The body the server must have received on an attempt answered by ``step``."""
        if isinstance(step, Reset) and not step.after_read:
            return b""
        return self.body

    def step_for(self, attempt_index: int) -> Step:
        """The step that answered attempt ``attempt_index`` (from 0; the last step repeats)."""
        return self.steps[min(attempt_index, len(self.steps) - 1)]

    def __str__(self) -> str:
        return self.name


_KEY = (("Idempotency-Key", IDEMPOTENCY_KEY),)
_HANG = Hang(seconds=1.0)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "get_503_503_200",
        "GET",
        (Reply(503), Reply(503), Reply(200, body=b"done")),
        attempts=(503, 503, 200),
        status=200,
        reason=Reason.SUCCESS,
    ),
    Scenario(
        "get_500_exhausted",
        "GET",
        (Reply(500),),
        attempts=(500, 500, 500),
        status=500,
        reason=Reason.ATTEMPTS_EXHAUSTED,
        max_attempts=3,
    ),
    Scenario(
        "get_retry_after_seconds",
        "GET",
        (Reply(503, {"Retry-After": "2"}), Reply(200)),
        attempts=(503, 200),
        status=200,
        reason=Reason.SUCCESS,
        min_waits=(2.0,),
    ),
    Scenario(
        "get_retry_after_date",
        "GET",
        (Reply(503, {"Retry-After": formatdate(SCENARIO_NOW + 7, usegmt=True)}), Reply(200)),
        attempts=(503, 200),
        status=200,
        reason=Reason.SUCCESS,
        min_waits=(7.0,),
    ),
    Scenario(
        "get_retry_after_too_long",
        "GET",
        (Reply(503, {"Retry-After": "3600"}), Reply(200)),
        attempts=(503,),
        status=503,
        reason=Reason.RETRY_AFTER_TOO_LONG,
    ),
    Scenario(
        "get_reset_before_read",
        "GET",
        (Reset(after_read=False), Reply(200)),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
    ),
    Scenario(
        "get_reset_after_read",
        "GET",
        (Reset(), Reply(200)),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
    ),
    Scenario(
        "get_resets_exhausted",
        "GET",
        (Reset(),),
        attempts=(UNKNOWN, UNKNOWN, UNKNOWN),
        failure=UNKNOWN,
        reason=Reason.ATTEMPTS_EXHAUSTED,
        max_attempts=3,
    ),
    Scenario(
        "post_reset_after_read",
        "POST",
        (Reset(), Reply(201)),
        attempts=(UNKNOWN,),
        failure=UNKNOWN,
        reason=Reason.UNSAFE_METHOD,
        body=b'{"order": 1}',
    ),
    Scenario(
        "post_reset_after_read_with_key",
        "POST",
        (Reset(), Reset(), Reply(201)),
        attempts=(UNKNOWN, UNKNOWN, 201),
        status=201,
        reason=Reason.SUCCESS,
        body=b'{"order": 1}',
        headers=_KEY,
    ),
    Scenario(
        "get_read_timeout",
        "GET",
        (_HANG, Reply(200)),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
        timeout=0.2,
    ),
    Scenario(
        "post_read_timeout",
        "POST",
        (_HANG, Reply(201)),
        attempts=(UNKNOWN,),
        failure=UNKNOWN,
        reason=Reason.UNSAFE_METHOD,
        body=b"charge=1",
        timeout=0.2,
    ),
    Scenario(
        "get_truncated_body",
        "GET",
        (Truncated(), Reply(200, body=b"whole")),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
        reads_body=True,
    ),
    Scenario(
        "get_timeout_mid_body",
        "GET",
        (SlowBody(delay=1.0, immediate_bytes=2), Reply(200)),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
        timeout=0.2,
        reads_body=True,
    ),
    Scenario(
        "get_garbage_status_line",
        "GET",
        (Garbage(), Reply(200)),
        attempts=(UNKNOWN, 200),
        status=200,
        reason=Reason.SUCCESS,
    ),
    Scenario(
        "post_429_retried",
        "POST",
        (Reply(429, {"Retry-After": "1"}), Reply(201)),
        attempts=(429, 201),
        status=201,
        reason=Reason.SUCCESS,
        body=b"a=1",
        min_waits=(1.0,),
    ),
    Scenario(
        "post_503_not_retried",
        "POST",
        (Reply(503), Reply(201)),
        attempts=(503,),
        status=503,
        reason=Reason.UNSAFE_METHOD,
        body=b"a=1",
    ),
    Scenario(
        "post_503_with_key",
        "POST",
        (Reply(503), Reply(201)),
        attempts=(503, 201),
        status=201,
        reason=Reason.SUCCESS,
        body=b"a=1",
        headers=_KEY,
    ),
    Scenario(
        "post_422_not_retried",
        "POST",
        (Reply.json({"error": "invalid"}, status=422), Reply(201)),
        attempts=(422,),
        status=422,
        reason=Reason.NOT_RETRYABLE_STATUS,
        body=b'{"bad": true}',
    ),
    Scenario(
        "put_body_replayed",
        "PUT",
        (Reply(502), Reply(503), Reply(204)),
        attempts=(502, 503, 204),
        status=204,
        reason=Reason.SUCCESS,
        body=b"\x00\x01binary\xff payload",
    ),
)
"""Every shared scenario; ids are their names (``pytest.mark.parametrize(..., ids=str)``)."""
