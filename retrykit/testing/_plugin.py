"""The pytest plugin of retrykit.testing, loaded through the ``pytest11`` entry point.

Fixtures:

- ``fake_clock``: a fresh `FakeClock` for the test.
- ``flaky_server``: a started `FlakyServer`, closed after the test.

pytest imports this module in every run of every project that has retrykit installed,
so it imports neither httpx nor requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from retrykit.testing._clock import FakeClock
from retrykit.testing._server import FlakyServer

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def fake_clock() -> FakeClock:
    """Return a new `FakeClock` at monotonic 0.0 and wall time 1_700_000_000."""
    return FakeClock()


@pytest.fixture
def flaky_server() -> Iterator[FlakyServer]:
    """Yield a started `FlakyServer` on 127.0.0.1; it is closed when the test ends."""
    with FlakyServer() as server:
        yield server
