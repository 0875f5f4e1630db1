"""The contenders: bare clients, retrykit and its peers, all configured to one policy.

The shared policy: 4 attempts in total, retried statuses {429, 500, 502, 503, 504},
exponential waits of 1, 2, 4 ms with no jitter (urllib3's formula makes its first retry
immediate, then 2 and 4 ms). Every contender is a `Contender`: a name and a ``call(url)``
returning the final status code (sync or async), plus a ``close()``.

The floor (issue 19) is a contender too: a transport or adapter doing only the steps any
retrying layer must take around one successful attempt, built from stand-ins (`floor_steps`).

Two kinds of transport under the clients:

- ``socket``: a real keep-alive connection to a server on 127.0.0.1;
- ``in-process``: everything above the socket runs, nothing below it. For httpx that is
  ``httpx.MockTransport`` as the innermost transport; for requests it is a urllib3
  connection pool whose ``_make_request`` returns a canned response, so requests, its
  adapter and urllib3's own retry loop all run as they would over a socket.
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
import httpx
import httpx_retries
import pybreaker
import requests
import stamina
import tenacity
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from retrykit import (
    AttemptRecord,
    Backoff,
    CircuitBreaker,
    Metrics,
    RateLimiter,
    RetryBudget,
    RetryHistory,
    RetryPolicy,
    decide,
    origin_key,
)
from retrykit.httpx import AsyncRetryTransport, RetryTransport
from retrykit.requests import RetryAdapter

ATTEMPTS: Final = 4
STATUSES: Final = frozenset({429, 500, 502, 503, 504})
BASE_DELAY: Final = 0.001

POLICY: Final = RetryPolicy(
    max_attempts=ATTEMPTS,
    backoff=Backoff(base=BASE_DELAY, multiplier=2.0, jitter="none"),
    retry_statuses=STATUSES,
)

SyncCall = Callable[[str], int]
AsyncCall = Callable[[str], Awaitable[int]]


@attrs.frozen
class Contender:
    """One way of sending a GET: ``call(url)`` returns the final status code."""

    name: str
    call: SyncCall
    close: Callable[[], None]


@attrs.frozen
class AsyncContender:
    """The async twin of `Contender`; ``close`` is awaited."""

    name: str
    call: AsyncCall
    close: Callable[[], Awaitable[None]]


class RetryableStatusError(Exception):
    """Raised inside tenacity- and stamina-wrapped calls for a status worth retrying."""

    def __init__(self, status: int, headers: httpx.Headers | Any) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers


# --- requests -------------------------------------------------------------------------


class _CannedPool(HTTPConnectionPool):
    """A urllib3 pool that answers every request with ``200 ok`` without a socket."""

    def _make_request(  # type: ignore[override] # only the arguments urlopen passes
        self,
        conn: Any,
        method: str,
        url: str,
        *,
        retries: Any = None,
        response_conn: Any = None,
        preload_content: bool = True,
        decode_content: bool = True,
        **_kwargs: Any,
    ) -> urllib3.HTTPResponse:
        return urllib3.HTTPResponse(
            body=io.BytesIO(b"ok"),
            headers={"Content-Length": "2", "Content-Type": "text/plain"},
            status=200,
            preload_content=preload_content,
            decode_content=decode_content,
            request_method=method,
            request_url=url,
            retries=retries,
            pool=self,
            connection=response_conn,
        )


def _canned(adapter: HTTPAdapter) -> HTTPAdapter:
    adapter.poolmanager.pool_classes_by_scheme = {"http": _CannedPool, "https": _CannedPool}
    return adapter


def _session(adapter: HTTPAdapter, *, in_process: bool) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _canned(adapter) if in_process else adapter)
    return session


def _session_call(session: requests.Session) -> SyncCall:
    def call(url: str) -> int:
        return session.get(url).status_code

    return call


def requests_with_timeout(timeout: float, *, in_process: bool, pool_maxsize: int) -> Contender:
    """Return bare requests sending each GET with ``timeout`` (blocking reads otherwise)."""
    session = _session(HTTPAdapter(pool_maxsize=pool_maxsize), in_process=in_process)

    def call(url: str) -> int:
        return session.get(url, timeout=timeout).status_code

    return Contender(f"requests, timeout={timeout:g}", call, session.close)


def _requests_raising(session: requests.Session) -> Callable[[str], int]:
    """GET, raising `RetryableStatusError` for a retried status (for tenacity and stamina)."""

    def call(url: str) -> int:
        response = session.get(url)
        if response.status_code in STATUSES:
            raise RetryableStatusError(response.status_code, response.headers)
        return response.status_code

    return call


def urllib3_retry() -> urllib3.Retry:
    """Return urllib3's `Retry` set to the shared policy (3 retries = 4 attempts)."""
    return urllib3.Retry(
        total=ATTEMPTS - 1,
        status_forcelist=STATUSES,
        backoff_factor=BASE_DELAY,
        backoff_jitter=0.0,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


def requests_contenders(
    *,
    in_process: bool,
    peers: bool = True,
    breaker: CircuitBreaker | str | None = "default",
    budget: RetryBudget | str | None = "default",
    hooks: tuple[Metrics, ...] = (),
    pool_maxsize: int = 10,
) -> list[Contender]:
    """Return bare requests, retrykit's `RetryAdapter` and (with ``peers``) its peers."""
    options: dict[str, Any] = {"pool_maxsize": pool_maxsize}
    if breaker != "default":
        options["breaker"] = breaker
    if budget != "default":
        options["budget"] = budget
    bare = _session(HTTPAdapter(pool_maxsize=pool_maxsize), in_process=in_process)
    ours = _session(RetryAdapter(policy=POLICY, hooks=hooks, **options), in_process=in_process)
    result = [
        Contender("requests", _session_call(bare), bare.close),
        Contender("retrykit RetryAdapter", _session_call(ours), ours.close),
    ]
    if peers:
        with_urllib3 = _session(
            HTTPAdapter(max_retries=urllib3_retry(), pool_maxsize=pool_maxsize),
            in_process=in_process,
        )
        for_tenacity = _session(HTTPAdapter(pool_maxsize=pool_maxsize), in_process=in_process)
        for_stamina = _session(HTTPAdapter(pool_maxsize=pool_maxsize), in_process=in_process)
        result += [
            Contender("urllib3 Retry", _session_call(with_urllib3), with_urllib3.close),
            Contender(
                "tenacity", tenacity_call(_requests_raising(for_tenacity)), for_tenacity.close
            ),
            Contender("stamina", stamina_call(_requests_raising(for_stamina)), for_stamina.close),
        ]
    return result


# --- tenacity and stamina, around any raising call ----------------------------------------


def _last_status(state: tenacity.RetryCallState) -> int:
    """After the last attempt: return the final status, or re-raise a transport error."""
    assert state.outcome is not None
    error = state.outcome.exception()
    if isinstance(error, RetryableStatusError):
        return error.status
    return int(state.outcome.result())


def _tenacity_kwargs() -> dict[str, Any]:
    return {
        "stop": tenacity.stop_after_attempt(ATTEMPTS),
        "wait": tenacity.wait_exponential(multiplier=BASE_DELAY, exp_base=2),
        "retry": tenacity.retry_if_exception_type(
            (RetryableStatusError, httpx.TransportError, requests.ConnectionError)
        ),
        "retry_error_callback": _last_status,
    }


def tenacity_call(raising: Callable[[str], int]) -> SyncCall:
    """Wrap ``raising`` in tenacity's `Retrying` with the shared policy."""
    retrying = tenacity.Retrying(**_tenacity_kwargs())

    def call(url: str) -> int:
        return retrying(raising, url)

    return call


def tenacity_async_call(raising: Callable[[str], Awaitable[int]]) -> AsyncCall:
    """Wrap ``raising`` in tenacity's `AsyncRetrying` with the shared policy."""
    retrying = tenacity.AsyncRetrying(**_tenacity_kwargs())

    async def call(url: str) -> int:
        result: int = await retrying(raising, url)
        return result

    return call


_STAMINA_ON: Final = (RetryableStatusError, httpx.TransportError, requests.ConnectionError)


def retry_after_hook(error: Exception) -> bool | float:
    """A stamina backoff hook honouring ``Retry-After`` in seconds, as stamina documents."""
    if isinstance(error, RetryableStatusError):
        value = error.headers.get("Retry-After", "")
        return float(value) if value.isdigit() else True
    return isinstance(error, _STAMINA_ON)


def _stamina_decorator(*, honour_retry_after: bool = False) -> Callable[[Any], Any]:
    decorator: Callable[[Any], Any] = stamina.retry(
        on=retry_after_hook if honour_retry_after else _STAMINA_ON,
        attempts=ATTEMPTS,
        timeout=None,
        wait_initial=BASE_DELAY,
        wait_exp_base=2,
        wait_jitter=0.0,
        wait_max=30.0,
    )
    return decorator


def stamina_call(raising: Callable[[str], int], *, honour_retry_after: bool = False) -> SyncCall:
    """Wrap ``raising`` in ``stamina.retry`` with the shared policy."""
    wrapped: Callable[[str], int] = _stamina_decorator(honour_retry_after=honour_retry_after)(
        raising
    )

    def call(url: str) -> int:
        try:
            return wrapped(url)
        except RetryableStatusError as error:
            return error.status

    return call


def stamina_async_call(raising: Callable[[str], Awaitable[int]]) -> AsyncCall:
    """Wrap the coroutine function ``raising`` in ``stamina.retry``."""
    wrapped: Callable[[str], Awaitable[int]] = _stamina_decorator()(raising)

    async def call(url: str) -> int:
        try:
            return await wrapped(url)
        except RetryableStatusError as error:
            return error.status

    return call


# --- httpx ----------------------------------------------------------------------------


def _ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"ok", headers={"Content-Type": "text/plain"})


