"""Staying under a rate limit: what the server says, a configured limit, adaptive throttling.

The rules, in the order a request meets them (the holders are in retrykit._state._limiter):

1. **The server's word, per origin and credential.** Every response is read for its
   rate-limit state (`read_server_limit`). A ``Retry-After`` on a 429, or on a 403 as
   GitHub's secondary limits send it, wins over everything else (IETF
   draft-ietf-httpapi-ratelimit-headers, section 7) and blocks the key for every caller,
   not only the call that got it (a 503's ``Retry-After`` is the call's own wait: the
   service, not the client's quota, is the trouble). Otherwise the IETF ``RateLimit``
   field (its most restrictive item), ``RateLimit-*`` or ``X-RateLimit-*`` give the
   requests remaining and the seconds until the reset. An epoch reset is read against the
   response's ``Date`` when the local clock disagrees with it by more than Date's
   precision, so a server clock that is minutes off still gives the right wait.
   Malformed fields are ignored; every wait is finite, at least 0 and at most a day.
2. **Counting down.** An answer with ``remaining`` and a reset sets the key's allowance:
   that many more requests until the reset, each taking one as it leaves, so requests
   already in flight are counted before their answers come back. Another answer about
   the same window (its reset within a second of the known one) can only lower the
   count; a reset more than a second later starts a new window. A new window's count
   loses one for every request still out, since it may yet be counted in that window
   (a request that left just before the reset reaches the server after it). With none
   left, the next request waits for the reset.
3. **One request first.** A key the server has not answered yet, or whose window has
   ended, or that a ``Retry-After`` blocked, sends one request and holds the others
   until its answer comes (at most the holder's ``probe_wait``, asking again every
   `PROBE_POLL` seconds). The draft (section 4.1.2) forbids assuming the quota is whole
   again after the reset, and concurrent first requests would otherwise all leave before
   any answer could say how many may. An origin whose first answer says nothing of a
   rate limit is not held again.
4. **Jitter at the reset.** A wait for the server (a reset or a ``Retry-After``) gets up
   to ``RESET_JITTER`` of itself added (at most `MAX_JITTER`), so a fleet does not
   stampede the moment a window opens (draft section 8.5).
5. **A configured limit** (``rate`` requests per ``per`` seconds, ``burst`` at once)
   is kept with GCRA: one "theoretical arrival time" per key; a request may go at
   ``now`` when ``tat - now <= (burst - 1) * interval`` and moves ``tat`` on by one
   ``interval`` (``per / rate``). In any window of ``t`` seconds at most
   ``burst + rate * t / per`` requests go out.
6. **Waits too long to make are refused at once**: a wait for the server or for the
   configured rate longer than the caller's limit (the policy's ``max_retry_after``, or
   the time left to its deadline) sends nothing and reserves nothing. A hold for a first
   answer (rule 3) is never a reason to refuse: past the caller's limit, the request goes.
7. **Adaptive throttling** (Google SRE book, "Handling Overload"): over the last
   ``window`` seconds, with ``requests`` counted as each one is answered or rejected
   locally and ``accepts`` those the server did not refuse (a 429 or 503 is a refusal;
   no response at all is not an accept), a request is rejected locally with probability
   ``max(0, (requests - k * accepts) / (requests + 1))``.
8. **Fleet shares.** Processes sharing a key through a store each see the fleet's
   ``remaining``: pacing each on it would overshoot as many times as there are
   processes. So each of ``members`` processes (the store counts those that published
   for the key lately, and gives each a ``rank``) keeps its `fleet_share` of a
   window: a window's *quota* is one more than the largest ``remaining`` heard about
   it (the answer that said it was counted too), and a process may send, in the window,
   ``fleet_share(quota, members, rank)`` requests, its first one included, and never
   more than the fleet's count allows (rule 2). The shares add up to the quota, so the
   fleet together sends no more than the server allows, however the processes' first
   answers interleave. A share of 0 waits for the reset, and after it one request
   goes first again (rule 3). A configured rate is split the same way
   (`fleet_pace`): ``rate / members`` per process, ``burst`` shared out, at least 1.
   A ``Retry-After`` heard by one process blocks the key for all (`KeyState.adopt`).
   Shared state travels as a record (`record_of`, `snapshot_of`) whose times are
   seconds from the moment it was written, so no host's clock reaches another.

Every function here is pure: the holders pass ``now`` (monotonic seconds, or Unix time
where it says so) and ``rand``. `KeyState` is all a key holds (a block, a window's count,
quota and end, a probe, a GCRA time, its share of a fleet); `KeySnapshot` is its
shareable part, with Unix times, and `KeyState.adopt` its one merge rule for state
shared between processes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs

from retrykit._core._dates import parse_http_date
from retrykit._core._headers import get_header, parse_rate_limit, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

RESET_JITTER: Final = 0.1
"""The share of a wait for the server added at most as jitter (never more than `MAX_JITTER`)."""

MAX_JITTER: Final = 1.0
PROBE_POLL: Final = 0.01
"""How often a request held for a first answer (rule 3) asks again, in seconds."""

SAME_WINDOW: Final = 1.0
"""Two resets less than this many seconds apart are taken to end the same window."""

DRIFT: Final = 0.05
"""A block end or reset from elsewhere this close to ours is taken to be ours (rule 8).

