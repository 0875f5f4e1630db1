"""How much of a discarded response to read, so its connection can be used again."""

from __future__ import annotations

from typing import Final

DRAIN_LIMIT: Final = 1024 * 1024
"""The most of a response that will be retried that is read (1 MiB).

Reading the rest of a small body lets the connection go back to the pool; past this
much, dropping the connection is cheaper than reading on.
"""

DRAIN_CHUNK: Final = 64 * 1024
"""The most read in one step of a drain, so the deadline is checked between steps."""

DRAIN_TIMEOUT: Final = 0.25
"""The longest a drain reads (seconds): a body that stalls is dropped, not waited for.

A new connection costs a handshake, tens of milliseconds; a stalled body could cost the
whole read timeout, or the deadline.
"""


def drain_end(now: float, deadline_end: float | None, delay: float) -> float:
    """Return the clock time by which a drain that starts at ``now`` must end.

    At most `DRAIN_TIMEOUT` on, and early enough that the retry's ``delay`` still ends
    by ``deadline_end`` (the call's deadline as a clock time, None without one).
    """
    end = now + DRAIN_TIMEOUT
    return end if deadline_end is None else min(end, deadline_end - delay)


def read_end(started: float, deadline: float | None) -> float | None:
    """Return the clock time by which the final body must be read (None: no deadline).

    The deadline holds for the whole call, the body it hands over included: a body that
    trickles in, every read in time, is cut at the deadline.
    """
    return None if deadline is None else started + deadline


def drain_allowance(content_length: str | None) -> int:
    """Return how many bytes of a discarded response are worth reading: 0 means drop it.

    A body that declares more than `DRAIN_LIMIT` is not read at all; any other (one of
    unknown length included) is read up to `DRAIN_LIMIT`, and the connection dropped if
    more remains. The same rule in every adapter and every mode.
    """
    if content_length is not None:
        text = content_length.strip()
        if text.isascii() and text.isdigit() and len(text) <= 16 and int(text) > DRAIN_LIMIT:
            return 0
    return DRAIN_LIMIT
