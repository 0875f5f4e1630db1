"""FlakyServer: each step kind seen by raw sockets and by plain requests and httpx clients."""

from __future__ import annotations

import http.client
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
    SlowBody,
    Truncated,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as started:
        yield started


def raw_exchange(server: FlakyServer, request: bytes, timeout: float = 2.0) -> bytes:
    """Send ``request`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def get_request(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def http_client_get(server: FlakyServer, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# -- addresses and scripts -----------------------------------------------------------


def test_url_points_at_the_bound_port(server: FlakyServer) -> None:
    """url() and base_url give absolute 127.0.0.1 URLs on the server's port."""
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.url("/a?b=1") == f"http://127.0.0.1:{server.port}/a?b=1"
    assert server.url("a") == server.url("/a")
    assert server.url() == server.base_url + "/"


def test_unscripted_path_answers_200_ok(server: FlakyServer) -> None:
    """A path without a script answers 200 with body b"ok"."""
    status, headers, body = http_client_get(server, "/anything")
    assert (status, body) == (200, b"ok")
    assert headers["Content-Length"] == "2"


def test_script_plays_in_order_then_repeats_the_last_step(server: FlakyServer) -> None:
    """Steps play one per request, and the last one repeats once the script is exhausted."""
    server.script("/s", [Reply(503), Reply(429), Reply(200, body="done")])
    statuses = [http_client_get(server, "/s")[0] for _ in range(5)]
    assert statuses == [503, 429, 200, 200, 200]


def test_script_matches_path_without_query(server: FlakyServer) -> None:
    """Scripts and hits() match the path, whatever the query string."""
    server.script("/q", Reply(418))
    assert http_client_get(server, "/q?page=2")[0] == 418
    assert server.hits("/q") == 1
    assert server.received("/q")[0].target == "/q?page=2"
    assert server.received("/q")[0].query == "page=2"


def test_new_script_replaces_the_old_one_and_restarts(server: FlakyServer) -> None:
    """script() on a path again replaces its steps and starts from the first."""
    server.script("/r", [Reply(500), Reply(501)])
    http_client_get(server, "/r")
    server.script("/r", [Reply(502), Reply(503)])
    assert http_client_get(server, "/r")[0] == 502


def test_empty_script_is_refused(server: FlakyServer) -> None:
    """A script with no step is a mistake reported at once."""
    with pytest.raises(ValueError, match="at least one step"):
        server.script("/e", [])


def test_negative_delays_are_refused() -> None:
    """Steps refuse negative delays when built."""
    with pytest.raises(ValueError, match="delay"):
        Reply(delay=-1)
    with pytest.raises(ValueError, match="seconds"):
        Hang(-1)


@pytest.mark.parametrize("seconds", [float("inf"), float("nan")])
def test_endless_or_undefined_delays_are_refused(seconds: float) -> None:
    """A Hang or Reply delay that would never end, or is NaN, is refused when built."""
    with pytest.raises(ValueError, match="seconds"):
        Hang(seconds)
    with pytest.raises(ValueError, match="delay"):
        Reply(delay=seconds)


def test_delay_must_be_a_number() -> None:
    """A delay given as text is refused with TypeError, naming it."""
    with pytest.raises(TypeError, match="delay"):
        SlowBody(delay="1")  # type: ignore[arg-type]


def test_steps_are_importable_from_retrykit_testing() -> None:
    """The step types keep their public home, retrykit.testing, after living in _steps."""
    import retrykit.testing
    import retrykit.testing._steps

    for name in ("Reply", "Reset", "Truncated", "Garbage", "Hang", "SlowBody", "ReceivedRequest"):
        assert getattr(retrykit.testing, name) is getattr(retrykit.testing._steps, name)


def test_reset_forgets_scripts_and_records(server: FlakyServer) -> None:
    """reset() clears scripts and the record of received requests."""
    server.script("/x", Reply(500))
    http_client_get(server, "/x")
    server.reset()
    assert server.received() == []
    assert http_client_get(server, "/x")[0] == 200


# -- Reply ---------------------------------------------------------------------------