Shared state comes back a few milliseconds late (rounding, the round trip) from a
process that adopted it from us; taking the later time each time would let it creep.
"""

ENDING: Final = 0.1
"""A shared window ending within this many seconds is not adopted (rule 8).

The record may be about the window that just ended, read a little late: its count
would otherwise be taken for the next window's.
"""

REFUSAL_STATUSES: Final = frozenset({429, 503})
"""Statuses by which a server refuses work it could not take (for adaptive throttling)."""

BLOCKING_STATUSES: Final = frozenset({403, 429})
"""Statuses whose ``Retry-After`` is about the client's quota, so it blocks the whole key."""

# Beyond this a wait from a server is not believed: one day.
LONGEST_WAIT: Final = 86_400.0
# The local clock is taken to agree with a Date header when it reads between the Date and
# this many seconds after it: Date has whole seconds, and the answer took time to arrive.
_DATE_TOLERANCE: Final = 2.0
# GCRA forgives a nanosecond, so that rounding in the sums of intervals never cuts a burst
# short; and a wait is never shorter than a microsecond, so that a clock advanced by
# exactly the wait always reaches the moment asked for.
_GCRA_ROUNDING: Final = 1e-9
SHORTEST_WAIT: Final = 1e-6
# RFC 8941 Integers have at most 15 digits; a longer one makes its item malformed.
_SF_INTEGER: Final = re.compile(r"[0-9]{1,15}")
_SF_DECIMAL: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,3})?")
_LIST_MEMBER: Final = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_PARAMETER: Final = re.compile(r';\s*([a-z*][a-z0-9_.*-]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')
_ITEM: Final = re.compile(r'\s*(?:"(?:[^"\\]|\\.)*"|[A-Za-z*][A-Za-z0-9_.:%*/-]*)')
_DURATION: Final = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]{1,9})?(?:ms|h|m|s))+")
_DURATION_PART: Final = re.compile(r"([0-9.]+)(ms|h|m|s)")
_UNIT_SECONDS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


@attrs.frozen
class ServerLimit:
    """What one response says about its key's rate limit, as waits from the moment it came.

    ``blocked_for``: a ``Retry-After`` on a 429 or 403: nobody may use the key for this
    many seconds. ``remaining`` and ``reset_in``: requests left, and seconds until the
    window they belong to ends. Any may be None; every wait is in [0, `LONGEST_WAIT`].
    """

    blocked_for: float | None = None
    remaining: int | None = None
    reset_in: float | None = None

    @property
    def said(self) -> bool:
        """True when the response said something the limiter can act on."""
        return self.blocked_for is not None or (
            self.remaining is not None and self.reset_in is not None
        )


NOTHING: Final = ServerLimit()


RATE_LIMIT_HEADERS: Final = frozenset(
    {
        "ratelimit",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
    }
)
"""The headers by which a server speaks of its rate limit on a successful answer (lower case)."""

