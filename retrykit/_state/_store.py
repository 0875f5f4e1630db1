"""What a fleet store is to the holders: a local cache of a remote truth, synced in the background.

`CircuitBreaker(store=...)`, `RetryBudget(store=...)` and `RateLimiter(store=...)` take
any object that satisfies `FleetStore` (`retrykit.redis.RedisStore` is the one retrykit
ships). This module holds that protocol and the small records the holders and a store
exchange; it imports no client library, so ``import retrykit`` stays free of one.

The contract, which keeps every request in memory:

- A holder *joins* once, when it is built, handing the store a member: a few callables
  the store's background syncer calls, never a request thread. ``report`` returns what
  this process has to tell the fleet since the last exchange (counts, probe results,
  what it asks for); ``adopt`` takes the fleet's answer and returns the local changes it
  caused; ``lost`` says the store went local-only (the holder then follows its own rules
  alone, as if it had no store).
- A request thread only ever calls `StoreLink.wake`, to have the syncer exchange soon
  (a local failure is worth sharing before the next interval); the store decides how
  soon.
- Lost exchanges are lost, never repeated: a report whose round trip failed is dropped,
  so the fleet may undercount during a Redis failure but never counts twice.

The third channel, records, is the extension point for other shared state (the rate
limiter's "remaining and reset per origin and credential fingerprint"): each member
publishes a small record of string fields per key, kept apart from the other members'
records, and reads back every member's record still alive for that key, each with its
age on the store's clock, along with how many processes published one lately (the
key's *members*) and its own place among them (its *rank*): what a holder needs to
take its share of something the fleet must split. `RateLimiter(store=...)` joins once
with ``store.share_records(RecordMember(kind="ratelimit", ...))``; its ``report``
returns, per ``origin|fingerprint`` it used since the last round, what it knows
(``{"remaining": "40", "reset": "30"}``, times as seconds from now, never a local clock
reading); its ``adopt`` takes each `FleetRecord` and reads a time left as ``reset -
age``. Keys hold the fingerprint only (`retrykit.key_fingerprint`), never a credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import attrs

from retrykit._core._breaker import BreakerConfig, BreakerState
from retrykit._core._budget import BudgetConfig

__all__ = [
    "Change",
    "CircuitMember",
    "CircuitReport",
    "CircuitVerdict",
    "FleetRecord",
    "FleetStore",
    "MemberRecord",
    "RecordMember",
    "RecordReport",
    "ReserveMember",
    "ReserveReport",
    "StoreLink",
]


Change: TypeAlias = tuple[str, BreakerState, BreakerState]
"""A change of a local circuit: key, old state, new state (a `StateChange` is one)."""


@attrs.frozen
class CircuitReport:
    """What this process tells the fleet about one circuit since its last exchange.

    ``generation`` is the fleet generation the counts were recorded under (0: none seen
    yet); the fleet ignores counts from an older generation, as a circuit ignores
    outcomes of older tickets. ``failures`` and ``successes`` are plain outcomes;
    ``trailing`` is the failures after the last success among them (consecutive mode:
    the fleet's run after this report). ``cause`` is the last failure's cause.
    ``wanted`` is the number of probe leases asked for, ``returned`` the leases given
    back unused, and ``probes`` the (lease, succeeded) outcomes of probes. A report with
    nothing in it is a poll.
    """

    key: str
    generation: int = 0
    failures: int = 0
    successes: int = 0
    trailing: int = 0
    cause: str = ""
    wanted: int = 0
    returned: tuple[str, ...] = ()
    probes: tuple[tuple[str, bool], ...] = ()


@attrs.frozen
class CircuitVerdict:
    """The fleet's view of one circuit, after merging a report.

    ``exists`` is False when the store holds nothing for the circuit (CLOSED, never
    shared or expired); the other fields are then zero. ``generation`` grows with every
    fleet change of state. ``remaining`` is the rest of the fleet's break in seconds
    (<= 0 once it passed; OPEN only), ``break_seconds`` the whole break, ``openings``
    the openings since the fleet's circuit last closed and ``cause`` what opened it.
    ``failures`` is the fleet's run of failures (consecutive mode) or its failures in
    the window (rate mode), ``calls`` the outcomes in the window (rate mode), and
    ``reporters`` the processes that reported those failures. ``granted`` holds the
    probe leases granted to this process by this exchange; ``tripped`` is True when
    this report opened the fleet's circuit.
    """

    exists: bool
    generation: int = 0
    open: bool = False
    remaining: float = 0.0
    break_seconds: float = 0.0
    openings: int = 0
    cause: str = ""
    failures: int = 0
    calls: int = 0
    reporters: int = 0
    granted: tuple[str, ...] = ()
    tripped: bool = False


@attrs.frozen
class CircuitMember:
    """A breaker's side of the fleet, called by the store's syncer only.

    ``report(closing)`` returns a report per active circuit (``closing``: the store is
    closing, so give every lease back); ``adopt`` applies the fleet's verdicts and
    returns the state changes they caused (the breaker's listeners have heard them);
    ``watch`` marks circuits the fleet has open, so they are polled before this process
    uses them; ``lost`` says the store went local-only.
    """

    config: BreakerConfig
    report: Callable[[bool], list[CircuitReport]]
    adopt: Callable[[Sequence[tuple[CircuitReport, CircuitVerdict]]], Sequence[Change]]
    watch: Callable[[Sequence[str]], None]
    lost: Callable[[], None]


@attrs.frozen
class ReserveReport:
    """What a budget hands back (``returned`` unused reserve retries) and asks for (``wanted``)."""

    returned: int = 0
    wanted: int = 0


@attrs.frozen
class ReserveMember:
    """A retry budget's side of the fleet: its share of the fleet's reserve of retries.

    ``report(closing)`` returns what to give back and ask for, or None when there is
    nothing to exchange; ``adopt(report, granted)`` hands over the retries granted;
    ``lost`` says the store went local-only (the budget then uses its own reserve).
    """

    config: BudgetConfig
    report: Callable[[bool], ReserveReport | None]
    adopt: Callable[[ReserveReport, int], None]
    lost: Callable[[], None]


@attrs.frozen
class RecordReport:
    """A record to publish for ``key`` (``fields``), or None to only read the fleet's.

    ``ttl`` is how long, in seconds, the published record lives without a newer one
    from the same process. An empty mapping publishes a record that says only "this
    process uses the key" (it counts among the key's members); a tiny ``ttl`` takes
    the process out of the count at once (say when it closes).
    """

    key: str
    fields: Mapping[str, str] | None = None
    ttl: float = 60.0


@attrs.frozen
class MemberRecord:
    """One process's record for a key: who published it (``member``), when, and what.

    ``age`` is in seconds on the store's clock; ``mine`` is True for this process's own.
    """

    member: str
    fields: Mapping[str, str]
    age: float = 0.0
    mine: bool = False


@attrs.frozen
class FleetRecord:
    """What the fleet holds for ``key``: every member's record still alive, and who is active.

    ``fields`` and ``age`` are the freshest record's (None if there is none): last
    writer wins, for a holder that needs no more. ``records`` holds every record alive,
    freshest first, this process's own included. ``members`` is how many processes
    published a record within the store's liveness window (a few sync intervals; this
    process included when it just published), and ``rank`` this process's place among
    them in the order of their names (``0 .. members - 1``; ``members`` when it is not
    one of them): every member computes the same ranks from the same records, so a
    split by rank gives each its own part.
    """

    key: str
    fields: Mapping[str, str] | None
    age: float = 0.0
    records: tuple[MemberRecord, ...] = ()
    members: int = 0
    rank: int = 0


@attrs.frozen
class RecordMember:
    """A member of the record channel, for shared state that is a small record per key.

    ``kind`` names the channel (letters, digits, ``_`` and ``-``: one kind, one family
    of keys, such as ``"ratelimit"``). ``report(closing)`` returns the records to publish
    or read; ``adopt`` receives the fleet's `FleetRecord` for each of them (records it
    cannot read are left out, with a DEBUG note on the ``retrykit`` logger); ``lost``
    says the store went local-only. With ``presence``, the store also announces this
    process on the kind's channel every round, from the moment it joins, and calls
    ``presence(members, rank)`` with the processes announced there lately and this
    one's rank among them: a count for keys the process has not shared yet.
    """

    kind: str
    report: Callable[[bool], list[RecordReport]]
    adopt: Callable[[Sequence[FleetRecord]], None]
    lost: Callable[[], None]
    presence: Callable[[int, int], None] | None = None


@runtime_checkable
class StoreLink(Protocol):
    """A member's handle on its store."""

    def wake(self) -> None:
        """Ask for an exchange soon (called from request threads: cheap, never blocks on I/O)."""
        ...  # pragma: no cover - a protocol

    def leave(self) -> None:
        """Stop exchanging this member's state (its holder is local-only from now on)."""
        ...  # pragma: no cover - a protocol


@runtime_checkable
class FleetStore(Protocol):
    """What ``store=`` takes: shared state for a fleet of processes, synced in the background.

    `retrykit.redis.RedisStore` implements it. Each ``share_*`` method is called once,
    by a holder being built, and returns the member's `StoreLink`. No method may do I/O
    on the calling thread.
    """

    def share_circuits(self, member: CircuitMember) -> StoreLink:
        """Share a circuit breaker's circuits."""
        ...  # pragma: no cover - a protocol

    def share_reserve(self, member: ReserveMember) -> StoreLink:
        """Share a retry budget's reserve."""
        ...  # pragma: no cover - a protocol

    def share_records(self, member: RecordMember) -> StoreLink:
        """Share small records per key (the extension point for other shared state)."""
        ...  # pragma: no cover - a protocol
