"""`RetryBudget`: Finagle's retry budget, shared safely by many threads.

The arithmetic is in retrykit._core._budget; this holder adds the clock and a lock held
for a few list operations per call.

Sharing. With ``store=``, the ``ratio`` part stays local (each process earns retries
from its own requests) and the reserve (``min_per_second``) is the fleet's: a retry the
ratio part cannot pay for is paid from this process's *share* of the fleet reserve, a
few retries the store's syncer leases for it in the background (a share sized from the
reserve spent and refused in the last interval, at least one while the process has
traffic, none once it has been idle for ``ttl``). The fleet grants at most
``min_per_second * ttl`` reserve retries in any ``ttl`` window, across every process,
so 50 idle workers share one reserve rather than holding 50. Until the store's first
exchange, and whenever it is local-only, the local reserve applies instead, as without
a store.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any

import attrs

from retrykit._clock import Clock, monotonic_of
from retrykit._core._budget import BudgetConfig, BudgetLedger
from retrykit._state._store import FleetStore, ReserveMember, ReserveReport

if TYPE_CHECKING:
    from collections.abc import Callable

    from retrykit._state._store import StoreLink

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

    ``store`` (a `FleetStore`, such as `retrykit.redis.RedisStore`) makes the reserve
    the fleet's: see this module's docstring. Calls still decide in memory.
    """

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        clock: Callable[[], float] | Clock = time.monotonic,
        *,
        store: FleetStore | None = None,
    ) -> None:
        if store is not None and not isinstance(store, FleetStore):
            raise TypeError(
                f"store must be a FleetStore (such as retrykit.redis.RedisStore) or None, "
                f"got {store!r}"
            )
        self.config: BudgetConfig = BudgetConfig(
            ratio=ratio, min_per_second=min_per_second, ttl=ttl
        )
        self._clock_arg = clock
        self._clock = monotonic_of(clock)
        self._ledger = BudgetLedger(self.config)
        self._lock = threading.Lock()
        self._store = store
        self._link: StoreLink | None = None
        # Sharing: the ratio part and the local reserve, kept apart; the fleet share.
        self._ratio_ledger = BudgetLedger(BudgetConfig(ratio=ratio, min_per_second=0.0, ttl=ttl))
        self._reserve_ledger = BudgetLedger(
            BudgetConfig(ratio=0.0, min_per_second=min_per_second, ttl=ttl)
        )
        self._fleet = False  # True once the store has granted a share, until it is lost
        self._share = 0
        self._spent = 0  # reserve retries taken from the share since the last report
        self._refused = 0  # retries refused for want of a share since the last report
        self._requests = 0  # deposits since the last report
        self._active_until = -float("inf")
        if store is not None and min_per_second > 0:
            self._link = store.share_reserve(
                ReserveMember(
                    config=self.config,
                    report=self._share_report,
                    adopt=self._share_adopt,
                    lost=self._share_lost,
                )
            )

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only; the copy starts with an empty window.
        state: dict[str, Any] = {"config": self.config, "clock": self._clock_arg}
        if self._store is not None:
            state["store"] = self._store
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc] # rebuilding from settings is what __init__ does
            **attrs.asdict(state["config"], recurse=False),
            clock=state["clock"],
            store=state.get("store"),
        )

    def __repr__(self) -> str:
        config = self.config
        return (
            f"RetryBudget(ratio={config.ratio}, min_per_second={config.min_per_second}, "
            f"ttl={config.ttl})"
        )

    def deposit(self) -> None:
        """Count one request (not a retry): it earns ``ratio`` of a retry for ``ttl``."""
        if self._link is None:
            now = self._clock()
            if not self._ledger.deposit_if_current(now):
                with self._lock:
                    self._ledger.deposit(self._clock())
            return
        with self._lock:
            self._ratio_ledger.deposit(self._clock())
            self._requests += 1
            first = not self._fleet and self._requests == 1
        if first:
            self._link.wake()  # the first request of a while: get a share soon

    def try_withdraw(self) -> bool:
        """Take one retry from the budget and return True, or return False if it is spent."""
        if self._link is None:
            with self._lock:
                return self._ledger.try_withdraw(self._clock())
        with self._lock:
            now = self._clock()
            if self._ratio_ledger.try_withdraw(now):
                return True
            if not self._fleet:
                return self._reserve_ledger.try_withdraw(now)
            if self._share >= 1:
                self._share -= 1
                self._spent += 1
                return True
            self._refused += 1
        self._link.wake()
        return False

    def available(self) -> int:
        """Return how many retries ``try_withdraw`` would allow now (never negative).

        With a store: the ratio part's retries plus this process's share of the fleet
        reserve (or the local reserve, while the store is local-only).
        """
        if self._link is None:
            with self._lock:
                return self._ledger.available(self._clock())
        with self._lock:
            now = self._clock()
            reserve = self._share if self._fleet else self._reserve_ledger.available(now)
            return self._ratio_ledger.available(now) + reserve

    # -- sharing: the store's syncer ------------------------------------------------------

    def _share_report(self, closing: bool) -> ReserveReport | None:
        """Return what to give back and ask for, or None when the share is right as it is.

        The share aimed at is twice the reserve spent and refused since the last report,
        at least 1 while this process had a request in the last ``ttl``, 0 otherwise (and
        0 when the store is closing). What is given back leaves the share now.
        """
        with self._lock:
            now = self._clock()
            if self._requests:
                self._active_until = now + self.config.ttl
            demand = self._spent + self._refused
            self._spent = self._refused = self._requests = 0
            if closing or now >= self._active_until:
                target = 0
            else:
                target = min(max(1, 2 * demand), max(1, math.floor(self.config.reserve)))
            share = self._share if self._fleet else 0
            returned = max(0, share - target)
            wanted = max(0, target - share)
            if not (returned or wanted):
                return None
            if self._fleet:
                self._share -= returned
            return ReserveReport(returned=returned, wanted=wanted)

    def _share_adopt(self, report: ReserveReport, granted: int) -> None:
        """Add the retries the fleet granted to this process's share."""
        del report
        with self._lock:
            if not self._fleet:
                self._fleet = True
                self._share = 0
            self._share += granted

    def _share_lost(self) -> None:
        """Use the local reserve again: the store went local-only."""
        with self._lock:
            self._fleet = False
            self._share = 0
