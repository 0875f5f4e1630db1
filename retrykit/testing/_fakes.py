"""In-process fakes that answer from a list: an httpx transport and a requests adapter.

Each fake plays its list in order, one item per request, and records the requests it
was sent. An item is a response, a status code, a ``(status, headers, body)`` tuple, or
an exception (class or instance) to raise with the request attached. When the list runs
out the fake raises `ScriptExhaustedError`, an AssertionError: a test that sends more
requests than it scripted is a failing test, not a network error to retry.
"""

from __future__ import annotations

import collections
import http
import io
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import httpx
import requests
import requests.adapters
import requests.structures
import requests.utils
import urllib3

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Body = bytes | str
HttpxStep = httpx.Response | int | tuple[int, Headers, Body] | BaseException | type[BaseException]
"""What a `ScriptedTransport` or `AsyncScriptedTransport` list may hold."""
RequestsStep = (
    requests.Response | int | tuple[int, Headers, Body] | BaseException | type[BaseException]
)
"""What a `ScriptedAdapter` list may hold."""

_T = TypeVar("_T")


class ScriptExhaustedError(AssertionError):
    """A scripted fake got a request after its list of answers ran out.

    The message names the fake, the request's method and URL, and how many answers
    were scripted.
    """


class _Script(Generic[_T]):
    """A thread-safe queue of scripted answers that complains when it runs dry."""

    def __init__(self, owner: str, steps: Iterable[_T]) -> None:
        self._owner = owner
        self._steps = collections.deque(steps)
        self._given = len(self._steps)
        self._lock = threading.Lock()

    def take(self, method: str, url: str) -> _T:
        with self._lock:
            if self._steps:
                return self._steps.popleft()
        raise ScriptExhaustedError(
            f"{self._owner} has no answer left for {method} {url}: "
            f"{self._given} were scripted and all were used"
        )

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._steps)


def _as_bytes(body: Body) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- httpx -------------------------------------------------------------------------------


def _httpx_answer(step: HttpxStep, request: httpx.Request) -> httpx.Response:
    if isinstance(step, type) and issubclass(step, BaseException):
        if issubclass(step, httpx.RequestError):
            raise step(f"scripted {step.__name__}", request=request)
        raise step(f"scripted {step.__name__}")
    if isinstance(step, BaseException):
        if isinstance(step, httpx.RequestError):
            try:
                _ = step.request
            except RuntimeError:
                step.request = request
        raise step
    if isinstance(step, httpx.Response):
        step.request = request
        return step
    if isinstance(step, int):
        return httpx.Response(step, request=request)
    status, headers, body = step
    return httpx.Response(status, headers=headers, content=_as_bytes(body), request=request)


class ScriptedTransport(httpx.BaseTransport):
    """An httpx transport answering each request with the next item of ``steps``.

    Items: an `httpx.Response` (returned as is), an int status (empty body), a
    ``(status, headers, body)`` tuple, or an exception class or instance, raised with the
    request attached (``httpx.ConnectError`` and friends get ``request=``). Responses are
    real, streamable `httpx.Response` objects, so the transport can sit beneath a client
    or another transport (``RetryTransport(transport=ScriptedTransport([...]))``).

    ``requests`` lists every request received, body read; `remaining` counts the answers
    left. A request after the last answer raises `ScriptExhaustedError`.
    """

    def __init__(self, steps: Iterable[HttpxStep]) -> None:
        self._script = _Script(type(self).__name__, steps)
        self.requests: list[httpx.Request] = []

    @property
    def remaining(self) -> int:
        """How many scripted answers are still unused."""
        return self._script.remaining

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record ``request`` (its body read) and play the next scripted answer."""
        request.read()
        self.requests.append(request)
        step = self._script.take(request.method, str(request.url))
        return _httpx_answer(step, request)


class AsyncScriptedTransport(httpx.AsyncBaseTransport):
    """The async twin of `ScriptedTransport`, for `httpx.AsyncClient`.

    Same items, same recording in ``requests``, same `ScriptExhaustedError`.
    """

    def __init__(self, steps: Iterable[HttpxStep]) -> None:
        self._script = _Script(type(self).__name__, steps)
        self.requests: list[httpx.Request] = []

    @property
    def remaining(self) -> int:
        """How many scripted answers are still unused."""
        return self._script.remaining

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record ``request`` (its body read) and play the next scripted answer."""
        await request.aread()
        self.requests.append(request)
        step = self._script.take(request.method, str(request.url))
        return _httpx_answer(step, request)


# -- requests ----------------------------------------------------------------------------


def _requests_response(
    request: requests.PreparedRequest, status: int, headers: Headers, body: bytes
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = requests.structures.CaseInsensitiveDict(dict(headers))
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.reason = _reason(status)
    # A urllib3 response, as HTTPAdapter gives, so stream=True and iter_content work.
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers=dict(response.headers),
        status=status,
        reason=response.reason,
        preload_content=False,
        decode_content=True,
        request_method=request.method,
        request_url=request.url,
    )
    response.url = request.url or ""
    response.request = request
    return response


def _recorded_copy(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Copy ``request`` with a streamed body read into bytes (consuming it, as sending does)."""
    copy = request.copy()
    # Typed as bytes or str, but requests also passes files and generators through.
    body: Any = request.body
    if hasattr(body, "read"):
        data = body.read()
        copy.body = data.encode("utf-8") if isinstance(data, str) else data
    elif body is not None and not isinstance(body, (bytes, str)):
        parts = [part.encode("utf-8") if isinstance(part, str) else part for part in body]
        copy.body = b"".join(parts)
    return copy


class ScriptedAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter answering each request with the next item of ``steps``.

    Mount it on a Session (``session.mount("https://", ScriptedAdapter([...]))``). Items:
    a `requests.Response` (returned with ``request`` and ``url`` filled in when unset),
    an int status, a ``(status, headers, body)`` tuple, or an exception class or instance,
    raised with ``request=`` attached (``requests.exceptions.ConnectionError``,
    ``requests.exceptions.ReadTimeout``...). Built responses carry a urllib3 ``raw``, so
    ``stream=True``, ``iter_content`` and ``close`` behave as with `HTTPAdapter`.

    ``requests`` lists copies of the prepared requests received, streamed bodies read
    into bytes; `remaining` counts the answers left. A request after the last answer
    raises `ScriptExhaustedError`.
    """

    def __init__(self, steps: Iterable[RequestsStep]) -> None:
        super().__init__()
        self._script = _Script(type(self).__name__, steps)
        self.requests: list[requests.PreparedRequest] = []

    @property
    def remaining(self) -> int:
        """How many scripted answers are still unused."""
        return self._script.remaining

    def send(  # noqa: PLR0917 - the signature is requests' BaseAdapter.send
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: object = True,
        cert: object = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Record ``request`` and play the next scripted answer."""
        self.requests.append(_recorded_copy(request))
        step = self._script.take(str(request.method), str(request.url))
        if isinstance(step, type) and issubclass(step, BaseException):
            if issubclass(step, requests.RequestException):
                raise step(f"scripted {step.__name__}", request=request)
            raise step(f"scripted {step.__name__}")
        if isinstance(step, BaseException):
            if isinstance(step, requests.RequestException) and step.request is None:
                step.request = request
            raise step
        if isinstance(step, requests.Response):
            if getattr(step, "request", None) is None:
                step.request = request
            step.url = step.url or request.url or ""
            return step
        if isinstance(step, int):
            return _requests_response(request, step, {}, b"")
        status, headers, body = step
        return _requests_response(request, status, headers, _as_bytes(body))

    def close(self) -> None:
        """Nothing to release: the adapter holds no connections."""
