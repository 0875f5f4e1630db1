"""The circuit breaker's pure state machine (the thread-safe holder is retrykit._breaker)."""

from __future__ import annotations

import enum


class BreakerState(enum.Enum):
    """The state of one circuit."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
