"""Channels: members' reports become script calls, and replies become what members adopt.

A channel serves one member. Each sync round the store asks every channel to
`Channel.prepare` a batch (the member's report, as script calls), sends all batches'
calls in one pipeline, and hands each batch its replies (`Batch.apply`): the member
adopts what it can, and a reply that makes no sense raises `ReplyError` once the rest
is applied, so the store counts the round as failed. Nothing here does I/O.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

from retrykit._fleet import _keys
from retrykit._fleet._scripts import CIRCUIT, INDEX, RECORD, RESERVE, Script
from retrykit._observe._events import CircuitStateChanged
from retrykit._observe._logging import logger
from retrykit._state._store import CircuitVerdict, FleetRecord, MemberRecord

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from retrykit._observe._events import Event
    from retrykit._state._store import (
        CircuitMember,
        CircuitReport,
        RecordMember,
        RecordReport,
        ReserveMember,
        ReserveReport,
    )

LIVE_ROUNDS: Final = 4
"""A process counts among a key's members while its record is younger than this many intervals."""

MIN_LIVE: Final = 1.0
"""...and at least this many seconds (a syncer starved of the GIL for a moment stays a member)."""

BREAK_TABLE: Final = 16
"""Openings whose break is computed locally and sent along; later ones repeat the last."""

MIN_TTL: Final = 600.0
"""Seconds a circuit's keys live, at least, after their last write."""

_REPLY_LENGTH: Final = 12


class ReplyError(ValueError):
    """A reply that is not what the script returns (an error reply, or garbage)."""


class Command(NamedTuple):
    """One script call: which script, its keys (one hash slot) and its arguments."""

    script: Script
    keys: tuple[str, ...]
    args: tuple[str, ...]


class Batch(Protocol):
    """A channel's calls for one round, and what to do with their replies."""

    @property
    def commands(self) -> Sequence[Command]:
        """The script calls, in order."""
        ...  # pragma: no cover - a protocol

    def apply(self, replies: Sequence[object]) -> list[Event]:
        """Apply one reply per command; return the events to emit; raise `ReplyError` last."""
        ...  # pragma: no cover - a protocol


class Channel(Protocol):
    """One member's exchanges with the fleet."""

    def prepare(self, closing: bool) -> Batch | None:
        """Return this round's batch, or None when there is nothing to exchange."""
        ...  # pragma: no cover - a protocol

    def lost(self) -> None:
        """Tell the member the store went local-only."""
        ...  # pragma: no cover - a protocol

    def recovered(self) -> None:
        """Note that the store answers again (state the fleet holds is adopted anew)."""
        ...  # pragma: no cover - a protocol


# -- reply parsing ----------------------------------------------------------------------


def _checked(reply: object) -> object:
    if isinstance(reply, Exception):
        raise ReplyError(f"{type(reply).__name__}: {reply}")
    return reply


def as_int(value: object) -> int:
    """Return a Redis integer reply as an int; raise `ReplyError` for anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplyError(f"expected an integer, got {value!r:.80}")
    return value


def as_text(value: object) -> str:
    """Return a Redis string reply as text; raise `ReplyError` for anything else."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    raise ReplyError(f"expected a string, got {value!r:.80}")


def as_list(value: object, length: int | None = None) -> list[object]:
    """Return a Redis array reply as a list (of ``length`` items, when given)."""
    value = _checked(value)
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise ReplyError(f"expected an array of {length or 'some'} items, got {value!r:.80}")
    return value


def as_float(value: object) -> float:
    """Return a number sent as a string (Lua turns numbers into integers) as a float."""
    try:
        number = float(as_text(value))
    except ValueError:
        raise ReplyError(f"expected a number, got {value!r:.80}") from None
    if not math.isfinite(number):
        raise ReplyError(f"expected a finite number, got {value!r:.80}")
    return number


