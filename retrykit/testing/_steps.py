"""The steps a `FlakyServer` script plays, and the record of each request it receives.

A step either answers (`Reply`, `SlowBody`) or fails in one of the ways networks fail
(`Reset`, `Truncated`, `Garbage`, `Hang`). They are plain frozen values, validated when
built; the wire code that plays them lives in ``_server``.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping

import attrs

from retrykit._core._validators import non_negative

HeaderPairs = tuple[tuple[str, str], ...]


def _header_pairs(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> HeaderPairs:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(name), str(val)) for name, val in items)


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


@attrs.frozen
class Reply:
    """Answer with a complete response.

    ``headers`` is a mapping or a sequence of (name, value) pairs, sent in order;
    ``body`` is bytes or text (encoded as UTF-8). The server waits ``delay`` seconds
    before sending anything (a slow server, for read timeouts). It adds
    ``Content-Length`` unless ``headers`` has one or ``chunked`` is true (then the body
    goes as one chunk). With ``close`` it sends ``Connection: close`` and closes the
    connection after the response. Responses to HEAD, and 1xx, 204 and 304 responses,
    carry no body.
    """

    status: int = 200
    headers: HeaderPairs = attrs.field(default=(), converter=_header_pairs)
    body: bytes = attrs.field(default=b"", converter=_as_bytes)
    delay: float = attrs.field(default=0.0, validator=non_negative)
    close: bool = False
    chunked: bool = False

    @classmethod
    def json(
        cls,
        data: object,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        delay: float = 0.0,
        close: bool = False,
    ) -> Reply:
        """Return a `Reply` with ``data`` as a JSON body and ``Content-Type: application/json``."""
        pairs = (("Content-Type", "application/json"), *_header_pairs(headers))
        body = _json.dumps(data).encode("utf-8")
        return cls(status, pairs, body, delay=delay, close=close)


@attrs.frozen
class Reset:
    """Abort the connection with a TCP RST (``SO_LINGER`` 0), sending no response.

    With ``after_read`` (the default) the whole request, body included, is read first:
    the server may have acted on it, so the outcome is unknown to the client. With
    ``after_read=False`` the reset comes right after the request line and headers (the
    server needs the path to choose the script), before any of the body is read.
    """

    after_read: bool = True


@attrs.frozen
class Truncated:
    """Send headers declaring ``declared_length`` body bytes, then only ``body``, then close.

    The client sees the connection end mid-body (an incomplete read).
    """

    status: int = 200
    declared_length: int = 100
    body: bytes = attrs.field(default=b"partial", converter=_as_bytes)
    headers: HeaderPairs = attrs.field(default=(), converter=_header_pairs)


@attrs.frozen
class Garbage:
    """Read the request, answer with ``data`` (by default not HTTP at all), then close."""

    data: bytes = attrs.field(default=b"NOT HTTP\r\n\r\n", converter=_as_bytes)


@attrs.frozen
class Hang:
    """Read the request, send nothing for ``seconds``, then close the connection.

    Closing the server ends the wait early.
    """

    seconds: float = attrs.field(default=5.0, validator=non_negative)


@attrs.frozen
class SlowBody:
    """Send the head at once and the body late (a read timeout in the middle of the body).

    The status line, headers and the first ``immediate_bytes`` of ``body`` go at once;
    the rest follows after ``delay`` seconds. ``Content-Length`` announces the whole body.
    """

    status: int = 200
    headers: HeaderPairs = attrs.field(default=(), converter=_header_pairs)
    body: bytes = attrs.field(default=b"slow body", converter=_as_bytes)
    delay: float = attrs.field(default=1.0, validator=non_negative)
    immediate_bytes: int = 0


Step = Reply | Reset | Truncated | Garbage | Hang | SlowBody
"""Any of the step kinds a script may hold."""

STEP_TYPES = (Reply, Reset, Truncated, Garbage, Hang, SlowBody)


@attrs.frozen
class ReceivedRequest:
    """One request as the server read it.

    ``target`` is the request target as sent (path and query); ``path`` is the same
    without the query, the key scripts are chosen by. ``headers`` are the (name, value)
    pairs in the order received; use `header` for a case-insensitive lookup. ``body`` is
    the decoded body (chunked framing removed; empty when a `Reset` with
    ``after_read=False`` cut it off). ``received_at`` is ``time.monotonic()`` when the
    request head was read; ``connection`` is the index of the TCP connection it came on
    (0 for the first connection accepted).
    """

    method: str
    target: str
    headers: HeaderPairs
    body: bytes
    received_at: float
    connection: int
    chunked: bool = False

    @property
    def path(self) -> str:
        """The request target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        """The query string, without the ``?`` (empty when there is none)."""
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (any case), or None when absent."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None