def inner_transport(*, in_process: bool) -> httpx.BaseTransport:
    """Return the transport that sends: a loopback connection pool, or a MockTransport."""
    return httpx.MockTransport(_ok) if in_process else httpx.HTTPTransport()


def async_inner_transport(*, in_process: bool) -> httpx.AsyncBaseTransport:
    """The async twin of `inner_transport`."""
    return httpx.MockTransport(_ok) if in_process else httpx.AsyncHTTPTransport()


def httpx_retries_retry(*, respect_retry_after: bool = True) -> httpx_retries.Retry:
    """Return httpx-retries' `Retry` set to the shared policy (waits 1, 2, 4 ms)."""
    return httpx_retries.Retry(
        total=ATTEMPTS - 1,
        status_forcelist=STATUSES,
        backoff_factor=BASE_DELAY / 2,  # its wait is factor * 2 ** retries_made
        backoff_jitter=0.0,
        respect_retry_after_header=respect_retry_after,
    )


def client_call(client: httpx.Client) -> SyncCall:
    """Return ``call(url)``: ``client.get(url)``'s status code."""

    def call(url: str) -> int:
        return client.get(url).status_code

    return call


def _client_raising(client: httpx.Client) -> Callable[[str], int]:
    def call(url: str) -> int:
        response = client.get(url)
        if response.status_code in STATUSES:
            raise RetryableStatusError(response.status_code, response.headers)
        return response.status_code

    return call


