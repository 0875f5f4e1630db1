"""Scripted fakes: an httpx transport (sync and async) and a requests adapter from a list."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
import requests

from retrykit.testing import (
    AsyncScriptedTransport,
    ScriptedAdapter,
    ScriptedTransport,
    ScriptExhaustedError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from retrykit.testing._fakes_httpx import HttpxStep
    from retrykit.testing._fakes_requests import RequestsStep

URL = "https://api.example.test/v1/items"


def httpx_client(*steps: HttpxStep) -> tuple[httpx.Client, ScriptedTransport]:
    transport = ScriptedTransport(steps)
    return httpx.Client(transport=transport), transport


def requests_session(*steps: RequestsStep) -> tuple[requests.Session, ScriptedAdapter]:
    adapter = ScriptedAdapter(steps)
    session = requests.Session()
    session.mount("https://", adapter)
    return session, adapter


# -- httpx, sync -----------------------------------------------------------------------------


def test_httpx_plays_status_codes_in_order() -> None:
    """Int items become empty responses with that status, one per request, in order."""
    client, transport = httpx_client(503, 200)
    with client:
        assert [client.get(URL).status_code for _ in range(2)] == [503, 200]
    assert transport.remaining == 0


def test_httpx_tuple_gives_status_headers_and_body() -> None:
    """A (status, headers, body) tuple becomes that response; text bodies are UTF-8."""
    client, _ = httpx_client((429, {"Retry-After": "3"}, "slow down"))
    with client:
        response = client.get(URL)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.text == "slow down"


def test_httpx_response_items_are_returned() -> None:
    """An httpx.Response item is returned, with the request attached."""
    client, _ = httpx_client(httpx.Response(201, json={"id": 7}))
    with client:
        response = client.post(URL)
    assert response.json() == {"id": 7}
    assert response.request.method == "POST"


def test_httpx_responses_are_streamable() -> None:
    """Built responses stream like a real transport's, so wrapping transports can read them."""
    client, _ = httpx_client((200, [("Content-Type", "text/plain")], b"a" * 10_000))
    with client, client.stream("GET", URL) as response:
        assert b"".join(response.iter_bytes(1024)) == b"a" * 10_000


def test_httpx_exception_class_is_raised_with_request() -> None:
    """An httpx exception class is raised as an instance carrying the request."""
    client, _ = httpx_client(httpx.ConnectError, 200)
    with client, pytest.raises(httpx.ConnectError) as info:
        client.get(URL)
    assert str(info.value.request.url) == URL


def test_httpx_exception_instance_gets_the_request() -> None:
    """An httpx exception instance is raised as given, with the request attached."""
    error = httpx.ReadTimeout("too slow")
    transport = ScriptedTransport([error])
    request = httpx.Request("GET", URL)
    with pytest.raises(httpx.ReadTimeout, match="too slow") as info:
        transport.handle_request(request)
    assert info.value is error
    assert error.request is request


def test_other_exceptions_are_raised_as_given() -> None:
    """Non-httpx exception classes and instances are raised too."""
    transport = ScriptedTransport([RuntimeError, KeyError("k")])
    with pytest.raises(RuntimeError, match="scripted RuntimeError"):
        transport.handle_request(httpx.Request("GET", URL))
    with pytest.raises(KeyError):
        transport.handle_request(httpx.Request("GET", URL))


def test_httpx_records_requests_with_streamed_body_read() -> None:
    """Requests are recorded in order, their streamed bodies read."""
    client, transport = httpx_client(200, 200)
    with client:
        client.post(URL, content=iter([b"a", b"b"]))
        client.get(URL, params={"page": 2})
    assert [r.method for r in transport.requests] == ["POST", "GET"]
    assert transport.requests[0].content == b"ab"
    assert transport.requests[1].url.params["page"] == "2"


def test_httpx_running_out_is_an_assertion_naming_the_request() -> None:
    """A request beyond the script fails as an AssertionError naming the request."""
    client, _ = httpx_client(200)
    with client:
        client.get(URL)
        with pytest.raises(ScriptExhaustedError, match=f"no answer left for GET {URL}: 1 were"):
            client.get(URL)
    assert issubclass(ScriptExhaustedError, AssertionError)


