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
