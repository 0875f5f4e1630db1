"""Names for metric series: bounded by design, and the parts an endpoint name holds.

Every exporter (`Metrics`, `PrometheusMetrics`, `OpenTelemetryMetrics`) keeps its first
``max_endpoints`` endpoints apart and counts every later one under `OTHER`, so an endpoint
function that misses an id costs one series, not one per record. Methods outside the
HTTP ones are `OTHER_METHOD`, as the OpenTelemetry HTTP conventions ask.
"""

from __future__ import annotations

import functools
import threading
from typing import Final

import attrs

OTHER: Final = "(other)"
"""The one series every endpoint past the limit shares."""
OTHER_METHOD: Final = "_OTHER"
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_HTTPS_PORT: Final = 443


class BoundedNames:
    """The first ``limit`` distinct names pass as they are; any later one is `OTHER`.

    ``limit`` must be an int of 1 or more (a ValueError names it ``max_endpoints``, the
    parameter every exporter takes it from). Thread-safe; a name seen before costs one
    set lookup.
    """

    __slots__ = ("_known", "_limit", "_lock")

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_endpoints must be an int of 1 or more, got {limit!r}")
        self._known: set[str] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        """Return True if ``name`` was let through already."""
        return name in self._known

    def __call__(self, name: str) -> str:
        """Return ``name`` if it is one of the first ``limit`` seen, else `OTHER`."""
        if name in self._known:
            return name
        with self._lock:
            if name in self._known:
                return name
            if len(self._known) >= self._limit:
                return OTHER
            self._known.add(name)
            return name


def method_label(method: str) -> str:
    """Return ``method`` if it is an HTTP method of RFC 9110 or PATCH, else ``"_OTHER"``."""
    return method if method in _METHODS else OTHER_METHOD


@attrs.frozen
class EndpointParts:
    """What an endpoint name such as ``GET api.example.com:8443/v1/users/{id}`` holds.

    ``address`` and ``port`` are the server's (443 when the name shows no port, as
    `endpoint_template` leaves out only that one), ``template`` the path template; each
    is None when the name is not of that form (a custom ``endpoint_func``, `OTHER`).
    """

    address: str | None
    port: int | None
    template: str | None


_NOTHING = EndpointParts(None, None, None)


@functools.lru_cache(maxsize=4096)
def endpoint_parts(method: str, endpoint: str) -> EndpointParts:
    """Split an endpoint name into its server address, port and path template."""
    rest = endpoint.removeprefix(f"{method} ")
    host, slash, path = rest.partition("/")
    if not slash or not host or " " in host or host.startswith("("):
        return _NOTHING
    port = _HTTPS_PORT
    name, colon, digits = host.rpartition(":")
    if colon and digits.isdigit() and (not name.startswith("[") or name.endswith("]")):
        host, port = name, int(digits)
    return EndpointParts(host.strip("[]"), port, slash + path)
