"""`RateLimiter` and `AdaptiveThrottle`: the core's pacing rules behind a lock and a clock.

The rules are in retrykit._core._ratelimit. Both are shared by every call of an adapter
(and may be shared between adapters); both keep at most ``max_keys`` keys, dropping the
least recently used. A key is an origin (``scheme://host:port``) and, for the limiter,
the fingerprint of the request's credential, so two API keys on one host are paced
apart. A request to an origin that never spoke of a rate limit costs one dict lookup.

Sharing. With ``store=`` (a `FleetStore`, such as `retrykit.redis.RedisStore`), the
limiter's keys are shared with every process on the same store and namespace, through
the store's record channel; requests still decide in memory. A request thread only
notes the key it used (a dict store) and, when an answer is worth telling at once (a
``Retry-After``, nothing remaining, a new window, a key new here), wakes the syncer.
Each round the syncer thread collects a record per key in use (`_share_report`: used
in the last `ACTIVE_FOR` seconds or waited on; its block, window count, quota and
reset, as seconds from now), and adopts every other process's record (`_share_adopt`)
through `KeyState.adopt`, under the same lock, along with the number of processes
using the key and this one's rank: this process's share of a window's quota and of a
configured rate (rule 8 of retrykit._core._ratelimit). A key not shared yet takes the
number of processes the store announces (`_share_presence`), and so does a key's first
count here, when larger: processes that started with this one are missing from it.
When the store is lost, every key is this process's alone.
`RateLimiter.snapshot` and `RateLimiter.adopt` do the same by hand, for a store of
your own.
"""

from __future__ import annotations

import collections
import heapq
import logging
import math
import operator
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from retrykit._clock import Clock, monotonic_of, wall_of
from retrykit._core._budget import WindowCounts
from retrykit._core._ratelimit import (
    LONGEST_WAIT,
    SHORTEST_WAIT,
    KeySnapshot,
    KeyState,
    fleet_pace,
    gcra,
    is_refusal,
    read_server_limit,
    record_of,
    reset_jitter,
    snapshot_of,
    throttle_probability,
)
from retrykit._errors import RateLimitExceededError
from retrykit._state._store import FleetStore, RecordMember, RecordReport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from retrykit._state._store import FleetRecord, StoreLink

__all__ = ["AdaptiveThrottle", "RateLimiter"]

Key: TypeAlias = "tuple[str, str | None]"
"""A limiter key: an origin and the fingerprint of the request's credential (or None)."""

RECORD_KIND: Final = "ratelimit"
"""The record channel the limiter shares its keys on."""

MAX_SHARED: Final = 1000
"""Keys shared per round at most (the most recently used)."""

ACTIVE_FOR: Final = 1.0
"""Seconds a key stays shared after its last use (a caller waiting on it uses it)."""

RECORD_TTL: Final = 10.0
"""Seconds a published record lives at least (longer while its block or window lasts)."""

LEAVING_TTL: Final = 0.001
"""The ttl of the records a closing store publishes: out of the fleet's count at once."""

_logger = logging.getLogger("retrykit.ratelimit")

_REMEMBERED: Final = 60.0
# Keys published within this many seconds are left (tiny records) when the store closes.


