"""A scripted requests adapter for users' unit tests (see `_fakes`)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import requests
import requests.adapters
import requests.structures
import requests.utils
import urllib3

from retrykit._core._status import reason_phrase
from retrykit.testing._fakes import Body, Headers, Script, as_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

RequestsStep = (
    requests.Response | int | tuple[int, Headers, Body] | BaseException | type[BaseException]
)
"""What a `ScriptedAdapter` list may hold."""


def _requests_response(
    request: requests.PreparedRequest, status: int, headers: Headers, body: bytes
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers = requests.structures.CaseInsensitiveDict(dict(headers))
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.reason = reason_phrase(status)
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
        self._script = Script(type(self).__name__, steps)
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
        return _requests_response(request, status, headers, as_bytes(body))

    def close(self) -> None:
        """Nothing to release: the adapter holds no connections."""