def test_reply_sends_status_headers_and_body(server: FlakyServer) -> None:
    """Reply sends its status, headers in order and body with a Content-Length."""
    server.script("/r", Reply(503, {"Retry-After": "7", "X-A": "b"}, b"busy"))
    status, headers, body = http_client_get(server, "/r")
    assert (status, body) == (503, b"busy")
    assert headers["Retry-After"] == "7"
    assert headers["Content-Length"] == "4"


def test_reply_json_sets_content_type(server: FlakyServer) -> None:
    """Reply.json sends the data as JSON with Content-Type application/json."""
    server.script("/j", Reply.json({"error": "bad"}, status=422))
    response = httpx.get(server.url("/j"))
    assert response.status_code == 422
    assert response.json() == {"error": "bad"}
    assert response.headers["content-type"] == "application/json"


def test_reply_chunked_is_read_whole_by_clients(server: FlakyServer) -> None:
    """Reply(chunked=True) sends Transfer-Encoding chunked that clients decode."""
    server.script("/c", Reply(body=b"chunky", chunked=True))
    status, headers, body = http_client_get(server, "/c")
    assert (status, body) == (200, b"chunky")
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers


def test_reply_close_sends_connection_close_and_closes(server: FlakyServer) -> None:
    """Reply(close=True) says Connection: close and then closes the connection."""
    server.script("/c", Reply(body=b"bye", close=True))
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert b"Connection: close\r\n" in data
    assert data.endswith(b"\r\n\r\nbye")


def test_reply_to_head_has_no_body(server: FlakyServer) -> None:
    """HEAD gets the Content-Length of the body but no body bytes."""
    server.script("/h", Reply(body=b"12345"))
    data = raw_exchange(server, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"Content-Length: 5\r\n\r\n")


def test_reply_204_has_no_body_or_length(server: FlakyServer) -> None:
    """204 responses carry neither a body nor a Content-Length."""
    server.script("/n", Reply(204, body=b"ignored"))
    data = raw_exchange(server, get_request("/n"))
    assert data == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_reply_delay_causes_client_read_timeout(server: FlakyServer) -> None:
    """Reply(delay=...) is a slow server: a shorter client read timeout fires."""
    server.script("/slow", Reply(delay=5.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/slow"), timeout=0.2)


def test_reply_delay_then_answers(server: FlakyServer) -> None:
    """A delayed Reply still answers once the delay is over."""
    server.script("/slow", Reply(body=b"late", delay=0.1))
    start = time.monotonic()
    assert requests.get(server.url("/slow"), timeout=2).content == b"late"
    assert time.monotonic() - start >= 0.1


def test_expect_100_continue_is_answered(server: FlakyServer) -> None:
    """A client sending Expect: 100-continue gets 100 Continue before sending its body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n"
        )
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    assert server.received("/e")[0].body == b"abc"


# -- failures, raw -------------------------------------------------------------------


def test_reset_after_read_resets_connection_raw(server: FlakyServer) -> None:
    """Reset() reads the whole request, then aborts the connection with RST."""
    server.script("/r", Reset())
    with pytest.raises(ConnectionResetError):
        raw_exchange(server, b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
    assert server.received("/r")[0].body == b"body"


def test_reset_before_read_leaves_body_unread_raw(server: FlakyServer) -> None:
    """Reset(after_read=False) aborts after the request head, before reading the body."""
    server.script("/r", Reset(after_read=False))
    with pytest.raises(ConnectionResetError):
        raw_exchange(server, b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
    [record] = server.received("/r")
    assert (record.method, record.body) == ("POST", b"")


def test_truncated_declares_more_than_it_sends_raw(server: FlakyServer) -> None:
    """Truncated sends a Content-Length larger than the body, then closes."""
    server.script("/t", Truncated(status=200, declared_length=100, body=b"partial"))
    data = raw_exchange(server, get_request("/t"))
    assert b"Content-Length: 100\r\n" in data
    assert data.endswith(b"\r\n\r\npartial")


def test_garbage_sends_its_bytes_and_closes_raw(server: FlakyServer) -> None:
    """Garbage answers with its raw bytes instead of HTTP, then closes."""
    server.script("/g", Garbage(b"SPAM\r\n\r\n"))
    assert raw_exchange(server, get_request("/g")) == b"SPAM\r\n\r\n"


def test_hang_sends_nothing_raw(server: FlakyServer) -> None:
    """Hang reads the request and sends nothing for its duration."""
    server.script("/h", Hang(5.0))
    with pytest.raises(TimeoutError):
        raw_exchange(server, get_request("/h"), timeout=0.2)
    assert server.hits("/h") == 1


def test_hang_closes_after_its_duration_raw(server: FlakyServer) -> None:
    """After Hang's seconds the server closes the connection without a response."""
    server.script("/h", Hang(0.1))
    assert raw_exchange(server, get_request("/h")) == b""


def test_slow_body_sends_head_then_body_late_raw(server: FlakyServer) -> None:
    """SlowBody sends the head and first bytes at once and the rest after its delay."""
    server.script("/s", SlowBody(body=b"abcdef", delay=0.3, immediate_bytes=2))
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(get_request("/s"))
        first = b""
        while not first.endswith(b"ab"):
            data = sock.recv(65536)
            assert data, "the server closed before the first body bytes"
            first += data
        assert b"Content-Length: 6\r\n" in first
        sock.settimeout(0.1)
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        sock.settimeout(2)
        assert sock.recv(65536) == b"cdef"


# -- failures, through plain clients -------------------------------------------------


def test_reset_through_clients(server: FlakyServer) -> None:
    """Reset surfaces as the clients' connection errors."""
    server.script("/r", Reset())
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url("/r"), timeout=2)
    with pytest.raises(httpx.ReadError):
        httpx.get(server.url("/r"), timeout=2)


def test_truncated_through_clients(server: FlakyServer) -> None:
    """Truncated surfaces as an incomplete body in both clients."""
    server.script("/t", Truncated())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(server.url("/t"), timeout=2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url("/t"), timeout=2)


def test_garbage_through_clients(server: FlakyServer) -> None:
    """Garbage surfaces as a protocol error in both clients."""
    server.script("/g", Garbage())
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url("/g"), timeout=2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url("/g"), timeout=2)


