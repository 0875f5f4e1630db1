"""Reading the times servers send: HTTP-dates, ISO 8601 date-times and reset numbers.

Each rule once:

- an HTTP-date (RFC 9110, section 5.6.7) is read by `parse_http_date`;
- an ISO 8601 date-time (a JSON body's ``resetsAt``) by `parse_iso_8601`;
- a reset given as a number is seconds from now, unless it is a Unix timestamp: at least
  `TIMESTAMP_THRESHOLD` (seconds) or `MILLISECOND_TIMESTAMP_THRESHOLD` (milliseconds);
  `reset_wait` applies that rule;
- a moment becomes a wait against the ``now`` the caller passes (`wait_until`): never
  negative, and None without a usable ``now``, since the core reads no clock;
- no wait a server asks for is longer than `MAX_WAIT` (`bounded_wait`): a 400-digit
  Retry-After is read as a year, never as ``inf``.
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

MAX_WAIT: Final = 365 * 24 * 3600.0
"""The longest wait a server's value is read as: one year (31,536,000 s).

Longer values, up to ``inf`` from a number too large for a float, are read as this, so
every wait is a finite number that compares, adds and formats; any sane
``max_retry_after`` then refuses it.
"""

_SECONDS_PER_YEAR = 365.25 * 24 * 3600
_UTC = datetime.timedelta(0)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Longer text is no date: refusing it first keeps the regexes cheap on any header.
_LONGEST_DATE = 64
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
# What real servers send beside the grammar (see parse_http_date): any case and spacing, an
# optional day name, a one-digit day, optional seconds, and a zone other than GMT or none.
_DAY_NAME = r"(?:[A-Za-z]{2,9}(?:\s*,\s*|\s+))?"
_LOOSE_TIME = r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?"
_OFFSET = r"[+-][0-9]{2}(?::?[0-9]{2})?"
_LOOSE_ZONE = rf"(?:\s*(?P<offset>{_OFFSET})|\s+(?P<zone>[A-Za-z]{{1,5}}))?"
_DATE_SEPARATOR = r"(?:\s+|\s*-\s*)"
_LOOSE_DAY_FIRST = re.compile(
    rf"{_DAY_NAME}(?P<day>[0-9]{{1,2}}){_DATE_SEPARATOR}{_MONTH}{_DATE_SEPARATOR}"
    rf"(?P<year>[0-9]{{4}}|[0-9]{{2}})\s+{_LOOSE_TIME}{_LOOSE_ZONE}"
)
_LOOSE_MONTH_FIRST = re.compile(
    rf"{_DAY_NAME}{_MONTH}\s+(?P<day>[0-9]{{1,2}})\s+{_LOOSE_TIME}\s+(?P<year>[0-9]{{4}})"
    rf"{_LOOSE_ZONE}"
)
# RFC 5322, section 4.3: the zone names a date may carry, in hours from UTC. Any other name
# gives no date rather than a guess.
_ZONE_HOURS = {
    "gmt": 0,
    "utc": 0,
    "ut": 0,
    "z": 0,
    "est": -5,
    "edt": -4,
    "cst": -6,
    "cdt": -5,
    "mst": -7,
    "mdt": -6,
    "pst": -8,
    "pdt": -7,
}
_ISO_8601 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    rf"\s*(?:(?P<zone>[Zz])|(?P<offset>{_OFFSET}))?"
)


def bounded_wait(seconds: float) -> float:
    """Return a wait a server asked for, at most `MAX_WAIT`; ``inf`` gives `MAX_WAIT`.

    A negative or NaN wait gives 0.0 (callers pass neither).
    """
    if not seconds > 0.0:
        return 0.0
    return min(seconds, MAX_WAIT)


def wait_until(moment: float, now: float | None) -> float | None:
    """Return the seconds from ``now`` to ``moment``: 0.0 for a moment past, None without now.

    The wait is at most `MAX_WAIT`.
    """
    if now is None or not math.isfinite(now):
        return None
    return bounded_wait(moment - now)


def reset_wait(number: float, now: float | None) -> float | None:
    """Return the seconds until a reset a server gave as a number (see the module docstring).

    A timestamp needs ``now``: without it the wait is None, while seconds count as they are.
    The wait is at most `MAX_WAIT`.
    """
    if number < TIMESTAMP_THRESHOLD:
        return bounded_wait(number)
    moment = number / 1000.0 if number >= MILLISECOND_TIMESTAMP_THRESHOLD else number
    return wait_until(moment, now)


def parse_http_date(value: str, *, now: float | None) -> float | None:
    """Return the Unix time of an HTTP-date, or None if ``value`` is not one.

    The three forms of RFC 9110, section 5.6.7 (IMF-fixdate, RFC 850 and asctime) are
    read as the grammar has them, always as GMT. The same section asks recipients to be
    robust, so the forms servers send beside the grammar are read too: names in any
    letter case and any spacing, no day name (or any word for it), a one-digit day, no
    seconds, a two-digit year in any form, and a zone other than GMT: UTC, UT, Z, an
    offset (``+0200``, ``-05:00``) or a zone name of RFC 5322 (``EST``, ``PDT``...). A
    date with no zone is UTC; a zone name not in RFC 5322 gives None rather than a guess.

    A two-digit year more than 50 years in the future of ``now`` is read as the past
    century, as RFC 9110 asks (without a usable ``now``, the century is 2000's). A date
    before 1970 gives 0.0, so the result is never negative. Never raises.
    """
    text = value.strip()
    if len(text) > _LONGEST_DATE:
        return None
    match = _IMF_FIXDATE.fullmatch(text) or _ASCTIME_DATE.fullmatch(text)
    match = match or _RFC850_DATE.fullmatch(text)
    offset: datetime.timedelta | None = _UTC
    if match is None:
        match = _LOOSE_DAY_FIRST.fullmatch(text) or _LOOSE_MONTH_FIRST.fullmatch(text)
        if match is None:
            return None
        offset = _zone_offset(match["zone"], match["offset"])
    month = _MONTHS.get(match["month"].lower())
    if month is None or offset is None:
        return None
    year_text = match["year"]
    year = int(year_text)
    if len(year_text) == 2:
        year = _full_year(year, now)
    return _unix_time(match, year=year, month=month, offset=offset)


def parse_iso_8601(value: str) -> float | None:
    """Return the Unix time of an ISO 8601 date-time; one with no zone is read as UTC.

    Never raises: anything else gives None.
    """
    match = _ISO_8601.fullmatch(value.strip())
    if match is None:
        return None
    offset = _zone_offset(match["zone"], match["offset"])
    if offset is None:
        return None
    moment = _unix_time(match, year=int(match["year"]), month=int(match["month"]), offset=offset)
    if moment is None:
        return None
    return moment + float(f"0.{match['fraction'] or 0}")


def _zone_offset(name: str | None, offset: str | None) -> datetime.timedelta | None:
    """Return the UTC offset of a zone name or a ``+hh[[:]mm]`` offset; no zone is UTC.

    None for a zone name not in RFC 5322 or minutes of 60 or more.
    """
    if name is not None:
        hours = _ZONE_HOURS.get(name.lower())
        return None if hours is None else datetime.timedelta(hours=hours)
    if offset is None:
        return _UTC
    digits = offset[1:].replace(":", "")
    minutes = int(digits[2:] or 0)
    if minutes >= 60:
        return None
    delta = datetime.timedelta(hours=int(digits[:2]), minutes=minutes)
    return -delta if offset[0] == "-" else delta


def _full_year(two_digits: int, now: float | None) -> int:
    # RFC 9110, section 5.6.7: the year ending in these digits that is at most 50 years
    # after the current one (more than 50 years ahead means the past century).
    if now is None or not math.isfinite(now):
        current_year = 2000
    else:
        current_year = 1970 + int(now // _SECONDS_PER_YEAR)
    latest = current_year + 50
    return latest - (latest - two_digits) % 100


def _unix_time(
    match: re.Match[str], *, year: int, month: int, offset: datetime.timedelta
) -> float | None:
    """Return the Unix time of a matched date and time, or None if there is no such time.

    The match's ``day``, ``hour``, ``minute`` and ``second`` groups are read; a missing
    second is 0, and a leap second (:60) is read as the last second of its minute. A time
    before 1970 is read as the epoch, 0.0: in the past for any ``now``, and never a
    negative number.
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
    return max(0.0, moment.timestamp())
