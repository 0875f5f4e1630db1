"""Staying under a rate limit: what the server says, a configured limit, adaptive throttling.

The rules, in the order a request meets them (the holders are in retrykit._state._limiter):

1. **The server's word, per origin and credential.** Every response is read for its
   rate-limit state (`parse_rate_limit`: the IETF ``RateLimit`` field, ``RateLimit-*``
   or ``X-RateLimit-*``). A ``Retry-After`` on a 429 wins over them (IETF
   draft-ietf-httpapi-ratelimit-headers, section 3) and blocks the key for every caller,
   not only the call that got it (a 503's ``Retry-After`` is the call's own wait: the
   service, not the client's quota, is the trouble). Otherwise a response with
   ``remaining`` and a reset sets the key's allowance: that many more requests until the
   reset, each request
   taking one as it leaves, so requests already in flight are counted before their
   answers come back. With none left, the next request waits for the reset. A new
   window is assumed to hold ``limit`` requests again (when the server said it).
   An epoch reset is read against the response's ``Date`` when it has one, so a server
   clock that is minutes off still gives the right wait.
2. **Jitter at the reset.** A wait for a reset gets up to ``reset_jitter`` of itself
   added (at most one second), so a fleet does not stampede the moment a window opens.
3. **A configured limit** (``rate`` requests per ``per`` seconds, ``burst`` at once)
   is kept with GCRA: one "theoretical arrival time" per key; a request may go at
   ``now`` when ``tat - now <= (burst - 1) * interval`` and moves ``tat`` on by one
   ``interval`` (``per / rate``). In any window of ``t`` seconds at most
   ``burst + rate * t / per`` requests go out.
4. **Waits too long to make are refused at once**: a wait longer than the caller's
   limit (the policy's ``max_retry_after``, or the time left to its deadline) sends
   nothing and reserves nothing.
5. **Adaptive throttling** (Google SRE book, "Handling Overload"): over the last
   ``window`` seconds, with ``requests`` attempted and ``accepts`` not refused by the
   server (a 429 or 503 is a refusal), a request is rejected locally with probability
   ``max(0, (requests - k * accepts) / (requests + 1))``.

Every function here is pure: the holders pass ``now`` (monotonic seconds) and ``rand``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import attrs

from retrykit._core._dates import parse_http_date
from retrykit._core._headers import get_header, parse_rate_limit, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import Mapping

RESET_JITTER: Final = 0.1
"""The share of a reset wait added at most as jitter (and never more than `MAX_JITTER`)."""

MAX_JITTER: Final = 1.0
REFUSAL_STATUSES: Final = frozenset({429, 503})
"""Statuses by which a server refuses work it could not take (for adaptive throttling)."""

# Beyond this a wait from a server is not believed: one day.
_LONGEST_WAIT: Final = 86_400.0


@attrs.frozen
class ServerLimit:
    """What one response says about a key's rate limit, as waits from the moment it came.

    ``blocked_for``: the key must not be used for this many seconds (a ``Retry-After``,
    or a reset with nothing remaining); ``remaining`` and ``reset_in``: requests left and
    seconds until they are given back; ``limit``: the window's size. Any may be None.
    """

    blocked_for: float | None = None
    remaining: int | None = None
    reset_in: float | None = None
    limit: int | None = None


_NOTHING: Final = ServerLimit()


def read_server_limit(status: int, headers: Mapping[str, str], *, now: float) -> ServerLimit:
    """Return what a response says about its key's rate limit (rule 1). Never raises.

    ``now`` is the current Unix time; an epoch reset is read against the response's
    ``Date`` header instead, when that is a valid HTTP-date.
    """
    try:
        return _read(status, headers, now)
    except Exception:  # noqa: BLE001 - a hint from a server must never break a request
        return _NOTHING


def _read(status: int, headers: Mapping[str, str], now: float) -> ServerLimit:
    if status == 429:
        wait = parse_retry_after(get_header(headers, "retry-after"), now=now)
        if wait is not None:
            return ServerLimit(blocked_for=min(wait, _LONGEST_WAIT))
    server_now = now
    date = get_header(headers, "date")
    if date:
        moment = parse_http_date(date, now=now)
        if moment is not None and math.isfinite(moment):
            server_now = moment
    info = parse_rate_limit(headers, now=server_now)
    if info is None:
        return _NOTHING
    reset_in = info.reset_after
    if reset_in is not None:
        reset_in = min(max(reset_in, 0.0), _LONGEST_WAIT)
    blocked = reset_in if info.remaining == 0 and reset_in is not None else None
    if blocked is None and status == 429 and reset_in is not None:
        blocked = reset_in
    return ServerLimit(
        blocked_for=blocked, remaining=info.remaining, reset_in=reset_in, limit=info.limit
    )


def reset_jitter(wait: float, rand: float) -> float:
    """Return the jitter to add to a wait for a reset (rule 2): in [0, min(0.1 * wait, 1))."""
    return rand * min(RESET_JITTER * wait, MAX_JITTER)


class KeyAllowance:
    """One key's allowance from the server: requests left, and when the window resets.

    ``blocked_until`` and ``reset_at`` are monotonic times. ``remaining`` is None while
    the server has said nothing usable, else the requests that may still leave before
    ``reset_at``; ``limit`` and ``period`` (the longest reset seen: the window's length)
    let a new window be counted before its first answer arrives.
    """

    __slots__ = ("blocked_until", "last_used", "limit", "period", "remaining", "reset_at")

    def __init__(self) -> None:
        self.blocked_until = 0.0
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.limit: int | None = None
        self.period = 0.0
        self.last_used = 0

    def wait(self, now: float) -> float:
        """Return how long a request must wait at ``now`` (0.0: it may go), jitter not included."""
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.remaining is not None and self.remaining <= 0 and now < self.reset_at:
            return self.reset_at - now
        return 0.0

    def take(self, now: float) -> None:
        """Count a request leaving at ``now``: it uses one of the remaining requests."""
        if self.remaining is None:
            return
        if now >= self.reset_at:
            if self.limit is None or self.period <= 0:
                self.remaining = None  # a new window of unknown size: wait for an answer
                return
            # Windows follow one another: the one holding `now` starts full.
            self.reset_at += self.period * (math.floor((now - self.reset_at) / self.period) + 1)
            self.remaining = self.limit
        self.remaining -= 1

    def learn(self, limit: ServerLimit, now: float) -> None:
        """Apply what a response said at ``now``."""
        if limit.blocked_for is not None:
            self.blocked_until = max(self.blocked_until, now + limit.blocked_for)
        if limit.limit is not None:
            self.limit = limit.limit
        remaining, reset_in = limit.remaining, limit.reset_in
        if remaining is None or reset_in is None:
            return
        self.period = max(self.period, reset_in)
        reset_at = now + reset_in
        if self.remaining is None or reset_at > self.reset_at + 1.0:
            self.remaining, self.reset_at = remaining, reset_at  # a later window
        elif reset_at >= self.reset_at - 1.0:
            # The same window: requests that left after the server counted have already
            # taken theirs, so the smaller count is the true one.
            self.remaining = min(self.remaining, remaining)
            self.reset_at = max(self.reset_at, reset_at)
        # An answer about an earlier window (it crossed a newer one) says nothing new.

    def idle(self, now: float) -> bool:
        """Return True when the allowance says nothing any more (safe to forget)."""
        return now >= self.blocked_until and (self.remaining is None or now >= self.reset_at)


def gcra(tat: float, now: float, *, interval: float, burst: int) -> tuple[float, float]:
    """Return ``(wait, new_tat)`` for one request at ``now`` under a configured limit (rule 3).

    ``tat`` is the key's theoretical arrival time (``-inf`` for a new key); the request
    may leave after ``wait`` seconds, and the key's ``tat`` becomes ``new_tat``.
    """
    start = max(tat, now)
    tolerance = (burst - 1) * interval
    wait = max(0.0, start - now - tolerance)
    return wait, start + interval


def throttle_probability(requests: int, accepts: int, k: float) -> float:
    """Return the chance to reject a request locally (rule 5), in [0, 1)."""
    if requests <= 0:
        return 0.0
    return max(0.0, (requests - k * accepts) / (requests + 1))


def is_refusal(status: int | None) -> bool:
    """Return True for a status by which the server refused work it could not take."""
    return status in REFUSAL_STATUSES
