"""The rules for reading bodies: how much of a discarded one, and until when."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from retrykit._core._bodies import (
    DRAIN_LIMIT,
    DRAIN_TIMEOUT,
    drain_allowance,
    drain_end,
    read_end,
)


def test_a_body_declared_past_the_limit_is_not_read_at_all() -> None:
    """More than 1 MiB declared: drop the connection rather than read it."""
    assert drain_allowance(str(DRAIN_LIMIT + 1)) == 0
    assert drain_allowance(str(DRAIN_LIMIT)) == DRAIN_LIMIT
    assert drain_allowance(None) == DRAIN_LIMIT  # unknown length: read up to the limit
    assert drain_allowance(" 12 ") == DRAIN_LIMIT
    assert drain_allowance("9" * 40) == DRAIN_LIMIT  # unreadable: treated as unknown


def test_a_drain_ends_soon_without_a_deadline() -> None:
    """A stalled body is waited for DRAIN_TIMEOUT at most, not for the read timeout."""
    assert drain_end(10.0, None, 2.0) == 10.0 + DRAIN_TIMEOUT


def test_a_drain_leaves_the_retrys_wait_inside_the_deadline() -> None:
    """Deadline at 10.5, a 0.4 s wait to come: the drain ends by 10.1."""
    assert math.isclose(drain_end(10.0, 10.5, 0.4), 10.1)
    assert drain_end(10.0, 100.0, 0.4) == 10.0 + DRAIN_TIMEOUT


def test_the_final_body_is_read_by_the_deadline() -> None:
    """The deadline covers the body handed over; no deadline, no cut."""
    assert read_end(3.0, 2.5) == 5.5
    assert read_end(3.0, None) is None


@given(
    now=st.floats(0, 1e9),
    deadline_end=st.none() | st.floats(0, 2e9),
    delay=st.floats(0, 1e6),
)
def test_a_drain_never_ends_later_than_its_bounds(
    now: float, deadline_end: float | None, delay: float
) -> None:
    """Never past DRAIN_TIMEOUT, never past the point where the wait would miss the deadline."""
    end = drain_end(now, deadline_end, delay)
    assert end <= now + DRAIN_TIMEOUT
    if deadline_end is not None:
        assert end <= deadline_end - delay
