"""Reading the times servers send: HTTP-dates, ISO 8601 date-times and reset numbers.

Each rule once:

- an HTTP-date (RFC 9110, section 5.6.7) is read by `parse_http_date`;
- an ISO 8601 date-time (a JSON body's ``resetsAt``) by `parse_iso_8601`;
- a reset given as a number is seconds from now, unless it is a Unix timestamp: at least
  `TIMESTAMP_THRESHOLD` (seconds) or `MILLISECOND_TIMESTAMP_THRESHOLD` (milliseconds);
  `reset_wait` applies that rule;
- a moment becomes a wait against the ``now`` the caller passes (`wait_until`): never
  negative, and None without a usable ``now``, since the core reads no clock.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Final

TIMESTAMP_THRESHOLD: Final = 1_000_000_000
"""A reset at or above this is a Unix timestamp in seconds (2001-09-09), below it seconds."""
MILLISECOND_TIMESTAMP_THRESHOLD: Final = 100_000_000_000
"""A reset at or above this is a Unix timestamp in milliseconds (1973-03-03 in ms)."""

_SECONDS_PER_YEAR = 365.25 * 24 * 3600
_UTC = datetime.timedelta(0)
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
_ISO_8601 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"\s*(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def wait_until(moment: float, now: float | None) -> float | None:
    """Return the seconds from ``now`` to ``moment``: 0.0 for a moment past, None without now."""
    if now is None or not math.isfinite(now):
        return None
    return max(0.0, moment - now)


def reset_wait(number: float, now: float | None) -> float | None:
    """Return the seconds until a reset a server gave as a number (see the module docstring).

    A timestamp needs ``now``: without it the wait is None, while seconds count as they are.
    """
    if number < TIMESTAMP_THRESHOLD:
        return number
    moment = number / 1000.0 if number >= MILLISECOND_TIMESTAMP_THRESHOLD else number
    return wait_until(moment, now)


def parse_http_date(value: str, *, now: float | None) -> float | None:
    """Return the Unix time of an RFC 9110 HTTP-date, or None if ``value`` is not one.

    All three forms are read (IMF-fixdate, RFC 850, asctime), always as GMT. A two-digit
    RFC 850 year more than 50 years in the future of ``now`` is read as the past century,
    as RFC 9110 section 5.6.7 asks (without a usable ``now``, the century is 2000's).
    Never raises.
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
    if two_digit_year:
        year = _full_year(year, now)
    return _unix_time(match, year=year, month=month, offset=_UTC)


def parse_iso_8601(value: str) -> float | None:
    """Return the Unix time of an ISO 8601 date-time; one with no zone is read as UTC.

    Never raises: anything else gives None.
    """
    match = _ISO_8601.fullmatch(value.strip())
    if match is None:
        return None
    zone = match["zone"]
    offset = _UTC
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        delta = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        offset = -delta if zone[0] == "-" else delta
    moment = _unix_time(match, year=int(match["year"]), month=int(match["month"]), offset=offset)
    if moment is None:
        return None
    return moment + float(f"0.{match['fraction'] or 0}")


def _full_year(two_digits: int, now: float | None) -> int:
    # RFC 9110, section 5.6.7: a two-digit year more than 50 years ahead is the past century.
    if now is None or not math.isfinite(now):
        current_year = 2000
    else:
        current_year = 1970 + int(now // _SECONDS_PER_YEAR)
    year = two_digits + current_year - current_year % 100
    return year - 100 if year > current_year + 50 else year


def _unix_time(
    match: re.Match[str], *, year: int, month: int, offset: datetime.timedelta
) -> float | None:
    """Return the Unix time of a matched date and time, or None if there is no such time.

    The match's ``day``, ``hour``, ``minute`` and ``second`` groups are read; a missing
    second is 0, and a leap second (:60) is read as the last second of its minute.
    """
    second = int(match["second"] or 0)
    try:
        moment = datetime.datetime(
            year,
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            59 if second == 60 else second,
            tzinfo=datetime.timezone(offset),
        )
    except (ValueError, OverflowError):
        return None
    return moment.timestamp()
