"""A real redis-server for the tests, and worker processes that form a fleet against it.

`RedisServer` starts ``redis-server`` on a free 127.0.0.1 port (no persistence, a temp
dir) and can kill (SIGKILL), restart (same port), freeze (SIGSTOP) and thaw it.
`redis_binary` finds the binary: outside CI a missing one skips the test, under
``CI=true`` it fails it (CI must install the server; see .ci/run).

`Fleet` spawns worker processes (multiprocessing, spawn). Each `worker` builds what the
parent asks (a `RedisStore`, a `CircuitBreaker` on it, a requests Session through a
`RetryAdapter`), makes real HTTP calls on a schedule, and reports every call, every
state change its breaker's listeners heard and every store event. A `limiter_worker`
does the same with a `RateLimiter` on the store, from several threads at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess
    from types import TracebackType

    import redis

START_TIMEOUT = 10.0


def redis_binary() -> str:
    """Return the path of redis-server; skip the test without one, or fail it under CI."""
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must provide it", pytrace=False)
        pytest.skip(message)
    return path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A redis-server of our own on 127.0.0.1: start, stop, kill, restart, freeze, thaw."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="retrykit-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._dir.cleanup()

    def start(self) -> None:
        """Start the server on ``self.port`` and wait until it answers PING."""
        self._process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING in time")

    def stop(self) -> None:
        """Stop the server (thawing it first if frozen) and reap it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL the server: it dies at once, and its data (none saved) with it."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=5)
        self._process = None

    def freeze(self) -> None:
        """SIGSTOP the server: connections open, nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT a frozen server."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def client(self, **options: Any) -> redis.Redis:
        """Return a redis-py client for this server."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, **options)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Run a `RedisServer` for the block (skip or fail when there is no binary)."""
    with RedisServer(redis_binary()) as server:
        yield server


# -- the fleet's workers -----------------------------------------------------------------


def worker(conn: Connection) -> None:  # noqa: PLR0915 - one small command loop
    """Serve the parent's commands in a worker process, until ``exit``."""
    import requests

    from retrykit import CircuitBreaker, RetryPolicy
    from retrykit.redis import RedisStore
    from retrykit.requests import CircuitOpenError, RetryAdapter

    store: RedisStore | None = None
    breaker: CircuitBreaker | None = None
    session: requests.Session | None = None
    changes: list[tuple[float, str, str, str]] = []
    events: list[tuple[float, str]] = []

    def heard(key: str, old: Any, new: Any) -> None:
        changes.append((time.monotonic(), key, old.value, new.value))

    def hook(event: object) -> None:
        events.append((time.monotonic(), type(event).__name__))

    while True:
        command, args = conn.recv()
        if command == "setup":
            if store is not None:
                store.close()
            changes.clear()
            events.clear()
            store = None
            if args.get("redis_port") is not None:
                import redis

                store = RedisStore(
                    redis.Redis(host="127.0.0.1", port=args["redis_port"]),
                    namespace=args["namespace"],
                    sync_interval=args.get("sync_interval", 0.1),
                    min_reporters=args.get("min_reporters", 1),
                    max_wait=args.get("max_wait", 0.5),
                    hooks=[hook],
                )
            breaker = CircuitBreaker(store=store, on_state_change=heard, **args["breaker"])
            session = requests.Session()
            session.mount(
                "http://",
                RetryAdapter(breaker=breaker, budget=None, policy=RetryPolicy(max_attempts=1)),
            )
            conn.send("ok")
        elif command == "run":
            assert session is not None
            calls: list[tuple[float, float, str]] = []
            start = args["start_at"] + args.get("offset", 0.0)
            every, end = args["every"], args["start_at"] + args["duration"]
            index = 0
            while True:
                at = start + index * every
                if at >= end:
                    break
                index += 1
                pause = at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                began = time.monotonic()
                try:
                    response = session.get(args["url"], timeout=5)
                    outcome = str(response.status_code)
                    response.close()
                except CircuitOpenError:
                    outcome = "rejected"
                except Exception as exc:
                    outcome = f"error:{type(exc).__name__}: {exc}"
                calls.append((began, time.monotonic() - began, outcome))
            conn.send({"calls": calls, "changes": list(changes), "events": list(events)})
        elif command == "state":
            assert breaker is not None
            conn.send(
                {
                    "state": breaker.state(args["key"]).value,
                    "healthy": None if store is None else store.healthy,
                    "stats": None if store is None else store.stats(),
                    "changes": list(changes),
                    "events": list(events),
                }
            )
        elif command == "close":
            if store is not None:
                store.close()
            conn.send("ok")
        elif command == "exit":
            if store is not None:
                store.close()
            conn.send("bye")
            return