def retrykit_transport(
    *,
    in_process: bool,
    breaker: CircuitBreaker | str | None = "default",
    budget: RetryBudget | str | None = "default",
    limiter: RateLimiter | str | None = "default",
    hooks: tuple[Metrics, ...] = (),
) -> RetryTransport:
    """Return retrykit's `RetryTransport` with the shared policy (its defaults else)."""
    options: dict[str, Any] = {}
    if breaker != "default":
        options["breaker"] = breaker
    if budget != "default":
        options["budget"] = budget
    if limiter != "default":
        options["limiter"] = limiter
    return RetryTransport(
        inner_transport(in_process=in_process), policy=POLICY, hooks=hooks, **options
    )


def httpx_contenders(
    *,
    in_process: bool,
    peers: bool = True,
    breaker: CircuitBreaker | str | None = "default",
    budget: RetryBudget | str | None = "default",
    hooks: tuple[Metrics, ...] = (),
    stamina_retry_after: bool = False,
) -> list[Contender]:
    """Return bare httpx, retrykit's `RetryTransport` and (with ``peers``) its peers."""
    bare = httpx.Client(transport=inner_transport(in_process=in_process))
    ours = httpx.Client(
        transport=retrykit_transport(
            in_process=in_process, breaker=breaker, budget=budget, hooks=hooks
        )
    )
    result = [
        Contender("httpx", client_call(bare), bare.close),
        Contender("retrykit RetryTransport", client_call(ours), ours.close),
    ]
    if peers:
        theirs = httpx.Client(
            transport=httpx_retries.RetryTransport(
                inner_transport(in_process=in_process), retry=httpx_retries_retry()
            )
        )
        for_tenacity = httpx.Client(transport=inner_transport(in_process=in_process))
        for_stamina = httpx.Client(transport=inner_transport(in_process=in_process))
        result += [
            Contender("httpx-retries", client_call(theirs), theirs.close),
            Contender("tenacity", tenacity_call(_client_raising(for_tenacity)), for_tenacity.close),
            Contender("stamina", stamina_call(_client_raising(for_stamina)), for_stamina.close),
        ]
        if stamina_retry_after:
            hooked = httpx.Client(transport=inner_transport(in_process=in_process))
            result.append(
                Contender(
                    "stamina + Retry-After hook",
                    stamina_call(_client_raising(hooked), honour_retry_after=True),
                    hooked.close,
                )
            )
    return result