# Both spellings, so a client's lower-case names are looked up as they come.
_RATE_LIMIT_NAMES: Final[frozenset[str | bytes]] = RATE_LIMIT_HEADERS | frozenset(
    name.encode("ascii") for name in RATE_LIMIT_HEADERS
)


def mentions_rate_limit(names: Iterable[str | bytes]) -> bool:
    """Return True if any of the (lower-case) header ``names`` speaks of a rate limit.

    A successful answer with none of them tells the limiter nothing, so it need not be
    read at all.
    """
    return not _RATE_LIMIT_NAMES.isdisjoint(names)


def read_server_limit(status: int, headers: Mapping[str, str], *, now: float) -> ServerLimit:
    """Return what a response says about its key's rate limit (rule 1). Never raises.

    ``now`` is the current Unix time. Preference: a ``Retry-After`` on a 429 or 403; the
    IETF ``RateLimit`` field (of several items, the one with nothing left and the
    longest wait, else the one with the fewest requests left; its ``t`` is always
    delta-seconds); ``RateLimit-*``; ``X-RateLimit-*`` (a reset may also be a Unix time,
    in seconds or milliseconds, an HTTP-date or a duration such as ``"6m0s"``).
    """
    try:
        return _read(status, headers, now)
    except Exception:  # noqa: BLE001 - a hint from a server must never break a request
        return NOTHING


def server_now(headers: Mapping[str, str], now: float) -> float:
    """Return the Unix time to read a response's absolute times against (rule 1).

    The local ``now`` when it lies between the response's ``Date`` and two seconds
    after it (the local clock is finer than Date's whole seconds), else the ``Date``
    itself: a server or client clock that is off then costs nothing.
    """
    date = get_header(headers, "date")
    if not date:
        return now
    moment = parse_http_date(date, now=now)
    if moment is None or not math.isfinite(moment):
        return now
    if moment <= now <= moment + _DATE_TOLERANCE:
        return now
    return moment


def _read(status: int, headers: Mapping[str, str], now: float) -> ServerLimit:
    reference = server_now(headers, now)
    if status in BLOCKING_STATUSES:
        wait = bounded_wait(parse_retry_after(get_header(headers, "retry-after"), now=reference))
        if wait is not None:
            return ServerLimit(blocked_for=wait)
    field = get_header(headers, "ratelimit")
    remaining, reset_in = _read_ietf(field)
    if remaining is None or reset_in is None:
        if field and ";" in field:
            # A structured field that is malformed is ignored, not read another way.
            headers = _Without(headers, "ratelimit")
        info = parse_rate_limit(headers, now=reference)
        if info is None:
            return NOTHING
        remaining = info.remaining
        reset_in = bounded_wait(info.reset_after)
        if reset_in is None:
            reset_in = _read_duration(headers)
    return ServerLimit(remaining=remaining, reset_in=reset_in)


