"""`RedisStore`: the fleet store over Redis, synced by one background thread.

The thread (a daemon, started when the first holder joins) runs rounds: every
``sync_interval`` seconds, or sooner when a holder wakes it (a local failure, a probe
that needs a lease), but never twice within ``min(0.05, sync_interval)`` seconds. A
round asks every channel for its batch and sends all their script calls in one
pipeline: one round trip, whatever the number of circuits. Request threads never touch
Redis, and never wait for this thread.

The store talks through a connection pool of its own (at most two connections), built
from the given client's connection settings with ``timeout`` for connects and reads and
no retries: a slow Redis costs the syncer ``timeout``, never a caller anything.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import random
import secrets
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Final

import attrs
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from retrykit._fleet import _keys
from retrykit._fleet._channels import (
    LIVE_ROUNDS,
    MIN_LIVE,
    Batch,
    Channel,
    CircuitChannel,
    Command,
    RecordChannel,
    ReserveChannel,
)
from retrykit._fleet._health import Health
from retrykit._observe._events import StorageDegraded, StorageRecovered
from retrykit._observe._logging import event_level, log_event, logger

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from retrykit._fleet._scripts import Script
    from retrykit._observe._events import Event, Hook
    from retrykit._state._store import CircuitMember, RecordMember, ReserveMember

__all__ = ["RedisStore", "StoreStats"]

MIN_GAP: Final = 0.05
"""Seconds between two rounds at least: a burst of failures wakes the syncer once per gap."""

MAX_TIMEOUT: Final = 1.0
POOL_SIZE: Final = 2

# Connection settings the store sets itself, or that belong to the client's own pool.
_NOT_COPIED: Final = frozenset(
    {
        "socket_timeout",
        "socket_connect_timeout",
        "retry",
        "retry_on_error",
        "retry_on_timeout",
        "health_check_interval",
        "decode_responses",
        "maint_notifications_pool_handler",
        "maint_notifications_config",
        "orig_host_address",
        "orig_socket_timeout",
        "orig_socket_connect_timeout",
    }
)

_stores: weakref.WeakSet[RedisStore] = weakref.WeakSet()


@attrs.frozen
class StoreStats:
    """What a store did since it was built.

    ``rounds`` round trips made, ``commands`` commands sent in them (script calls, plus a
    PING per reconnection attempt and a SCRIPT LOAD when Redis had lost a script),
    ``errors`` failed round trips and pings; ``healthy`` is False while local-only.
    """

    rounds: int
    commands: int
    errors: int
    healthy: bool


def _number(value: object, parameter: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{parameter} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and low < value <= high):
        raise ValueError(f"{parameter} must be > {low} and <= {high} seconds, got {value!r}")
    return float(value)


def _count(value: object, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{parameter} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{parameter} must be >= 1, got {value!r}")
    return value


def _hooks(value: object) -> tuple[Hook, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"hooks must be a list of callables, got {value!r}")
    for hook in value:
        if not callable(hook):
            raise TypeError(f"hooks must be a list of callables taking an event, got {hook!r}")
    return tuple(value)


def _store_client(client: object, timeout: float) -> redis.Redis:
    """Return the client the store uses: a pool of its own, from ``client``'s settings.

    A client whose pool retrykit cannot copy (a Sentinel pool, a cluster) is used as it
    is, provided its own socket timeout is at most `MAX_TIMEOUT`.
    """
    if isinstance(client, redis.asyncio.Redis):
        raise TypeError(
            "client must be a synchronous redis.Redis: the store syncs from a thread of "
            "its own, so it works beneath asyncio and trio too"
        )
    if not isinstance(client, redis.Redis):
        raise TypeError(f"client must be a redis.Redis, got {client!r}")
    pool = client.connection_pool
    if type(pool) in (redis.ConnectionPool, redis.BlockingConnectionPool):
        settings = {
            name: value for name, value in pool.connection_kwargs.items() if name not in _NOT_COPIED
        }
        own = redis.ConnectionPool(
            connection_class=pool.connection_class,
            max_connections=POOL_SIZE,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            decode_responses=False,
            **settings,
        )
        return redis.Redis(connection_pool=own)
    configured = pool.connection_kwargs.get("socket_timeout")
    if not isinstance(configured, (int, float)) or configured > MAX_TIMEOUT:
        raise ValueError(
            f"client's pool ({type(pool).__name__}) cannot be copied, so the store would use "
            f"its socket_timeout={configured!r}: build it with socket_timeout and "
            f"socket_connect_timeout of at most {MAX_TIMEOUT} s (about 0.075) and "
            "retry=Retry(NoBackoff(), 0)"
        )
    return client


class _Link:
    """A member's handle on the store (`retrykit._state._store.StoreLink`)."""

    __slots__ = ("_channel", "_store")

    def __init__(self, store: RedisStore, channel: Channel) -> None:
        self._store = store
        self._channel = channel

    def wake(self) -> None:
        self._store.wake()

    def leave(self) -> None:
        self._store.remove(self._channel)


