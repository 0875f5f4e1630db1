"""Test helpers for code that uses retrykit: no sleeps, no internet, real sockets when needed.

- `FlakyServer`: a real HTTP/1.1 server on 127.0.0.1 (a context manager, a free port,
  a thread per connection) that answers each path from a script of steps: `Reply`,
  `SlowBody`, `Trickle`, `Reset`, `Truncated`, `Garbage`, `Hang` and `StalledBody`. It
  records every request it receives (`ReceivedRequest`, with the step it played) and
  counts TCP connections. Use it to test retries against the failures real networks
  and odd servers produce.
- `FakeClock`: a monotonic and a wall clock plus sync and async sleep functions that
  advance them instantly and record each wait. Pass it wherever retrykit takes a
  ``clock`` or a ``sleep``, so backoff schedules run in no time and are exact.
- `ScriptedTransport` and `AsyncScriptedTransport` (httpx) and `ScriptedAdapter`
  (requests): in-process fakes answering from a list of responses and exceptions, for
  fast unit tests of your own code. They raise `ScriptExhaustedError` when the list
  runs out. Each needs only its own client installed; the rest of this module needs
  neither.
- A pytest plugin, registered through the ``pytest11`` entry point, with the fixtures
  ``fake_clock`` (a fresh `FakeClock`) and ``flaky_server`` (a started `FlakyServer`,
  closed after the test).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from retrykit.testing._clock import FakeClock
from retrykit.testing._fakes import ScriptExhaustedError
from retrykit.testing._server import FlakyServer
from retrykit.testing._steps import (
    Garbage,
    Hang,
    ReceivedRequest,
    Reply,
    Reset,
    SlowBody,
    StalledBody,
    Step,
    Trickle,
    Truncated,
)

if TYPE_CHECKING:
    from retrykit.testing._fakes_httpx import AsyncScriptedTransport, ScriptedTransport
    from retrykit.testing._fakes_requests import ScriptedAdapter

# Each fake imports its client; the pytest plugin imports this package in every test run,
# so a fake loads only when first asked for, and needs only its own client installed.
_LAZY = {
    "AsyncScriptedTransport": ("_fakes_httpx", "httpx"),
    "ScriptedTransport": ("_fakes_httpx", "httpx"),
    "ScriptedAdapter": ("_fakes_requests", "requests"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, extra = _LAZY[name]
        try:
            module = importlib.import_module(f"retrykit.testing.{module_name}")
        except ImportError as exc:
            raise ImportError(
                f"retrykit.testing.{name} needs {extra}: pip install 'retrykit-http[{extra}]'"
            ) from exc
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncScriptedTransport",
    "FakeClock",
    "FlakyServer",
    "Garbage",
    "Hang",
    "ReceivedRequest",
    "Reply",
    "Reset",
    "ScriptExhaustedError",
    "ScriptedAdapter",
    "ScriptedTransport",
    "SlowBody",
    "StalledBody",
    "Step",
    "Trickle",
    "Truncated",
]
