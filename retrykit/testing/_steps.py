"""The steps a `FlakyServer` script plays, and the record of each request it receives.

A step either answers (`Reply`, `SlowBody`, `Trickle`) or fails in one of the ways
networks and servers fail (`Reset`, `Truncated`, `Garbage`, `Hang`, `StalledBody`). They
are plain frozen values, validated when built: a wrong argument raises TypeError or
ValueError naming it, never a broken exchange later. The wire code that plays them lives
in ``_server``.
"""

from __future__ import annotations

import json as _json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeAlias

import attrs
from attrs.validators import instance_of

from retrykit._core._validators import non_negative

HeaderPairs = tuple[tuple[str, str], ...]
Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]

# RFC 9110, section 5.6.2: a field name is a token.
_TOKEN_CHARS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_VERSIONS: Final = ("HTTP/1.1", "HTTP/1.0")


def _header_pairs(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> HeaderPairs:
    given: object = value  # typed for callers; checked for everyone else
    if isinstance(given, (str, bytes)) or not isinstance(given, (Mapping, Iterable)):
        raise TypeError(
            f"headers must be a mapping or a sequence of (name, value) pairs: {given!r}"
        )
    items: Iterable[Any] = given.items() if isinstance(given, Mapping) else given
    pairs = []
    for item in items:
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable):
            raise TypeError(f"headers must hold (name, value) pairs, got {item!r}")
        pair = tuple(item)
        if len(pair) != 2:
            raise ValueError(f"headers must hold (name, value) pairs, got {item!r}")
        name, val = pair
        if not isinstance(name, str) or not isinstance(val, (str, int)) or isinstance(val, bool):
            raise TypeError(f"headers must hold str names and str values, got {item!r}")
        pairs.append((name, str(val)))
    return tuple(pairs)


def _check_headers(_instance: object, attribute: attrs.Attribute[Any], value: HeaderPairs) -> None:
    for name, val in value:
        if not name or not set(name) <= _TOKEN_CHARS:
            raise ValueError(
                f"'{attribute.name}' must hold names that are tokens (RFC 9110): {name!r}"
            )
        if any(char in val for char in "\r\n\0") or not _latin1(val):
            raise ValueError(
                f"'{attribute.name}' must hold values of Latin-1 text without CR, LF or "
                f"NUL: {name}: {val!r}"
            )


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _as_bytes(value: bytes | str) -> bytes:
    given: object = value
    if isinstance(given, str):
        return given.encode("utf-8")
    if isinstance(given, (bytearray, memoryview)):
        return bytes(given)
    # Anything else is left for the field's validator, which names the field.
    return value  # type: ignore[return-value]


def _whole(low: int, high: float = math.inf) -> Validator:
    """Return a validator of an int in [low, high]: TypeError for another type (bool too)."""

    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{attribute.name}' must be an int: {value!r}")
        if not low <= value <= high:
            upper = "" if high == math.inf else f" and <= {high:g}"
            raise ValueError(f"'{attribute.name}' must be >= {low}{upper}: {value!r}")

    return check


_status = _whole(100, 599)
_optional_length: Validator = attrs.validators.optional(_whole(0))
_flag = instance_of(bool)
_bytes = instance_of(bytes)


def _version(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in _VERSIONS:
        raise ValueError(f"'{attribute.name}' must be one of {_VERSIONS}: {value!r}")


def _interim(value: int | Iterable[int]) -> tuple[int, ...]:
    given: object = value
    if isinstance(given, int):
        return (given,)
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise TypeError(f"interim must be a sequence of 1xx status codes: {given!r}")
    return tuple(given)


def _check_interim(
    _instance: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]
) -> None:
    for status in value:
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(f"'{attribute.name}' must hold 1xx status codes: {status!r}")
        if not 100 <= status <= 199 or status == 101:
            raise ValueError(f"'{attribute.name}' must hold 1xx status codes but 101: {status!r}")


