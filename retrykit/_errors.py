"""retrykit's exceptions: the root, an open circuit, and one class per kind of API error.

`raise_for_error` raises the right one for an httpx or requests response. The tree
(``except ServerError`` catches every 5xx; other 4xx raise a plain `ApiError`)::

    RetrykitError
    ├── CircuitOpenError            a call refused by an open circuit
    ├── DeadlineExceededError       the deadline passed with no response to return
    ├── WriteAppliedError           reconciled: the write took effect, do not send it again
    └── ApiError                    any 4xx or 5xx
        ├── ValidationError         400, 422
        ├── AuthenticationError     401
        ├── PermissionDeniedError   403
        ├── NotFoundError           404, 410
        ├── ConflictError           409
        ├── PayloadTooLargeError    413
        ├── LockedError             423
        ├── RateLimitError          429
        │   └── RateLimitExceededError  refused by the client's own limiter
        └── ServerError             other 5xx, and statuses outside 100-599
            ├── BadGatewayError         502
            ├── ServiceUnavailableError 503
            └── GatewayTimeoutError     504, and 408

408 Request Timeout is a 4xx but reads as a timeout, as 504 does: both mean "the
request did not finish in time, send it again", so they share GatewayTimeoutError.

This module is outside the sans-IO core: `raise_for_error` reads the clock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from retrykit._core._envelope import MAX_BODY_BYTES, ErrorInfo, FieldError, parse_error
from retrykit._core._status import StatusFamily

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class RetrykitError(Exception):
    """Base class of every exception retrykit raises."""


class CircuitOpenError(RetrykitError):
    """A call was rejected, without any network I/O, because its circuit is open.

    ``key`` names the circuit (for the adapters, the origin ``scheme://host:port``);
    ``retry_after`` is the number of seconds until the circuit lets a probe through.
    ``opened_by`` is what opened it: the status of the failure that tripped it, the
    `FailureKind` value (``"connect"``, ``"unknown_outcome"``) of an attempt that got no
    response, ``"forced"`` for `CircuitBreaker.force_open`, or None if unknown;
    ``opened_at`` is when, as a Unix time (or None). The adapters raise subclasses that
    are also the client's own transport error.
    """

    key: str
    retry_after: float
    opened_by: int | str | None
    opened_at: float | None

    def __init__(
        self,
        key: str,
        retry_after: float,
        *,
        opened_by: object = None,
        opened_at: float | None = None,
    ) -> None:
        set_circuit_fields(self, key, retry_after, opened_by, opened_at)
        # The message is made when shown: a rejection is the fail-fast path.
        super().__init__(key)

    def __str__(self) -> str:
        cause = f" (opened by {self.opened_by})" if self.opened_by is not None else ""
        return (
            f"circuit for {self.key} is open{cause}; next probe allowed in {self.retry_after:.2f}s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_circuit_error,
            (type(self), self.key, self.retry_after, self.opened_by, self.opened_at),
        )


def set_circuit_fields(
    error: CircuitOpenError,
    key: str,
    retry_after: float,
    opened_by: object,
    opened_at: float | None,
) -> None:
    """Set the four fields of a `CircuitOpenError` (for an adapter's own ``__init__``)."""
    error.key = key
    error.retry_after = retry_after
    error.opened_by = (
        opened_by
        if opened_by is None or isinstance(opened_by, (int, str))
        else _cause_name(opened_by)
    )
    error.opened_at = opened_at


def _cause_name(cause: object) -> int | str | None:
    if cause is None or isinstance(cause, (int, str)):
        return cause
    value = getattr(cause, "value", None)  # a FailureKind
    return value if isinstance(value, str) else str(cause)


def _rebuild_circuit_error(
    cls: type[CircuitOpenError],
    key: str,
    retry_after: float,
    opened_by: int | str | None,
    opened_at: float | None,
) -> CircuitOpenError:
    return cls(key, retry_after, opened_by=opened_by, opened_at=opened_at)


class DeadlineExceededError(RetrykitError):
    """The policy's deadline passed before the call could end with a response.

    Rare: a retry that fits before the deadline is made, and one that does not stops
    with the last response. This is raised only when that response could not be kept
    (its body was too large to read, or reading it ran into the deadline). The adapters
    raise subclasses that are also the client's own timeout error; ``retry_history``
    holds the attempts.
    """


class WriteAppliedError(RetrykitError):
    """A write whose outcome was unknown took effect, by the ``reconcile`` function's word.

    Raised instead of the connection error (or the 502 or 504) that left the outcome
    unknown, so the caller does not send the write again: treat it as a success whose
    response was lost. ``retry_history`` holds the attempts (reason
    ``"reconciled_applied"``); ``request`` is the request; ``response`` is the gateway's
    502 or 504 (closed) when there was one, and the original exception is the cause.
    Deliberately not a subclass of the client's connection errors: code that retries on
    those must not retry this.
    """

    def __init__(self, message: str, *, request: object = None, response: object = None) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


class ApiError(RetrykitError):
    """An API answered with an error status; ``info`` holds everything it said.

    ``str(exc)`` is one line: status, code, message and request id, for example
    ``422 VALIDATION_ERROR: phone_number must be a valid E.164 number. (request_id=req_123)``.
    Show ``exc.info.user_message`` to end users, never ``str(exc)``. Instances pickle.
    """

    def __init__(self, info: ErrorInfo) -> None:
        self.info = info
        super().__init__(_one_line(info))

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.info.status

    @property
    def code(self) -> str | None:
        """The API's error code, or None."""
        return self.info.code

    @property
    def request_id(self) -> str | None:
        """The request id to quote to the API's support, or None."""
        return self.info.request_id

    @property
    def field_errors(self) -> tuple[FieldError, ...]:
        """One `FieldError` per invalid input the server named."""
        return self.info.field_errors

    def __reduce__(self) -> tuple[type[ApiError], tuple[ErrorInfo]]:
        return (type(self), (self.info,))


class ValidationError(ApiError):
    """400 or 422: the request was malformed or its content invalid; see ``field_errors``."""


class AuthenticationError(ApiError):
    """401: the credentials are missing, wrong or expired."""


class PermissionDeniedError(ApiError):
    """403: the credentials are valid but may not do this."""


class NotFoundError(ApiError):
    """404 or 410: the resource does not exist (or no longer does)."""


class ConflictError(ApiError):
    """409: the request conflicts with the resource's current state."""


class PayloadTooLargeError(ApiError):
    """413: the request body is larger than the server accepts."""


class LockedError(ApiError):
    """423: the resource is locked or closed to changes."""


class RateLimitError(ApiError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked the client to wait, or None if it did not say."""
        return self.info.retry_after


class RateLimitExceededError(RateLimitError):
    """The client's own rate limiter refused the call: nothing was sent.

    Raised when the wait the server's rate-limit state (or a configured rate) asks for is
    longer than the policy's ``max_retry_after`` or the time left to the deadline, or
    when an `AdaptiveThrottle` sheds the call. ``retry_after`` is the cooldown and
    ``info.user_message`` says it to an end user ("Too many requests. Please try again
    in 30 seconds."), as for a 429 from the server. The adapters raise subclasses that
    are also the client's own error type.
    """

    @classmethod
    def cooldown(cls, retry_after: float | None, message: str) -> RateLimitExceededError:
        """Return the error for a local refusal with ``retry_after`` seconds to wait."""
        return cls(ErrorInfo(status=429, message=message, retry_after=retry_after))


class ServerError(ApiError):
    """A 5xx: the server failed; a base class for every 5xx error."""


class BadGatewayError(ServerError):
    """502: a gateway or proxy got a bad answer from the server behind it."""


class ServiceUnavailableError(ServerError):
    """503: the service is overloaded or down for maintenance."""


class GatewayTimeoutError(ServerError):
    """504 (a gateway timed out) or 408 (the server timed out waiting for the request)."""


# One class per status family; a family missing here (CLIENT, the 1xx-3xx ones) is ApiError.
_CLASS_BY_FAMILY: dict[StatusFamily, type[ApiError]] = {
    StatusFamily.VALIDATION: ValidationError,
    StatusFamily.AUTH: AuthenticationError,
    StatusFamily.POLICY: PermissionDeniedError,
    StatusFamily.NOT_FOUND: NotFoundError,
    StatusFamily.TIMEOUT: GatewayTimeoutError,
    StatusFamily.CONFLICT: ConflictError,
    StatusFamily.PAYLOAD_TOO_LARGE: PayloadTooLargeError,
    StatusFamily.LOCKED: LockedError,
    StatusFamily.RATE_LIMITED: RateLimitError,
    StatusFamily.SERVER: ServerError,
    StatusFamily.UPSTREAM: BadGatewayError,
    StatusFamily.UNAVAILABLE: ServiceUnavailableError,
}


def error_for(info: ErrorInfo) -> ApiError:
    """Return (not raise) the `ApiError` subclass for ``info.family``, holding ``info``.

    Use it with `parse_error` for a client retrykit has no adapter for:
    ``raise error_for(parse_error(status, headers, body, now=time.time()))``.
    """
    return _CLASS_BY_FAMILY.get(info.family, ApiError)(info)


def _one_line(info: ErrorInfo) -> str:
    head = f"{info.status} {info.code}" if info.code else str(info.status)
    line = f"{head}: {' '.join(info.message.split())}"
    if info.request_id:
        line += f" (request_id={info.request_id})"
    return line


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


ResponseT = TypeVar("ResponseT", bound=_Response)


def raise_for_error(response: ResponseT) -> ResponseT:
    """Raise the `ApiError` subclass for a 4xx or 5xx response; return it otherwise.

    Accepts an ``httpx.Response`` or a ``requests.Response`` (duck-typed: neither is
    imported). At most 64 KiB of the body are read:

    - a body already in memory is used as it is;
    - an unread httpx streaming response is read through ``iter_bytes`` until 64 KiB;
      an unread *async* stream cannot be read from sync code, so its error is built
      from the status and headers alone (``await response.aread()`` first to keep it);
    - a requests response made with ``stream=True`` and not read yet is read through
      ``iter_content`` until 64 KiB, never whole.

    A body that cannot be read (a broken connection, a consumed stream) leaves the
    error without its details, but the right class is still raised.
    """
    status = response.status_code
    if not isinstance(status, int):
        raise TypeError(f"response has no status code: {status!r}")
    if status < 400:
        return response
    body = _read_body(response)
    raise error_for(parse_error(status, response.headers, body, now=time.time()))


def _read_body(response: Any) -> bytes | None:
    try:
        # requests marks a body not yet read with _content = False; `.content` would
        # then read all of it, however large.
        if getattr(response, "_content", None) is False:
            return _head(response.iter_content(chunk_size=MAX_BODY_BYTES))
        try:
            content = response.content
        except RuntimeError:  # httpx.ResponseNotRead: a stream nobody has read yet
            return _head(response.iter_bytes(chunk_size=MAX_BODY_BYTES))
    except Exception:  # noqa: BLE001 - an unreadable body costs the details, never the error
        return None
    return bytes(content) if isinstance(content, (bytes, bytearray)) else None


def _head(chunks: Iterable[bytes]) -> bytes:
    buffer = bytearray()
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            buffer += chunk
            if len(buffer) >= MAX_BODY_BYTES:
                break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return bytes(buffer[:MAX_BODY_BYTES])
