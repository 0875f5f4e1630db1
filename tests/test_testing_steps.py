"""The FlakyServer steps for odd servers, seen on the wire: what each one sends, and when."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

import httpx
import pytest
import requests

from retrykit.testing import (
    FlakyServer,
    Garbage,
    Hang,
    Reply,
    Reset,
    StalledBody,
    Step,
    Trickle,
    Truncated,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as started:
        yield started


def _request(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def _exchange(server: FlakyServer, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request(path))
        return _read_all(sock)


def test_trickle_sends_the_head_then_one_byte_per_interval(server: FlakyServer) -> None:
    """Trickle announces the whole body, then sends it one byte per recv, in order."""
    server.script("/t", Trickle(503, body=b"abc", interval=0.05))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request("/t"))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(1)
        arrivals = []
        while data := sock.recv(65536):
            arrivals.append(data)
    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"Content-Length: 3\r\n" in head
    assert arrivals == [b"a", b"b", b"c"]


def test_trickle_ends_early_when_the_server_closes() -> None:
    """Closing the server stops a Trickle in progress instead of waiting it out."""
    with FlakyServer() as server:
        server.script("/t", Trickle(body=b"x" * 100, interval=10.0))
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(_request("/t"))
        sock.recv(65536)
        server.close()
        assert sock.recv(65536) == b""
        sock.close()


def test_stalled_body_declares_a_length_sends_some_then_stalls(server: FlakyServer) -> None:
    """StalledBody announces declared_length, sends `sent` bytes of b"x", then nothing."""
    server.script("/s", StalledBody(declared_length=10**10, sent=100_000, stall=10.0))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request("/s"))
        data = b""
        while len(data) < 100_000 or b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"Content-Length: 10000000000" in head
        assert body == b"x" * 100_000
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(65536)


def test_stalled_body_without_a_length_is_chunked(server: FlakyServer) -> None:
    """declared_length=None sends the bytes as chunks that never reach the last chunk."""
    server.script("/s", StalledBody(declared_length=None, sent=10, stall=0.1))
    data = _exchange(server, "/s")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"a\r\nxxxxxxxxxx\r\n"


def test_stalled_body_closes_after_its_stall(server: FlakyServer) -> None:
    """After `stall` seconds the server closes the connection."""
    server.script("/s", StalledBody(declared_length=5, sent=2, stall=0.05))
    assert _exchange(server, "/s").endswith(b"\r\n\r\nxx")


def test_stalled_body_stops_sending_when_the_client_leaves(server: FlakyServer) -> None:
    """A client that closes mid-body ends the step; the server goes on serving."""
    server.script("/s", StalledBody(sent=32 * 1024 * 1024, stall=10.0))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request("/s"))
        sock.recv(65536)
    assert _exchange(server, "/other").endswith(b"ok")


def test_truncated_chunked_cuts_the_chunk_short(server: FlakyServer) -> None:
    """Truncated(chunked=True) declares a chunk's size and closes before its end."""
    server.script("/t", Truncated(declared_length=16, body=b"abc", chunked=True))
    head, _, body = _exchange(server, "/t").partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Length" not in head
    assert body == b"10\r\nabc"


def test_truncated_chunked_through_clients(server: FlakyServer) -> None:
    """A cut chunked body is an incomplete read in both clients."""
    server.script("/t", Truncated(declared_length=16, body=b"abc", chunked=True))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(server.url("/t"), timeout=2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url("/t"), timeout=2)


def test_reply_sends_interim_responses_first(server: FlakyServer) -> None:
    """Reply(interim=(100, 103)) sends those 1xx heads before the final response."""
    server.script("/i", Reply(201, body=b"made", interim=(100, 103)))
    data = _exchange(server, "/i")
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n")
    assert data.endswith(b"\r\n\r\nmade")


def test_clients_skip_an_unasked_100_continue(server: FlakyServer) -> None:
    """A 100 Continue nobody asked for is skipped by both clients (http.client keeps a 103)."""
    server.script("/i", Reply(201, body=b"made", interim=(100,)))
    assert requests.get(server.url("/i"), timeout=2).status_code == 201
    assert httpx.get(server.url("/i"), timeout=2).text == "made"


def test_reply_http10_answers_and_closes(server: FlakyServer) -> None:
    """Reply(version="HTTP/1.0") uses that status line and closes after the response."""
    server.script("/old", Reply(200, body=b"old", version="HTTP/1.0"))
    assert _exchange(server, "/old").startswith(b"HTTP/1.0 200 OK\r\n")
    with httpx.Client() as client:
        for _ in range(2):
            assert client.get(server.url("/old")).text == "old"
    assert server.connections_opened == 3
    assert {record.connection for record in server.received("/old")} == {0, 1, 2}


def test_garbage_can_send_an_http10_body_that_ends_with_the_connection(
    server: FlakyServer,
) -> None:
    """Garbage sends any bytes: an HTTP/1.0 response without a length reads to the close."""
    server.script("/raw", Garbage(b"HTTP/1.0 200 OK\r\n\r\nto the end"))
    assert requests.get(server.url("/raw"), timeout=2).content == b"to the end"
    assert httpx.get(server.url("/raw"), timeout=2).content == b"to the end"


def test_a_reply_whose_length_header_lies_sends_its_body_as_is(server: FlakyServer) -> None:
    """A Content-Length in headers is sent unchanged, so a reply can declare fewer bytes."""
    server.script("/lie", Reply(200, headers={"Content-Length": "2"}, body=b"okEXTRA"))
    data = _exchange(server, "/lie")
    assert data.endswith(b"Content-Length: 2\r\n\r\nokEXTRA")


def test_received_requests_record_the_step_played(server: FlakyServer) -> None:
    """Each ReceivedRequest names the step the server answered it with."""
    server.script("/r", [Reset(), Reply(201)])
    with pytest.raises(requests.ConnectionError):
        requests.post(server.url("/r"), data=b"x", timeout=2)
    requests.post(server.url("/r"), data=b"x", timeout=2)
    requests.get(server.url("/unscripted"), timeout=2)
    steps = [record.step for record in server.received()]
    assert steps == [Reset(), Reply(201), Reply(200, body=b"ok")]


def test_a_stalled_body_never_holds_the_server_past_close() -> None:
    """Closing the server mid-stall returns promptly: the stall's thread ends with it."""
    server = FlakyServer().start()
    server.script("/s", StalledBody(declared_length=10, sent=1, stall=30.0))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request("/s"))
        sock.recv(65536)
        started = time.monotonic()
        server.close()
        # Bounded by close's own join timeout; a stall waited out would take 30 s.
        assert time.monotonic() - started < 10.0
        assert sock.recv(65536) in (b"", b"x")


@pytest.mark.parametrize(
    "step",
    [
        Hang(30.0),
        StalledBody(declared_length=10, sent=1, stall=30.0),
        Trickle(body=b"x" * 100, interval=10.0),
    ],
    ids=["hang", "stall", "trickle"],
)
def test_a_waiting_step_ends_when_its_client_leaves(server: FlakyServer, step: Step) -> None:
    """A client that closes mid-wait frees the server's thread (and socket) at once."""
    server.script("/w", step)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_request("/w"))
        _wait_until(lambda: server.hits("/w") == 1)
    prefix = f"FlakyServer:{server.port}:conn"
    _wait_until(lambda: not any(t.name.startswith(prefix) for t in threading.enumerate()))


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_connections_open_counts_what_clients_hold(server: FlakyServer) -> None:
    """connections_open rises with each client connection and falls as each one closes."""
    assert server.connections_open == 0
    first = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    second = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    _wait_until(lambda: server.connections_open == 2)
    first.close()
    _wait_until(lambda: server.connections_open == 1)
    second.close()
    _wait_until(lambda: server.connections_open == 0)
    assert server.connections_opened == 2
