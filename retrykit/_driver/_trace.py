"""Tracing: what the driver tells a tracer about a call and its attempts (spans, for OTel).

A `Tracer` (such as `retrykit.otel.OpenTelemetryTracing`) is given to an adapter as
``tracer=``. For each call the driver opens a `CallTrace`; for each attempt an
`AttemptTrace`, made current around the send (so spans the client's own instrumentation
opens for that attempt are its children) and ended once the attempt's decision is known.
Without a tracer none of this runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from retrykit._core._policy import FailureKind


class AttemptTrace(Protocol):
    """One attempt's span: current while the attempt is sent, ended with its outcome."""

    def sending(self) -> AbstractContextManager[object]:
        """Return a context in which the attempt is sent (its span is the current one)."""
        ...  # pragma: no cover - a protocol

    def end(
        self,
        *,
        status: int | None,
        failure: FailureKind | None,
        reason: str,
        delay: float | None,
    ) -> None:
        """End the span: the attempt's status or failure, the decision and its wait."""
        ...  # pragma: no cover - a protocol


class CallTrace(Protocol):
    """One call's span, the parent of its attempts' spans."""

    def attempt(
        self, number: int, *, wait_before: float, hedged: bool, origin: str | None
    ) -> AttemptTrace:
        """Open the span of attempt ``number`` (1 for the first; resends count from 1 after)."""
        ...  # pragma: no cover - a protocol

    def end(self, *, reason: str, status: int | None, failure: FailureKind | None) -> None:
        """End the call's span with its outcome."""
        ...  # pragma: no cover - a protocol


class Tracer(Protocol):
    """Opens a `CallTrace` per call."""

    def call(self, method: str, url: str, endpoint: str) -> CallTrace:
        """Open the span of a call (``url`` without user info; ``endpoint`` its template)."""
        ...  # pragma: no cover - a protocol
