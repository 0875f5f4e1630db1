"""ApiError and its family classes, and raise_for_error on real httpx and requests responses."""

from __future__ import annotations

import json
import pickle
from typing import TYPE_CHECKING

import httpx
import pytest
import requests
import requests.structures

from retrykit import (
    ApiError,
    AuthenticationError,
    BadGatewayError,
    ConflictError,
    ErrorInfo,
    FieldError,
    GatewayTimeoutError,
    LockedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RetrykitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
    error_for,
    parse_error,
    raise_for_error,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

VALIDATION_BODY = {
    "code": "VALIDATION_ERROR",
    "message": "phone_number must be a valid E.164 number.",
    "request_id": "req_123",
    "details": {"field": "phone_number"},
}


def _pickled(error: ApiError) -> ApiError:
    loaded: ApiError = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes made a line above
    return loaded


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (422, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (410, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (423, LockedError),
        (429, RateLimitError),
        (500, ServerError),
        (501, ServerError),
        (507, ServerError),
        (502, BadGatewayError),
        (503, ServiceUnavailableError),
        (504, GatewayTimeoutError),
        (408, GatewayTimeoutError),
        (402, ApiError),
        (405, ApiError),
        (418, ApiError),
        (451, ApiError),
    ],
)
def test_class_for_status(status: int, cls: type[ApiError]) -> None:
    """Each status raises its own class, so callers can catch by meaning."""
    assert type(error_for(ErrorInfo(status=status))) is cls


_OWN_CLASS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: GatewayTimeoutError,
    409: ConflictError,
    410: NotFoundError,
    413: PayloadTooLargeError,
    422: ValidationError,
    423: LockedError,
    429: RateLimitError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
}


def test_every_status_keeps_its_documented_class() -> None:
    """Every status from 100 to 599 (and beyond) gives the class the tree in the docs names."""
    for status in [*range(100, 600), 0, -1, 600, 999]:
        default = ServerError if not 100 <= status <= 499 else ApiError
        expected = _OWN_CLASS.get(status, default)
        assert type(error_for(ErrorInfo(status=status))) is expected, status


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 599, 600, 0])
def test_except_server_error_catches_every_5xx(status: int) -> None:
    """`except ServerError` catches every 5xx, and statuses no HTTP server may send."""
    assert isinstance(error_for(ErrorInfo(status=status)), ServerError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418, 422, 423, 429])
def test_client_errors_are_not_server_errors(status: int) -> None:
    """A 4xx other than 408 is never caught by `except ServerError`."""
    assert not isinstance(error_for(ErrorInfo(status=status)), ServerError)


def test_every_api_error_is_a_retrykit_error() -> None:
    """`except RetrykitError` catches API errors as well as retrykit's own."""
    assert issubclass(ApiError, RetrykitError)
    assert isinstance(error_for(ErrorInfo(status=418)), RetrykitError)


def test_str_is_one_line_with_status_code_message_and_request_id() -> None:
    """str(exc) shows status, code, message and request id on one line."""
    error = error_for(parse_error(422, {}, json.dumps(VALIDATION_BODY)))
    assert str(error) == (
        "422 VALIDATION_ERROR: phone_number must be a valid E.164 number. (request_id=req_123)"
    )


def test_str_without_code_or_request_id() -> None:
    """Without a code or request id, str(exc) leaves them out."""
    assert str(error_for(ErrorInfo(status=503))) == "503: Service Unavailable"


def test_str_collapses_a_multi_line_message() -> None:
    """A hand-built message with newlines still gives a one-line str(exc)."""
    error = error_for(ErrorInfo(status=500, message="first\nsecond"))
    assert str(error) == "500: first second"


def test_shortcuts_read_the_info() -> None:
    """status, code, request_id and field_errors are shortcuts into .info."""
    body = b'{"code": "C", "message": "f is too long.", "details": {"field": "f"}}'
    info = parse_error(422, {"X-Request-Id": "hdr"}, body)
    error = error_for(info)
    assert error.info is info
    assert (error.status, error.code, error.request_id) == (422, "C", "hdr")
    assert error.field_errors == (FieldError("f", "f is too long."),)


def test_rate_limit_error_has_retry_after() -> None:
    """A RateLimitError says how long the server asked to wait."""
    error = error_for(parse_error(429, {"Retry-After": "30"}, None))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 30.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 413, 418, 423, 429, 500, 502])
def test_errors_pickle(status: int) -> None:
    """An ApiError survives pickling (for multiprocessing and task queues) with its info."""
    error = error_for(parse_error(status, {"X-Request-Id": "r"}, b'{"code": "X", "details": {}}'))
    copy = _pickled(error)
    assert type(copy) is type(error)
    assert copy.info == error.info
    assert str(copy) == str(error)