def test_httpx_transport_works_beneath_a_wrapping_transport() -> None:
    """A transport wrapping the fake gets real responses it can read and close."""

    class Wrapper(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            first = self.inner.handle_request(request)
            if first.status_code == 503:
                first.read()
                first.close()
                return self.inner.handle_request(request)
            return first

    with httpx.Client(transport=Wrapper(ScriptedTransport([503, (200, {}, b"ok")]))) as client:
        assert client.get(URL).text == "ok"


# -- httpx, async ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_transport_plays_items_under_asyncio_and_trio(backend: str) -> None:
    """The async transport plays statuses, tuples and exceptions under asyncio and trio."""
    transport = AsyncScriptedTransport([503, (200, {"X-A": "1"}, b"done"), httpx.ConnectTimeout])
    seen: list[object] = []

    async def main() -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            seen.append((await client.get(URL)).status_code)
            response = await client.post(URL, content=b"body")
            seen.append((response.text, response.headers["x-a"]))
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(URL)
            with pytest.raises(ScriptExhaustedError):
                await client.get(URL)

    anyio.run(main, backend=backend)
    assert seen == [503, ("done", "1")]
    assert transport.requests[1].content == b"body"
    assert len(transport.requests) == 4


# -- requests ------------------------------------------------------------------------------------


def test_requests_plays_status_codes_with_reasons() -> None:
    """Int items become responses with that status and its standard reason."""
    session, adapter = requests_session(503, 200)
    with session:
        first = session.get(URL)
        second = session.get(URL)
    assert (first.status_code, first.reason, first.ok) == (503, "Service Unavailable", False)
    assert (second.status_code, second.content) == (200, b"")
    assert adapter.remaining == 0


def test_requests_tuple_gives_headers_and_body() -> None:
    """A tuple item becomes a response with case-insensitive headers and its body."""
    session, _ = requests_session((422, {"Content-Type": "application/json"}, '{"e": 1}'))
    with session:
        response = session.get(URL)
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"e": 1}
    assert response.url == URL
    assert response.request.method == "GET"


def test_requests_raise_for_status_names_the_url() -> None:
    """Built responses work with raise_for_status like real ones."""
    session, _ = requests_session(404)
    with session, pytest.raises(requests.HTTPError, match="404 Client Error: Not Found"):
        session.get(URL).raise_for_status()


def test_requests_stream_and_iter_content() -> None:
    """stream=True responses iterate their body in chunks, as from HTTPAdapter."""
    session, _ = requests_session((200, {}, b"x" * 5000))
    with session:
        response = session.get(URL, stream=True)
        chunks = list(response.iter_content(1000))
        response.close()
    assert len(chunks) == 5
    assert b"".join(chunks) == b"x" * 5000


def test_requests_response_items_get_request_and_url() -> None:
    """A requests.Response item is returned with its request and url filled in."""
    given = requests.Response()
    given.status_code = 204
    given._content = b""
    session, _ = requests_session(given)
    with session:
        response = session.delete(URL)
    assert response is given
    assert response.request.method == "DELETE"
    assert response.url == URL


def test_requests_exception_class_is_raised_with_request() -> None:
    """A requests exception class is raised as an instance carrying the request."""
    session, _ = requests_session(requests.exceptions.ConnectionError)
    with session, pytest.raises(requests.ConnectionError) as info:
        session.get(URL)
    assert info.value.request is not None
    assert info.value.request.url == URL


def test_requests_exception_instance_gets_the_request() -> None:
    """A requests exception instance is raised as given, with the request attached."""
    error = requests.exceptions.ReadTimeout("too slow")
    session, _ = requests_session(error)
    with session, pytest.raises(requests.ReadTimeout) as info:
        session.post(URL, data=b"x")
    assert info.value is error
    assert error.request is not None
    assert error.request.method == "POST"


def test_requests_records_bodies_of_every_kind() -> None:
    """Recorded requests hold their bodies as bytes, generators and files included."""

    def parts() -> Iterator[bytes]:
        yield b"gen"
        yield b"erated"

    session, adapter = requests_session(200, 200, 200)
    with session:
        session.post(URL, data=b"plain")
        session.post(URL, data=parts())
        session.put(URL, data=io.BytesIO(b"file"))
    assert [r.body for r in adapter.requests] == [b"plain", b"generated", b"file"]
    assert [r.method for r in adapter.requests] == ["POST", "POST", "PUT"]


def test_requests_running_out_is_an_assertion_naming_the_request() -> None:
    """A request beyond the script fails as an AssertionError naming the request."""
    session, _ = requests_session()
    with session, pytest.raises(ScriptExhaustedError, match=f"ScriptedAdapter .* PATCH {URL}"):
        session.patch(URL)


@pytest.mark.parametrize(
    ("hidden", "usable", "missing", "extra"),
    [
        ("requests", "ScriptedTransport", "ScriptedAdapter", "requests"),
        ("httpx", "ScriptedAdapter", "ScriptedTransport", "httpx"),
    ],
)
def test_each_fake_needs_only_its_own_client(
    hidden: str, usable: str, missing: str, extra: str
) -> None:
    """A user with one client installed can use that client's fake; the other names the extra."""
    code = f"""
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name == {hidden!r} or name.startswith({hidden!r} + "."):
            raise ImportError("blocked " + name)
        return None

sys.meta_path.insert(0, Block())
import retrykit.testing as testing
getattr(testing, {usable!r})
try:
    getattr(testing, {missing!r})
except ImportError as exc:
    assert "retrykit-http[{extra}]" in str(exc), exc
else:
    raise SystemExit("expected ImportError")
"""
    result = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