class _Without(Mapping[str, str]):
    """A view of ``headers`` without the header ``name`` (given in lower case)."""

    def __init__(self, headers: Mapping[str, str], name: str) -> None:
        self._headers = headers
        self._name = name

    def __getitem__(self, key: str) -> str:
        value = None if key.lower() == self._name else get_header(self._headers, key.lower())
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._headers if key.lower() != self._name)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def bounded_wait(seconds: float | None) -> float | None:
    """Return ``seconds`` put into [0, `LONGEST_WAIT`], or None if it is None or NaN."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), LONGEST_WAIT)


def _read_ietf(value: str | None) -> tuple[int | None, float | None]:
    """Return ``(remaining, reset_in)`` of the binding item of an IETF ``RateLimit`` field.

    ``"burst";r=50;t=30, "day";r=0;t=3600`` gives ``(0, 3600.0)``. An item without a
    valid ``r`` and ``t`` is left out; a field with none gives ``(None, None)``.
    """
    if not value:
        return None, None
    best: tuple[int, float] | None = None
    for member in _LIST_MEMBER.findall(value):
        name = _ITEM.match(member)
        if name is None or not name.group(0).strip():
            continue
        parameters = dict(_PARAMETER.findall(member[name.end() :]))
        remaining, reset = parameters.get("r", ""), parameters.get("t", "")
        if not _SF_INTEGER.fullmatch(remaining) or not _SF_DECIMAL.fullmatch(reset):
            continue
        item = (int(remaining), min(float(reset), LONGEST_WAIT))
        if best is None or _binds_sooner(item, best):
            best = item
    return best if best is not None else (None, None)


def _binds_sooner(item: tuple[int, float], other: tuple[int, float]) -> bool:
    """Return True if ``item`` (remaining, reset) stops requests sooner or longer than ``other``."""
    if item[0] == 0 or other[0] == 0:
        return (item[0], -item[1]) < (other[0], -other[1])
    return item[0] < other[0] or (item[0] == other[0] and item[1] > other[1])


def _read_duration(headers: Mapping[str, str]) -> float | None:
    """Read a reset given as a duration such as ``"1m30s"`` or ``"20ms"``, else None."""
    for name in ("ratelimit-reset", "x-ratelimit-reset"):
        value = get_header(headers, name)
        if value is None:
            continue
        text = value.strip()
        if _DURATION.fullmatch(text):
            seconds = math.fsum(
                float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text)
            )
            return bounded_wait(seconds)
    return None


def reset_jitter(wait: float, rand: float) -> float:
    """Return the jitter to add to a wait for the server (rule 4): in [0, min(0.1 * wait, 1))."""
    return rand * min(RESET_JITTER * wait, MAX_JITTER)


@attrs.frozen
class KeySnapshot:
    """One key's state with its times as Unix times, to share between processes.

    ``blocked_until``, ``reset_at`` and ``tat`` are Unix times (``-inf``: never);
    ``remaining`` is None when no window is known. ``quota`` is the window's whole
    quota as far as known (one more than the largest ``remaining`` heard about it;
    None: unknown, the count alone then bounds). See `KeyState.adopt`.
    """

    blocked_until: float = -math.inf
    remaining: int | None = None
    reset_at: float = -math.inf
    tat: float = -math.inf
    quota: int | None = None


class KeyState:
    """All the limiter holds for one key (an origin and a credential fingerprint).

    Times are monotonic seconds. ``blocked_until``: no request before it (a
    ``Retry-After``). ``remaining`` and ``reset_at``: the window's allowance (rule 2),
    None while no window is known. ``quota``: the window's whole quota as far as known
    (rule 8; None: unknown), and ``sent``: the requests this process counted against
    the window; ``members`` and ``rank``: this process's place in the fleet sharing
    the key (1 and 0 alone). ``probe_until`` (rule 3): None when requests go freely,
    ``-inf`` when the next request is to be the probe, else the end of the hold on the
    others while the probe is out; ``prober`` is the caller that sent it (any object the
    holder compares with ``==``: its own next attempt is not held). ``tat``: the GCRA
    theoretical arrival time. ``in_flight``: requests taken in this window and not
    answered yet; ``carried``: those the last window left out.
    """

    __slots__ = (
        "blocked_until",
        "carried",
        "in_flight",
        "members",
        "probe_until",
        "prober",
        "quota",
        "rank",
        "remaining",
        "reset_at",
        "sent",
        "tat",
    )

    def __init__(self, *, probe: bool) -> None:
        self.blocked_until = -math.inf
        self.in_flight = 0
        self.carried = 0
        self.remaining: int | None = None
        self.reset_at = -math.inf
        self.quota: int | None = None
        self.sent = 0
        self.members = 1
        self.rank = 0
        self.probe_until: float | None = -math.inf if probe else None
        self.prober: object = None
        self.tat = -math.inf

    def allowance(self) -> int | None:
        """Return the requests this process may still send in the known window (None: none known).

        The fleet's count (rule 2), and at most this process's share of the window's
        quota less what it sent (rule 8). Alone, the two agree.
        """
        if self.remaining is None:
            return None
        if self.quota is None:
            return self.remaining
        return min(self.remaining, fleet_share(self.quota, self.members, self.rank) - self.sent)

    def server_wait(self, now: float) -> float:
        """Return how long the server's word makes a request wait at ``now`` (no jitter)."""
        self._roll(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        left = self.allowance()
        if left is not None and left <= 0:
            return self.reset_at - now
        return 0.0

    def probe_wait(self, now: float, caller: object = None) -> float:
        """Return how long ``caller`` waits at ``now`` for the probe's answer (rule 3).

        At most `PROBE_POLL`; 0.0 when nothing is held, or when ``caller`` sent the probe
        (a retry of the probe is the probe again).
        """
        self._roll(now)
        hold = self.probe_until
        if hold is None or hold == -math.inf:
            return 0.0  # nothing held, or this request is to be the probe
        if now >= hold:
            # No answer within the hold: requests go freely until one comes.
            self.probe_until = self.prober = None
            return 0.0
        if caller is not None and caller == self.prober:
            return 0.0
        return min(hold - now, PROBE_POLL)

    def take(self, now: float, probe_wait: float, caller: object = None) -> None:
        """Count a request of ``caller`` leaving at ``now``; a probe holds the others.

        The hold lasts until an answer comes, or ``probe_wait`` seconds.
        """
        self._roll(now)
        probing = self.probe_until == -math.inf
        if probing or (caller is not None and caller == self.prober):
            self.probe_until = now + probe_wait if probe_wait > 0 else None
            self.prober = caller if self.probe_until is not None else None
        if self.remaining is not None:
            self.remaining -= 1
            self.sent += 1
        self.in_flight += 1

    def _answered(self) -> None:
        """Count one request out as answered or lost, this window's first.

        So a request never answered weighs on the next window's count only.
        """
        if self.in_flight:
            self.in_flight -= 1
        elif self.carried:
            self.carried -= 1

    def failed(self, caller: object) -> None:
        """Note that ``caller``'s request got no response: if it was the probe, the next one is."""
        self._answered()
        if self.prober is not None and caller == self.prober:
            self.probe_until = -math.inf
            self.prober = None

    def learn(self, limit: ServerLimit, now: float) -> None:
        """Apply what an answer said at ``now`` (rules 1 to 3, and 8)."""
        self._roll(now)
        self._answered()
        if limit.blocked_for is not None:
            self.blocked_until = max(self.blocked_until, now + limit.blocked_for)
            # The server refused what the count allowed: after the block, one request first.
            self._block()
            return
        if limit.remaining is None or limit.reset_in is None:
            # An answer that says nothing: the server does not count for us here.
            if self.probe_until is not None and self.probe_until != -math.inf:
                self.probe_until, self.prober = None, None
            return
        if limit.reset_in <= 0:
            return  # about a window that is over already: it says nothing of the next
        remaining = limit.remaining
        # The answered request was counted in the window, and so may be every request
        # still out: the first counts against this process's share, the others too.
        outstanding = self.carried + self.in_flight
        if self.remaining is None:
            # A new window: every request still out may yet be counted in it.
            remaining = max(0, remaining - outstanding)
        self._merge_window(
            remaining, now + limit.reset_in, quota=limit.remaining + 1, sent=1 + outstanding
        )

    def adopt(self, other: KeySnapshot, offset: float, now: float | None = None) -> None:
        """Merge a key's state from elsewhere (say a store shared by a fleet) into this one.

        ``offset`` is Unix time minus monotonic time. The rule: the later block and the
        later GCRA arrival time win, and a block later than ours is taken as one heard
        here (after it, one request first); a window ending more than `SAME_WINDOW` later
        replaces ours (this process's requests still out count against its share); the
        same window keeps the smaller count, the larger quota and the later reset; an
        earlier one is ignored. A block end or reset within `DRIFT` of ours is ours.
        With ``now`` (monotonic), a window of ours that has ended is forgotten first, and
        one from elsewhere ending within `ENDING` is ignored. Adopting the same state
        twice changes nothing.
        """
        if now is not None:
            self._roll(now)
        blocked_until = other.blocked_until - offset
        if blocked_until > self.blocked_until + DRIFT:
            self.blocked_until = blocked_until
            if now is None or blocked_until > now:
                self._block()
        self.tat = max(self.tat, other.tat - offset)
        if other.remaining is None:
            return
        reset_at = other.reset_at - offset
        if now is not None and reset_at <= now + ENDING:
            return
        # Requests still out count against this process's share of a window new here.
        outstanding = self.carried + self.in_flight
        self._merge_window(
            other.remaining, reset_at, quota=other.quota, sent=outstanding, drift=DRIFT
        )

    def snapshot(self, offset: float) -> KeySnapshot:
        """Return this state as a `KeySnapshot` (``offset``: Unix time minus monotonic time)."""
        return KeySnapshot(
            blocked_until=self.blocked_until + offset,
            remaining=self.remaining,
            reset_at=self.reset_at + offset,
            tat=self.tat + offset,
            quota=self.quota,
        )

    def idle(self, now: float) -> bool:
        """Return True when the state says nothing any more (safe to forget)."""
        self._roll(now)
        return (
            now >= self.blocked_until
            and self.remaining is None
            and self.probe_until in (None, -math.inf)
            and self.tat <= now
        )

    def _block(self) -> None:
        """Forget the window's count, and send one request first after the block."""
        self.remaining, self.reset_at, self.quota, self.sent = None, -math.inf, None, 0
        self.probe_until, self.prober = -math.inf, None

    def _merge_window(
        self, remaining: int, reset_at: float, *, quota: int | None, sent: int, drift: float = 0.0
    ) -> None:
        """Merge a count and reset into ours; ``sent``: this process's count, if it is new.

        The same window's reset moves later only when later by more than ``drift``.
        """
        if self.remaining is None or reset_at > self.reset_at + SAME_WINDOW:
            # A (later) window.
            self.remaining, self.reset_at, self.quota, self.sent = remaining, reset_at, quota, sent
        elif reset_at >= self.reset_at - SAME_WINDOW:
            # The same window: requests that left after the server counted have already
            # taken theirs, so the smaller count is the true one; the largest remaining
            # heard was the window's first counted request's, so the larger quota is.
            self.remaining = min(self.remaining, remaining)
            if reset_at > self.reset_at + drift:
                self.reset_at = reset_at
            if quota is not None:
                self.quota = quota if self.quota is None else max(self.quota, quota)
        else:
            return  # an answer about an earlier window (it crossed a newer one)
        self.probe_until, self.prober = None, None

    def _roll(self, now: float) -> None:
        """At the end of a window, forget its count: the next request is a probe (rule 3)."""
        if self.remaining is not None and now >= self.reset_at:
            self.remaining, self.reset_at, self.quota, self.sent = None, -math.inf, None, 0
            self.probe_until, self.prober = -math.inf, None
            # Requests still out from two windows back are not counted in the next one.
            self.carried, self.in_flight = self.in_flight, 0


def gcra(tat: float, now: float, *, interval: float, burst: int) -> tuple[float, float]:
    """Return ``(wait, new_tat)`` for one request at ``now`` under a configured limit (rule 5).

    ``tat`` is the key's theoretical arrival time (``-inf`` for a new key). With
    ``wait == 0.0`` the request may go and the key's ``tat`` becomes ``new_tat``;
    otherwise it may go after ``wait`` seconds (never less than `SHORTEST_WAIT`).
    """
    wait = tat - (burst - 1) * interval - now
    if wait <= _GCRA_ROUNDING:
        return 0.0, max(tat, now) + interval
    return max(wait, SHORTEST_WAIT), tat


def throttle_probability(requests: int, accepts: int, k: float) -> float:
    """Return the chance to reject a request locally (rule 7), in [0, 1)."""
    if requests <= 0:
        return 0.0
    return max(0.0, (requests - k * accepts) / (requests + 1))


def is_refusal(status: int | None) -> bool:
    """Return True for a status by which the server refused work it could not take."""
    return status in REFUSAL_STATUSES


def fleet_share(total: int, members: int, rank: int) -> int:
    """Return the share of ``total`` that member ``rank`` of ``members`` takes (rule 8).

    Each takes ``total // members``, and the first ``total % members`` ranks one more:
    the shares of ranks ``0 .. members - 1`` add up to ``total`` exactly, differ by at
    most one, and none shrinks as ``total`` grows. ``members`` below 1 counts as 1; a
    rank outside ``0 .. members - 1`` takes the smaller share. A ``total`` of 0 or less
    gives 0.
    """
    members = max(1, members)
    if total <= 0:
        return 0
    base, extra = divmod(total, members)
    return base + (1 if 0 <= rank < extra else 0)


def fleet_pace(interval: float, burst: int, members: int, rank: int) -> tuple[float, int]:
    """Return the ``(interval, burst)`` member ``rank`` of ``members`` keeps of a configured limit.

    The interval grows ``members`` times (``rate / members`` each), and the burst is
    shared out by `fleet_share`, at least 1 each: in any ``t`` seconds the fleet sends
    at most ``max(burst, members) + t / interval`` requests. Alone it is the whole limit.
    """
    members = max(1, members)
    return interval * members, max(1, fleet_share(burst, members, rank))


# A shared record: times are seconds from when it was written (at most a day, to the
# millisecond), counts are RFC 8941-sized integers.
_RECORD_SECONDS: Final = re.compile(r"[0-9]{1,5}(?:\.[0-9]{1,6})?")
_RECORD_TIMES: Final = ("block", "reset")
_RECORD_COUNTS: Final = ("remaining", "quota")


def _ahead(moment: float, now: float) -> str | None:
    """Return the seconds from ``now`` to ``moment``, rounded up to the ms (None if past)."""
    seconds = moment - now
    if not seconds > 0:
        return None
    return f"{math.ceil(min(seconds, LONGEST_WAIT) * 1000.0) / 1000.0:.3f}"


def record_of(snapshot: KeySnapshot, now: float) -> dict[str, str]:
    """Return the fields that share ``snapshot`` with a fleet (rule 8).

    ``now`` is read on the snapshot's clock. ``block`` and ``reset`` are the seconds
    from ``now`` to the block's end and to the window's (so a reader needs no clock of
    this host), ``remaining`` and ``quota`` the window's counts; what is over is left
    out. The GCRA time is never shared: each process keeps its own share of a
    configured rate (`fleet_pace`). An empty record says only "this process uses the key".
    """
    fields: dict[str, str] = {}
    block = _ahead(snapshot.blocked_until, now)
    if block is not None:
        fields["block"] = block
    reset = _ahead(snapshot.reset_at, now)
    if reset is not None and snapshot.remaining is not None:
        fields["reset"] = reset
        fields["remaining"] = str(max(0, snapshot.remaining))
        if snapshot.quota is not None:
            fields["quota"] = str(max(0, snapshot.quota))
    return fields


def snapshot_of(fields: Mapping[str, str], age: float, now: float) -> KeySnapshot | None:
    """Return the `KeySnapshot` a record from `record_of` describes, or None if it is malformed.

    The record was written ``age`` seconds ago (on the store's clock); its times are
    put on the clock of ``now``. A record whose known fields are not numbers of the
    right form, or with a count but no reset, is malformed; other fields are ignored
    (a newer version may add some). A block or window over by now is left out.
    """
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name in _RECORD_TIMES:
        value = fields.get(name)
        if value is None:
            continue
        if not _RECORD_SECONDS.fullmatch(value):
            return None
        seconds[name] = min(float(value), LONGEST_WAIT) - max(0.0, age)
    for name in _RECORD_COUNTS:
        value = fields.get(name)
        if value is None:
            continue
        if not _SF_INTEGER.fullmatch(value):
            return None
        counts[name] = int(value)
    if ("remaining" in counts) != ("reset" in seconds) or (
        "quota" in counts and "remaining" not in counts
    ):
        return None
    block = seconds.get("block", -math.inf)
    reset = seconds.get("reset", -math.inf)
    if reset > 0 and "remaining" in counts:
        return KeySnapshot(
            blocked_until=now + block if block > 0 else -math.inf,
            remaining=counts["remaining"],
            reset_at=now + reset,
            quota=counts.get("quota"),
        )
    return KeySnapshot(blocked_until=now + block if block > 0 else -math.inf)
