"""Header parsers: Retry-After, rate limits, request ids, and wait headers left unread.

Retry-After is RFC 9110, section 10.2.3. Every parser here takes untrusted text from a
server and never raises: a value it cannot read gives ``None`` (or is left out), so a
malformed header can only cost a hint, never a request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

from retrykit._core._dates import bounded_wait, parse_http_date, reset_wait, wait_until
from retrykit._core._text import clean

if TYPE_CHECKING:
    from collections.abc import Mapping

_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")

MAX_REQUEST_ID = 200
"""The longest request id kept, in characters."""
REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-correlation-id",
    "x-github-request-id",
)
"""The headers a request id is read from, most common first."""


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """Return the value of header ``name``, case-insensitively, or None.

    ``name`` must be given in lower case. httpx and requests headers are already
    case-insensitive; a plain dict is searched key by key.
    """
    value = headers.get(name)
    if value is not None or not isinstance(headers, dict):
        return value
    for key, candidate in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return str(candidate)
    return None


def read_header(headers: Mapping[str, str], name: str) -> str | None:
    """Return `get_header`'s value if it is text, else None; never raises.

    For reading hints from untrusted responses: a headers object that fails, or a value
    that is not a ``str`` (requests lets bytes through), costs the hint, never the call.
    """
    try:
        value = get_header(headers, name)
    except Exception:  # noqa: BLE001 - a broken headers object costs a hint, never the call
        return None
    return value if isinstance(value, str) else None


def request_id(headers: Mapping[str, str]) -> str | None:
    """Return the request id a response's headers carry, for support tickets, or None.

    The first of `REQUEST_ID_HEADERS` with a value wins; the value is cleaned to one line
    without control characters and cut to `MAX_REQUEST_ID` characters. Never raises: a
    headers object that cannot be read gives None.
    """
    try:
        for name in REQUEST_ID_HEADERS:
            value = get_header(headers, name)
            if value and isinstance(value, str):
                cleaned = clean(value, MAX_REQUEST_ID)
                if cleaned:
                    return cleaned
    except Exception:  # noqa: BLE001 - a broken headers object costs the hint, never the call
        return None
    return None


def parse_retry_after(value: str | None, *, now: float | None) -> float | None:
    """Return how many seconds a ``Retry-After`` header asks the client to wait.

    Reads delay-seconds (ASCII digits, also decimals such as ``"0.5"``) and HTTP-dates
    (every form `parse_http_date` reads), with ``now`` as the current Unix time. A date in
    the past gives 0.0, and no wait is longer than `MAX_WAIT` (a year), however many digits
    the server sent. A header sent twice reaches the client joined by a comma (``"1,
    1"``, RFC 9110, section 5.3): each part that is valid on its own counts, and the
    longest wait wins. A missing, empty, negative or malformed value gives None, and so
    does a date when ``now`` is None (no clock). Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    wait = _retry_after_value(text, now)
    if wait is not None or "," not in text:
        return wait
    return max(_repeated_waits(text.split(","), now), default=None)


def _retry_after_value(text: str, now: float | None) -> float | None:
    text = text.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return bounded_wait(float(text))
    moment = parse_http_date(text, now=now) if text else None
    return None if moment is None else wait_until(moment, now)


def _repeated_waits(parts: list[str], now: float | None) -> list[float]:
    # An IMF date holds a comma of its own: a part that is not valid alone may be the
    # day name of a date, valid together with the part after it.
    waits: list[float] = []
    index = 0
    while index < len(parts):
        wait = _retry_after_value(parts[index], now)
        taken = 1
        if wait is None and index + 1 < len(parts):
            wait = _retry_after_value(f"{parts[index]},{parts[index + 1]}", now)
            taken = 2 if wait is not None else 1
        if wait is not None:
            waits.append(wait)
        index += taken
    return waits


@attrs.frozen
class RateLimitInfo:
    """What a server said about its rate limit: any field it did not send is None.

    ``reset_after`` is in seconds from now, whatever form the server used.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None


def _int_field(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    # Some servers send several comma-separated limits; the first is the one in force.
    text = text.split(",", 1)[0].split(";", 1)[0].strip()
    if not text.isascii() or not text.isdigit():
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() will convert (sys.get_int_max_str_digits)
        return None


def _reset_field(value: str | None, *, now: float | None) -> float | None:
    if value is None:
        return None
    whole = value.strip()
    text = whole.split(",", 1)[0].strip()
    if not _DELAY_SECONDS.fullmatch(text):
        # Not a number: perhaps an HTTP-date, whose own comma must not be split at.
        return parse_retry_after(whole, now=now) if whole else None
    return reset_wait(float(text), now)


_PARAMETER = re.compile(r";\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\"[^\"]*\"|[^;,\s]*)")
_ITEM_NAME = re.compile(r"\s*(\"[^\"]*\"|[A-Za-z0-9_.*-]+)")


def _structured_items(value: str) -> dict[str, dict[str, str]]:
    """Split an RFC 8941 list such as ``"default";r=50;t=30`` into name -> parameters."""
    items: dict[str, dict[str, str]] = {}
    for member in value.split(","):
        name_match = _ITEM_NAME.match(member)
        if name_match is None:
            continue
        name = name_match.group(1).strip('"')
        items.setdefault(name, dict(_PARAMETER.findall(member[name_match.end() :])))
    return items


def _policy_limit(policy: str, name: str | None) -> int | None:
    """Return the quota (``q``) of policy ``name`` in a RateLimit-Policy, else of its first."""
    policies = _structured_items(policy)
    chosen = (policies.get(name) if name is not None else None) or next(iter(policies.values()), {})
    return _int_field(chosen.get("q"))


def _legacy_draft_fields(value: str) -> dict[str, str]:
    """Read the older draft form ``limit=100, remaining=50, reset=30``."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        key, sep, field_value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = field_value.strip()
    return fields


def parse_rate_limit(headers: Mapping[str, str], *, now: float | None) -> RateLimitInfo | None:
    """Return the rate-limit state a response's headers announce, or None if they say nothing.

    Reads, in this order of preference, the IETF ``RateLimit`` structured field (with
    ``RateLimit-Policy`` for the limit), ``RateLimit-Limit/-Remaining/-Reset`` and
    ``X-RateLimit-Limit/-Remaining/-Reset``. Names are case-insensitive. A reset that looks
    like a Unix timestamp (seconds or milliseconds) is turned into seconds from ``now``
    (with ``now=None``, no clock, such a reset is left out); a small one is already
    seconds. Malformed fields are left out. Never raises.
    """
    try:
        return _parse_rate_limit(headers, now=now)
    except Exception:  # noqa: BLE001 - a hint from a server must never break a request
        return None


def _parse_rate_limit(headers: Mapping[str, str], *, now: float | None) -> RateLimitInfo | None:
    limit = remaining = None
    reset_after = None
    structured = get_header(headers, "ratelimit")
    if structured:
        legacy = _legacy_draft_fields(structured)
        if "remaining" in legacy or "limit" in legacy:
            limit = _int_field(legacy.get("limit"))
            remaining = _int_field(legacy.get("remaining"))
            reset_after = _reset_field(legacy.get("reset"), now=now)
        else:
            items = _structured_items(structured)
            if items:
                name, parameters = next(iter(items.items()))
                remaining = _int_field(parameters.get("r"))
                reset_after = _reset_field(parameters.get("t"), now=now)
                policy = get_header(headers, "ratelimit-policy")
                if policy:
                    limit = _policy_limit(policy, name)
    for prefix in ("ratelimit-", "x-ratelimit-"):
        if limit is None:
            limit = _int_field(get_header(headers, prefix + "limit"))
        if remaining is None:
            remaining = _int_field(get_header(headers, prefix + "remaining"))
        if reset_after is None:
            reset_after = _reset_field(get_header(headers, prefix + "reset"), now=now)
    if limit is None and remaining is None and reset_after is None:
        return None
    return RateLimitInfo(limit=limit, remaining=remaining, reset_after=reset_after)


WAIT_HEADERS = (
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
"""The headers a server says how long to wait with, as `unreadable_wait_headers` names them."""


def unreadable_wait_headers(headers: Mapping[str, str], *, now: float) -> tuple[str, ...]:
    """Return the name of each wait header present in ``headers`` that cannot be read.

    A wait header is ``Retry-After`` or one of the rate-limit headers of `WAIT_HEADERS`;
    it cannot be read when `parse_retry_after` or `parse_rate_limit` get nothing from its
    value (a ``RateLimit-Policy``: no quota). The retry then waits as if the header were
    not there, so a caller can say so instead of using the backoff silently. Names are
    given as in `WAIT_HEADERS`, in that order. Never raises.
    """
    unreadable: list[str] = []
    for name in WAIT_HEADERS:
        key = name.lower()
        value = read_header(headers, key)
        if value is not None and not _readable(key, value, now):
            unreadable.append(name)
    return tuple(unreadable)


def _readable(key: str, value: str, now: float) -> bool:
    if key == "retry-after":
        return parse_retry_after(value, now=now) is not None
    if key == "ratelimit-policy":
        return _policy_limit(value, None) is not None
    # Each rate-limit header read on its own: does the parser get anything from it?
    return parse_rate_limit({key: value}, now=now) is not None