def _async_client_call(client: httpx.AsyncClient) -> AsyncCall:
    async def call(url: str) -> int:
        return (await client.get(url)).status_code

    return call


def _async_client_raising(client: httpx.AsyncClient) -> Callable[[str], Awaitable[int]]:
    async def call(url: str) -> int:
        response = await client.get(url)
        if response.status_code in STATUSES:
            raise RetryableStatusError(response.status_code, response.headers)
        return response.status_code

    return call


def async_httpx_contenders(*, in_process: bool) -> list[AsyncContender]:
    """Return bare httpx.AsyncClient, `AsyncRetryTransport` and its async peers."""

    def client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport or async_inner_transport(in_process=in_process)
        )

    bare = client()
    ours = client(AsyncRetryTransport(async_inner_transport(in_process=in_process), policy=POLICY))
    theirs = client(
        httpx_retries.RetryTransport(
            async_inner_transport(in_process=in_process), retry=httpx_retries_retry()
        )
    )
    for_tenacity = client()
    for_stamina = client()
    return [
        AsyncContender("httpx async", _async_client_call(bare), bare.aclose),
        AsyncContender("retrykit AsyncRetryTransport", _async_client_call(ours), ours.aclose),
        AsyncContender("httpx-retries", _async_client_call(theirs), theirs.aclose),
        AsyncContender(
            "tenacity",
            tenacity_async_call(_async_client_raising(for_tenacity)),
            for_tenacity.aclose,
        ),
        AsyncContender(
            "stamina", stamina_async_call(_async_client_raising(for_stamina)), for_stamina.aclose
        ),
    ]


def open_pybreaker() -> pybreaker.CircuitBreaker:
    """Return a pybreaker breaker that is open, and stays open for an hour."""
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    breaker.open()
    return breaker


# --- issue 19: retrykit's variants, and the floor ---------------------------------------------


class FloorSteps:
    """The floor of issue 19: only what any retrying layer does around one good attempt.

    `before` takes the URL's origin key and looks its circuit up in a plain dict, without a
    lock (it finds none: a host that never failed needs no circuit), then reads the clock;
    `after` reads the clock again, asks `retrykit.decide` about the answer and builds the
    call's history, one `AttemptRecord` in a `RetryHistory`, as retrykit would attach it.
    No budget, no rate limiter, no hooks, no events: a stand-in for each step, no more.
    """

    __slots__ = ("_circuits",)

    def __init__(self) -> None:
        self._circuits: dict[str, object] = {}

    def before(self, url: str) -> float:
        """Look up ``url``'s circuit; return the monotonic time the attempt starts."""
        if self._circuits.get(origin_key(url)) is not None:
            raise AssertionError("the floor keeps no circuits")
        return time.monotonic()

    def after(
        self, started: float, method: str, status: int, headers: Mapping[str, str]
    ) -> RetryHistory:
        """Decide on the answer; return the call's one-attempt history."""
        duration = time.monotonic() - started
        decision = decide(
            POLICY, attempt=1, method=method, status=status, headers=headers, elapsed=duration
        )
        if decision.retry:
            raise AssertionError("the floor makes one attempt: it is timed on answers of 200")
        record = AttemptRecord(1, status, None, 0.0, duration, decision.reason)
        return RetryHistory((record,), decision.reason, duration)