class RedisStore:
    """Shares circuit breakers, retry budgets and rate limiters across processes through Redis.

    ``client`` is a `redis.Redis`; the store builds its own small pool from its
    connection settings (so ``client`` is left as it is) with ``timeout`` seconds for
    connects and reads and no retries. ``namespace`` names the shared state (one API:
    its circuits, its budget's reserve, its rate limits); every key lives under it. The
    syncer exchanges with Redis every ``sync_interval`` seconds, sooner after a local
    failure or a rate limit's news (a ``Retry-After``, nothing left, a new window).
    ``min_reporters`` is how many processes must have reported failures before the
    fleet's circuit opens (each process's own circuit still opens on its own failures).
    After ``degrade_after`` failed exchanges in a row the store goes local-only and
    pings Redis after waits that double up to ``max_wait`` (jittered); ``hooks`` receive
    `StorageDegraded`, `StorageRecovered` and a `CircuitStateChanged` for each change
    the fleet caused here, each also logged on the ``retrykit`` logger.

    Building a store does no I/O. Call `close` (or use it as a context manager) when
    done: it hands back unused leases and shares, takes this process out of the rate
    limits' counts, then stops the thread.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        sync_interval: float = 0.5,
        min_reporters: int = 1,
        timeout: float = 0.075,
        degrade_after: int = 3,
        max_wait: float = 30.0,
        hooks: Sequence[Hook] = (),
    ) -> None:
        self.namespace: str = _keys.check_namespace(namespace)
        self.sync_interval: float = _number(sync_interval, "sync_interval", 0.0, 3600.0)
        self.min_reporters: int = _count(min_reporters, "min_reporters")
        self.timeout: float = _number(timeout, "timeout", 0.0, MAX_TIMEOUT)
        self.degrade_after: int = _count(degrade_after, "degrade_after")
        self.max_wait: float = _number(max_wait, "max_wait", 0.0, 3600.0)
        self.hooks: tuple[Hook, ...] = _hooks(hooks)
        self._client = _store_client(client, self.timeout)
        self._min_gap = min(MIN_GAP, self.sync_interval)
        self._rand: Callable[[], float] = random.random
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._channels: tuple[Channel, ...] = ()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._reset_after_fork = False
        self._reporter = _reporter_id()
        self._lease_numbers = itertools.count(1)
        self._health = Health(
            degrade_after=self.degrade_after,
            first_wait=max(2 * self.sync_interval, 0.1),
            max_wait=self.max_wait,
        )
        self._rounds = 0
        self._commands = 0
        self._errors = 0
        _stores.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("healthy" if self.healthy else "local-only")
        return (
            f"RedisStore(namespace={self.namespace!r}, sync_interval={self.sync_interval}, "
            f"min_reporters={self.min_reporters}, {state})"
        )

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "a RedisStore cannot be pickled (it holds connections and a thread): build one "
            "in each process, and the breakers, budgets and limiters that use it there"
        )

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def healthy(self) -> bool:
        """False while the store is local-only (from `StorageDegraded` to `StorageRecovered`)."""
        return not self._health.degraded

    @property
    def reporter(self) -> str:
        """This store's name in the fleet (who reported failures, who holds a lease)."""
        return self._reporter

    def stats(self) -> StoreStats:
        """Return the round trips, commands and errors so far, and the health."""
        return StoreStats(
            rounds=self._rounds, commands=self._commands, errors=self._errors, healthy=self.healthy
        )

    # -- FleetStore ---------------------------------------------------------------------

    def share_circuits(self, member: CircuitMember) -> _Link:
        """Share a breaker's circuits (called by `CircuitBreaker` when built with this store)."""
        return self._add(
            CircuitChannel(
                member,
                namespace=self.namespace,
                reporter=self._reporter,
                min_reporters=self.min_reporters,
                lease_numbers=self._lease_numbers,
            )
        )

    def share_reserve(self, member: ReserveMember) -> _Link:
        """Share a retry budget's reserve (called by `RetryBudget` when built with this store)."""
        return self._add(ReserveChannel(member, namespace=self.namespace))

    def share_records(self, member: RecordMember) -> _Link:
        """Share small records per key (called by `RateLimiter` when built with this store).

        A process counts among a key's members while its record is younger than four
        sync intervals (at least 1 s); see `RecordMember` and `FleetRecord`.
        """
        return self._add(
            RecordChannel(
                member,
                namespace=self.namespace,
                reporter=self._reporter,
                live_for=max(LIVE_ROUNDS * self.sync_interval, MIN_LIVE),
            )
        )

    # -- life cycle -----------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a round soon (never sooner than 50 ms after the last one)."""
        self._wake.set()

    def remove(self, channel: Channel) -> None:
        """Stop exchanging ``channel``'s state; its member is told it is local-only."""
        with self._lock:
            self._channels = tuple(c for c in self._channels if c is not channel)
        channel.lost()

    def close(self) -> None:
        """Hand back leases and shares (one last round, if Redis answers), stop, disconnect.

        The holders go on, local-only. Closing twice does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._stopping.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, 10 * self.timeout))
        for channel in self._channels:
            with contextlib.suppress(Exception):
                channel.lost()
        with contextlib.suppress(Exception):
            self._client.close()

    def _add(self, channel: Channel) -> _Link:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            self._channels = (*self._channels, channel)
            if self._thread is None:
                self._start()
        self._wake.set()
        return _Link(self, channel)

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"retrykit-fleet-{self.namespace}", daemon=True
        )
        self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, a fresh name, a thread of its own."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reporter = _reporter_id()
        self._reset_after_fork = True
        for channel in self._channels:
            if isinstance(channel, (CircuitChannel, RecordChannel)):
                channel.reporter = self._reporter
        running = self._thread is not None
        self._thread = None
        if running and not self._closed:
            self._start()

    # -- the syncer -----------------------------------------------------------------------

    def _run(self) -> None:
        stopping, wake = self._stopping, self._wake
        last = -math.inf
        next_round = time.monotonic()
        while not stopping.is_set():
            wake.wait(max(0.0, next_round - time.monotonic()))
            gap = last + self._min_gap - time.monotonic()
            if gap > 0 and stopping.wait(gap):
                break
            wake.clear()
            if stopping.is_set():
                break
            now = time.monotonic()
            health = self._health
            if self._reset_after_fork:
                self._reset_after_fork = False
                self._tell_lost()
            if health.degraded:
                if now < health.retry_at:
                    # Woken while local-only: nothing to do before the next ping (and the
                    # gap above keeps a stream of wake-ups to one pass per gap).
                    last, next_round = now, health.retry_at
                    continue
                self._ping()
            if not health.degraded:
                self._round(closing=False)
            last = now
            next_round = health.retry_at if health.degraded else now + self.sync_interval
        if not self._health.degraded:
            self._round(closing=True)

    def _round(self, *, closing: bool) -> None:
        batches: list[Batch] = []
        for channel in self._channels:
            try:
                batch = channel.prepare(closing)
            except Exception:  # noqa: BLE001 - a member's bug must not stop the syncer
                logger.exception(
                    "retrykit fleet store %s: a member's report failed", self.namespace
                )
                continue
            if batch is not None and batch.commands:
                batches.append(batch)
        if not batches:
            return
        commands = [command for batch in batches for command in batch.commands]
        try:
            replies = self._execute(commands)
        except Exception as exc:  # noqa: BLE001 - any failure of Redis means local-only
            self._failed(exc)
            return
        events: list[Event] = []
        error: Exception | None = None
        start = 0
        for batch in batches:
            count = len(batch.commands)
            try:
                events += batch.apply(replies[start : start + count])
            except Exception as exc:  # noqa: BLE001 - garbage in a reply is a failed exchange
                error = error or exc
            start += count
        if error is None:
            self._succeeded()
        else:
            self._failed(error)
        for event in events:
            self._emit(event)

    def _execute(self, commands: Sequence[Command]) -> list[object]:
        """Send ``commands`` in one pipeline; load any script Redis lost, then resend those."""
        replies = self._pipeline(commands)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            scripts: dict[str, Script] = {
                commands[i].script.sha: commands[i].script for i in missing
            }
            for script in scripts.values():
                self._client.script_load(script.source)
                self._commands += 1
            again = self._pipeline([commands[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    def _pipeline(self, commands: Sequence[Command]) -> list[object]:
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.evalsha(command.script.sha, len(command.keys), *command.keys, *command.args)
        self._rounds += 1
        self._commands += len(commands)
        replies: list[object] = pipe.execute(raise_on_error=False)
        if len(replies) != len(commands):
            raise ValueError(f"{len(replies)} replies to {len(commands)} commands")
        return replies

    def _ping(self) -> None:
        self._commands += 1
        try:
            answer = self._client.ping()
        except Exception as exc:  # noqa: BLE001 - still down
            self._failed(exc)
            return
        if answer is True:
            self._succeeded()
        else:
            self._failed(ValueError(f"PING answered {answer!r:.80}"))

    def _failed(self, exc: Exception) -> None:
        self._errors += 1
        logger.debug("retrykit fleet store %s: exchange failed: %r", self.namespace, exc)
        if self._health.failed(time.monotonic(), self._rand()):
            self._tell_lost()
            error = f"{type(exc).__name__}: {exc}"[:200]
            self._emit(
                StorageDegraded(namespace=self.namespace, error=error, errors=self.degrade_after)
            )

    def _succeeded(self) -> None:
        down_for = self._health.succeeded(time.monotonic())
        if down_for is not None:
            for channel in self._channels:
                channel.recovered()
            self._emit(StorageRecovered(namespace=self.namespace, down_for=down_for))

    def _tell_lost(self) -> None:
        for channel in self._channels:
            try:
                channel.lost()
            except Exception:  # noqa: BLE001, PERF203 - one member must not stop the others
                logger.exception("retrykit fleet store %s: a member's reset failed", self.namespace)

    def _emit(self, event: Event) -> None:
        level = event_level(event)
        if logger.isEnabledFor(level):
            log_event(event, level)
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # noqa: BLE001, PERF203 - a hook must never stop the syncer
                logger.exception("retrykit hook %r failed on %s", hook, type(event).__name__)


def _reporter_id() -> str:
    """Return a name for this store in the fleet: the process id and 48 random bits."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def _after_fork_in_child() -> None:
    for store in list(_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