def parse_circuit(reply: object, leases: Sequence[str]) -> CircuitVerdict:
    """Return the `CircuitVerdict` in a circuit script's reply; ``leases`` are those asked for."""
    items = as_list(reply, _REPLY_LENGTH)
    exists, generation, is_open, failures, calls, remaining, break_ms, openings = (
        as_int(item) for item in items[:8]
    )
    cause = as_text(items[8])
    reporters, granted, tripped = (as_int(item) for item in items[9:])
    if not 0 <= granted <= len(leases) or exists not in (0, 1):
        raise ReplyError(f"a circuit reply out of range: {items!r:.120}")
    if not exists:
        return CircuitVerdict(exists=False)
    return CircuitVerdict(
        exists=True,
        generation=generation,
        open=bool(is_open),
        remaining=remaining / 1000.0,
        break_seconds=break_ms / 1000.0,
        openings=openings,
        cause=cause,
        failures=failures,
        calls=calls,
        reporters=reporters,
        granted=tuple(leases[:granted]),
        tripped=bool(tripped),
    )


# -- circuits ---------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return str(max(1, math.ceil(seconds * 1000.0)))


class CircuitChannel:
    """A breaker's circuits: one circuit script call per reported circuit, plus the index.

    The index of open circuits is read on the first round and after each recovery (so a
    new process learns the fleet's open circuits before it uses them) and written when a
    report opened a circuit (announced for the break plus one lease's time).
    """

    def __init__(
        self,
        member: CircuitMember,
        *,
        namespace: str,
        reporter: str,
        min_reporters: int,
        lease_numbers: Iterator[int] | None = None,
    ) -> None:
        self.member = member
        self.namespace = namespace
        self.reporter = reporter
        config = member.config
        breaks = [config.break_for(openings) for openings in range(1, BREAK_TABLE + 1)]
        ttl = max(MIN_TTL, 2 * max(breaks), 2 * config.window, 2 * config.recovery_timeout)
        rate = config.failure_rate
        self.settings: tuple[str, ...] = (
            "0" if rate is None else repr(float(rate)),
            str(config.failure_threshold if rate is None else config.minimum_calls),
            _ms(config.window),
            str(min_reporters),
            str(config.half_open_max_calls),
            str(config.success_threshold),
            _ms(config.recovery_timeout),
            _ms(ttl),
            " ".join(_ms(seconds) for seconds in breaks),
        )
        self.lease_seconds = config.recovery_timeout
        self._numbers = lease_numbers if lease_numbers is not None else itertools.count(1)
        self.read_index = True
        self.announce: dict[str, float] = {}

    def prepare(self, closing: bool) -> _CircuitBatch | None:
        """Return calls for every circuit the breaker reports, and the index when due."""
        reports = self.member.report(closing)
        commands: list[Command] = []
        leases: list[tuple[str, ...]] = []
        for report in reports:
            names = tuple(f"{self.reporter}:{next(self._numbers)}" for _ in range(report.wanted))
            leases.append(names)
            commands.append(
                Command(
                    CIRCUIT,
                    _keys.circuit_keys(self.namespace, report.key),
                    (
                        self.reporter,
                        str(report.generation),
                        *self.settings,
                        str(report.failures),
                        str(report.successes),
                        str(report.trailing),
                        report.cause,
                        " ".join(names),
                        " ".join(report.returned),
                        " ".join(f"{lease}={int(ok)}" for lease, ok in report.probes),
                    ),
                )
            )
        index = False
        if (self.read_index or self.announce) and not closing:
            index = True
            args = [part for key, ms in self.announce.items() for part in (key, _ms(ms))]
            commands.append(Command(INDEX, (_keys.index_key(self.namespace),), tuple(args)))
            self.announce = {}
        if not commands:
            return None
        return _CircuitBatch(self, reports, leases, commands, index=index)

    def lost(self) -> None:
        """Tell the breaker; read the index again once the store is back."""
        self.read_index = True
        self.member.lost()

    def recovered(self) -> None:
        """Read the index on the next round."""
        self.read_index = True


