"""A real server on 127.0.0.1 that enforces a rate limit, and a driver for the client kinds.

`RateLimitServer` is a threaded HTTP/1.1 server (keep-alive, a thread per connection, a
free port) that lets ``limit`` requests through per fixed window of ``window`` seconds,
windows aligned on its own clock as GitHub's hourly ones are, and answers the rest 429
with ``Retry-After``. Every response reports the state in one header style:

- ``"x-ratelimit"`` (GitHub's form): ``X-RateLimit-Limit``, ``-Remaining``, ``-Used``,
  ``-Resource`` and ``-Reset`` as a Unix time in whole seconds;
- ``"ietf"`` (draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy:
  "default";q=10;w=1`` and ``RateLimit: "default";r=4;t=1``, ``t`` in whole
  delta-seconds rounded up.

Each response carries a ``Date`` from the server's clock, which ``clock_offset`` can put
minutes off. The server counts what it answered (`hits`, `refused`) per path prefix, and
keeps every request's arrival (`arrivals`); `refuse_next` answers the next request 429
with a ``Retry-After`` whatever the count.

`drive` makes ``calls`` GETs through one client of a kind: ``requests`` and ``httpx``
from ``threads`` threads, ``asyncio`` and ``trio`` as that many tasks at once.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import http.server
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
import attrs
import httpx
import requests

from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

Style = Literal["x-ratelimit", "ietf"]
STYLES: Final[tuple[Style, ...]] = ("x-ratelimit", "ietf")


class RateLimitServer:
    """A server that lets ``limit`` requests through per window of ``window`` seconds.

    A context manager: entering starts it on a free port of 127.0.0.1. ``style`` picks
    the header family (see the module docstring); ``clock_offset`` seconds are added to
    the server's clock, so its windows, resets and ``Date`` are that far off.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 1.0,
        *,
        style: Style = "x-ratelimit",
        clock_offset: float = 0.0,
    ) -> None:
        self.limit = limit
        self.window = window
        self.style = style
        self.clock_offset = clock_offset
        self._lock = threading.Lock()
        self._window_index = -1
        self._used = 0
        self._hits: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._most_in_a_window = 0
        self._arrivals: list[tuple[float, str, int]] = []
        self._refuse_next: int | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30.0
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                """Keep the test output quiet."""

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = self._httpd.server_address[1]
        # A short poll, so that leaving the context takes milliseconds, not half a second.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> RateLimitServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str = "/") -> str:
        """Return the URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, prefix: str = "/") -> int:
        """Return how many requests to paths under ``prefix`` reached the server."""
        with self._lock:
            return sum(n for path, n in self._hits.items() if path.startswith(prefix))

    def refused(self, prefix: str = "/") -> int:
        """Return how many requests to paths under ``prefix`` were answered 429."""
        with self._lock:
            return sum(n for path, n in self._refused.items() if path.startswith(prefix))

    def arrivals(self, prefix: str = "/") -> list[tuple[float, str, int]]:
        """Return ``(time.monotonic(), path, status)`` of each request under ``prefix``."""
        with self._lock:
            return [arrival for arrival in self._arrivals if arrival[1].startswith(prefix)]

    def refuse_next(self, retry_after: int) -> None:
        """Answer the next request 429 with ``Retry-After: retry_after``, whatever the count."""
        with self._lock:
            self._refuse_next = retry_after

    @property
    def most_in_a_window(self) -> int:
        """The most requests let through in one window so far (never above ``limit``)."""
        with self._lock:
            return self._most_in_a_window

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        now = time.time() + self.clock_offset
        path = handler.path
        with self._lock:
            index = math.floor(now / self.window)
            if index != self._window_index:
                self._window_index, self._used = index, 0
            refuse, self._refuse_next = self._refuse_next, None
            allowed = self._used < self.limit and refuse is None
            if allowed:
                self._used += 1
                self._most_in_a_window = max(self._most_in_a_window, self._used)
            used = self._used
            self._hits[path] = self._hits.get(path, 0) + 1
            if not allowed:
                self._refused[path] = self._refused.get(path, 0) + 1
            self._arrivals.append((time.monotonic(), path, 200 if allowed else 429))
        end = (index + 1) * self.window
        headers = [("Date", email.utils.formatdate(now, usegmt=True))]
        headers += self._limit_headers(max(0, self.limit - used), used, end, now)
        if allowed:
            status, body = 200, b"ok"
        else:
            status, body = 429, b'{"error": "rate limit exceeded"}'
            wait = refuse if refuse is not None else max(1, math.ceil(end - now))
            headers.append(("Retry-After", str(wait)))
        headers.append(("Content-Length", str(len(body))))
        # One write for the whole response: a head and a body written apart can wait on
        # Nagle's algorithm and a delayed ACK, 40 ms a response on a kept-alive connection.
        phrase = "OK" if allowed else "Too Many Requests"
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        handler.wfile.write(f"HTTP/1.1 {status} {phrase}\r\n{head}\r\n".encode("latin-1") + body)

    def _limit_headers(
        self, remaining: int, used: int, end: float, now: float
    ) -> list[tuple[str, str]]:
        if self.style == "ietf":
            window = max(1, math.ceil(self.window))
            return [
                ("RateLimit-Policy", f'"default";q={self.limit};w={window}'),
                ("RateLimit", f'"default";r={remaining};t={max(1, math.ceil(end - now))}'),
            ]
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Used", str(used)),
            ("X-RateLimit-Reset", str(math.ceil(end))),
            ("X-RateLimit-Resource", "core"),
        ]


@attrs.frozen
class Run:
    """What ``calls`` GETs got: each final status (None: an exception), the exceptions, time."""

    statuses: tuple[int | None, ...]
    errors: tuple[BaseException, ...]
    elapsed: float

    def count(self, status: int) -> int:
        """Return how many calls ended with ``status``."""
        return self.statuses.count(status)


def drive(kind: str, url: str, calls: int, *, threads: int = 8, **settings: Any) -> Run:
    """Make ``calls`` GETs of ``url`` through one retrykit client of ``kind``; return the `Run`.

    ``settings`` are the retrykit arguments of the adapter or transport.
    """
    if kind == "requests":
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", RetryAdapter(**settings))
        try:
            return _threaded(lambda: session.get(url, timeout=30).status_code, calls, threads)
        finally:
            session.close()
    if kind == "httpx":
        with httpx.Client(transport=RetryTransport(**settings), trust_env=False) as client:
            return _threaded(lambda: client.get(url, timeout=30).status_code, calls, threads)
    return anyio.run(_tasks, url, calls, settings, backend=kind)


def drive_plain(call: Callable[[], int], calls: int, *, threads: int = 8) -> Run:
    """Make ``calls`` calls of ``call`` (any client, say a peer's) from ``threads`` threads."""
    return _threaded(call, calls, threads)


def _threaded(call: Callable[[], int], calls: int, threads: int) -> Run:
    statuses: list[int | None] = []
    errors: list[BaseException] = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(call) for _ in range(calls)]
        for future in futures:
            error = future.exception()
            if error is None:
                statuses.append(future.result())
            else:
                statuses.append(None)
                errors.append(error)
    return Run(tuple(statuses), tuple(errors), time.monotonic() - started)


async def _tasks(url: str, calls: int, settings: dict[str, Any]) -> Run:
    statuses: list[int | None] = [None] * calls
    errors: list[BaseException] = []
    transport = AsyncRetryTransport(**settings)
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:

        async def one(index: int) -> None:
            try:
                statuses[index] = (await client.get(url, timeout=30)).status_code
            except Exception as exc:
                errors.append(exc)

        async with anyio.create_task_group() as group:
            for index in range(calls):
                group.start_soon(one, index)
    return Run(tuple(statuses), tuple(errors), time.monotonic() - started)
