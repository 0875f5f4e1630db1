"""What every adapter takes, checked once when the adapter is built, then resolved.

Both adapters and both httpx transports accept the same retrykit arguments; this module
checks each (a mistake raises TypeError or ValueError naming the parameter, never
later at request time), fills in the defaults and builds the `RetryRunner`.
"""

from __future__ import annotations

import enum
import inspect
import time
from typing import TYPE_CHECKING, Any, Final

from retrykit._clock import Clock, monotonic_of, wall_of
from retrykit._core._endpoint import endpoint_template
from retrykit._core._origin import origin_key
from retrykit._core._policy import RetryPolicy
from retrykit._core._routing import check_fallbacks
from retrykit._driver._call import RetryRunner
from retrykit._state._breaker import CircuitBreaker
from retrykit._state._budget import RetryBudget
from retrykit._state._limiter import AdaptiveThrottle, RateLimiter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from retrykit._driver._trace import Tracer
    from retrykit._observe._events import Hook


class UseDefault(enum.Enum):
    """The type of `DEFAULT`: "a new one with its defaults", where None means "off"."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = UseDefault.DEFAULT
"""The default of ``breaker=``, ``budget=`` and ``limiter=``: a new one per adapter."""


def check_policy(policy: object, parameter: str = "policy") -> RetryPolicy:
    """Return ``policy`` (None gives the default policy) or raise TypeError naming ``parameter``."""
    if policy is None:
        return RetryPolicy()
    if isinstance(policy, RetryPolicy):
        return policy
    hint = ""
    module = type(policy).__module__
    if module.startswith("urllib3"):
        hint = "; convert a urllib3 Retry with RetryPolicy.from_urllib3(retry)"
    elif module.startswith("httpx_retries"):
        hint = "; convert an httpx-retries Retry with RetryPolicy.from_httpx_retries(retry)"
    elif isinstance(policy, (dict, type)):
        hint = "; build one with RetryPolicy(max_attempts=..., ...)"
    raise TypeError(f"{parameter} must be a RetryPolicy or None, got {policy!r}{hint}")


def _check_kind(value: object, parameter: str, accepts: str, *, asynchronous: bool) -> None:
    """Check that ``value`` is a callable of the adapter's kind: async for an async one."""
    if not callable(value):
        raise TypeError(f"{parameter} must be {accepts}, got {value!r}")
    is_async = _is_async(value)
    if asynchronous and not is_async:
        raise TypeError(
            f"{parameter} must be an async function for an async transport, got {value!r}: "
            "a blocking one would stall the event loop"
        )
    if not asynchronous and is_async:
        raise TypeError(f"{parameter} must be a plain function for a sync adapter, got {value!r}")


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


def _instance_hint(value: object) -> str:
    """Return a hint for a class given where one of its instances belongs, else ""."""
    if isinstance(value, type):
        return f" (a class: pass an instance, such as {value.__name__}())"
    return ""


def _check_callable(value: object, parameter: str, accepts: str) -> None:
    if not callable(value):
        raise TypeError(f"{parameter} must be {accepts}, got {value!r}")


def resolve_sleep(
    sleep: Callable[[float], object] | None,
    clock: Callable[[], float] | Clock,
    *,
    asynchronous: bool,
) -> Callable[[float], object]:
    """Return the wait function: ``sleep``, else the clock object's, else the real one."""
    if sleep is None:
        if isinstance(clock, Clock):
            sleep = clock.async_sleep if asynchronous else clock.sleep
        else:
            import anyio  # noqa: PLC0415 - the requests adapter needs no anyio

            sleep = anyio.sleep if asynchronous else time.sleep
    _check_kind(
        sleep,
        "sleep",
        "a function taking seconds (time.sleep; anyio.sleep for async)",
        asynchronous=asynchronous,
    )
    return sleep


def build_runner(
    *,
    policy: RetryPolicy | None,
    breaker: CircuitBreaker | UseDefault | None,
    budget: RetryBudget | UseDefault | None,
    hooks: Sequence[Hook],
    clock: Callable[[], float] | Clock,
    wall_clock: Callable[[], float] | None,
    rand: Callable[[], float],
    key_func: Callable[[str], str] | None,
    endpoint_func: Callable[[str, str], str] | None,
    limiter: RateLimiter | UseDefault | None = None,
    throttle: AdaptiveThrottle | None = None,
    fallbacks: Mapping[str, Sequence[str]] | None = None,
    reconcile: Callable[[Any], object] | None = None,
    tracer: Tracer | None = None,
    asynchronous: bool = False,
) -> RetryRunner:
    """Check every retrykit argument of an adapter and return its `RetryRunner`."""
    if breaker is DEFAULT:
        breaker = CircuitBreaker(clock=clock)
    elif breaker is not None and not isinstance(breaker, CircuitBreaker):
        raise TypeError(
            f"breaker must be a CircuitBreaker, None or DEFAULT, got {breaker!r}"
            f"{_instance_hint(breaker)}"
        )
    if budget is DEFAULT:
        budget = RetryBudget(clock=clock)
    elif budget is not None and not isinstance(budget, RetryBudget):
        raise TypeError(
            f"budget must be a RetryBudget, None or DEFAULT, got {budget!r} "
            "(a share of requests is RetryBudget(ratio=0.2))"
        )
    hooks_value: object = hooks
    if limiter is DEFAULT:
        limiter = RateLimiter(clock=clock, wall_clock=wall_clock)
    elif limiter is not None and not isinstance(limiter, RateLimiter):
        raise TypeError(
            f"limiter must be a RateLimiter, None or DEFAULT, got {limiter!r}"
            f"{_instance_hint(limiter)}"
        )
    if throttle is not None and not isinstance(throttle, AdaptiveThrottle):
        raise TypeError(
            f"throttle must be an AdaptiveThrottle or None, got {throttle!r}"
            f"{_instance_hint(throttle)}"
        )
    if tracer is not None and not callable(getattr(tracer, "call", None)):
        raise TypeError(
            f"tracer must be a tracer such as retrykit.otel.OpenTelemetryTracing(), got {tracer!r}"
        )
    if reconcile is not None:
        _check_kind(reconcile, "reconcile", "a function of the request", asynchronous=asynchronous)
    if isinstance(hooks_value, (str, bytes)) or not isinstance(hooks_value, (list, tuple)):
        raise TypeError(f"hooks must be a list of callables, got {hooks!r}")
    for hook in hooks:
        _check_callable(hook, "hooks", "a list of callables taking an event")
    _check_callable(rand, "rand", "a function returning a float in [0, 1)")
    if key_func is not None:
        _check_callable(key_func, "key_func", "a function of the URL")
    if endpoint_func is not None:
        _check_callable(endpoint_func, "endpoint_func", "a function of the method and URL")
    return RetryRunner(
        policy=check_policy(policy),
        breaker=breaker,
        budget=budget,
        limiter=limiter,
        throttle=throttle,
        fallbacks=check_fallbacks(fallbacks),
        reconcile=reconcile,
        tracer=tracer,
        hooks=tuple(hooks),
        clock=monotonic_of(clock),
        wall_clock=wall_of(clock, wall_clock),
        rand=rand,
        key_func=key_func or origin_key,
        endpoint_func=endpoint_func or endpoint_template,
    )