class _CircuitBatch:
    def __init__(
        self,
        channel: CircuitChannel,
        reports: list[CircuitReport],
        leases: list[tuple[str, ...]],
        commands: list[Command],
        *,
        index: bool,
    ) -> None:
        self.channel = channel
        self.reports = reports
        self.leases = leases
        self.commands = commands
        self.index = index

    def apply(self, replies: Sequence[object]) -> list[Event]:
        channel = self.channel
        error: ReplyError | None = None
        pairs: list[tuple[CircuitReport, CircuitVerdict]] = []
        for report, names, reply in zip(self.reports, self.leases, replies, strict=False):
            try:
                verdict = parse_circuit(reply, names)
            except ReplyError as exc:
                error = error or exc
                continue
            pairs.append((report, verdict))
            if verdict.tripped and verdict.open and _keys.readable(report.key):
                channel.announce[report.key] = verdict.remaining + channel.lease_seconds
        changes = channel.member.adopt(pairs) if pairs else ()
        events: list[Event] = [CircuitStateChanged(key=k, old=o, new=n) for k, o, n in changes]
        if self.index:
            try:
                keys = [as_text(item) for item in as_list(replies[len(self.reports)])]
            except (ReplyError, IndexError) as exc:
                error = error or ReplyError(str(exc))
            else:
                channel.read_index = False
                watched = [key for key in keys if _keys.readable(key)]
                if watched:
                    channel.member.watch(watched)
        if error is not None:
            raise error
        return events


# -- the budget's reserve ---------------------------------------------------------------


class ReserveChannel:
    """A retry budget's share of the fleet reserve: one reserve script call when needed."""

    def __init__(self, member: ReserveMember, *, namespace: str) -> None:
        self.member = member
        config = member.config
        self.key = _keys.reserve_key(namespace)
        self.settings = (repr(float(config.reserve)), _ms(config.ttl))

    def prepare(self, closing: bool) -> _ReserveBatch | None:
        """Return the call giving back and asking for reserve retries, if the budget needs one."""
        report = self.member.report(closing)
        if report is None:
            return None
        command = Command(
            RESERVE,
            (self.key,),
            (*self.settings, str(report.returned), str(report.wanted)),
        )
        return _ReserveBatch(self.member, report, command)

    def lost(self) -> None:
        """Tell the budget: it uses its local reserve meanwhile."""
        self.member.lost()

    def recovered(self) -> None:
        """Nothing to do: the next report asks for a share again."""


class _ReserveBatch:
    def __init__(self, member: ReserveMember, report: ReserveReport, command: Command) -> None:
        self.member = member
        self.report = report
        self.commands = (command,)

    def apply(self, replies: Sequence[object]) -> list[Event]:
        items = as_list(replies[0], 2)
        granted = as_int(items[0])
        as_float(items[1])
        if not 0 <= granted <= self.report.wanted:
            raise ReplyError(f"granted {granted} of {self.report.wanted} reserve retries")
        self.member.adopt(self.report, granted)
        return []


# -- records ----------------------------------------------------------------------------


class RecordChannel:
    """Small records per key, one per member: one record script call per record.

    A record's fields travel as one JSON object; each reply holds every member's record
    still alive, from which the channel counts the key's members (those that wrote
    within ``live_for`` seconds) and this process's rank among them. For a member with
    ``presence``, every round also announces this process on the kind's channel.
    """

    def __init__(
        self, member: RecordMember, *, namespace: str, reporter: str, live_for: float
    ) -> None:
        self.member = member
        self.namespace = namespace
        self.kind = _keys.check_kind(member.kind)
        self.reporter = reporter
        self.live_for = live_for

    def prepare(self, closing: bool) -> _RecordBatch | None:
        """Return a call per record to publish or read, and the announcement, if any."""
        reports = self.member.report(closing)
        commands = []
        for report in reports:
            record = ""
            if report.fields is not None:
                fields = dict(report.fields)
                for name, value in fields.items():
                    if not isinstance(name, str) or not isinstance(value, str):
                        raise TypeError(f"record fields must be strings, got {name!r}: {value!r}")
                    if name.startswith("_"):
                        raise ValueError(f"record fields starting with '_' are reserved: {name!r}")
                record = json.dumps(fields, separators=(",", ":"), sort_keys=True)
            commands.append(
                Command(
                    RECORD,
                    _keys.record_keys(self.namespace, self.kind, report.key),
                    (_ms(report.ttl), self.reporter, record),
                )
            )
        present = self.member.presence is not None
        if present:
            # Closing, announced for a millisecond: out of the count at once.
            ttl = 0.001 if closing else 2 * self.live_for
            keys = _keys.presence_keys(self.namespace, self.kind)
            commands.append(Command(RECORD, keys, (_ms(ttl), self.reporter, "{}")))
        if not commands:
            return None
        return _RecordBatch(self, reports, commands, present=present and not closing)

    def lost(self) -> None:
        """Tell the member."""
        self.member.lost()

    def recovered(self) -> None:
        """Nothing to do: the member asks again."""