@attrs.frozen
class Reply:
    """Answer with a complete response.

    ``status`` is 100 to 599; ``headers`` is a mapping or a sequence of (name, value)
    pairs, sent in order (names are tokens, values carry no CR, LF or NUL: a broken head is
    `Garbage`'s job); ``body`` is bytes or text (encoded as UTF-8). The server waits
    ``delay`` seconds before sending anything (a slow server, for read timeouts). It
    adds ``Content-Length`` unless ``headers`` has one (then the body is sent as it is,
    whatever the header says: a lying length) or ``chunked`` is true (then the body goes
    as one chunk). With ``close`` it sends ``Connection: close`` and closes the
    connection after the response. ``interim`` lists 1xx responses (such as ``(100,)``
    or ``(103,)``) sent before this one, asked for or not. ``version`` is the status
    line's, ``"HTTP/1.1"`` or ``"HTTP/1.0"``; an HTTP/1.0 reply closes the connection
    after it and cannot be chunked. Responses to HEAD, and 1xx, 204 and 304 responses,
    carry no body.
    """

    status: int = attrs.field(default=200, validator=_status)
    headers: HeaderPairs = attrs.field(
        default=(), converter=_header_pairs, validator=_check_headers
    )
    body: bytes = attrs.field(default=b"", converter=_as_bytes, validator=_bytes)
    delay: float = attrs.field(default=0.0, validator=non_negative)
    close: bool = attrs.field(default=False, validator=_flag)
    chunked: bool = attrs.field(default=False, validator=_flag)
    interim: tuple[int, ...] = attrs.field(
        default=(), converter=_interim, validator=_check_interim, kw_only=True
    )
    version: str = attrs.field(default="HTTP/1.1", validator=_version, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.chunked and self.version == "HTTP/1.0":
            raise ValueError(
                "'chunked' must be False with version 'HTTP/1.0': HTTP/1.0 has no chunked coding"
            )

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

    after_read: bool = attrs.field(default=True, validator=_flag)


@attrs.frozen
class Truncated:
    """Send headers declaring ``declared_length`` body bytes, then only ``body``, then close.

    The client sees the connection end mid-body (an incomplete read). With ``chunked``
    the response is chunked instead: one chunk whose size line declares
    ``declared_length`` bytes, of which only ``body`` is sent (a chunked body cut short).
    ``declared_length`` must be more than ``len(body)``.
    """

    status: int = attrs.field(default=200, validator=_status)
    declared_length: int = attrs.field(default=100, validator=_whole(1))
    body: bytes = attrs.field(default=b"partial", converter=_as_bytes, validator=_bytes)
    headers: HeaderPairs = attrs.field(
        default=(), converter=_header_pairs, validator=_check_headers
    )
    chunked: bool = attrs.field(default=False, validator=_flag, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.declared_length <= len(self.body):
            raise ValueError(
                f"'declared_length' must be more than the {len(self.body)} bytes of body "
                f"sent, or nothing is cut: {self.declared_length!r}"
            )


@attrs.frozen
class Garbage:
    """Read the request, send ``data`` as it is, then close the connection.

    By default ``data`` is not HTTP at all (a garbage status line); any bytes may be
    given: a head cut off in the middle, an HTTP/1.0 response whose body ends with the
    connection, a response whose framing lies.
    """

    data: bytes = attrs.field(default=b"NOT HTTP\r\n\r\n", converter=_as_bytes, validator=_bytes)


@attrs.frozen
class Hang:
    """Read the request, send nothing for ``seconds``, then close the connection.

    Closing the server, or the client closing its end, ends the wait early.
    """

    seconds: float = attrs.field(default=5.0, validator=non_negative)


@attrs.frozen
class SlowBody:
    """Send the head at once and the body late (a read timeout in the middle of the body).

    The status line, headers and the first ``immediate_bytes`` of ``body`` go at once;
    the rest follows after ``delay`` seconds (unless the client has gone by then).
    ``Content-Length`` announces the whole body.
    """

    status: int = attrs.field(default=200, validator=_status)
    headers: HeaderPairs = attrs.field(
        default=(), converter=_header_pairs, validator=_check_headers
    )
    body: bytes = attrs.field(default=b"slow body", converter=_as_bytes, validator=_bytes)
    delay: float = attrs.field(default=1.0, validator=non_negative)
    immediate_bytes: int = attrs.field(default=0, validator=_whole(0))

    def __attrs_post_init__(self) -> None:
        if self.immediate_bytes > len(self.body):
            raise ValueError(
                f"'immediate_bytes' must be at most the body's {len(self.body)} bytes: "
                f"{self.immediate_bytes!r}"
            )


@attrs.frozen
class Trickle:
    """Send the head at once, then ``body`` one byte at a time, ``interval`` seconds apart.

    ``Content-Length`` announces the whole body; the first byte goes ``interval`` after
    the head. A client reading it sees every read succeed, each one slowly: only a
    deadline over the whole read stops it early. Closing the server, or the client
    closing its end, ends it early.
    """

    status: int = attrs.field(default=200, validator=_status)
    headers: HeaderPairs = attrs.field(
        default=(), converter=_header_pairs, validator=_check_headers
    )
    body: bytes = attrs.field(default=b"trickle", converter=_as_bytes, validator=_bytes)
    interval: float = attrs.field(default=0.1, validator=non_negative)


@attrs.frozen
class StalledBody:
    """Send the head and ``sent`` bytes of body at once, then nothing for ``stall`` seconds.

    ``declared_length`` is the ``Content-Length`` announced (it may be far more than
    will ever come, such as 10 GB); None sends a chunked body instead, whose length
    nobody knows. The body is ``sent`` bytes of ``b"x"``, sent as fast as the client
    reads them; then the server stalls, and closes the connection after ``stall``
    seconds (or as soon as the client or the server closes first).
    """

    status: int = attrs.field(default=503, validator=_status)
    declared_length: int | None = attrs.field(default=10 * 1024**3, validator=_optional_length)
    sent: int = attrs.field(default=0, validator=_whole(0))
    stall: float = attrs.field(default=5.0, validator=non_negative)
    headers: HeaderPairs = attrs.field(
        default=(), converter=_header_pairs, validator=_check_headers
    )

    def __attrs_post_init__(self) -> None:
        if self.declared_length is not None and self.sent > self.declared_length:
            raise ValueError(
                f"'sent' must be at most 'declared_length' ({self.declared_length}): "
                f"{self.sent!r} (a Reply with a Content-Length header sends more)"
            )


Step = Reply | Reset | Truncated | Garbage | Hang | SlowBody | Trickle | StalledBody
"""Any of the step kinds a script may hold."""

STEP_TYPES = (Reply, Reset, Truncated, Garbage, Hang, SlowBody, Trickle, StalledBody)


@attrs.frozen
class ReceivedRequest:
    """One request as the server read it.

    ``target`` is the request target as sent (path and query); ``path`` is the same
    without the query, the key scripts are chosen by. ``headers`` are the (name, value)
    pairs in the order received; use `header` for a case-insensitive lookup. ``body`` is
    the decoded body (chunked framing removed; empty when a `Reset` with
    ``after_read=False`` cut it off). ``received_at`` is ``time.monotonic()`` when the
    request head was read; ``connection`` is the index of the TCP connection it came on
    (0 for the first connection accepted). ``step`` is the step the server played in
    answer (None when it is not known).
    """

    method: str
    target: str
    headers: HeaderPairs
    body: bytes
    received_at: float
    connection: int
    chunked: bool = False
    step: Step | None = None

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