def _positive(name: str, value: object, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")


def _non_negative(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


_SILENT_EXACT: Final = 1024
"""How many silent origins a limiter knows exactly (at most ``max_keys``); the rest go to
its `SeenSilent`."""


_BLOOM_BLOCKS: Final = 4096
"""The blocks of a `SeenSilent`: 64 bytes (512 bits) each, 256 KiB in all."""


class SeenSilent:
    """A Bloom filter of silent origins: 256 KiB, whatever their number.

    Three bits per origin, from its hash, all in one 64-byte block (one cache line: a
    lookup reads one line of memory, not three). An origin never added may test as
    present, by chance (about 1 in 370 with 100,000 added): its first request then goes
    without holding the others for its answer, as a silent origin's would. One added
    always tests present.
    """

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = bytearray(_BLOOM_BLOCKS << 6)

    @staticmethod
    def _positions(origin: str) -> tuple[int, int, int]:
        """Return the origin's three bits: 39 bits of its hash, 12 for its block, 9 each."""
        mixed = hash(origin) & 0x7F_FFFF_FFFF
        block = (mixed & (_BLOOM_BLOCKS - 1)) << 9
        return block | mixed >> 12 & 511, block | mixed >> 21 & 511, block | mixed >> 30

    def add(self, origin: str) -> None:
        """Remember ``origin`` as silent."""
        bits = self._bits
        for position in self._positions(origin):
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, origin: object) -> bool:
        return isinstance(origin, str) and self.has(origin)

    def has(self, origin: str) -> bool:
        """Return True if ``origin`` was added (or, rarely, by chance: see the class)."""
        first, second, third = self._positions(origin)
        bits = self._bits
        return bool(
            bits[first >> 3] >> (first & 7)
            & bits[second >> 3] >> (second & 7)
            & bits[third >> 3] >> (third & 7)
            & 1
        )


class RateLimiter:
    """Paces requests so the server need not refuse them (see retrykit._core._ratelimit).

    ``RateLimiter()`` (the adapters' default) follows what servers say, per origin and
    credential fingerprint: after a response with nothing remaining and a reset, the next
    request to that key waits until the reset (plus up to a tenth of it, at most 1 s, of
    jitter), and a 429's ``Retry-After`` blocks the key the same way for every caller.
    The first request to a key (and the first after its window ends) goes alone; the
    others wait for its answer, at most ``probe_wait`` seconds (0 turns this off).
    ``RateLimiter(rate=100, per=60.0, burst=10)`` also enforces a limit you know from
    the API's documentation, with GCRA, before any 429. A wait longer than the
    policy's ``max_retry_after`` or the time left to the deadline is not made: the call
    fails at once with a `RateLimitExceededError` telling the cooldown.

    At most ``max_keys`` keys are held (the least recently used go first), and as many
    origins that never spoke of a rate limit. ``clock`` (monotonic seconds, or a
    `Clock`), ``wall_clock`` and ``rand`` are for tests.

    ``store`` (a `FleetStore`, such as `retrykit.redis.RedisStore`) shares the keys with
    every process on the same store and namespace, so they pace on the same numbers: a
    ``Retry-After`` one of them hears blocks the key for all within a sync interval or
    two, each takes its share of a window's quota (``remaining`` split between the
    processes using the key: the shares add up to what the server allows), and a
    configured ``rate`` is the fleet's: each process keeps ``rate / n`` of it (``burst``
    shared out, at least 1 each) while ``n`` processes use the key, the whole rate
    alone or while the store is local-only. Calls still decide in memory; see this
    module's docstring, and README's "Running a fleet" for the trade-offs.
    """

    def __init__(
        self,
        rate: float | None = None,
        per: float = 1.0,
        burst: int = 1,
        *,
        probe_wait: float = 0.5,
        max_keys: int = 10_000,
        clock: Callable[[], float] | Clock = time.monotonic,
        wall_clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
        store: FleetStore | None = None,
    ) -> None:
        if store is not None and not isinstance(store, FleetStore):
            raise TypeError(
                f"store must be a FleetStore (such as retrykit.redis.RedisStore) or None, "
                f"got {store!r}"
            )
        _positive("rate", rate, allow_none=True)
        _positive("per", per)
        _count("burst", burst)
        _non_negative("probe_wait", probe_wait)
        _count("max_keys", max_keys)
        if not callable(rand):
            raise TypeError(f"rand must be a function returning a float in [0, 1), got {rand!r}")
        self._settings: dict[str, Any] = {
            "rate": rate,
            "per": per,
            "burst": burst,
            "probe_wait": probe_wait,
            "max_keys": max_keys,
            "clock": clock,
            "wall_clock": wall_clock,
            "rand": rand,
        }
        if store is not None:
            # A store is kept only when there is one: it then has to pickle itself.
            self._settings["store"] = store
        self.rate: float | None = rate
        self.per: float = float(per)
        self.burst: int = burst
        self.probe_wait: float = float(probe_wait)
        self.max_keys: int = max_keys
        self._interval = self.per / rate if rate is not None else 0.0
        self._clock = monotonic_of(clock)
        self._wall = wall_of(clock, wall_clock)
        self._rand = rand
        self._lock = threading.Lock()
        # (origin, fingerprint) -> the key's state, least recently used first.
        self._keys: collections.OrderedDict[Key, KeyState] = collections.OrderedDict()
        # origin -> how many of its keys are held (an origin with none may be silent).
        self._held: dict[str, int] = {}
        # Origins whose answers said nothing of a rate limit: requests to them go at once.
        # The most recent exactly; past those, in a Bloom filter of fixed size, so that a
        # client of 100,000 healthy hosts holds neither 100,000 entries nor probes again.
        self._silent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._seen_silent: SeenSilent | None = None
        # Sharing (see the module docstring); all empty without a store.
        self._store = store
        self._link: StoreLink | None = None
        self._active: dict[Key, float] = {}  # key -> until when a caller uses it
        self._fleet = (1, 0)  # the processes announced on the store, and our rank
        self._counted: set[Key] = set()  # active keys whose own count came at least once
        self._names: dict[str, Key] = {}  # the last round's record keys
        self._published: dict[Key, float] = {}  # key -> when last published
        self._leaving = False
        self._unreadable = 0  # records from the fleet that could not be read
        if store is not None:
            self._link = store.share_records(
                RecordMember(
                    kind=RECORD_KIND,
                    report=self._share_report,
                    adopt=self._share_adopt,
                    lost=self._share_lost,
                    presence=self._share_presence,
                )
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

    def __len__(self) -> int:
        """Return the number of keys held."""
        return len(self._keys)

    def quiet(self, origin: str) -> bool:
        """Return True if a request to ``origin`` may go at once, without asking `acquire`.

        That is an origin whose answers never spoke of a rate limit, with no configured
        rate: a dict lookup, for the adapters' short first attempt.
        """
        if self.rate is not None:
            return False
        # The exact set first, as `_is_silent` asks it: the one lookup of a healthy origin.
        return origin in self._silent or self._is_silent(origin)

    def acquire(
        self, origin: str, fingerprint: Callable[[], str | None], *, max_wait: float
    ) -> float:
        """Take a slot for a request to ``origin`` now (0.0), or return how long to wait first.

        After a wait, ask again: the slot is taken only when 0.0 comes back, and a wait
        reserves nothing. Raises `RateLimitExceededError` when the server's word or the
        configured rate asks for a wait longer than ``max_wait``. ``fingerprint`` is not
        called for an origin that never spoke of a rate limit (without a configured rate).

        ``fingerprint`` also stands for the call: every attempt of one call passes the
        same function, or an equal one (the driver passes a method of the call), so that
        the retry of a first request that got no answer is not held for that answer.
        """
        if self.rate is None and self._is_silent(origin):
            return 0.0
        key = (origin, fingerprint())
        link = self._link
        with self._lock:
            now = self._clock()
            if link is not None:
                if key not in self._keys:
                    link.wake()  # a key new here: learn soon who else uses it
                self._active[key] = now
            state = self._state(key, now)
            server = state.server_wait(now)
            pace = 0.0
            if self.rate is not None:
                interval, burst = self._pace(state)
                pace = gcra(state.tat, now, interval=interval, burst=burst)[0]
            if max(server, pace) > max_wait:
                raise self._cooldown(origin, server, pace, max_wait)
            wait = max(server + reset_jitter(server, self._rand()) if server else 0.0, pace)
            if wait <= 0.0:
                probe = state.probe_wait(now, fingerprint)
                if probe <= 0.0 or probe > max_wait:
                    self._take(state, now, fingerprint)
                    return 0.0
                wait = probe
            wait = max(min(wait, max_wait), SHORTEST_WAIT)
            if link is not None:
                self._active[key] = now + wait  # a caller waiting on the key still uses it
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
        if not limit.said and self._is_silent(origin):
            return
        key = (origin, fingerprint())
        with self._lock:
            now = self._clock()
            state = self._keys.get(key)
            if state is None:
                if limit.said:
                    state = self._state(key, now, probe=False)
                elif not self._held.get(origin):
                    self._mark_silent(origin)
                    return
                else:
                    return
            known = state.remaining is not None and now < state.reset_at
            state.learn(limit, now)
            if self._link is not None and (
                limit.blocked_for is not None
                or limit.remaining == 0
                or (not known and state.remaining is not None)
            ):
                # Worth telling the fleet at once: a block, nothing left, a new window.
                self._link.wake()
            if limit.said:
                self._silent.pop(origin, None)
            elif self.rate is None and state.idle(now):
                self._forget(key)
                if not self._held.get(origin):
                    self._mark_silent(origin)

    def failed(self, origin: str, fingerprint: Callable[[], str | None]) -> None:
        """Note that the attempt of the call ``fingerprint`` stands for got no response.

        If it was a first request the others are held for, the next request goes in its
        place at once, rather than after ``probe_wait``.
        """
        if self._is_silent(origin):
            return
        key = (origin, fingerprint())
        with self._lock:
            state = self._keys.get(key)
            if state is not None:
                state.failed(fingerprint)

    def snapshot(self, origin: str, fingerprint: str | None) -> KeySnapshot | None:
        """Return a key's state with Unix times (None if none is held), to share it."""
        with self._lock:
            state = self._keys.get((origin, fingerprint))
            if state is None:
                return None
            return state.snapshot(self._wall() - self._clock())

    def adopt(self, origin: str, fingerprint: str | None, snapshot: KeySnapshot) -> None:
        """Merge a key's state from elsewhere (see `KeyState.adopt` for the rule)."""
        key = (origin, fingerprint)
        with self._lock:
            now = self._clock()
            state = self._state(key, now, probe=False)
            state.adopt(snapshot, self._wall() - now, now)
            if snapshot.remaining is not None or snapshot.blocked_until > -math.inf:
                self._silent.pop(origin, None)

    def _state(self, key: Key, now: float, *, probe: bool | None = None) -> KeyState:
        """Return the key's state, made if new (called under the lock)."""
        state = self._keys.get(key)
        if state is not None:
            self._keys.move_to_end(key)
            return state
        origin = key[0]
        if probe is None:
            probe = self.probe_wait > 0 and not self._is_silent(origin)
        while len(self._keys) >= self.max_keys:
            self._forget(next(iter(self._keys)))
        state = self._keys[key] = KeyState(probe=probe)
        if self._link is not None:
            # Until the key's own count comes, every process announced may be using it.
            state.members, state.rank = self._fleet
        self._held[origin] = self._held.get(origin, 0) + 1
        return state

    def _take(self, state: KeyState, now: float, caller: object) -> None:
        state.take(now, self.probe_wait, caller)
        if self.rate is not None:
            interval, burst = self._pace(state)
            state.tat = gcra(state.tat, now, interval=interval, burst=burst)[1]

    def _pace(self, state: KeyState) -> tuple[float, int]:
        """Return the GCRA interval and burst of this process's share of the configured rate."""
        if state.members <= 1:
            return self._interval, self.burst
        return fleet_pace(self._interval, self.burst, state.members, state.rank)

    def _forget(self, key: Key) -> None:
        del self._keys[key]
        origin = key[0]
        left = self._held[origin] - 1
        if left:
            self._held[origin] = left
        else:
            del self._held[origin]

    def _is_silent(self, origin: str) -> bool:
        """Return True if ``origin``'s answers said nothing of a rate limit (so far)."""
        if origin in self._silent:
            return True
        seen = self._seen_silent
        # An origin that spoke since holds keys: the filter cannot forget it, the keys tell.
        return seen is not None and seen.has(origin) and not self._held.get(origin)

    def _mark_silent(self, origin: str) -> None:
        self._silent[origin] = None
        self._silent.move_to_end(origin)
        while len(self._silent) > min(self.max_keys, _SILENT_EXACT):
            oldest = self._silent.popitem(last=False)[0]
            if self._seen_silent is None:
                self._seen_silent = SeenSilent()
            self._seen_silent.add(oldest)

    # -- sharing: the store's syncer ------------------------------------------------------

    def _share_report(self, closing: bool) -> list[RecordReport]:
        """Return a record per key in use (at most `MAX_SHARED`, the most recently used).

        A key is in use while a caller asked for it within `ACTIVE_FOR` seconds, or
        waits on it. Closing, return a record with a tiny ttl for every key published
        lately instead, so this process leaves the fleet's count at once.
        """
        with self._lock:
            now = self._clock()
            wall = self._wall()
            active = self._active
            for key, until in list(active.items()):
                if now - until > ACTIVE_FOR:
                    del active[key]
                    self._counted.discard(key)
            asked = (
                active
                if len(active) <= MAX_SHARED
                else dict(heapq.nlargest(MAX_SHARED, active.items(), key=operator.itemgetter(1)))
            )
            if closing:
                self._leaving = True
                self._names = {}
                return [
                    RecordReport(key=_record_key(key), fields={}, ttl=LEAVING_TTL)
                    for key, at in self._published.items()
                    if now - at < _REMEMBERED
                ]
            offset = wall - now
            taken: list[tuple[Key, KeySnapshot, float]] = []
            for key in list(asked):
                state = self._keys.get(key)
                if state is None:
                    continue  # dropped since (max_keys)
                self._published[key] = now
                ttl = max(RECORD_TTL, state.blocked_until - now, state.reset_at - now)
                taken.append((key, state.snapshot(offset), min(ttl, LONGEST_WAIT) + 1.0))
            if len(self._published) > 2 * MAX_SHARED:
                for key, at in list(self._published.items()):
                    if now - at >= _REMEMBERED:
                        del self._published[key]
        # The records are written outside the lock: request threads wait for none of it.
        self._names = {_record_key(key): key for key, _, _ in taken}
        return [
            RecordReport(key=_record_key(key), fields=record_of(snapshot, wall), ttl=ttl)
            for key, snapshot, ttl in taken
        ]

    def _share_adopt(self, records: Sequence[FleetRecord]) -> None:
        """Merge every other process's record into the key's state, and take its share."""
        unreadable: list[tuple[str, str]] = []
        wall = self._wall()
        # The records are read outside the lock: request threads wait for none of it.
        read: list[tuple[Key, FleetRecord, list[KeySnapshot]]] = []
        for record in records:
            key = self._names.get(record.key)
            if key is None:
                continue
            snapshots = []
            for member in record.records:
                if member.mine:
                    continue
                try:
                    snapshot = snapshot_of(member.fields, member.age, wall)
                except Exception:  # noqa: BLE001 - a record from elsewhere must never break us
                    snapshot = None
                if snapshot is None:
                    unreadable.append((record.key, member.member))
                else:
                    snapshots.append(snapshot)
            read.append((key, record, snapshots))
        with self._lock:
            if self._leaving:
                return
            now = self._clock()
            offset = wall - now
            for key, record, snapshots in read:
                state = self._keys.get(key)
                if state is None:
                    continue  # dropped since (max_keys)
                members, rank = max(1, record.members), record.rank
                if key not in self._counted:
                    # The key's first count here misses the processes that started using
                    # it in this same interval: until the next, the store's count bounds it.
                    self._counted.add(key)
                    if self._fleet[0] > members:
                        members, rank = self._fleet
                state.members = members
                state.rank = rank if 0 <= rank < members else members - 1
                for snapshot in snapshots:
                    state.adopt(snapshot, offset, now)
                    if snapshot.remaining is not None or snapshot.blocked_until > -math.inf:
                        self._silent.pop(key[0], None)
            first = self._unreadable == 0
            self._unreadable += len(unreadable)
        if unreadable:
            level = logging.WARNING if first else logging.DEBUG
            _logger.log(
                level,
                "retrykit rate limiter: ignored %d unreadable record(s) from the fleet "
                "(first: %s from %s)",
                len(unreadable),
                *unreadable[0],
            )

    def _share_presence(self, members: int, rank: int) -> None:
        """Note the processes announced on the store: the count for keys not shared yet."""
        with self._lock:
            if not self._leaving:
                self._fleet = (max(1, members), rank if 0 <= rank < members else 0)

    def _share_lost(self) -> None:
        """Every key is this process's alone again: the store went local-only."""
        with self._lock:
            self._fleet = (1, 0)
            self._counted.clear()
            for state in self._keys.values():
                state.members, state.rank = 1, 0

    def _cooldown(
        self, origin: str, server: float, pace: float, max_wait: float
    ) -> RateLimitExceededError:
        wait = max(server, pace)
        if server >= pace:
            what = f"the rate limit of {origin} allows no request for {wait:.1f} s"
        else:
            what = (
                f"the configured rate limit for {origin} ({self.rate:g} per {self.per:g} s) "
                f"allows no request for {wait:.1f} s"
            )
        return RateLimitExceededError.cooldown(
            wait, f"{what}, longer than this call may wait ({max_wait:.1f} s); nothing was sent"
        )


def _record_key(key: Key) -> str:
    """Return the name of a key's record: ``origin|fingerprint`` (never a credential)."""
    origin, fingerprint = key
    return f"{origin}|{fingerprint or ''}"


class AdaptiveThrottle:
    """Client-side adaptive throttling (Google SRE book, "Handling Overload").

    Per origin, over the last ``window`` seconds (two minutes by default), with
    ``requests`` counted as each is answered (or rejected here) and ``accepts`` those
    the server did not refuse (a 429 or 503 is a refusal; no response is not an accept),
    each request is rejected locally, before it is sent, with probability
    ``max(0, (requests - k * accepts) / (requests + 1))``. Against a healthy server
    nothing is rejected, even in a burst of concurrent first requests (a request is
    counted once its answer is in); against one that refuses most requests, the requests
    that reach it fall toward ``k`` times the ones it accepts. Off by default: pass
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
        if not callable(rand):
            raise TypeError(f"rand must be a function returning a float in [0, 1), got {rand!r}")
        self._settings: dict[str, Any] = {
            "k": k,
            "window": window,
            "max_keys": max_keys,
            "clock": clock,
            "rand": rand,
        }
        self.k: float = float(k)
        self.window: float = float(window)
        self.max_keys: int = max_keys
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

    def __len__(self) -> int:
        """Return the number of origins counted."""
        return len(self._counts)

    def admit(self, origin: str) -> bool:
        """Return False when a request to ``origin`` is to be rejected locally (it is counted)."""
        with self._lock:
            now = self._clock()
            counts = self._counts_of(origin)
            chance = throttle_probability(*counts.sums(now), self.k)
            if chance <= 0.0 or self._rand() >= chance:
                return True
            counts.add(now, 1, 0)
        return False

    def record(self, origin: str, status: int | None) -> None:
        """Count the server's answer to an admitted request (None: no response at all)."""
        accepted = 0 if status is None or is_refusal(status) else 1
        with self._lock:
            self._counts_of(origin).add(self._clock(), 1, accepted)

    def rejection_chance(self, origin: str) -> float:
        """Return the chance that the next request to ``origin`` is rejected (for dashboards)."""
        with self._lock:
            counts = self._counts.get(origin)
            if counts is None:
                return 0.0
            requests, accepts = counts.sums(self._clock())
        return throttle_probability(requests, accepts, self.k)

    def _counts_of(self, origin: str) -> WindowCounts:
        """Return the origin's counts, made if new (called under the lock)."""
        counts = self._counts.get(origin)
        if counts is None:
            counts = self._counts[origin] = WindowCounts(self.window)
            if len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        else:
            self._counts.move_to_end(origin)
        return counts