class _RecordBatch:
    def __init__(
        self,
        channel: RecordChannel,
        reports: list[RecordReport],
        commands: list[Command],
        *,
        present: bool,
    ) -> None:
        self.channel = channel
        self.reports = reports
        self.commands = commands
        self.present = present

    def apply(self, replies: Sequence[object]) -> list[Event]:
        channel = self.channel
        records: list[FleetRecord] = []
        error: ReplyError | None = None
        for report, reply in zip(self.reports, replies, strict=False):
            try:
                records.append(
                    parse_record(
                        report.key,
                        reply,
                        me=channel.reporter,
                        live_for=channel.live_for,
                        published=report.fields is not None,
                    )
                )
            except ReplyError as exc:  # noqa: PERF203 - one bad reply must not hide the others
                error = error or exc
        if records:
            channel.member.adopt(records)
        presence = channel.member.presence
        if self.present and presence is not None:
            try:
                present = parse_record(
                    "",
                    replies[len(self.reports)],
                    me=channel.reporter,
                    live_for=channel.live_for,
                    published=True,
                )
            except (ReplyError, IndexError) as exc:
                error = error or ReplyError(str(exc))
            else:
                presence(present.members, present.rank)
        if error is not None:
            raise error
        return []


def parse_record(
    key: str, reply: object, *, me: str = "", live_for: float = math.inf, published: bool = False
) -> FleetRecord:
    """Return the `FleetRecord` in a record script's reply (``me``: this process's name).

    ``published``: this process wrote a record in this very call, so it is a member even
    if its record has already gone (a tiny ttl). A member's record that is not a written
    time and a JSON object of strings is left out, with a DEBUG note; a reply that is not
    the script's raises `ReplyError`.
    """
    now_ms, flat = as_list(reply, 2)
    now = as_int(now_ms)
    items = as_list(flat)
    if len(items) % 2:
        raise ReplyError("a record reply with an odd number of items")
    records: list[MemberRecord] = []
    for i in range(0, len(items), 2):
        member, value = as_text(items[i]), as_text(items[i + 1])
        written, _, text = value.partition(" ")
        fields: object = None
        age = 0.0
        try:
            fields = json.loads(text)
            age = max(0.0, (now - int(written)) / 1000.0)
        except (ValueError, RecursionError):
            fields = None
        if not isinstance(fields, dict) or not all(
            isinstance(name, str) and isinstance(field, str) for name, field in fields.items()
        ):
            logger.debug(
                "retrykit fleet store: record of %r for %r unreadable: %.80r", member, key, value
            )
            continue
        records.append(MemberRecord(member=member, fields=fields, age=age, mine=member == me))
    records.sort(key=lambda record: (record.age, record.member))
    live = sorted({record.member for record in records if record.age <= live_for})
    if published and me not in live:
        live = sorted([*live, me])
    rank = live.index(me) if me in live else len(live)
    freshest = records[0] if records else None
    return FleetRecord(
        key=key,
        fields=freshest.fields if freshest is not None else None,
        age=freshest.age if freshest is not None else 0.0,
        records=tuple(records),
        members=len(live),
        rank=rank,
    )
