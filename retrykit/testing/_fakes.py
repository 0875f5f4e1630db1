"""What the scripted fakes share: the script of answers and its exhaustion error.

The fakes themselves live in ``_fakes_httpx`` and ``_fakes_requests``, each importing
only its own client.

Each fake plays its list in order, one item per request, and records the requests it
was sent. An item is a response, a status code, a ``(status, headers, body)`` tuple, or
an exception (class or instance) to raise with the request attached. When the list runs
out the fake raises `ScriptExhaustedError`, an AssertionError: a test that sends more
requests than it scripted is a failing test, not a network error to retry.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, TypeAlias, TypeVar

Headers: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
Body: TypeAlias = bytes | str

_T = TypeVar("_T")


class ScriptExhaustedError(AssertionError):
    """A scripted fake got a request after its list of answers ran out.

    The message names the fake, the request's method and URL, and how many answers
    were scripted.
    """


class Script(Generic[_T]):
    """A thread-safe queue of scripted answers that complains when it runs dry."""

    def __init__(self, owner: str, steps: Iterable[_T]) -> None:
        self._owner = owner
        self._steps = collections.deque(steps)
        self._given = len(self._steps)
        self._lock = threading.Lock()

    def take(self, method: str, url: str) -> _T:
        with self._lock:
            if self._steps:
                return self._steps.popleft()
        raise ScriptExhaustedError(
            f"{self._owner} has no answer left for {method} {url}: "
            f"{self._given} were scripted and all were used"
        )

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._steps)


def as_bytes(body: Body) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body
