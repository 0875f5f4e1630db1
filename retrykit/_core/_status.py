"""Status families: what kind of answer a status code is, for retrying and for errors."""

from __future__ import annotations

import enum
import http


class StatusFamily(enum.Enum):
    """The kind of answer an HTTP status code gives, at the grain retry rules need."""

    INFORMATIONAL = "informational"
    SUCCESS = "success"
    REDIRECT = "redirect"
    VALIDATION = "validation"
    AUTH = "auth"
    POLICY = "policy"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    LOCKED = "locked"
    RATE_LIMITED = "rate_limited"
    CLIENT = "client"
    SERVER = "server"
    UPSTREAM = "upstream"
    UNAVAILABLE = "unavailable"


_SPECIFIC: dict[int, StatusFamily] = {
    400: StatusFamily.VALIDATION,
    401: StatusFamily.AUTH,
    403: StatusFamily.POLICY,
    404: StatusFamily.NOT_FOUND,
    408: StatusFamily.TIMEOUT,
    409: StatusFamily.CONFLICT,
    410: StatusFamily.NOT_FOUND,
    413: StatusFamily.PAYLOAD_TOO_LARGE,
    422: StatusFamily.VALIDATION,
    423: StatusFamily.LOCKED,
    429: StatusFamily.RATE_LIMITED,
    500: StatusFamily.SERVER,
    502: StatusFamily.UPSTREAM,
    503: StatusFamily.UNAVAILABLE,
    504: StatusFamily.TIMEOUT,
}

_BY_CLASS = {
    1: StatusFamily.INFORMATIONAL,
    2: StatusFamily.SUCCESS,
    3: StatusFamily.REDIRECT,
    4: StatusFamily.CLIENT,
    5: StatusFamily.SERVER,
}


def classify_status(status: int) -> StatusFamily:
    """Return the family of an HTTP status code.

    Statuses with a rule of their own (400, 401, 403, 404, 408, 409, 410, 413, 422,
    423, 429, 500, 502, 503, 504) get their own family; any other 4xx is CLIENT, any
    other 5xx SERVER, 2xx SUCCESS, 3xx REDIRECT and 1xx INFORMATIONAL.

    Raises:
        ValueError: the status is not an integer from 100 to 599 (RFC 9110, section 15).
    """
    # Checked first: 400.0 would otherwise find the entry for 400.
    value: object = status
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(  # noqa: TRY004 - documented: anything but a status is a ValueError
            f"HTTP status must be an int, got {type(value).__name__}"
        )
    family = _SPECIFIC.get(status)
    if family is not None:
        return family
    if not 100 <= status <= 599:
        raise ValueError(f"HTTP status must be from 100 to 599, got {status}")
    return _BY_CLASS[status // 100]


def reason_phrase(status: int) -> str:
    """Return the standard reason phrase of ``status`` ("Not Found"), or "" if it has none.

    Never raises, whatever ``status`` is.
    """
    try:
        return http.HTTPStatus(status).phrase
    except (TypeError, ValueError):
        return ""


def family_of(status: int) -> StatusFamily:
    """Return `classify_status` of ``status``; a status outside 100-599 is SERVER.

    For statuses a server really sent: one no HTTP server may send is a broken server (or
    proxy), so it is the server's fault. Never raises.
    """
    try:
        return classify_status(status)
    except (TypeError, ValueError):
        return StatusFamily.SERVER


def is_server_error(status: int) -> bool:
    """Return True for a 5xx status: the server failed to answer (RFC 9110, section 15.6)."""
    return 500 <= status <= 599