def test_hang_through_clients(server: FlakyServer) -> None:
    """Hang surfaces as a read timeout in both clients."""
    server.script("/h", Hang(5.0))
    with pytest.raises(requests.ReadTimeout):
        requests.get(server.url("/h"), timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/h"), timeout=0.2)


def test_slow_body_through_clients(server: FlakyServer) -> None:
    """SlowBody times out the clients while they read the body."""
    server.script("/s", SlowBody(delay=5.0, immediate_bytes=2))
    with pytest.raises(requests.ConnectionError, match="Read timed out"):
        requests.get(server.url("/s"), timeout=0.2)
    with httpx.Client(timeout=0.2) as client, client.stream("GET", server.url("/s")) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            response.read()


# -- connections ---------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(server: FlakyServer) -> None:
    """A pooling client reuses one connection, and connections_opened counts it once."""
    with requests.Session() as session:
        for _ in range(5):
            assert session.get(server.url("/k"), timeout=2).ok
    with httpx.Client() as client:
        for _ in range(5):
            assert client.get(server.url("/k")).is_success
    assert server.connections_opened == 2
    assert [r.connection for r in server.received("/k")] == [0] * 5 + [1] * 5


def test_failure_steps_cost_a_connection(server: FlakyServer) -> None:
    """After a Reset the client needs a new connection, which connections_opened shows."""
    server.script("/k", [Reply(), Reset(), Reply()])
    with requests.Session() as session:
        session.get(server.url("/k"), timeout=2)
        with pytest.raises(requests.ConnectionError):
            session.get(server.url("/k"), timeout=2)
        session.get(server.url("/k"), timeout=2)
    assert server.connections_opened == 2


def test_client_connection_close_is_honoured(server: FlakyServer) -> None:
    """A request with Connection: close gets its connection closed after the response."""
    data = raw_exchange(server, get_request("/c"))
    assert data.endswith(b"\r\n\r\nok")


def test_concurrent_clients_are_all_served(server: FlakyServer) -> None:
    """Twenty clients at once all get their answers, each recorded once."""
    server.script("/c", Reply(body=b"hi", delay=0.05))
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = httpx.get(server.url("/c"), timeout=5).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [200] * 20
    assert server.hits("/c") == 20
    assert server.connections_opened == 20


def test_idle_connection_is_dropped_after_read_timeout() -> None:
    """A client that sends nothing is disconnected after read_timeout."""
    with (
        FlakyServer(read_timeout=0.2) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock,
    ):
        assert sock.recv(1024) == b""


# -- recording -----------------------------------------------------------------------


def test_records_method_target_headers_and_body(server: FlakyServer) -> None:
    """Each request is recorded with its method, target, headers and body."""
    requests.post(server.url("/p?x=1"), data=b"payload", headers={"X-Trace": "t1"}, timeout=2)
    [record] = server.received()
    assert (record.method, record.target, record.path) == ("POST", "/p?x=1", "/p")
    assert record.body == b"payload"
    assert record.header("x-trace") == "t1"
    assert record.header("Content-Length") == "7"
    assert record.header("missing") is None
    assert not record.chunked


def test_records_chunked_body_from_requests_generator(server: FlakyServer) -> None:
    """A requests generator body arrives chunked and is recorded decoded."""

    def parts() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    requests.post(server.url("/g"), data=parts(), timeout=2)
    [record] = server.received("/g")
    assert record.body == b"hello world"
    assert record.chunked


def test_records_chunked_body_from_httpx_stream(server: FlakyServer) -> None:
    """An httpx streaming body arrives chunked and is recorded decoded."""
    with httpx.Client() as client:
        client.post(server.url("/s"), content=iter([b"a", b"b", b"c"]))
    [record] = server.received("/s")
    assert (record.body, record.chunked) == (b"abc", True)


def test_records_arrival_order_and_time(server: FlakyServer) -> None:
    """received() lists requests in arrival order with monotonic arrival times."""
    before = time.monotonic()
    for path in ("/1", "/2", "/1"):
        http_client_get(server, path)
    records = server.received()
    assert [r.path for r in records] == ["/1", "/2", "/1"]
    assert before <= records[0].received_at <= records[1].received_at <= records[2].received_at
    assert [r.path for r in server.received("/1")] == ["/1", "/1"]
    assert server.hits("/1") == 2
    assert server.hits("/never") == 0


# -- life cycle ----------------------------------------------------------------------


def _server_threads(server: FlakyServer) -> list[threading.Thread]:
    prefix = f"FlakyServer:{server.port}"
    return [thread for thread in threading.enumerate() if thread.name.startswith(prefix)]


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds`` instead of spinning forever."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_close_is_quick_with_a_silent_connection() -> None:
    """Leaving the with block ends every server thread, even with a silent client connected.

    Measured by order, not wall time: close() gives up joining after 2 s, so a thread
    still alive after it (waiting out the 5 s read timeout) is what a slow close means.
    """
    with (
        FlakyServer() as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        _wait_for(lambda: server.connections_opened == 1)
        server.close()
        assert _server_threads(server) == []
        assert sock.recv(1024) == b""


def test_close_interrupts_a_hang_in_progress() -> None:
    """Closing the server ends a Hang step at once instead of waiting it out."""
    with (
        FlakyServer() as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        server.script("/h", Hang(30))
        sock.sendall(get_request("/h"))
        _wait_for(lambda: server.hits("/h") == 1)
        server.close()
        # The Hang's thread ended: close() did not give up on it after its join timeout.
        assert _server_threads(server) == []
        assert sock.recv(1024) == b""


def test_close_twice_is_harmless() -> None:
    """close() may be called more than once."""
    server = FlakyServer().start()
    server.close()
    server.close()


def test_url_before_start_is_an_error() -> None:
    """Asking for a URL before the server is started is reported clearly."""
    with pytest.raises(RuntimeError, match="not started"):
        FlakyServer().url()
