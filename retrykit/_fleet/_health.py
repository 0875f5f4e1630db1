"""When the store goes local-only, and when it tries Redis again (time and randomness passed in).

- HEALTHY: every round trip that fails (an error, a timeout, a reply that makes no
  sense) counts; a round trip that succeeds resets the count. ``degrade_after`` failures
  in a row make the store DEGRADED.
- DEGRADED: local-only. The store pings Redis after a wait that doubles with each failed
  ping, from ``first_wait`` up to ``max_wait``, each jittered to between half and one
  and a half times itself so that a fleet does not come back in step. A ping that
  answers makes the store HEALTHY again.
"""

from __future__ import annotations

from typing import Final

_CAP_EXPONENT: Final = 32


class Health:
    """The store's health: see this module's docstring."""

    __slots__ = (
        "degrade_after",
        "degraded",
        "degraded_at",
        "errors",
        "first_wait",
        "max_wait",
        "pings",
        "retry_at",
    )

    def __init__(self, *, degrade_after: int, first_wait: float, max_wait: float) -> None:
        self.degrade_after = degrade_after
        self.first_wait = first_wait
        self.max_wait = max(first_wait, max_wait)
        self.degraded = False
        self.errors = 0
        self.pings = 0
        self.degraded_at = 0.0
        self.retry_at = 0.0

    def failed(self, now: float, rand: float) -> bool:
        """Count a failed round trip or ping; return True if this one made the store DEGRADED."""
        self.errors += 1
        if self.degraded:
            self.pings += 1
            self.retry_at = now + self.wait(rand)
            return False
        if self.errors < self.degrade_after:
            return False
        self.degraded = True
        self.degraded_at = now
        self.pings = 0
        self.retry_at = now + self.wait(rand)
        return True

    def succeeded(self, now: float) -> float | None:
        """Count a successful round trip or ping; return the seconds spent DEGRADED, if it was."""
        self.errors = 0
        if not self.degraded:
            return None
        self.degraded = False
        return now - self.degraded_at

    def wait(self, rand: float) -> float:
        """Return the wait before the next ping: doubled per failed ping, capped, jittered."""
        base = self.first_wait * 2.0 ** min(self.pings, _CAP_EXPONENT)
        return min(self.max_wait, base) * (0.5 + rand)
