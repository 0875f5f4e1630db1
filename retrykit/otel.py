"""OpenTelemetry for retrykit: metrics of what only retrykit knows, and a span per attempt.

Needs the ``otel`` extra: ``pip install 'retrykit-http[otel]'``. The HTTP instrumentations
(``opentelemetry-instrumentation-httpx``, ``-requests``) already record each request's
span and ``http.client.request.duration``; retrykit adds what they cannot see, under its
own names, and nests its spans with theirs.

`OpenTelemetryMetrics` is a hook. Instruments, from the meter ``retrykit``:

- ``retrykit.client.attempts`` (histogram, ``{attempt}``): attempts per call, hedged ones
  included (0 for a call refused before anything was sent);
- ``retrykit.client.call.duration`` (histogram, ``s``): each call, every attempt and wait
  included;
- ``retrykit.client.retries`` (counter, ``{retry}``): retries scheduled, by
  ``retrykit.reason`` and ``error.type`` (the outcome that caused each);
- ``retrykit.client.give_ups`` (counter, ``{call}``): calls that did not succeed, by
  ``retrykit.reason`` (``attempts_exhausted``, ``circuit_open``, ``budget_exhausted``...);
- ``retrykit.client.circuit.state`` (gauge, ``1``): 1 for the state each circuit is in and
  0 for the one it left, by ``retrykit.circuit.key`` and ``retrykit.circuit.state``;
  ``retrykit.client.circuit.opens`` (counter, ``{open}``), by ``retrykit.circuit.key``;
  ``retrykit.client.circuit.rejections`` (counter, ``{call}``): calls an open circuit
  refused;
- ``retrykit.client.retry_budget.refusals`` (counter, ``{retry}``): retries the budget
  stopped;
- ``retrykit.client.rate_limit.refusals`` (counter, ``{call}``): calls the rate limiter or
  the adaptive throttle refused, by ``retrykit.reason``;
  ``retrykit.client.rate_limit.wait_time`` (histogram, ``s``): waits for a rate limit,
  before retrying a 429 and the rate limiter's holds before an attempt;
- ``retrykit.client.fallback.attempts`` (counter, ``{attempt}``): attempts sent to a
  fallback origin, and ``retrykit.client.fallback.calls`` (counter, ``{call}``): calls a
  fallback answered, both by ``retrykit.fallback.origin``.

Every instrument about requests carries ``http.request.method`` (``_OTHER`` for a method
outside HTTP's), ``server.address`` and ``server.port`` (443 when the URL named no port on
https, 80 on http), ``url.template`` (the path template) and ``retrykit.endpoint`` (the
whole endpoint name); ``error.type`` is the status as a string for 400 and above, the
`FailureKind` value for no response, and the reason for a call that sent nothing. Values
come from endpoint templates, so none holds an id, a query or a credential; past
``max_endpoints`` endpoints the rest share ``retrykit.endpoint="(other)"`` (with no
``url.template``, and ``server.address`` only for servers seen before the limit), and
past as many circuits the rest share one key.

`OpenTelemetryTracing` is a tracer (pass it as ``tracer=``): one span per call, named
``{method} {url.template}``, and under it one span per attempt, ``attempt {n}``, made
current only while the attempt is sent, so the instrumentation's span for that request
is its child. Both are INTERNAL spans: the CLIENT spans are the instrumentation's, so a
service graph counts each request once. An attempt span carries the request's
attributes, ``http.request.resend_count`` (from the second attempt on),
``retrykit.attempt.number``, ``retrykit.attempt.wait_before`` (seconds waited before it),
``retrykit.attempt.hedged`` and ``retrykit.attempt.origin`` (a fallback's) when they apply,
``http.response.status_code`` or ``error.type`` (the status for 400 and above, else the
exception's class name as the instrumentations spell it, such as ``ConnectError``), and
the decision: ``retrykit.decision.retry``, ``retrykit.decision.reason`` and, for a retry,
``retrykit.decision.delay``. The call span carries ``retrykit.call.reason``,
``retrykit.call.attempts``, the final status and ``error.type``. A span with an
``error.type`` has the status ERROR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace as otel_trace
except ImportError as _missing:  # pragma: no cover - tested by hiding the module
    raise ImportError(
        "retrykit.otel needs opentelemetry-api: pip install 'retrykit-http[otel]'"
    ) from _missing

import retrykit
from retrykit._core._breaker import BreakerState
from retrykit._core._decide import Reason
from retrykit._core._origin import DEFAULT_PORTS
from retrykit._observe._events import (
    BudgetExhausted,
    CallFinished,
    CallRejected,
    CircuitStateChanged,
    FallbackUsed,
    RateLimitWaited,
    RetryScheduled,
)
from retrykit._observe._metrics import DURATION_BUCKETS
from retrykit._observe._names import OTHER, BoundedNames, endpoint_parts, method_label

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from retrykit._core._policy import FailureKind
    from retrykit._driver._trace import CallTrace
    from retrykit._observe._events import Event

__all__ = ["OpenTelemetryMetrics", "OpenTelemetryTracing"]

ATTEMPT_BUCKETS: Final = (0, 1, 2, 3, 4, 5, 6, 8, 10, 16)
"""Histogram bucket boundaries for attempts per call."""
WAIT_BUCKETS: Final = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
"""Histogram bucket boundaries (seconds) for waits, up to twice the default longest wait."""
_REFUSALS: Final = frozenset({Reason.RATE_LIMITED, Reason.THROTTLED})
_STATUS_ERROR: Final = otel_trace.Status(otel_trace.StatusCode.ERROR)

Attributes = dict[str, str | int | float | bool]


def _error_type(
    status: int | None, failure: FailureKind | None, reason: str | None = None
) -> str | None:
    """Return ``error.type``: a status from 400, the failure, else a reason but success."""
    if status is not None:
        return str(status) if status >= 400 else None
    if failure is not None:
        return failure.value
    return str(reason) if reason is not None and reason != Reason.SUCCESS else None


class OpenTelemetryMetrics:
    """A hook recording retrykit events on OpenTelemetry instruments (see the module doc).

    ``meter_provider`` defaults to the global one (``opentelemetry.metrics``); instruments
    are created once, here. The first ``max_endpoints`` endpoints are kept apart, every
    later one shares ``retrykit.endpoint="(other)"``. Safe to call from many threads, as
    OTel instruments are.
    """

    def __init__(
        self,
        meter_provider: otel_metrics.MeterProvider | None = None,
        *,
        max_endpoints: int = 1000,
    ) -> None:
        self._endpoints = BoundedNames(max_endpoints)
        self._servers = BoundedNames(max_endpoints)  # at most one per named endpoint
        self._circuits = BoundedNames(max_endpoints)
        provider = meter_provider or otel_metrics.get_meter_provider()
        if not callable(getattr(provider, "get_meter", None)):
            raise TypeError(
                "meter_provider must be an OpenTelemetry MeterProvider (with get_meter) or "
                f"None for the global one, got {meter_provider!r}"
            )
        meter = provider.get_meter("retrykit", retrykit.__version__)
        self._attempts = meter.create_histogram(
            "retrykit.client.attempts",
            unit="{attempt}",
            description="Attempts per call, hedged ones included.",
            explicit_bucket_boundaries_advisory=ATTEMPT_BUCKETS,
        )
        self._call_duration = meter.create_histogram(
            "retrykit.client.call.duration",
            unit="s",
            description="Duration of calls through retrykit, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._retries = meter.create_counter(
            "retrykit.client.retries", unit="{retry}", description="Retries scheduled."
        )
        self._give_ups = meter.create_counter(
            "retrykit.client.give_ups", unit="{call}", description="Calls that did not succeed."
        )
        self._circuit_state = meter.create_gauge(
            "retrykit.client.circuit.state",
            unit="1",
            description="1 for the state a circuit is in, 0 for the state it left.",
        )
        self._circuit_opens = meter.create_counter(
            "retrykit.client.circuit.opens", unit="{open}", description="Circuits that opened."
        )
        self._rejections = meter.create_counter(
            "retrykit.client.circuit.rejections",
            unit="{call}",
            description="Calls an open circuit refused, without sending them.",
        )
        self._budget_refusals = meter.create_counter(
            "retrykit.client.retry_budget.refusals",
            unit="{retry}",
            description="Retries the retry budget stopped.",
        )
        self._rate_limit_refusals = meter.create_counter(
            "retrykit.client.rate_limit.refusals",
            unit="{call}",
            description="Calls the rate limiter or the adaptive throttle refused.",
        )
        self._rate_limit_wait = meter.create_histogram(
            "retrykit.client.rate_limit.wait_time",
            unit="s",
            description="Waits for a rate limit: before retrying a 429, and the limiter's holds.",
            explicit_bucket_boundaries_advisory=WAIT_BUCKETS,
        )
        self._fallback_attempts = meter.create_counter(
            "retrykit.client.fallback.attempts",
            unit="{attempt}",
            description="Attempts sent to a fallback origin.",
        )
        self._fallback_calls = meter.create_counter(
            "retrykit.client.fallback.calls",
            unit="{call}",
            description="Calls whose answer came from a fallback origin.",
        )
        self._handlers: dict[type, Callable[[Any], None]] = {
            CallFinished: self._call_finished,
            RetryScheduled: self._retry_scheduled,
            RateLimitWaited: self._rate_limit_waited,
            CallRejected: self._call_rejected,
            BudgetExhausted: self._budget_exhausted,
            CircuitStateChanged: self._circuit_changed,
            FallbackUsed: self._fallback_used,
        }

    def __call__(self, event: Event) -> None:
        """Record ``event``; events without an instrument (`AttemptFinished`) are ignored."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _attributes(self, method: str, endpoint: str) -> Attributes:
        """Return the request attributes of an endpoint, bounded (see the module doc)."""
        parts = endpoint_parts(method, endpoint)
        name = self._endpoints(endpoint)
        attributes: Attributes = {"http.request.method": method_label(method)}
        if parts.address is not None and parts.port is not None:
            # Past the limit, only a server some named endpoint is on keeps its name.
            server = f"{parts.address}:{parts.port}"
            if name != OTHER:
                self._servers(server)
            if name != OTHER or server in self._servers:
                attributes["server.address"] = parts.address
                attributes["server.port"] = parts.port
        if name != OTHER and parts.template is not None:
            attributes["url.template"] = parts.template
        attributes["retrykit.endpoint"] = name
        return attributes

    def _call_finished(self, event: CallFinished) -> None:
        attributes = self._attributes(event.method, event.endpoint)
        outcome = dict(attributes)
        if not event.succeeded:
            error = _error_type(event.status, event.failure, event.reason)
            if error is not None:
                outcome["error.type"] = error
        self._attempts.record(event.attempts, outcome)
        self._call_duration.record(event.total_time, outcome)
        if not event.succeeded:
            outcome["retrykit.reason"] = str(event.reason)
            self._give_ups.add(1, outcome)
            if event.reason in _REFUSALS:
                self._rate_limit_refusals.add(
                    1, {**attributes, "retrykit.reason": str(event.reason)}
                )
        if event.fallback and event.origin is not None:
            self._fallback_calls.add(1, {**attributes, "retrykit.fallback.origin": event.origin})

    def first_success(self, method: str, endpoint: str, status: int, duration: float) -> None:
        """Record a call that succeeded on its first attempt, as its `CallFinished` would.

        The driver calls this instead of building the call's events when every hook
        offers it (see `retrykit.FirstSuccess`).
        """
        attributes = self._attributes(method, endpoint)
        self._attempts.record(1, attributes)
        self._call_duration.record(duration, attributes)

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        attributes = self._attributes(event.method, event.endpoint)
        cause = dict(attributes, **{"retrykit.reason": str(event.reason)})
        error = _error_type(event.status, event.failure)
        if error is not None:
            cause["error.type"] = error
        self._retries.add(1, cause)
        if event.status == 429:
            self._rate_limit_wait.record(event.delay, attributes)

    def _rate_limit_waited(self, event: RateLimitWaited) -> None:
        self._rate_limit_wait.record(event.wait, self._attributes(event.method, event.endpoint))

    def _call_rejected(self, event: CallRejected) -> None:
        attributes = self._attributes(event.method, event.endpoint)
        attributes["retrykit.circuit.key"] = self._circuits(event.key)
        self._rejections.add(1, attributes)

    def _budget_exhausted(self, event: BudgetExhausted) -> None:
        self._budget_refusals.add(1, self._attributes(event.method, event.endpoint))

    def _fallback_used(self, event: FallbackUsed) -> None:
        attributes = self._attributes(event.method, event.endpoint)
        attributes["retrykit.fallback.origin"] = event.origin
        self._fallback_attempts.add(1, attributes)

    def _circuit_changed(self, event: CircuitStateChanged) -> None:
        key = self._circuits(event.key)
        if event.new is BreakerState.OPEN:
            self._circuit_opens.add(1, {"retrykit.circuit.key": key})
        if key == OTHER:
            return  # the state of "all the other circuits" means nothing
        for state, value in ((event.old, 0), (event.new, 1)):
            self._circuit_state.set(
                value, {"retrykit.circuit.key": key, "retrykit.circuit.state": state.value}
            )


