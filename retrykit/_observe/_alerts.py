"""`AlertRules`: a hook that calls back once per episode of trouble on an endpoint.

The rules look at `AttemptFinished` events (every response the server gave) and, for the
fallback rule, at `CallFinished` events (which origin served each call); they read time
from the injected clock, never from the system, so tests drive them with a fake one.
An episode starts when a rule's condition becomes true for an endpoint and ends when the
condition is seen false again; the callback runs once, at the start.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs
from attrs.validators import and_, ge, is_callable, optional

from retrykit._core._status import StatusFamily, family_of, is_server_error
from retrykit._core._validators import fraction, non_negative, number, positive, positive_int
from retrykit._observe._events import AttemptFinished, CallFinished

if TYPE_CHECKING:
    from retrykit._core._validators import Validator
    from retrykit._observe._events import Event

AUTH_SPIKE: Final = "auth_spike"
RATE_LIMIT_TREND: Final = "rate_limit_trend"
UNAVAILABLE_SPIKE: Final = "unavailable_spike"
SERVER_ERROR_RATIO: Final = "server_error_ratio"
FALLBACK_SUSTAINED: Final = "fallback_sustained"

# Refused credentials: 401 (AUTH) and 403 (POLICY).
_REFUSED = frozenset({StatusFamily.AUTH, StatusFamily.POLICY})
# A trend needs two windows at least; None turns the rule off.
_trend_windows: Validator = optional(and_(number(whole=True), ge(2)))
_threshold: Validator = optional(positive_int)  # None turns the rule off
_share: Validator = optional(fraction)
_count: Validator = and_(number(whole=True), ge(0))

# Sliding windows are kept as this many slots, so "the last 60 s" means the last 54 to
# 60 s: a fixed amount of memory whatever the traffic.
_SLOTS = 10


@attrs.frozen
class Alert:
    """A rule fired for ``endpoint``: ``observed`` passed ``threshold`` over ``window`` seconds.

    ``rule`` is ``"auth_spike"`` (401 and 403 responses), ``"rate_limit_trend"`` (429s
    rising window after window; ``threshold`` is the previous window's count),
    ``"unavailable_spike"`` (503 responses), ``"server_error_ratio"`` (5xx responses
    as a fraction of all responses) or ``"fallback_sustained"`` (calls served by a
    fallback origin, as a fraction of the endpoint's calls).
    """

    rule: str
    endpoint: str
    observed: float
    threshold: float
    window: float


class _SlidingCount:
    """Events in about the last ``window`` seconds, in ``_SLOTS`` slots."""

    __slots__ = ("_counts", "_slot", "_total", "_width")

    def __init__(self, window: float, now: float) -> None:
        self._width = window / _SLOTS
        self._counts = [0] * _SLOTS
        self._slot = math.floor(now / self._width)
        self._total = 0

    def add(self, now: float, count: int = 1) -> int:
        """Add ``count`` at ``now`` and return the total in the window."""
        slot = math.floor(now / self._width)
        gap = slot - self._slot
        # A gap <= 0 is the same slot, or a clock that went back: count it in the current one.
        if gap >= _SLOTS:
            self._counts = [0] * _SLOTS
            self._total = 0
        elif gap > 0:
            counts = self._counts
            for step in range(1, gap + 1):
                index = (self._slot + step) % _SLOTS
                self._total -= counts[index]
                counts[index] = 0
        if gap > 0:
            self._slot = slot
        self._counts[self._slot % _SLOTS] += count
        self._total += count
        return self._total


class _WindowSeries:
    """Counts per consecutive fixed window: the current one and the last ``keep`` ones."""

    __slots__ = ("_index", "_window", "current", "done")

    def __init__(self, window: float, keep: int, now: float) -> None:
        self._window = window
        self._index = math.floor(now / window)
        self.current = 0
        self.done: deque[int] = deque(maxlen=keep)

    def advance(self, now: float) -> bool:
        """Move to the window holding ``now``; return True if a window was completed."""
        index = math.floor(now / self._window)
        gap = index - self._index
        if gap <= 0:
            return False
        self.done.append(self.current)
        self.done.extend([0] * min(gap - 1, self.done.maxlen or 0))
        self.current = 0
        self._index = index
        return True


class _EndpointState:
    __slots__ = (
        "active",
        "auth",
        "auth_baseline",
        "calls",
        "fallback_calls",
        "rate_limits",
        "responses",
        "server",
        "unavailable",
    )

    def __init__(self, rules: AlertRules, now: float) -> None:
        self.active: set[str] = set()
        self.auth = _SlidingCount(rules.auth_window, now)
        # Past auth windows, for the endpoint's usual rate of 401 and 403.
        self.auth_baseline = _WindowSeries(rules.auth_window, rules.auth_baseline_windows, now)
        self.rate_limits = _WindowSeries(
            rules.rate_limit_window, rules.rate_limit_windows or 2, now
        )
        self.unavailable = _SlidingCount(rules.unavailable_window, now)
        self.responses = _SlidingCount(rules.server_error_window, now)
        self.server = _SlidingCount(rules.server_error_window, now)
        self.calls = _SlidingCount(rules.fallback_window, now)
        self.fallback_calls = _SlidingCount(rules.fallback_window, now)


@attrs.define(eq=False)
class AlertRules:
    """A hook that calls ``on_alert(Alert)`` when an endpoint shows a known kind of trouble.

    Rules, per endpoint template, each over its own window (seconds), each disabled by
    passing None for its threshold:

    - ``auth_spike``: 401 and 403 responses in the last ``auth_window`` reach
      ``auth_threshold``, and ``auth_rise_factor`` times the endpoint's average per
      window over the ``auth_baseline_windows`` windows before (credential drift: a key
      revoked or expired, rather than the usual trickle of bad tokens).
    - ``rate_limit_trend``: the 429 count rose in each of ``rate_limit_windows``
      consecutive windows of ``rate_limit_window`` (the current one included, which must
      hold at least ``rate_limit_min_count``): demand is outgrowing the quota.
    - ``unavailable_spike``: 503 responses in the last ``unavailable_window`` reach
      ``unavailable_threshold`` (an outage).
    - ``server_error_ratio``: over the last ``server_error_window``, at least
      ``server_error_min_requests`` responses were seen and more than
      ``server_error_ratio`` of them were 5xx.
    - ``fallback_sustained``: over the last ``fallback_window`` (5 minutes), at least
      ``fallback_min_calls`` calls were seen and more than ``fallback_share`` of them
      were served by a fallback origin: the guides' "escalate if sustained".

    Each rule fires once per episode: again only after its condition was seen false.
    State is kept for at most ``max_endpoints`` endpoints (least recently used dropped).
    ``on_alert`` runs on the thread that delivered the event, outside any lock; an
    exception from it propagates to the caller of the hook.
    """

    on_alert: Callable[[Alert], None] = attrs.field(validator=is_callable())
    clock: Callable[[], float] = attrs.field(
        default=time.monotonic, kw_only=True, validator=is_callable()
    )
    auth_threshold: int | None = attrs.field(default=5, kw_only=True, validator=_threshold)
    auth_window: float = attrs.field(default=60.0, kw_only=True, validator=positive)
    auth_rise_factor: float = attrs.field(default=3.0, kw_only=True, validator=non_negative)
    auth_baseline_windows: int = attrs.field(default=10, kw_only=True, validator=positive_int)
    rate_limit_windows: int | None = attrs.field(default=3, kw_only=True, validator=_trend_windows)
    rate_limit_window: float = attrs.field(default=60.0, kw_only=True, validator=positive)
    rate_limit_min_count: int = attrs.field(default=10, kw_only=True, validator=_count)
    unavailable_threshold: int | None = attrs.field(default=10, kw_only=True, validator=_threshold)
    unavailable_window: float = attrs.field(default=60.0, kw_only=True, validator=positive)
    server_error_ratio: float | None = attrs.field(default=0.10, kw_only=True, validator=_share)
    server_error_min_requests: int = attrs.field(default=100, kw_only=True, validator=_count)
    server_error_window: float = attrs.field(default=300.0, kw_only=True, validator=positive)
    fallback_share: float | None = attrs.field(default=0.5, kw_only=True, validator=_share)
    fallback_min_calls: int = attrs.field(default=20, kw_only=True, validator=_count)
    fallback_window: float = attrs.field(default=300.0, kw_only=True, validator=positive)
    max_endpoints: int = attrs.field(default=1000, kw_only=True, validator=positive_int)
    _lock: threading.Lock = attrs.field(init=False, repr=False, factory=threading.Lock)
    _endpoints: OrderedDict[str, _EndpointState] = attrs.field(
        init=False, repr=False, factory=OrderedDict
    )

    def __call__(self, event: Event) -> None:
        """Update the rules with ``event`` and call ``on_alert`` for any that fired."""
        if type(event) is CallFinished:
            if event.origin is not None:
                self._call_served(event.endpoint, event.fallback)
            return
        if type(event) is not AttemptFinished or event.status is None:
            return
        endpoint, status = event.endpoint, event.status
        family = family_of(status)
        now = self.clock()
        with self._lock:
            state = self._state(endpoint, now)
            active = state.active
            alerts = [self._server_error_ratio(state, endpoint, is_server_error(status), now)]
            # The other rules need an event only if its status matters to them, or to let
            # an episode clear; their windows catch up lazily on the next one.
            is_auth = family in _REFUSED
            if is_auth or AUTH_SPIKE in active:
                alerts.append(self._auth_spike(state, endpoint, is_auth, now))
            is_rate_limited = family is StatusFamily.RATE_LIMITED
            if is_rate_limited or RATE_LIMIT_TREND in active:
                alerts.append(self._rate_limit_trend(state, endpoint, is_rate_limited, now))
            is_unavailable = family is StatusFamily.UNAVAILABLE
            if is_unavailable or UNAVAILABLE_SPIKE in active:
                alerts.append(self._unavailable_spike(state, endpoint, is_unavailable, now))
        for alert in alerts:
            if alert is not None:
                self.on_alert(alert)

    def _state(self, endpoint: str, now: float) -> _EndpointState:
        """Return the endpoint's state, made on first use (called under the lock)."""
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = _EndpointState(self, now)
            if len(self._endpoints) > self.max_endpoints:
                self._endpoints.popitem(last=False)
        else:
            self._endpoints.move_to_end(endpoint)
        return state

    def _call_served(self, endpoint: str, by_fallback: bool) -> None:
        """Count a call of an endpoint with fallbacks; fire when fallbacks serve most."""
        if self.fallback_share is None:
            return
        now = self.clock()
        alert = None
        with self._lock:
            state = self._state(endpoint, now)
            calls = state.calls.add(now)
            served = state.fallback_calls.add(now, by_fallback)
            share = served / calls
            condition = calls >= self.fallback_min_calls and share > self.fallback_share
            if self._episode(state, FALLBACK_SUSTAINED, condition):
                alert = Alert(
                    FALLBACK_SUSTAINED, endpoint, share, self.fallback_share, self.fallback_window
                )
        if alert is not None:
            self.on_alert(alert)

    @staticmethod
    def _episode(state: _EndpointState, rule: str, condition: bool) -> bool:
        """Return True when ``condition`` starts an episode of ``rule``."""
        if not condition:
            state.active.discard(rule)
            return False
        if rule in state.active:
            return False
        state.active.add(rule)
        return True

    def _auth_spike(
        self, state: _EndpointState, endpoint: str, is_auth: bool, now: float
    ) -> Alert | None:
        if self.auth_threshold is None:
            return None
        baseline = state.auth_baseline
        baseline.advance(now)
        baseline.current += is_auth
        count = state.auth.add(now, is_auth)
        usual = sum(baseline.done) / len(baseline.done) if baseline.done else 0.0
        threshold = max(float(self.auth_threshold), self.auth_rise_factor * usual)
        if self._episode(state, AUTH_SPIKE, count >= threshold):
            return Alert(AUTH_SPIKE, endpoint, float(count), threshold, self.auth_window)
        return None

    def _rate_limit_trend(
        self, state: _EndpointState, endpoint: str, is_rate_limited: bool, now: float
    ) -> Alert | None:
        if self.rate_limit_windows is None:
            return None
        series = state.rate_limits
        if series.advance(now) and len(series.done) >= 2 and series.done[-1] <= series.done[-2]:
            # A completed window that did not rise ends the episode.
            state.active.discard(RATE_LIMIT_TREND)
        series.current += is_rate_limited
        chain = [*list(series.done)[-(self.rate_limit_windows - 1) :], series.current]
        rising = (
            len(chain) == self.rate_limit_windows
            and series.current >= self.rate_limit_min_count
            and all(before < after for before, after in itertools.pairwise(chain))
        )
        # Only a completed window may end the episode (see above), not a fresh one at 0.
        if rising and RATE_LIMIT_TREND not in state.active:
            state.active.add(RATE_LIMIT_TREND)
            return Alert(
                RATE_LIMIT_TREND,
                endpoint,
                float(series.current),
                float(chain[-2]),
                self.rate_limit_window,
            )
        return None

    def _unavailable_spike(
        self, state: _EndpointState, endpoint: str, is_unavailable: bool, now: float
    ) -> Alert | None:
        if self.unavailable_threshold is None:
            return None
        count = state.unavailable.add(now, is_unavailable)
        if self._episode(state, UNAVAILABLE_SPIKE, count >= self.unavailable_threshold):
            return Alert(
                UNAVAILABLE_SPIKE,
                endpoint,
                float(count),
                float(self.unavailable_threshold),
                self.unavailable_window,
            )
        return None

    def _server_error_ratio(
        self, state: _EndpointState, endpoint: str, is_server: bool, now: float
    ) -> Alert | None:
        if self.server_error_ratio is None:
            return None
        responses = state.responses.add(now)
        errors = state.server.add(now, is_server)
        ratio = errors / responses
        condition = responses >= self.server_error_min_requests and ratio > self.server_error_ratio
        if self._episode(state, SERVER_ERROR_RATIO, condition):
            return Alert(
                SERVER_ERROR_RATIO,
                endpoint,
                ratio,
                self.server_error_ratio,
                self.server_error_window,
            )
        return None
