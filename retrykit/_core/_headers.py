"""Header parsers: Retry-After (RFC 9110, section 10.2.3) and the rate-limit header families.

Every parser here takes untrusted text from a server and never raises: a value it cannot
read gives ``None`` (or is left out), so a malformed header can only cost a hint, never
a request.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_TIME = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
_MONTH = r"(?P<month>[A-Za-z]{3})"
# RFC 9110, section 5.6.7: the preferred IMF-fixdate and the two obsolete forms.
_IMF_FIXDATE = re.compile(
    rf"[A-Za-z]{{3}}, (?P<day>[0-9]{{2}}) {_MONTH} (?P<year>[0-9]{{4}}) {_TIME} GMT"
)
_RFC850_DATE = re.compile(
    rf"[A-Za-z]{{6,9}}, (?P<day>[0-9]{{2}})-{_MONTH}-(?P<year>[0-9]{{2}}) {_TIME} GMT"
)
_ASCTIME_DATE = re.compile(
    rf"[A-Za-z]{{3}} {_MONTH} (?P<day>[ 0-9][0-9]) {_TIME} (?P<year>[0-9]{{4}})"
)
_SECONDS_PER_YEAR = 365.25 * 24 * 3600
# A reset value above this is a Unix timestamp; below it, seconds from now.
_TIMESTAMP_THRESHOLD = 1_000_000_000
_MILLISECOND_TIMESTAMP_THRESHOLD = 100_000_000_000


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


def parse_http_date(value: str, *, now: float) -> float | None:
    """Return the Unix time of an RFC 9110 HTTP-date, or None if ``value`` is not one.

    All three forms are read (IMF-fixdate, RFC 850, asctime), always as GMT. A two-digit
    RFC 850 year more than 50 years in the future of ``now`` is read as the past century,
    as RFC 9110 section 5.6.7 asks.
    """
    text = value.strip()
    match = _IMF_FIXDATE.fullmatch(text) or _ASCTIME_DATE.fullmatch(text)
    two_digit_year = False
    if match is None:
        match = _RFC850_DATE.fullmatch(text)
        two_digit_year = match is not None
    if match is None:
        return None
    month = _MONTHS.get(match["month"].lower())
    if month is None:
        return None
    year = int(match["year"])
    second = int(match["second"])
    if second == 60:
        # A leap second is read as the last second of its minute.
        second = 59
    if two_digit_year:
        current_year = 1970 + int(now // _SECONDS_PER_YEAR) if math.isfinite(now) else 2000
        year += current_year - current_year % 100
        if year > current_year + 50:
            year -= 100
    try:
        moment = datetime.datetime(
            year,
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            second,
            tzinfo=datetime.timezone.utc,
        )
    except (ValueError, OverflowError):
        return None
    return moment.timestamp()


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return how many seconds a ``Retry-After`` header asks the client to wait.

    Reads delay-seconds (ASCII digits, also decimals such as ``"0.5"``) and every
    HTTP-date form of RFC 9110 (section 10.2.3), with ``now`` as the current Unix time. A
    date in the past gives 0.0. A missing, empty, negative or malformed value gives None.
    Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    try:
        moment = parse_http_date(text, now=now)
        if moment is None:
            return None
        return max(0.0, moment - now)
    except (TypeError, ValueError, OverflowError):
        return None


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


def _reset_field(value: str | None, *, now: float) -> float | None:
    if value is None:
        return None
    whole = value.strip()
    text = whole.split(",", 1)[0].strip()
    if not _DELAY_SECONDS.fullmatch(text):
        # Not a number: perhaps an HTTP-date, whose own comma must not be split at.
        return parse_retry_after(whole, now=now) if whole else None
    number = float(text)
    if number >= _MILLISECOND_TIMESTAMP_THRESHOLD:
        return max(0.0, number / 1000.0 - now)
    if number >= _TIMESTAMP_THRESHOLD:
        return max(0.0, number - now)
    return number


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


def _legacy_draft_fields(value: str) -> dict[str, str]:
    """Read the older draft form ``limit=100, remaining=50, reset=30``."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        key, sep, field_value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = field_value.strip()
    return fields


def parse_rate_limit(headers: Mapping[str, str], *, now: float) -> RateLimitInfo | None:
    """Return the rate-limit state a response's headers announce, or None if they say nothing.

    Reads, in this order of preference, the IETF ``RateLimit`` structured field (with
    ``RateLimit-Policy`` for the limit), ``RateLimit-Limit/-Remaining/-Reset`` and
    ``X-RateLimit-Limit/-Remaining/-Reset``. Names are case-insensitive. A reset that looks
    like a Unix timestamp (seconds or milliseconds) is turned into seconds from ``now``; a
    small one is already seconds. Malformed fields are left out. Never raises.
    """
    try:
        return _parse_rate_limit(headers, now=now)
    except Exception:  # noqa: BLE001 - a hint from a server must never break a request
        return None


def _parse_rate_limit(headers: Mapping[str, str], *, now: float) -> RateLimitInfo | None:
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
                    policies = _structured_items(policy)
                    chosen = policies.get(name) or next(iter(policies.values()), {})
                    limit = _int_field(chosen.get("q"))
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