def limiter_worker(conn: Connection) -> None:  # noqa: PLR0915 - one small command loop
    """Serve the parent's commands in a worker process sharing a rate limiter, until ``exit``.

    ``setup`` builds a `RedisStore` (none without a ``redis_port``), a `RateLimiter` on
    it and a requests Session through a `RetryAdapter` with one attempt per call and no
    breaker or budget. ``run`` makes calls from ``threads`` threads until ``duration``
    has passed (each thread pausing ``every`` seconds between calls, 0: none) and
    reports each call's (start, seconds, outcome), the store's events and health.
    """
    import threading

    import requests

    from retrykit import RateLimiter, RetryPolicy
    from retrykit.redis import RedisStore
    from retrykit.requests import RetryAdapter

    store: RedisStore | None = None
    session: requests.Session | None = None
    events: list[tuple[float, str]] = []

    def hook(event: object) -> None:
        events.append((time.monotonic(), type(event).__name__))

    def calls_until(
        url: str, end: float, every: float, into: list[tuple[float, float, str]]
    ) -> None:
        assert session is not None
        while time.monotonic() < end:
            began = time.monotonic()
            try:
                response = session.get(url, timeout=10)
                outcome = str(response.status_code)
                response.close()
            except Exception as exc:
                outcome = f"error:{type(exc).__name__}: {exc}"
            into.append((began, time.monotonic() - began, outcome))
            if every:
                time.sleep(every)

    while True:
        command, args = conn.recv()
        if command == "setup":
            if store is not None:
                store.close()
            events.clear()
            store = None
            if args.get("redis_port") is not None:
                import redis

                store = RedisStore(
                    redis.Redis(host="127.0.0.1", port=args["redis_port"]),
                    namespace=args["namespace"],
                    sync_interval=args.get("sync_interval", 0.1),
                    max_wait=args.get("max_wait", 0.5),
                    hooks=[hook],
                )
            limiter = RateLimiter(store=store, **args.get("limiter", {}))
            session = requests.Session()
            session.trust_env = False
            session.mount(
                "http://",
                RetryAdapter(
                    pool_maxsize=args.get("threads", 4),
                    breaker=None,
                    budget=None,
                    limiter=limiter,
                    policy=RetryPolicy(max_attempts=1),
                ),
            )
            conn.send("ok")
        elif command == "run":
            start, end = args["start_at"], args["start_at"] + args["duration"]
            pause = start - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            lists: list[list[tuple[float, float, str]]] = []
            threads = []
            for _ in range(args.get("threads", 4)):
                into: list[tuple[float, float, str]] = []
                lists.append(into)
                thread = threading.Thread(
                    target=calls_until, args=(args["url"], end, args.get("every", 0.0), into)
                )
                thread.start()
                threads.append(thread)
            for thread in threads:
                thread.join()
            conn.send(
                {
                    "calls": sorted(call for calls in lists for call in calls),
                    "events": list(events),
                    "healthy": None if store is None else store.healthy,
                }
            )
        elif command == "exit":
            if store is not None:
                store.close()
            conn.send("bye")
            return


class Fleet:
    """``size`` worker processes, spawned once, driven by commands (see `worker`)."""

    def __init__(self, size: int, target: Callable[[Connection], None] = worker) -> None:
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._processes: list[BaseProcess] = []
        for _ in range(size):
            parent, child = context.Pipe()
            process = context.Process(target=target, args=(child,), daemon=True)
            process.start()
            child.close()
            self._conns.append(parent)
            self._processes.append(process)

    def __len__(self) -> int:
        return len(self._conns)

    def ask(
        self, command: str, args: Any = None, *, only: Sequence[int] | None = None
    ) -> list[Any]:
        """Send ``command`` to the workers (all, or ``only`` those), return their answers."""
        chosen = range(len(self._conns)) if only is None else only
        for index in chosen:
            self._conns[index].send((command, args if args is not None else {}))
        answers = []
        for index in chosen:
            if not self._conns[index].poll(60):
                raise TimeoutError(f"worker {index} did not answer {command!r}")
            answers.append(self._conns[index].recv())
        return answers

    def run(
        self,
        url: str,
        *,
        every: float,
        duration: float,
        offsets: Sequence[float] | None = None,
        only: Sequence[int] | None = None,
        lead: float = 0.2,
    ) -> list[dict[str, Any]]:
        """Have workers call ``url`` every ``every`` s for ``duration`` s; return their reports."""
        chosen = list(range(len(self._conns)) if only is None else only)
        start_at = time.monotonic() + lead
        for position, index in enumerate(chosen):
            offset = 0.0 if offsets is None else offsets[position]
            args = {
                "url": url,
                "every": every,
                "duration": duration,
                "start_at": start_at,
                "offset": offset,
            }
            self._conns[index].send(("run", args))
        reports = []
        for index in chosen:
            if not self._conns[index].poll(duration + 60):
                raise TimeoutError(f"worker {index} did not finish its run")
            reports.append(self._conns[index].recv())
        return reports

    def close(self) -> None:
        """Ask every worker to exit, then make sure each has."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("exit", {}))
        for conn, process in zip(self._conns, self._processes, strict=True):
            with contextlib.suppress(OSError, EOFError):
                if conn.poll(5):
                    conn.recv()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            conn.close()
