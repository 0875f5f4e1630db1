"""`parse_error`: one typed `ErrorInfo` from any API's error response.

The envelopes read (field names exactly as servers send them):

1. nested: ``{"error": {"code", "message", "details", "request_id", "timestamp"}}``;
2. flat: ``{"code", "message", "request_id", "details": {"field"}}``;
3. ``{"statusCode", "code", "message", "timestamp", "path", "relatedInfo": {"errors"}}``,
   and its quota variant with ``relatedInfo.limit/used/resetsAt``;
4. ``{"error_code", "message", "error": "<code>", "request_id"}``;
5. ``{"message", "errors": [{"field", "description"}]}``;
6. RFC 9457 problem details: ``type``, ``title``, ``status``, ``detail``, ``instance``, ``errors``;

and common variants: OAuth 2.0 ``{"error", "error_description"}`` (RFC 6749, section 5.2),
a list of errors with no top-level message (GraphQL, JSON:API, a bare JSON array of error
objects: the first one is used), FastAPI's ``{"detail": [{"loc", "msg"}]}``, Google's
``error.status`` and ``fieldViolations``, Stripe's ``error.param``. Anything else (HTML from
a proxy, plain text, an empty body, JSON that is not an object, invalid UTF-8) gives a
message from a short cleaned excerpt of the text, or from the status's reason phrase.

Rules:
- `parse_error` never raises and its ``message`` is never empty;
- at most `MAX_BODY_BYTES` of the body are read, so a 50 MB error page costs 64 KiB;
- of the headers, only the request id is copied into the result (plus waits, as numbers):
  no other header value, and so no credential, can leak through an `ErrorInfo`;
- no clock: dates become waits only against the ``now`` the caller passes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from retrykit._core._dates import bounded_wait, parse_iso_8601, reset_wait, wait_until
from retrykit._core._decide import retries_status
from retrykit._core._headers import (
    MAX_REQUEST_ID,
    parse_rate_limit,
    parse_retry_after,
    read_header,
    request_id,
)
from retrykit._core._policy import RetryPolicy
from retrykit._core._sentences import user_message
from retrykit._core._status import StatusFamily, family_of, reason_phrase
from retrykit._core._text import MAX_MESSAGE, clean, decode, excerpt, looks_like_html

MAX_BODY_BYTES = 64 * 1024
"""The most of a body `parse_error` reads: bytes, or characters for a ``str`` body."""

_DEFAULT_POLICY = RetryPolicy()
# Integers of up to this many bits convert to a float; beyond, float() overflows.
_FLOAT_BITS = 1023

_REQUEST_ID_KEYS = (
    "request_id",
    "requestId",
    "requestID",
    "traceId",
    "trace_id",
    "correlation_id",
    "correlationId",
)
_MESSAGE_KEYS = (
    "message",
    "detail",
    "error_description",
    "title",
    "error_message",
    "errorMessage",
    "msg",
    "description",
)
_FIELD_NAME_KEYS = ("field", "param", "parameter", "property", "pointer")
_FIELD_MESSAGE_KEYS = ("message", "description", "msg", "detail", "title", "reason", "code")
# RFC 9457 members with a place of their own in ErrorInfo; the rest of a problem is details.
_PROBLEM_MEMBERS = frozenset({"status", "detail", "instance", "errors"})


class _FrozenDict(Mapping[str, Any]):
    """A read-only, hashable, picklable copy of a JSON object (arrays become tuples)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self._data = {key: _freeze(value) for key, value in dict(data).items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_FrozenDict], tuple[dict[str, Any]]]:
        return (_FrozenDict, (self._data,))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value if isinstance(value, _FrozenDict) else _FrozenDict(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item) for item in value)
    return value


