"""`RetryBudget`: Finagle's retry budget, shared safely by many threads.

The arithmetic is in retrykit._core._budget; this holder adds the clock and a lock held
for a few list operations per call.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from retrykit._clock import Clock, monotonic_of
from retrykit._core._budget import BudgetConfig, BudgetLedger

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RetryBudget"]


class RetryBudget:
    """Caps retries at ``ratio`` of the requests plus ``min_per_second`` per second.

    Each request calls ``deposit()`` once; each retry first calls ``try_withdraw()`` and
    gives up (reason ``"budget_exhausted"``) when it returns False. Over any sliding
    ``ttl`` window a retry is allowed while::

        retries_in_window + 1 <= min_per_second * ttl + ratio * requests_in_window

    so with no traffic ``min_per_second * ttl`` retries are available, each request adds
    ``ratio`` of one, and both expire ``ttl`` seconds later (in tenths of ``ttl``: an
    event is forgotten between ``0.9 * ttl`` and ``ttl`` after it). The defaults are
    Finagle's: 20 % of requests, plus 10 retries a second, over 10 s. Arguments are
    validated (``ratio`` and ``min_per_second`` >= 0, ``ttl`` > 0, all finite).
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        clock: Callable[[], float] | Clock = time.monotonic,
    ) -> None:
        self.config: BudgetConfig = BudgetConfig(
            ratio=ratio, min_per_second=min_per_second, ttl=ttl
        )
        self._clock_arg = clock
        self._clock = monotonic_of(clock)
        self._ledger = BudgetLedger(self.config)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only; the copy starts with an empty window.
        return {"config": self.config, "clock": self._clock_arg}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc] # rebuilding from settings is what __init__ does
            **attrs.asdict(state["config"], recurse=False), clock=state["clock"]
        )

    def __repr__(self) -> str:
        config = self.config
        return (
            f"RetryBudget(ratio={config.ratio}, min_per_second={config.min_per_second}, "
            f"ttl={config.ttl})"
        )

    def deposit(self) -> None:
        """Count one request (not a retry): it earns ``ratio`` of a retry for ``ttl``."""
        with self._lock:
            self._ledger.deposit(self._clock())

    def try_withdraw(self) -> bool:
        """Take one retry from the budget and return True, or return False if it is spent."""
        with self._lock:
            return self._ledger.try_withdraw(self._clock())

    def available(self) -> int:
        """Return how many retries ``try_withdraw`` would allow now (never negative)."""
        with self._lock:
            return self._ledger.available(self._clock())