def _server(url: str) -> Attributes:
    """Return ``server.address`` and ``server.port`` of a URL or origin (the default port)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme.lower())
    attributes: Attributes = {"server.address": host}
    if port is not None:
        attributes["server.port"] = port
    return attributes


class _Sending:
    """The context an attempt is sent in: its span current, the exception's name noted."""

    __slots__ = ("_attempt", "_token")

    def __init__(self, attempt: _AttemptSpan) -> None:
        self._attempt = attempt
        self._token: object = None

    def __enter__(self) -> otel_trace.Span:
        span = self._attempt.span
        self._token = otel_context.attach(otel_trace.set_span_in_context(span))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        # Only errors are named: not a cancellation, nor a generator being closed.
        if exc_type is not None and issubclass(exc_type, Exception):
            self._attempt.exception = exc_type.__qualname__


class _AttemptSpan:
    """One attempt's span (an `AttemptTrace`)."""

    __slots__ = ("_call", "exception", "span")

    def __init__(self, call: _CallSpan, span: otel_trace.Span) -> None:
        self._call = call
        self.span = span
        self.exception: str | None = None

    def sending(self) -> _Sending:
        """Return the context to send the attempt in: its span is the current one there."""
        return _Sending(self)

    def end(
        self,
        *,
        status: int | None,
        failure: FailureKind | None,
        reason: str,
        delay: float | None,
    ) -> None:
        """End the span with the attempt's outcome and the decision taken after it."""
        span = self.span
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        error = _error_type(status, failure)
        if failure is not None and self.exception is not None:
            error = self.exception
        span.set_attribute("retrykit.decision.retry", delay is not None)
        span.set_attribute("retrykit.decision.reason", str(reason))
        if delay is not None:
            span.set_attribute("retrykit.decision.delay", delay)
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(_STATUS_ERROR)
        self._call.last_error = error
        span.end()


