"""The retry budget's arithmetic (the thread-safe holder is retrykit._state._budget).

Finagle's retry budget, in units of retries:

- every request deposits ``ratio`` of a retry;
- a reserve of ``min_per_second * ttl`` retries is always there, whatever the traffic;
- deposits and withdrawals are forgotten ``ttl`` seconds after they were made.

So a retry at time ``now`` is allowed when, counting the deposits ``D`` and the allowed
retries ``W`` of the last ``ttl`` seconds::

    W + 1 <= min_per_second * ttl + ratio * D

In any ``ttl`` window the retries are at most ``ratio`` of the requests plus
``min_per_second`` per second. With the defaults (0.2, 10 per second, 10 s), 1,000
requests in 10 s allow at most 100 + 200 = 300 retries.

Counts live in ``WINDOW_BUCKETS`` time buckets rather than in a list of events, so memory
stays constant whatever the traffic; the window slides a bucket at a time, which means an
event is forgotten between ``0.9 * ttl`` and ``ttl`` after it was counted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import attrs

from retrykit._core._validators import non_negative, positive

if TYPE_CHECKING:
    from collections.abc import Callable

WINDOW_BUCKETS: Final = 10

# ratio * deposits is a float: 0.29 * 100 gives 28.999999999999996, which must still
# allow the 29th retry.
_EPSILON: Final = 1e-9


class WindowCounts:
    """Two running counts (say calls and failures) over the last ``span`` seconds.

    ``now`` must never decrease from one call to the next (the holders read a monotonic
    clock under their lock). An event counted at ``t`` is forgotten once ``now`` enters
    the bucket ``WINDOW_BUCKETS`` buckets after ``t``'s, between ``0.9 * span`` and
    ``span`` seconds later.
    """

    __slots__ = ("_epochs", "_firsts", "_seconds", "_width")

    def __init__(self, span: float) -> None:
        self._width = span / WINDOW_BUCKETS
        # A bucket's epoch is the absolute index floor(t / width) of the time it counts.
        self._epochs = [-math.inf] * WINDOW_BUCKETS
        self._firsts = [0] * WINDOW_BUCKETS
        self._seconds = [0] * WINDOW_BUCKETS

    def add(self, now: float, first: int, second: int) -> None:
        """Count ``first`` and ``second`` events at ``now``."""
        epoch = math.floor(now / self._width)
        slot = epoch % WINDOW_BUCKETS
        if self._epochs[slot] != epoch:
            self._epochs[slot] = epoch
            self._firsts[slot] = first
            self._seconds[slot] = second
        else:
            self._firsts[slot] += first
            self._seconds[slot] += second

    def add_first_if_current(self, now: float) -> bool:
        """Count one ``first`` event at ``now`` if its bucket is current; else count nothing.

        Returns whether it counted. Safe without the holder's lock: two threads may both
        read the count before either writes it, and one event is lost (an under-count,
        the safe direction for a budget); the bucket cannot be re-used for a later time
        in between unless a thread stalls for ``0.9 * span`` seconds between two lines.
        """
        epoch = math.floor(now / self._width)
        slot = epoch % WINDOW_BUCKETS
        if self._epochs[slot] != epoch:
            return False
        self._firsts[slot] += 1
        return True

    def sums(self, now: float) -> tuple[int, int]:
        """Return both counts over the buckets still inside the window at ``now``."""
        current = math.floor(now / self._width)
        oldest = current - WINDOW_BUCKETS
        first = second = 0
        for epoch, a, b in zip(self._epochs, self._firsts, self._seconds, strict=True):
            if oldest < epoch <= current:
                first += a
                second += b
        return first, second

    def clear(self) -> None:
        """Forget every event."""
        for slot in range(WINDOW_BUCKETS):
            self._epochs[slot] = -math.inf
            self._firsts[slot] = 0
            self._seconds[slot] = 0


@attrs.frozen
class BudgetConfig:
    """A retry budget's settings, validated: see this module's docstring for the rule.

    ``ratio`` >= 0 (Finagle's ``percentCanRetry``), ``min_per_second`` >= 0 and ``ttl``
    > 0, all finite.
    """

    ratio: float = attrs.field(default=0.2, validator=non_negative)
    min_per_second: float = attrs.field(default=10.0, validator=non_negative)
    ttl: float = attrs.field(default=10.0, validator=positive)

    @property
    def reserve(self) -> float:
        """Return the retries allowed in any ``ttl`` window with no traffic at all."""
        return self.min_per_second * self.ttl


class BudgetLedger:
    """The deposits and withdrawals of one retry budget, over a sliding ``ttl`` window."""

    __slots__ = ("_counts", "config", "deposit_if_current")

    def __init__(self, config: BudgetConfig) -> None:
        self.config = config
        self._counts = WindowCounts(config.ttl)
        # deposit_if_current(now) -> bool: count one request without the holder's lock
        # when it can (see `WindowCounts.add_first_if_current`). False, counting nothing,
        # when the request's bucket must first be started: the holder then deposits
        # under its lock. A lost deposit only lowers the balance, so the budget's bound
        # (``reserve + ratio * requests`` retries per ``ttl``) holds. The counts' own
        # method, not a wrapper: it is the one step of every request.
        self.deposit_if_current: Callable[[float], bool] = self._counts.add_first_if_current

    def deposit(self, now: float) -> None:
        """Count one request at ``now``: it earns ``ratio`` of a retry for ``ttl`` seconds."""
        self._counts.add(now, 1, 0)

    def balance(self, now: float) -> float:
        """Return reserve + ratio * deposits - withdrawals; negative after deposits expire."""
        deposits, withdrawals = self._counts.sums(now)
        config = self.config
        return config.reserve + config.ratio * deposits - withdrawals

    def try_withdraw(self, now: float) -> bool:
        """Take one retry at ``now`` and return True, or return False if none is left."""
        if self.balance(now) + _EPSILON < 1.0:
            return False
        self._counts.add(now, 0, 1)
        return True

    def available(self, now: float) -> int:
        """Return how many retries ``try_withdraw`` would allow now, never negative."""
        return max(0, math.floor(self.balance(now) + _EPSILON))