class FloorTransport(httpx.BaseTransport):
    """`FloorSteps` around an inner httpx transport."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self._steps = FloorSteps()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once through the inner transport; attach its history."""
        steps = self._steps
        started = steps.before(str(request.url))
        response = self._inner.handle_request(request)
        history = steps.after(started, request.method, response.status_code, response.headers)
        response.extensions = {**response.extensions, "retry_history": history}
        return response

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


class AsyncFloorTransport(httpx.AsyncBaseTransport):
    """The async twin of `FloorTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._steps = FloorSteps()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` once through the inner transport; attach its history."""
        steps = self._steps
        started = steps.before(str(request.url))
        response = await self._inner.handle_async_request(request)
        history = steps.after(started, request.method, response.status_code, response.headers)
        response.extensions = {**response.extensions, "retry_history": history}
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


class FloorAdapter(HTTPAdapter):
    """`FloorSteps` around requests' own `HTTPAdapter.send`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._steps = FloorSteps()

    def send(  # noqa: PLR0917 - the signature is HTTPAdapter.send's
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` once; attach its history as ``response.retry_history``."""
        steps = self._steps
        started = steps.before(request.url or "")
        response = super().send(request, stream, timeout, verify, cert, proxies)
        history = steps.after(
            started, request.method or "GET", response.status_code, response.headers
        )
        response.retry_history = history  # type: ignore[attr-defined] # as RetryAdapter does
        return response


def httpx_variants(*, in_process: bool) -> list[Contender]:
    """Return retrykit's `RetryTransport` with everything off and with `Metrics`, and the floor."""
    off = httpx.Client(
        transport=retrykit_transport(in_process=in_process, breaker=None, budget=None, limiter=None)
    )
    metered = httpx.Client(transport=retrykit_transport(in_process=in_process, hooks=(Metrics(),)))
    floor = httpx.Client(transport=FloorTransport(inner_transport(in_process=in_process)))
    return [
        Contender("retrykit RetryTransport, all off", client_call(off), off.close),
        Contender("retrykit RetryTransport + Metrics", client_call(metered), metered.close),
        Contender("floor (stand-ins)", client_call(floor), floor.close),
    ]


def async_httpx_variants(*, in_process: bool) -> list[AsyncContender]:
    """The async twin of `httpx_variants`, for `AsyncRetryTransport`."""

    def client(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport)

    inner = async_inner_transport
    off = client(
        AsyncRetryTransport(
            inner(in_process=in_process), policy=POLICY, breaker=None, budget=None, limiter=None
        )
    )
    metered = client(
        AsyncRetryTransport(inner(in_process=in_process), policy=POLICY, hooks=(Metrics(),))
    )
    floor = client(AsyncFloorTransport(inner(in_process=in_process)))
    return [
        AsyncContender(
            "retrykit AsyncRetryTransport, all off", _async_client_call(off), off.aclose
        ),
        AsyncContender(
            "retrykit AsyncRetryTransport + Metrics", _async_client_call(metered), metered.aclose
        ),
        AsyncContender("floor (stand-ins)", _async_client_call(floor), floor.aclose),
    ]


def requests_variants(*, in_process: bool) -> list[Contender]:
    """Return retrykit's `RetryAdapter` with everything off and with `Metrics`, and the floor."""
    off = _session(
        RetryAdapter(policy=POLICY, breaker=None, budget=None, limiter=None),
        in_process=in_process,
    )
    metered = _session(RetryAdapter(policy=POLICY, hooks=(Metrics(),)), in_process=in_process)
    floor = _session(FloorAdapter(), in_process=in_process)
    return [
        Contender("retrykit RetryAdapter, all off", _session_call(off), off.close),
        Contender("retrykit RetryAdapter + Metrics", _session_call(metered), metered.close),
        Contender("floor (stand-ins)", _session_call(floor), floor.close),
    ]
