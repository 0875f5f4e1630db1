"""Planning a policy's waits: per retry its range, and a call's attempts on one time axis.

- `schedule_rows`: per retry the shortest, median and longest wait, and the worst total,
  from `Backoff.delay` and `Backoff.bounds` alone.
- `timeline`: when each attempt of a call can start, counted from the first one's start,
  asked of `decide` itself, so ``min_wait``, ``Retry-After``, ``max_retry_after``, the
  deadline and ``max_attempts`` end it exactly where they end a real call
  (``python -m retrykit schedule`` prints it).
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs
from attrs.validators import optional

from retrykit._core._decide import Decision, Reason, decide
from retrykit._core._validators import non_negative

if TYPE_CHECKING:
    from retrykit._core._backoff import Backoff
    from retrykit._core._policy import RetryPolicy

MEDIAN_RAND: Final = 0.5
"""The jitter draw whose wait a schedule shows as the median."""

LONGEST_RAND: Final = math.nextafter(1.0, 0.0)
"""The jitter draw that gives the longest wait: ``rand`` is drawn from [0, 1)."""

ASSUMED_STATUS: Final = 503
"""The status a `timeline` assumes every attempt gets, unless told another."""

# Where a timeline's clock stops: sums of huge waits saturate here instead of reaching inf,
# so every time stays a number that compares and prints.
_END_OF_TIME: Final = sys.float_info.max


@attrs.frozen
class ScheduleRow:
    """One retry of a schedule: its shortest, median and longest wait, and the worst total.

    ``worst_total`` is the sum of the longest waits of this retry and every one before it:
    the most time a call can spend waiting by then.
    """

    retry: int
    low: float
    median: float
    high: float
    worst_total: float


def schedule_rows(backoff: Backoff, retries: int) -> list[ScheduleRow]:
    """Return the waits before retries 1..``retries`` as `Backoff.delay` gives them.

    ``low`` is ``delay(rand=0)``, ``median`` is ``delay(rand=MEDIAN_RAND)`` and ``high``
    the upper end of `Backoff.bounds`. With decorrelated jitter each column follows its
    own chain: the low wait is computed from the previous low wait, and so on.
    """
    rows: list[ScheduleRow] = []
    previous_low: float | None = None
    previous_median: float | None = None
    previous_high: float | None = None
    worst_total = 0.0
    for retry in range(1, retries + 1):
        low = backoff.delay(retry, rand=0.0, previous=previous_low)
        median = backoff.delay(retry, rand=MEDIAN_RAND, previous=previous_median)
        high = backoff.bounds(retry, previous=previous_high)[1]
        worst_total += high
        rows.append(ScheduleRow(retry, low, median, high, worst_total))
        previous_low, previous_median, previous_high = low, median, high
    return rows


@attrs.frozen
class TimelineRow:
    """When one attempt of a call can start, in seconds from the first attempt's start.

    ``earliest`` is its start when every wait before it is drawn shortest, ``latest``
    when every one is drawn longest; ``wait_min`` and ``wait_max`` bound the wait just
    before it (both 0 for the first attempt). ``may_not_start`` is True when the longest
    draws would start it at or past the deadline: it starts only if the waits are drawn
    short enough, and ``latest`` is then the deadline itself, which it starts before.
    """

    attempt: int
    earliest: float
    latest: float
    wait_min: float
    wait_max: float
    may_not_start: bool = False


@attrs.frozen
class Timeline:
    """A call's attempts on one time axis (t = 0 is the first attempt's start).

    - ``rows``: one per attempt that can start, in order; the first starts at 0.
    - ``stop``: why no attempt follows the last row, for the shortest draws:
      ``attempts_exhausted``, ``deadline`` (the next wait would end at or past it) or
      ``retry_after_too_long`` (the server asks for more than ``max_retry_after``).
    - ``server_wait``: the ``Retry-After`` as the policy read it; None when none was
      given, the policy ignores it (``respect_retry_after=False``), or no retry was
      ever in question (``max_attempts=1``).
    - ``deadline``, ``attempt_time``: the policy's deadline, the time assumed per attempt.
    - ``latest_end``: the latest the call can end, its last attempt included, assuming
      each attempt takes ``attempt_time``: never past the deadline, which bounds the
      attempts in flight too.
    """

    rows: tuple[TimelineRow, ...]
    stop: Reason
    server_wait: float | None
    deadline: float | None
    attempt_time: float
    latest_end: float


@attrs.frozen
class _Assumptions:
    # What `timeline` assumes of each attempt, validated as the policy's settings are.
    attempt_time: float = attrs.field(validator=non_negative)
    retry_after: float | None = attrs.field(validator=optional(non_negative))


def timeline(
    policy: RetryPolicy,
    *,
    attempt_time: float = 0.0,
    retry_after: float | None = None,
    status: int = ASSUMED_STATUS,
) -> Timeline:
    """Return when each attempt of a call under ``policy`` can start, from t = 0.

    The call is a GET whose every attempt is answered ``status`` (503 unless told) after
    ``attempt_time`` seconds (0: each attempt fails at once), with ``Retry-After:
    <retry_after>`` on every answer when ``retry_after`` is given. Each wait is the one
    `decide` gives after that attempt, for the draw ``rand=0`` (the earliest starts) and
    ``rand=LONGEST_RAND`` (the latest), each draw's chain following from its own previous
    wait, as the retry loop passes it. So every rule of `decide` applies as in a real
    call: at least ``min_wait``, never less than an honoured ``Retry-After``, a stop for
    one longer than ``max_retry_after``, a stop when the next wait would end at or past
    the deadline (no row starts at or after it), and no more than ``max_attempts`` rows.

    Times saturate at the largest float rather than reach inf, whatever the input.
    An ``attempt_time`` or ``retry_after`` that is not a finite number of seconds >= 0
    raises TypeError or ValueError naming it, as the policy's own settings do.
    """
    _Assumptions(attempt_time=attempt_time, retry_after=retry_after)
    headers = None if retry_after is None else {"Retry-After": _delay_seconds(retry_after)}
    deadline = None if policy.deadline is None else float(policy.deadline)
    # The same policy without its deadline, for the longest waits the jitter can draw
    # even where the deadline stops them: a wait does not depend on the deadline.
    unbounded = attrs.evolve(policy, deadline=None)

    def after(
        rules: RetryPolicy, attempt: int, ended: float, rand: float, previous: float | None
    ) -> Decision:
        return decide(
            rules,
            attempt=attempt,
            method="GET",
            status=status,
            headers=headers,
            elapsed=ended,
            rand=rand,
            previous_delay=previous,
        )

    rows = [TimelineRow(attempt=1, earliest=0.0, latest=0.0, wait_min=0.0, wait_max=0.0)]
    earliest = latest = 0.0
    short_previous: float | None = None
    long_previous: float | None = None
    reached_deadline = False
    server_wait: float | None = None
    while True:
        attempt = rows[-1].attempt
        short_ended = _later(earliest, attempt_time)
        short = after(policy, attempt, short_ended, 0.0, short_previous)
        # Every answer carries the same header: any decision that read it tells its wait.
        server_wait = short.server_wait if short.server_wait is not None else server_wait
        if not short.retry:
            break
        long_ended = _later(latest, attempt_time)
        longest = after(unbounded, attempt, long_ended, LONGEST_RAND, long_previous)
        fits = not reached_deadline and (
            after(policy, attempt, long_ended, LONGEST_RAND, long_previous).retry
        )
        earliest = _later(short_ended, short.delay)
        latest = _later(long_ended, longest.delay)
        reached_deadline = not fits
        rows.append(
            TimelineRow(
                attempt=attempt + 1,
                earliest=earliest,
                latest=latest if fits or deadline is None else deadline,
                wait_min=min(short.delay, _END_OF_TIME),
                wait_max=min(longest.delay, _END_OF_TIME),
                may_not_start=not fits,
            )
        )
        # The retry loop passes the wait it made as the previous one (0 counts as none).
        short_previous, long_previous = short.delay or None, longest.delay or None
    end = _later(rows[-1].latest, attempt_time)
    if deadline is not None:
        end = min(end, deadline)
    return Timeline(
        rows=tuple(rows),
        stop=short.reason,
        server_wait=server_wait,
        deadline=deadline,
        attempt_time=attempt_time,
        latest_end=end,
    )


def _later(moment: float, duration: float) -> float:
    return min(moment + duration, _END_OF_TIME)


def _delay_seconds(seconds: float) -> str:
    # The header as a server would write it: plain digits, never "1e-07" or "1e+20".
    return format(Decimal(repr(float(seconds))), "f")
