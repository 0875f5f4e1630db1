"""FlakyServer: a real HTTP/1.1 server on 127.0.0.1 that misbehaves on cue.

Each path has a script, a list of steps (see ``_steps``) played one per request on that
path. The server speaks just enough HTTP/1.1 to serve the clients under test: keep-alive,
Content-Length and chunked request bodies, ``Expect: 100-continue``. Everything it
receives is recorded as a `ReceivedRequest`.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

import attrs

from retrykit._core._status import reason_phrase
from retrykit.testing._steps import (
    STEP_TYPES,
    Garbage,
    Hang,
    HeaderPairs,
    ReceivedRequest,
    Reply,
    Reset,
    SlowBody,
    StalledBody,
    Step,
    Trickle,
    Truncated,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

_MAX_HEAD_BYTES = 64 * 1024
_JOIN_TIMEOUT = 2.0
_DEFAULT_STEP = Reply(200, body=b"ok")
# How often a waiting step looks whether its client has gone.
_PEER_POLL = 0.05
# A StalledBody's filler goes out in blocks of this size (one buffer, sent again and again).
_FILLER = b"x" * (64 * 1024)


class _ConnectionClosedError(Exception):
    """The peer closed the connection, or sent something we cannot parse."""


class _Reader:
    """Buffered reads over a socket, just enough to parse HTTP/1.1 requests."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def _fill(self) -> None:
        try:
            data = self._sock.recv(65536)
        except (OSError, ValueError) as exc:
            raise _ConnectionClosedError from exc
        if not data:
            raise _ConnectionClosedError
        self._buffer += data

    def read_until(self, marker: bytes, limit: int = _MAX_HEAD_BYTES) -> bytes:
        while (index := self._buffer.find(marker)) < 0:
            if len(self._buffer) > limit:
                raise _ConnectionClosedError
            self._fill()
        end = index + len(marker)
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def read_exact(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data


@attrs.frozen
class _Head:
    method: str
    target: str
    version: str
    headers: HeaderPairs

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def _read_head(reader: _Reader) -> _Head:
    raw = reader.read_until(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _ConnectionClosedError
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _ConnectionClosedError
        headers.append((name.strip(), value.strip()))
    return _Head(parts[0], parts[1], parts[2], tuple(headers))


def _read_body(reader: _Reader, head: _Head) -> tuple[bytes, bool]:
    encoding = head.header("transfer-encoding")
    if encoding is not None and "chunked" in encoding.lower():
        body = bytearray()
        while True:
            size_line = reader.read_until(b"\r\n").split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise _ConnectionClosedError from exc
            if size == 0:
                # Trailers, if any, end with an empty line.
                while reader.read_until(b"\r\n") != b"\r\n":
                    pass
                return bytes(body), True
            body += reader.read_exact(size)
            reader.read_exact(2)
    length = head.header("content-length")
    if length is None:
        return b"", False
    try:
        count = int(length)
    except ValueError as exc:
        raise _ConnectionClosedError from exc
    if count < 0:
        raise _ConnectionClosedError
    return reader.read_exact(count), False


def _status_line(status: int, version: str = "HTTP/1.1") -> bytes:
    reason = reason_phrase(status) or "Unknown"
    return f"{version} {status} {reason}\r\n".encode("latin-1")


def _head_bytes(
    status: int, headers: Iterable[tuple[str, str]], version: str = "HTTP/1.1"
) -> bytes:
    lines = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)
    return _status_line(status, version) + lines + b"\r\n"


def _peer_gone(sock: socket.socket) -> bool:
    """Return True if the client closed or reset the connection (its data is left unread)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _has_header(headers: HeaderPairs, name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


class FlakyServer:
    """A real HTTP/1.1 server on 127.0.0.1 that answers each path from a script.

    Use it as a context manager (``with FlakyServer() as server:``), or call `start`
    and `close`. It binds a free port, accepts on a daemon thread and serves each TCP
    connection on its own daemon thread, keeping connections alive between requests.
    Unscripted paths answer ``200`` with body ``b"ok"``.

    ``read_timeout`` bounds how long a connection thread waits for a client that sends
    nothing. `close` shuts every open connection and joins the threads with a timeout,
    so a hanging client or a `Hang` step never hangs a test.
    """

    def __init__(self, *, read_timeout: float = 5.0) -> None:
        if isinstance(read_timeout, bool) or not isinstance(read_timeout, (int, float)):
            raise TypeError(f"read_timeout must be a number of seconds, got {read_timeout!r}")
        if not math.isfinite(read_timeout) or read_timeout <= 0:
            raise ValueError(f"read_timeout must be finite and > 0, got {read_timeout!r}")
        self._read_timeout = float(read_timeout)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._scripts: dict[str, tuple[Step, ...]] = {}
        self._positions: dict[str, int] = {}
        self._received: list[ReceivedRequest] = []
        self._connections_opened = 0
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._port = 0

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> FlakyServer:
        """Bind a free port on 127.0.0.1 and start serving; return the server."""
        if self._listener is not None:
            raise RuntimeError("FlakyServer is already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        # Accept polls so that close() can stop it on every platform.
        listener.settimeout(0.05)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"FlakyServer:{self._port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, abort every open connection and join the threads (bounded wait).

        Calling it again does nothing.
        """
        if self._listener is None or self._closing.is_set():
            return
        self._closing.set()
        if self._accept_thread is not None:
            self._accept_thread.join(_JOIN_TIMEOUT)
        self._listener.close()
        with self._lock:
            open_sockets = list(self._open)
            threads = list(self._threads)
        for sock in open_sockets:
            # Shutting down wakes a thread blocked in recv(); the thread then closes it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FlakyServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._listener is None:
            raise RuntimeError("FlakyServer is not started; use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of ``path`` (a leading ``/`` is added when missing)."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # -- scripts and records ------------------------------------------------------------

    def script(self, path: str, steps: Step | Sequence[Step]) -> None:
        """Play ``steps`` on ``path``, one per request, then repeat the last step forever.

        ``path`` is matched against the request path without its query string. A new
        script replaces the old one for that path and starts from its first step.
        """
        played = (steps,) if isinstance(steps, STEP_TYPES) else tuple(steps)
        if not played:
            raise ValueError("a script needs at least one step")
        with self._lock:
            self._scripts[path] = played
            self._positions[path] = 0

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        """Return the requests received so far, in order; only those on ``path`` if given."""
        with self._lock:
            records = list(self._received)
        if path is None:
            return records
        return [record for record in records if record.path == path]

    def hits(self, path: str) -> int:
        """Return how many requests arrived on ``path`` (query string ignored)."""
        return len(self.received(path))

    @property
    def connections_opened(self) -> int:
        """How many TCP connections the server has accepted since it started."""
        with self._lock:
            return self._connections_opened

    @property
    def connections_open(self) -> int:
        """How many TCP connections are open now (a client's closed ones leave at once)."""
        with self._lock:
            return len(self._open)

    def reset(self) -> None:
        """Forget every script and every record (the connection count is kept)."""
        with self._lock:
            self._scripts.clear()
            self._positions.clear()
            self._received.clear()

    # -- serving -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        if self._listener is None:
            return
        while not self._closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(self._read_timeout)
            with self._lock:
                if self._closing.is_set():
                    sock.close()
                    return
                index = self._connections_opened
                self._connections_opened += 1
                self._open.add(sock)
                thread = threading.Thread(
                    target=self._serve_connection,
                    args=(sock, index),
                    name=f"FlakyServer:{self._port}:conn{index}",
                    daemon=True,
                )
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _next_step(self, path: str) -> Step:
        with self._lock:
            steps = self._scripts.get(path)
            if steps is None:
                return _DEFAULT_STEP
            position = self._positions[path]
            self._positions[path] = position + 1
            return steps[min(position, len(steps) - 1)]

    def _serve_connection(self, sock: socket.socket, index: int) -> None:
        reader = _Reader(sock)
        try:
            keep_open = True
            while keep_open and not self._closing.is_set():
                keep_open = self._serve_request(sock, reader, index)
        except (_ConnectionClosedError, OSError):
            pass
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()

    def _serve_request(self, sock: socket.socket, reader: _Reader, index: int) -> bool:
        """Serve one request; return whether the connection stays open."""
        head = _read_head(reader)
        received_at = time.monotonic()
        step = self._next_step(head.target.split("?", 1)[0])
        body, chunked = b"", False
        if not (isinstance(step, Reset) and not step.after_read):
            if (head.header("expect") or "").lower() == "100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            body, chunked = _read_body(reader, head)
        record = ReceivedRequest(
            head.method, head.target, head.headers, body, received_at, index, chunked, step
        )
        with self._lock:
            self._received.append(record)

        if isinstance(step, Reset):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if isinstance(step, Garbage):
            sock.sendall(step.data)
            return False
        if isinstance(step, Hang):
            self._wait(sock, step.seconds)
            return False
        if isinstance(step, Truncated):
            if step.chunked:
                headers = (*step.headers, ("Transfer-Encoding", "chunked"))
                cut = f"{step.declared_length:x}\r\n".encode("ascii") + step.body
            else:
                headers = (*step.headers, ("Content-Length", str(step.declared_length)))
                cut = step.body
            sock.sendall(_head_bytes(step.status, headers) + cut)
            return False
        if isinstance(step, Trickle):
            return self._trickle(sock, head, step)
        if isinstance(step, StalledBody):
            self._stall(sock, step)
            return False
        if isinstance(step, SlowBody):
            headers = (*step.headers, ("Content-Length", str(len(step.body))))
            sock.sendall(_head_bytes(step.status, headers) + step.body[: step.immediate_bytes])
            if self._wait(sock, step.delay):
                return False
            sock.sendall(step.body[step.immediate_bytes :])
            return self._client_keeps_alive(head)
        return self._send_reply(sock, head, step)

    def _wait(self, sock: socket.socket, seconds: float) -> bool:
        """Wait ``seconds``; return True early when the server closes or the client leaves.

        A client that closes its end (or resets it) during a Hang or a stall would leave
        this thread waiting for nothing; a real server notices, and so does this one.
        """
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._closing.wait(min(left, _PEER_POLL)):
                return True
            if _peer_gone(sock):
                return True
        return self._closing.is_set()

    def _trickle(self, sock: socket.socket, head: _Head, step: Trickle) -> bool:
        headers = (*step.headers, ("Content-Length", str(len(step.body))))
        sock.sendall(_head_bytes(step.status, headers))
        for index in range(len(step.body)):
            if self._wait(sock, step.interval):
                return False
            sock.sendall(step.body[index : index + 1])
        return self._client_keeps_alive(head)

    def _stall(self, sock: socket.socket, step: StalledBody) -> None:
        chunked = step.declared_length is None
        framing = (
            ("Transfer-Encoding", "chunked")
            if chunked
            else ("Content-Length", str(step.declared_length))
        )
        sock.sendall(_head_bytes(step.status, (*step.headers, framing)))
        left = step.sent
        while left > 0 and not self._closing.is_set():
            block = _FILLER[: min(left, len(_FILLER))]
            left -= len(block)
            if chunked:
                block = f"{len(block):x}\r\n".encode("ascii") + block + b"\r\n"
            sock.sendall(block)
        self._wait(sock, step.stall)

    def _send_reply(self, sock: socket.socket, head: _Head, step: Reply) -> bool:
        if step.delay and self._wait(sock, step.delay):
            return False
        for status in step.interim:
            sock.sendall(_status_line(status) + b"\r\n")
        no_body = head.method == "HEAD" or step.status in (204, 304) or step.status < 200
        headers = list(step.headers)
        if step.close and not _has_header(step.headers, "connection"):
            headers.append(("Connection", "close"))
        if step.chunked and not no_body:
            headers.append(("Transfer-Encoding", "chunked"))
            payload = b""
            if step.body:
                payload += f"{len(step.body):x}\r\n".encode("ascii") + step.body + b"\r\n"
            payload += b"0\r\n\r\n"
        else:
            if not _has_header(step.headers, "content-length") and not (
                step.status in (204, 304) or step.status < 200
            ):
                headers.append(("Content-Length", str(len(step.body))))
            payload = b"" if no_body else step.body
        sock.sendall(_head_bytes(step.status, headers, step.version) + payload)
        if step.close or step.version == "HTTP/1.0":
            return False
        return self._client_keeps_alive(head)

    @staticmethod
    def _client_keeps_alive(head: _Head) -> bool:
        connection = (head.header("connection") or "").lower()
        if head.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection
