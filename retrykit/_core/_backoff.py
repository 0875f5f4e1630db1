"""Capped exponential backoff with the jitter kinds that published retry policies use."""

from __future__ import annotations

import math
from typing import Literal

import attrs
from attrs.validators import in_

from retrykit._core._validators import non_negative

JitterKind = Literal["none", "full", "equal", "proportional", "decorrelated"]

_JITTER_KINDS = ("none", "full", "equal", "proportional", "decorrelated")


@attrs.frozen
class Backoff:
    """How long to wait before each retry.

    With ``raw = min(cap, base * multiplier ** (retry - 1))``, the wait before retry
    ``retry`` (counting from 1) is, by ``jitter``:

    - ``"none"``: ``raw``
    - ``"full"``: ``rand * raw`` (the AWS "full jitter" policy)
    - ``"equal"``: ``raw / 2 + rand * raw / 2``
    - ``"proportional"``: ``raw + rand * jitter_ratio * raw``, jitter on top of the cap
      ("min(1 s * 2^(n-1), 30 s) plus up to 20 % jitter")
    - ``"decorrelated"``: ``min(cap, base + rand * (3 * p - base))`` where ``p`` is the
      previous delay, or ``base`` for the first retry (a previous delay below ``base``
      counts as ``base``)
    """

    base: float = attrs.field(default=1.0, validator=non_negative)
    multiplier: float = attrs.field(default=2.0, validator=non_negative)
    cap: float = attrs.field(default=30.0, validator=non_negative)
    jitter: JitterKind = attrs.field(default="full", validator=in_(_JITTER_KINDS))
    jitter_ratio: float = attrs.field(default=0.2, validator=non_negative)

    def raw(self, retry: int) -> float:
        """Return the capped exponential delay for ``retry``, before jitter."""
        if retry < 1:
            raise ValueError(f"retry counts from 1, got {retry}")
        try:
            exponential = self.base * self.multiplier ** (retry - 1)
        except OverflowError:
            # Only the power overflowed: a zero base still means no wait.
            return self.cap if self.base else 0.0
        return min(self.cap, exponential)

    def delay(self, retry: int, *, rand: float, previous: float | None = None) -> float:
        """Return the wait in seconds before retry number ``retry`` (the first retry is 1).

        ``rand`` is a float in [0, 1) from the caller's random source; ``previous`` is the
        delay before the last retry, used only by ``"decorrelated"``. The result is in
        [0, cap], except for ``"proportional"``, where it is in [raw, raw * (1 + jitter_ratio)],
        and always within `bounds`.
        """
        if not 0.0 <= rand < 1.0:
            raise ValueError(f"rand must be in [0, 1), got {rand!r}")
        return self._wait(retry, rand, previous)

    def bounds(self, retry: int, *, previous: float | None = None) -> tuple[float, float]:
        """Return the smallest and largest wait ``delay`` can give for ``retry``.

        Both ends come from the very formula `delay` uses, at ``rand`` 0 and 1: each jitter
        formula only grows with ``rand``, rounding included, so no delay leaves its bounds,
        not even by one unit in the last place.
        """
        return self._wait(retry, 0.0, previous), self._wait(retry, 1.0, previous)

    def _wait(self, retry: int, rand: float, previous: float | None) -> float:
        # The jitter formulas of the class docstring, for any rand in [0, 1].
        jitter = self.jitter
        if jitter == "decorrelated":
            if retry < 1:
                raise ValueError(f"retry counts from 1, got {retry}")
            p = self._decorrelated_previous(previous)
            return min(self.cap, self.base + rand * (3.0 * p - self.base))
        raw = self.raw(retry)
        if jitter == "full":
            return rand * raw
        if jitter == "none":
            return raw
        if jitter == "equal":
            return raw / 2.0 + rand * raw / 2.0
        return raw + rand * self.jitter_ratio * raw

    def _decorrelated_previous(self, previous: float | None) -> float:
        # Below base, 3 * p - base could go negative and so could the wait; NaN and inf
        # would make it NaN.
        if previous is None or not self.base < previous < math.inf:
            return self.base
        return previous
