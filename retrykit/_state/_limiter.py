"""`RateLimiter` and `AdaptiveThrottle`: the core's pacing rules behind a lock and a clock.

The rules are in retrykit._core._ratelimit. Both are shared by every call of an adapter
(and may be shared between adapters); both keep at most ``max_keys`` keys, dropping the
least recently used. A key is an origin (``scheme://host:port``) and, for the limiter,
the fingerprint of the request's credential, so two API keys on one host are paced
apart. An origin the limiter knows nothing about costs one dict lookup per request.
"""

from __future__ import annotations

import collections
import math
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from retrykit._clock import Clock, monotonic_of, wall_of
from retrykit._core._budget import WindowCounts
from retrykit._core._ratelimit import (
    KeyAllowance,
    gcra,
    is_refusal,
    read_server_limit,
    reset_jitter,
    throttle_probability,
)
from retrykit._errors import RateLimitExceededError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["AdaptiveThrottle", "RateLimiter"]

_NO_KEYS: Final[dict[str | None, KeyAllowance]] = {}


def _positive(name: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


class RateLimiter:
    """Paces requests so the server need not refuse them (see retrykit._core._ratelimit).

    ``RateLimiter()`` (the adapters' default) follows what servers say, per origin and
    credential fingerprint: after a response with nothing remaining and a reset, the next
    request to that key waits until the reset (plus up to a tenth of it, at most 1 s, of
    jitter), and a 429's ``Retry-After`` blocks the key the same way for every caller.
    ``RateLimiter(rate=100, per=60.0, burst=10)`` also enforces a limit you know from
    the API's documentation, with GCRA, before any 429. A wait longer than the
    policy's ``max_retry_after`` or the time left to the deadline is not made: the call
    fails at once with a `RateLimitExceededError` telling the cooldown.

    ``clock`` (monotonic seconds, or a `Clock`), ``wall_clock`` and ``rand`` are for tests.
    """

    def __init__(
        self,
        rate: float | None = None,
        per: float = 1.0,
        burst: int = 1,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] | Clock = time.monotonic,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        _positive("rate", rate, allow_none=True)
        _positive("per", per)
        _count("burst", burst)
        _count("max_keys", max_keys)
        if not callable(rand):
            raise TypeError(f"rand must be a function returning a float in [0, 1), got {rand!r}")
        self._settings: dict[str, Any] = {
            "rate": rate,
            "per": per,
            "burst": burst,
            "max_keys": max_keys,
            "clock": clock,
            "wall_clock": wall_clock,
            "rand": rand,
        }
        self.rate = rate
        self.per = float(per)
        self.burst = burst
        self.max_keys = max_keys
        self._interval = self.per / rate if rate is not None else 0.0
        self._clock = monotonic_of(clock)
        self._wall = wall_of(clock, wall_clock)
        self._rand = rand
        self._lock = threading.Lock()
        # origin -> fingerprint -> the server's allowance for that key.
        self._allowances: dict[str, dict[str | None, KeyAllowance]] = {}
        # (origin, fingerprint) -> GCRA theoretical arrival time, for a configured rate.
        self._arrivals: collections.OrderedDict[tuple[str, str | None], float] = (
            collections.OrderedDict()
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only; the copy starts knowing nothing of any server.
        return self._settings

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc] # rebuilding from settings

    def __repr__(self) -> str:
        if self.rate is None:
            return "RateLimiter()"
        return f"RateLimiter(rate={self.rate:g}, per={self.per:g}, burst={self.burst})"

    def acquire(
        self, origin: str, fingerprint: Callable[[], str | None], *, max_wait: float
    ) -> float:
        """Take a slot for a request to ``origin`` now (0.0), or return how long to wait first.

        After a wait, ask again: the slot is taken only when 0.0 comes back. Raises
        `RateLimitExceededError` when the wait would be longer than ``max_wait``.
        ``fingerprint`` is called only when the origin has state to look up.
        """
        allowances = self._allowances.get(origin, _NO_KEYS)
        if not allowances and self.rate is None:
            return 0.0
        key = fingerprint()
        with self._lock:
            now = self._clock()
            allowance = allowances.get(key)
            wait = allowance.wait(now) if allowance is not None else 0.0
            tat = -math.inf
            if self.rate is not None:
                tat = self._arrivals.get((origin, key), -math.inf)
                wait = max(wait, gcra(tat, now, interval=self._interval, burst=self.burst)[0])
            if wait <= 0.0:
                if allowance is not None:
                    allowance.take(now)
                if self.rate is not None:
                    self._arrivals[origin, key] = gcra(
                        tat, now, interval=self._interval, burst=self.burst
                    )[1]
                    self._arrivals.move_to_end((origin, key))
                    if len(self._arrivals) > self.max_keys:
                        self._arrivals.popitem(last=False)
                return 0.0
            wait += reset_jitter(wait, self._rand())
        if wait > max_wait:
            raise RateLimitExceededError.cooldown(
                wait, f"rate limit of {origin} reached; the next request may go in {wait:.1f} s"
            )
        return wait

    def observe(
        self,
        origin: str,
        fingerprint: Callable[[], str | None],
        status: int,
        headers: Mapping[str, str],
    ) -> None:
        """Learn from a response what the server says about its key's rate limit."""
        limit = read_server_limit(status, headers, now=self._wall())
        if limit.blocked_for is None and limit.remaining is None and origin not in self._allowances:
            return
        key = fingerprint()
        with self._lock:
            now = self._clock()
            allowances = self._allowances.get(origin)
            if allowances is None:
                if len(self._allowances) >= self.max_keys:
                    self._forget_idle(now)
                allowances = self._allowances[origin] = {}
            allowance = allowances.get(key)
            if allowance is None:
                allowance = allowances[key] = KeyAllowance()
            allowance.learn(limit, now)

    def _forget_idle(self, now: float) -> None:
        """Drop origins whose allowances say nothing any more (called under the lock)."""
        for origin in [
            origin
            for origin, allowances in self._allowances.items()
            if all(allowance.idle(now) for allowance in allowances.values())
        ]:
            del self._allowances[origin]
        while len(self._allowances) >= self.max_keys:
            del self._allowances[next(iter(self._allowances))]


class AdaptiveThrottle:
    """Client-side adaptive throttling (Google SRE book, "Handling Overload").

    Per origin, over the last ``window`` seconds (two minutes by default), with
    ``requests`` attempted and ``accepts`` not refused by the server (a 429 or 503 is a
    refusal), each request is rejected locally, before it is sent, with probability
    ``max(0, (requests - k * accepts) / (requests + 1))``. Against a healthy server
    nothing is rejected; against one that refuses most requests, the requests that reach
    it fall toward ``k`` times the accepted ones. Off by default: pass
    ``throttle=AdaptiveThrottle()`` to an adapter.
    """

    def __init__(
        self,
        k: float = 2.0,
        window: float = 120.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] | Clock = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        _positive("k", k)
        if k < 1:
            raise ValueError(f"k must be >= 1 (1 rejects as soon as anything is refused), got {k}")
        _positive("window", window)
        _count("max_keys", max_keys)
        self._settings: dict[str, Any] = {
            "k": k,
            "window": window,
            "max_keys": max_keys,
            "clock": clock,
            "rand": rand,
        }
        self.k = float(k)
        self.window = float(window)
        self.max_keys = max_keys
        self._clock = monotonic_of(clock)
        self._rand = rand
        self._lock = threading.Lock()
        # origin -> (requests, accepts) over the window.
        self._counts: collections.OrderedDict[str, WindowCounts] = collections.OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        # Pickling keeps the settings only; the copy starts with empty counts.
        return self._settings

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc] # rebuilding from settings

    def __repr__(self) -> str:
        return f"AdaptiveThrottle(k={self.k:g}, window={self.window:g})"

    def admit(self, origin: str) -> bool:
        """Count a request to ``origin`` and return False when it is to be rejected locally."""
        with self._lock:
            now = self._clock()
            counts = self._counts.get(origin)
            if counts is None:
                counts = self._counts[origin] = WindowCounts(self.window)
                if len(self._counts) > self.max_keys:
                    self._counts.popitem(last=False)
            else:
                self._counts.move_to_end(origin)
            requests, accepts = counts.sums(now)
            counts.add(now, 1, 0)
        return self._rand() >= throttle_probability(requests, accepts, self.k)

    def record(self, origin: str, status: int | None) -> None:
        """Count the server's answer to an admitted request (None: no response at all)."""
        if status is None or is_refusal(status):
            return
        with self._lock:
            counts = self._counts.get(origin)
            if counts is not None:
                counts.add(self._clock(), 0, 1)

    def rejection_chance(self, origin: str) -> float:
        """Return the chance that the next request to ``origin`` is rejected (for dashboards)."""
        with self._lock:
            counts = self._counts.get(origin)
            if counts is None:
                return 0.0
            requests, accepts = counts.sums(self._clock())
        return throttle_probability(requests, accepts, self.k)
