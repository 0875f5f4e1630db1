"""A backoff schedule: per retry the shortest, median and longest wait, and the worst total.

Pure arithmetic over `Backoff.delay` and `Backoff.bounds`, for planning a policy's waits
(``python -m retrykit schedule`` prints it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from retrykit._core._backoff import Backoff

MEDIAN_RAND: Final = 0.5
"""The jitter draw whose wait a schedule shows as the median."""


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