def _to_frozen_dict(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return _freeze(value)  # type: ignore[no-any-return]


@attrs.frozen
class FieldError:
    """One invalid input: ``field`` names it as the server did, ``message`` says what is wrong."""

    field: str
    message: str


def _to_field_errors(value: Iterable[FieldError]) -> tuple[FieldError, ...]:
    return tuple(value)


def _message_for(status: int) -> str:
    # The message of a response that gave none: its reason phrase, never empty.
    return reason_phrase(status) or f"HTTP {status}"


def _is_retryable_status(status: int, policy: RetryPolicy) -> bool:
    # The status rule alone, so a Retry-After longer than max_retry_after, or a policy's
    # last attempt, does not hide that the status is transient.
    try:
        return retries_status(policy, status)
    except TypeError:  # an unhashable status
        return False


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """Everything an error response said, in one shape whatever envelope the API uses.

    - ``status``: the HTTP status; ``family``: its `StatusFamily` (SERVER for a status
      outside 100-599).
    - ``code``: the API's stable error code as a string (numbers are converted), or None.
    - ``message``: the server's message, one cleaned line; never empty (the status's
      reason phrase when the server gave none).
    - ``request_id``: from the body, else from a request-id header; for support tickets.
    - ``details``: the envelope's details object, read-only (arrays become tuples).
    - ``field_errors``: one `FieldError` per invalid input the server named.
    - ``timestamp``, ``path``: as the server sent them, or None.
    - ``retryable``: whether the policy given to `parse_error` (the default
      `RetryPolicy` otherwise) retries this status for a request safe to repeat, such as a
      GET; a long ``retry_after`` does not change it, so compare that with your own limit.
    - ``retry_after``: seconds the server asked to wait (Retry-After, a rate-limit
      reset on a 429, or a reset time in the body), or None.
    - ``user_message``: a sentence safe to show an end user: no stack trace, no secret.

    Fields left out when building one by hand are derived from ``status``.
    """

    # Defaults that depend on other fields are Factory(takes_self=True), which every type
    # checker reads as a default (the @field.default decorator is not understood by all).
    status: int
    family: StatusFamily = attrs.field(
        default=attrs.Factory(lambda info: family_of(info.status), takes_self=True)
    )
    code: str | None = None
    message: str = attrs.field(
        default=attrs.Factory(lambda info: _message_for(info.status), takes_self=True)
    )
    request_id: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict, converter=_to_frozen_dict)
    field_errors: tuple[FieldError, ...] = attrs.field(default=(), converter=_to_field_errors)
    timestamp: str | None = None
    path: str | None = None
    retryable: bool = attrs.field(
        default=attrs.Factory(
            lambda info: _is_retryable_status(info.status, _DEFAULT_POLICY), takes_self=True
        )
    )
    retry_after: float | None = None
    user_message: str = attrs.field(
        # A lambda: the function is defined below the class.
        default=attrs.Factory(lambda info: _user_message_of(info), takes_self=True),  # noqa: PLW0108
    )


def _user_message_of(info: ErrorInfo) -> str:
    messages = (error.message for error in info.field_errors)
    return user_message(info.status, info.family, messages, info.retry_after)