class _CallSpan:
    """One call's span (a `CallTrace`): the parent of its attempts' spans."""

    __slots__ = ("_attempts", "_ended", "_request", "_tracer", "last_error", "span")

    def __init__(self, tracer: otel_trace.Tracer, method: str, url: str, endpoint: str) -> None:
        self._tracer = tracer
        parts = endpoint_parts(method, endpoint)
        request: Attributes = {"http.request.method": method_label(method), **_server(url)}
        attributes: Attributes = {**request, "url.full": url, "retrykit.endpoint": endpoint}
        if parts.template is not None:
            attributes["url.template"] = parts.template
            name = f"{method} {parts.template}"
        else:
            name = endpoint if endpoint.startswith(f"{method} ") else f"{method} {endpoint}"
        self._request = request
        self._attempts = 0
        self._ended = False
        self.last_error: str | None = None
        self.span = tracer.start_span(name, attributes=attributes)

    def attempt(
        self, number: int, *, wait_before: float, hedged: bool, origin: str | None
    ) -> _AttemptSpan:
        """Open attempt ``number``'s span, a child of the call's."""
        self._attempts += 1
        attributes: Attributes = dict(self._request)
        attributes["retrykit.attempt.number"] = number
        attributes["retrykit.attempt.wait_before"] = wait_before
        if number > 1:
            attributes["http.request.resend_count"] = number - 1
        if hedged:
            attributes["retrykit.attempt.hedged"] = True
        if origin is not None:
            attributes.update(_server(origin))
            attributes["retrykit.attempt.origin"] = origin
        span = self._tracer.start_span(
            f"attempt {number}",
            context=otel_trace.set_span_in_context(self.span),
            attributes=attributes,
        )
        return _AttemptSpan(self, span)

    def end(self, *, reason: str, status: int | None, failure: FailureKind | None) -> None:
        """End the call's span with its outcome (once)."""
        if self._ended:
            return
        self._ended = True
        span = self.span
        span.set_attribute("retrykit.call.reason", str(reason))
        span.set_attribute("retrykit.call.attempts", self._attempts)
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        error = _error_type(status, failure, reason)
        if failure is not None and status is None and self.last_error is not None:
            error = self.last_error
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(_STATUS_ERROR)
        span.end()


class OpenTelemetryTracing:
    """A tracer (pass it as ``tracer=``): a span per call and per attempt (see the module doc).

    ``tracer_provider`` defaults to the global one (``opentelemetry.trace``), looked up
    through the API's proxy, so a provider set after this is built is still used.
    """

    def __init__(self, tracer_provider: otel_trace.TracerProvider | None = None) -> None:
        self._tracer = otel_trace.get_tracer("retrykit", retrykit.__version__, tracer_provider)

    def call(self, method: str, url: str, endpoint: str) -> CallTrace:
        """Open the span of a call, a child of the current span (the caller's)."""
        return _CallSpan(self._tracer, method, url, endpoint)
