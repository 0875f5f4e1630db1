"""retrykit.httpx2: the same transports, built on pydantic's httpx fork ``httpx2``."""

# ruff: noqa: E402 - the imports after importorskip need httpx2

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

httpx2 = pytest.importorskip("httpx2")

import httpx
from typing_extensions import assert_type

import retrykit
import retrykit.httpx2 as rk2
from retrykit import Backoff, CircuitBreaker, Reason, RetryPolicy, get_history
from retrykit.testing import FakeClock, FlakyServer, Reply, Truncated
from tests.scenarios import SCENARIO_NOW, SCENARIOS, Scenario
from tests.test_httpx_transport import FAST, check_history, scenario_transport_args

if TYPE_CHECKING:
    from collections.abc import Iterator

# The second load of retrykit/_adapters/_httpx.py, bound to httpx2.
_impl: Any = importlib.import_module("retrykit._adapters._httpx2")
STUB = Path(rk2.__file__).with_suffix(".pyi")


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with FlakyServer() as flaky:
        yield flaky


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(server: FlakyServer, scenario: Scenario) -> None:
    """Each shared scenario behaves through httpx2.Client as it does through httpx."""
    server.script(scenario.path, scenario.steps)
    clock = FakeClock(wall_start=SCENARIO_NOW)
    transport = rk2.RetryTransport(sleep=clock.sleep, **scenario_transport_args(scenario, clock))
    with httpx2.Client(transport=transport, timeout=scenario.timeout) as client:
        request = client.build_request(
            scenario.method,
            server.url(scenario.path),
            content=scenario.body,
            headers=dict(scenario.headers),
        )
        if scenario.failure is None:
            response = client.send(request)
            assert response.status_code == scenario.status
            history = get_history(response)
        else:
            with pytest.raises(httpx2.TransportError) as info:
                client.send(request)
            assert _impl.failure_kind(info.value) is scenario.failure
            history = get_history(info.value)
    check_history(scenario, server, history, clock)


@pytest.mark.anyio
async def test_async_retries_and_reads_body(server: FlakyServer) -> None:
    """AsyncRetryTransport works with httpx2.AsyncClient, under asyncio and trio."""
    server.script("/a", [Reply(503), Truncated(), Reply(200, body=b"whole")])
    transport = rk2.AsyncRetryTransport(policy=FAST, breaker=None, budget=None, read_body=True)
    async with httpx2.AsyncClient(transport=transport) as client:
        response = await client.get(server.url("/a"))
    assert response.content == b"whole"
    assert response.extensions[rk2.HISTORY_EXTENSION].retries == 2


def test_transports_are_httpx2_transports() -> None:
    """The classes subclass httpx2's base transports, not httpx's."""
    assert issubclass(rk2.RetryTransport, httpx2.BaseTransport)
    assert issubclass(rk2.AsyncRetryTransport, httpx2.AsyncBaseTransport)
    assert not issubclass(rk2.RetryTransport, httpx.BaseTransport)
    transport: Any = rk2.RetryTransport()
    assert isinstance(transport._transport, httpx2.HTTPTransport)


def test_open_circuit_raises_httpx2_transport_error(server: FlakyServer) -> None:
    """An open circuit raises retrykit.httpx2.CircuitOpenError, an httpx2.TransportError."""
    server.script("/down", Reply(503))
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60)
    transport = rk2.RetryTransport(policy=FAST, breaker=breaker, budget=None)
    with httpx2.Client(transport=transport) as client:
        client.get(server.url("/down"))
        with pytest.raises(httpx2.TransportError) as info:
            client.get(server.url("/down"))
    assert isinstance(info.value, rk2.CircuitOpenError)
    assert isinstance(info.value, retrykit.CircuitOpenError)
    # The first call's attempts, then nothing: the failed call opened the circuit.
    assert server.hits("/down") == FAST.max_attempts


def test_circuit_open_error_pickles() -> None:
    """retrykit.httpx2.CircuitOpenError survives pickling with its type, key and wait."""
    data = pickle.dumps(rk2.CircuitOpenError("http://a:80", 2.5))
    error = pickle.loads(data)  # noqa: S301 - our own bytes
    assert type(error) is rk2.CircuitOpenError
    assert (error.key, error.retry_after) == ("http://a:80", 2.5)


def test_policy_extension(server: FlakyServer) -> None:
    """The same extension keys work with httpx2 requests."""
    server.script("/p", Reply(503))
    transport = rk2.RetryTransport(policy=FAST, breaker=None, budget=None)
    with httpx2.Client(transport=transport) as client:
        client.get(server.url("/p"), extensions={rk2.POLICY_EXTENSION: None})
        policy = RetryPolicy(max_attempts=2, backoff=Backoff(base=0.001))
        response = client.get(server.url("/p"), extensions={rk2.POLICY_EXTENSION: policy})
    assert server.hits("/p") == 3
    assert response.extensions[rk2.HISTORY_EXTENSION].reason == Reason.ATTEMPTS_EXHAUSTED


def test_type_checkers_see_the_real_classes() -> None:
    """Users of httpx2 get real types: mypy checks these assert_type calls in CI."""
    transport = rk2.RetryTransport(breaker=None, budget=None)
    assert_type(transport, rk2.RetryTransport)
    assert_type(rk2.AsyncRetryTransport(breaker=None), rk2.AsyncRetryTransport)
    assert_type(rk2.CircuitOpenError("http://a:80", 1.0), rk2.CircuitOpenError)
    assert isinstance(transport, rk2.RetryTransport)


def _stub_functions() -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Return every method of the stub's classes, as ``Class.method``."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions[f"{node.name}.{item.name}"] = item
    return functions


def _stub_parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> list[tuple[str, str, bool]]:
    """Return (name, kind, has a default) for each parameter of a stub function."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    first_default = len(positional) - len(arguments.defaults)
    parameters = [
        (arg.arg, "POSITIONAL_OR_KEYWORD", index >= first_default)
        for index, arg in enumerate(positional)
    ]
    parameters += [
        (arg.arg, "KEYWORD_ONLY", default is not None)
        for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    return parameters


def test_stub_matches_the_implementation() -> None:
    """httpx2.pyi declares each class's methods with the implementation's exact parameters."""
    functions = _stub_functions()
    assert functions
    for qualified, function in functions.items():
        class_name, method_name = qualified.split(".")
        implementation = getattr(getattr(_impl, class_name), method_name)
        expected = [
            (name, parameter.kind.name, parameter.default is not inspect.Parameter.empty)
            for name, parameter in inspect.signature(implementation).parameters.items()
        ]
        assert _stub_parameters(function) == expected, qualified
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    stub_classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    public_classes = {name for name in rk2.__all__ if isinstance(getattr(rk2, name), type)}
    assert stub_classes == public_classes