def test_raise_for_error_on_an_httpx_response() -> None:
    """An httpx 422 raises ValidationError with the server's field errors."""
    response = httpx.Response(422, json=VALIDATION_BODY, headers={"X-Request-Id": "hdr"})
    with pytest.raises(ValidationError) as caught:
        raise_for_error(response)
    assert caught.value.request_id == "req_123"
    assert caught.value.field_errors == (
        FieldError("phone_number", "phone_number must be a valid E.164 number."),
    )


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304])
def test_raise_for_error_returns_a_success(status: int) -> None:
    """A response below 400 is returned as it is, for chaining."""
    response = httpx.Response(status)
    assert raise_for_error(response) is response


def test_raise_for_error_on_a_requests_response() -> None:
    """A requests 429 raises RateLimitError with its Retry-After and header request id."""
    response = requests.Response()
    response.status_code = 429
    response.headers = requests.structures.CaseInsensitiveDict(
        {"Retry-After": "7", "x-request-id": "req_rq", "Content-Type": "application/json"}
    )
    response._content = b'{"code": "RATE_LIMITED", "message": "Slow down."}'
    with pytest.raises(RateLimitError) as caught:
        raise_for_error(response)
    assert (caught.value.code, caught.value.retry_after) == ("RATE_LIMITED", 7.0)
    assert caught.value.request_id == "req_rq"


def test_raise_for_error_returns_a_requests_success() -> None:
    """A requests response below 400 is returned as it is."""
    response = requests.Response()
    response.status_code = 200
    response._content = b"{}"
    assert raise_for_error(response) is response


def test_raise_for_error_refuses_a_response_without_status() -> None:
    """A requests.Response() never sent has no status: a TypeError, not a wrong class."""
    with pytest.raises(TypeError, match="no status code"):
        raise_for_error(requests.Response())


class _CountingStream(httpx.SyncByteStream):
    """A 50 MB body in 1 MiB chunks that counts how many were pulled."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        for index in range(50):
            self.pulled += 1
            yield self.first if index == 0 else b"x" * (1 << 20)


def test_unread_httpx_stream_is_read_only_up_to_64_kib() -> None:
    """An unread streaming httpx response is read for 64 KiB, never whole."""
    stream = _CountingStream(b"<html><title>Upstream exploded</title>" + b" " * (1 << 20))
    response = httpx.Response(502, stream=stream)
    with pytest.raises(BadGatewayError, match="Upstream exploded"):
        raise_for_error(response)
    assert stream.pulled == 1


class _AsyncStream(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"code": "NEVER_READ"}'


def test_unread_async_httpx_stream_raises_from_the_status() -> None:
    """An unread async stream cannot be read from sync code: the class comes from the status."""
    response = httpx.Response(503, stream=_AsyncStream(), headers={"Retry-After": "4"})
    with pytest.raises(ServiceUnavailableError) as caught:
        raise_for_error(response)
    assert (caught.value.code, caught.value.info.retry_after) == (None, 4.0)


class _CountingRaw:
    """A urllib3-like raw body of 50 MB that counts the bytes read from it."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.read_bytes = 0

    def read(self, amount: int = -1, **_options: object) -> bytes:
        chunk = self.first[:amount] if self.read_bytes == 0 else b"x" * amount
        self.read_bytes += len(chunk)
        return chunk


def test_unread_requests_stream_is_read_only_up_to_64_kib() -> None:
    """A requests response made with stream=True is read for 64 KiB, never whole."""
    raw = _CountingRaw(b"<title>Gateway timed out</title>" + b" " * (1 << 20))
    response = requests.Response()
    response.status_code = 504
    response.raw = raw
    with pytest.raises(GatewayTimeoutError, match="Gateway timed out"):
        raise_for_error(response)
    assert raw.read_bytes <= 64 * 1024


class _BrokenRaw:
    def read(self, amount: int = -1, **_options: object) -> bytes:
        raise requests.exceptions.ConnectionError("connection reset")


def test_unreadable_body_still_raises_the_right_class() -> None:
    """A body that fails to read costs the details, never the exception class."""
    response = requests.Response()
    response.status_code = 404
    response.raw = _BrokenRaw()
    with pytest.raises(NotFoundError, match="404: Not Found"):
        raise_for_error(response)


def test_secrets_in_headers_never_reach_the_exception() -> None:
    """Authorization and API keys on the response appear nowhere in the exception."""
    response = httpx.Response(
        401,
        headers={"Authorization": "Bearer sk_live_secret", "X-API-Key": "key_secret"},
        json={"message": "Invalid API key."},
    )
    with pytest.raises(AuthenticationError) as caught:
        raise_for_error(response)
    assert "secret" not in str(caught.value)
    assert "secret" not in repr(caught.value.info)
    assert "secret" not in repr(caught.value)