@attrs.define
class _Found:
    """What an envelope held; every field optional."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)
    field_errors: list[FieldError] = attrs.field(factory=list)
    timestamp: str | None = None
    path: str | None = None
    wait: float | None = None


def parse_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    now: float | None = None,
    policy: RetryPolicy | None = None,
) -> ErrorInfo:
    """Return what an error response says, whatever envelope the API wraps it in.

    ``headers`` may be a plain dict (any letter case), ``httpx.Headers`` or a requests
    ``CaseInsensitiveDict``. ``body`` is read up to `MAX_BODY_BYTES` (bytes are cut
    before decoding, so a cut JSON document is read as text); it is decoded with the
    Content-Type charset, else UTF-8, replacing invalid bytes. ``now`` is the current
    Unix time, used to turn dates (a Retry-After HTTP-date, a ``resetsAt`` ISO 8601 time,
    a rate-limit reset timestamp) into seconds; without it those waits are None, while
    waits given in seconds still count. The body's fields win over headers. ``policy``
    (default: the default `RetryPolicy`) decides ``retryable``, so pass the one your
    client retries with.

    Never raises, on any input; ``message`` is never empty. The envelopes read are listed
    in this module's docstring.
    """
    retryable = _is_retryable_status(status, _DEFAULT_POLICY if policy is None else policy)
    try:
        return _parse(status, headers, body, now, retryable=retryable)
    except Exception:  # noqa: BLE001 - an error body must never cause an error of its own
        return ErrorInfo(status=status, retryable=retryable)


def _parse(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    now: float | None,
    *,
    retryable: bool,
) -> ErrorInfo:
    if now is not None and not math.isfinite(now):
        now = None
    content_type = (read_header(headers, "content-type") or "").lower()
    text = decode(body, content_type, MAX_BODY_BYTES)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        found = _Found(message=excerpt(text, is_html=looks_like_html(text, content_type)))
    else:
        found = _read_json(value, status, content_type, now)

    wait = parse_retry_after(read_header(headers, "retry-after"), now=now)
    if wait is None:
        wait = found.wait
    if wait is None and status == 429:
        wait = _rate_limit_reset(headers, now)
    return ErrorInfo(
        status=status,
        code=found.code,
        message=found.message or _message_for(status),
        request_id=found.request_id or request_id(headers),
        details=found.details,
        field_errors=_unique(found.field_errors),
        timestamp=found.timestamp,
        path=found.path,
        retryable=retryable,
        retry_after=wait,
    )


def _read_json(value: Any, status: int, content_type: str, now: float | None) -> _Found:
    if isinstance(value, str):
        return _Found(message=excerpt(value, is_html=False))
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        value = value[0]
    if not isinstance(value, Mapping):
        return _Found()
    return _read_envelope(value, status, content_type, now)


def _read_envelope(
    document: Mapping[str, Any], status: int, content_type: str, now: float | None
) -> _Found:
    error = document.get("error")
    nested = isinstance(error, Mapping)
    inner = error if isinstance(error, Mapping) else document
    error_text = None if nested else _text(error)
    # An "error" string is a code when it reads like an identifier, else a message.
    error_is_code = error_text is not None and not any(ch.isspace() for ch in error_text)
    items = _mappings(inner.get("errors")) or _mappings(inner.get("detail"))
    first_item = items[0] if items else None

    found = _Found()
    found.code = _code(
        inner, status, nested=nested, error_name=error_text if error_is_code else None
    )
    if found.code is None and first_item is not None:
        found.code = _code(first_item, status, nested=False)
    found.message = _first_text(inner, _MESSAGE_KEYS, MAX_MESSAGE)
    if found.message is None and error_text is not None and not error_is_code:
        found.message = clean(error_text, MAX_MESSAGE)
    if found.message is None and first_item is not None:
        found.message = _first_text(first_item, _MESSAGE_KEYS, MAX_MESSAGE)
    if found.message is None and nested:
        found.message = _first_text(document, _MESSAGE_KEYS, MAX_MESSAGE)
    found.request_id = _first_text(inner, _REQUEST_ID_KEYS, MAX_REQUEST_ID) or _first_text(
        document, _REQUEST_ID_KEYS, MAX_REQUEST_ID
    )
    found.timestamp = _first_text(inner, ("timestamp",), MAX_MESSAGE) or _first_text(
        document, ("timestamp",), MAX_MESSAGE
    )
    found.path = (
        _plain_str(inner.get("path"))
        or _plain_str(inner.get("instance"))
        or _plain_str(document.get("path"))
    )

    details = _details(inner, document, content_type)
    try:
        found.details = _to_frozen_dict(details)
    except RecursionError:
        found.details = {}
    found.field_errors = _field_errors(inner, details, found.message)
    found.wait = _body_wait(inner, details, now)
    return found


def _details(
    inner: Mapping[str, Any], document: Mapping[str, Any], content_type: str
) -> Mapping[str, Any]:
    for source in (inner, document):
        for key in ("details", "relatedInfo"):
            candidate = source.get(key)
            if isinstance(candidate, Mapping):
                return candidate
    is_problem = "problem+json" in content_type or ("type" in inner and "title" in inner)
    if is_problem:
        return {key: value for key, value in inner.items() if key not in _PROBLEM_MEMBERS}
    return {}


def _field_errors(
    inner: Mapping[str, Any], details: Mapping[str, Any], message: str | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    lists = [inner.get("errors"), inner.get("detail"), details.get("errors")]
    # Google APIs: error.details is a list of typed objects, one may hold fieldViolations.
    lists.extend(item.get("fieldViolations") for item in _mappings(inner.get("details")))
    for candidates in lists:
        for item in _mappings(candidates):
            field_error = _field_error(item)
            if field_error is not None:
                errors.append(field_error)
    # A single field named beside the message: details.field, Stripe's param, a bare field.
    for source in (details, inner):
        name = _plain_str(source.get("field")) or _plain_str(source.get("param"))
        if name:
            text = _first_text(source, ("message", "reason"), MAX_MESSAGE) or message
            errors.append(FieldError(name, text or "is invalid"))
    return errors


def _field_error(item: Mapping[str, Any]) -> FieldError | None:
    name = _first_text(item, _FIELD_NAME_KEYS, MAX_MESSAGE)
    source = item.get("source")
    if name is None and isinstance(source, Mapping):
        name = _first_text(source, ("pointer", "parameter"), MAX_MESSAGE)
    location = item.get("loc")
    if name is None and isinstance(location, (list, tuple)) and location:
        name = ".".join(str(part) for part in location if isinstance(part, (str, int)))
    if not name:
        return None
    text = _first_text(item, _FIELD_MESSAGE_KEYS, MAX_MESSAGE)
    return FieldError(name, text or "is invalid")


def _unique(errors: list[FieldError]) -> tuple[FieldError, ...]:
    return tuple(dict.fromkeys(errors))


def _code(
    source: Mapping[str, Any], status: int, *, nested: bool, error_name: str | None = None
) -> str | None:
    """Return the first code in ``source``: code, an "error" name, error_code, and so on."""
    candidates: list[Any] = [source.get("code"), error_name]
    candidates += [source.get("error_code"), source.get("errorCode")]
    if nested and isinstance(source.get("status"), str):
        # Google puts its code name in error.status, beside the numeric code.
        candidates.append(source.get("status"))
    extensions = source.get("extensions")
    if isinstance(extensions, Mapping):
        candidates.append(extensions.get("code"))
    problem_type = source.get("type")
    if problem_type != "about:blank" and "title" in source:
        candidates.append(_plain_str(problem_type))
    for candidate in candidates:
        code = _text(candidate)
        if code and not _is_status_number(candidate, status):
            return clean(code, MAX_MESSAGE)
    return None


def _is_status_number(value: Any, status: int) -> bool:
    # A code equal to the HTTP status repeats it; it names no error.
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == status
    return isinstance(value, str) and value.strip() == str(status)


def _body_wait(
    inner: Mapping[str, Any], details: Mapping[str, Any], now: float | None
) -> float | None:
    for source in (details, inner):
        reset = source.get("resetsAt")
        if reset is not None:
            wait = _reset_wait(reset, now)
            if wait is not None:
                return wait
        for key in ("retry_after", "retryAfter"):
            seconds = _number(source.get(key))
            if seconds is not None:
                return bounded_wait(seconds)
    return None


def _reset_wait(value: Any, now: float | None) -> float | None:
    number = _number(value)
    if number is not None:
        return reset_wait(number, now)
    moment = parse_iso_8601(value) if isinstance(value, str) else None
    return None if moment is None else wait_until(moment, now)


def _number(value: Any) -> float | None:
    """Return a JSON number, or a string holding one, as a float >= 0, or None.

    A number too large for a float (a 400-digit JSON integer) is ``inf``, for the caller
    to bound; NaN and negative numbers are None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        value = float(value) if value.bit_length() <= _FLOAT_BITS else math.inf
    if isinstance(value, float) and value >= 0.0:
        return value
    return None


def _rate_limit_reset(headers: Mapping[str, str], now: float | None) -> float | None:
    info = parse_rate_limit(headers, now=now)
    return info.reset_after if info is not None else None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _plain_str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return clean(value, MAX_MESSAGE) or None


def _text(value: Any) -> str | None:
    """Return a JSON scalar as text: a string, or a number as its digits; else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    return str(value)


def _first_text(source: Mapping[str, Any], keys: Iterable[str], limit: int) -> str | None:
    for key in keys:
        value = source.get(key)
        if isinstance(value, list):
            # NestJS and others send a list of messages.
            value = "; ".join(text for text in map(_text, value) if text)
        text = _text(value)
        if text:
            cleaned = clean(text, limit)
            if cleaned:
                return cleaned
    return None
