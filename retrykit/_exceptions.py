"""The root of retrykit's exceptions, and the error an open circuit raises."""

from __future__ import annotations


class RetrykitError(Exception):
    """Base class of every exception retrykit raises."""


class CircuitOpenError(RetrykitError):
    """A call was rejected, without any network I/O, because its circuit is open.

    ``key`` names the circuit (for the adapters, the origin ``scheme://host:port``);
    ``retry_after`` is the number of seconds until the circuit lets a probe through.
    The adapters raise subclasses that are also the client's own transport error.
    """

    def __init__(self, key: str, retry_after: float) -> None:
        self.key = key
        self.retry_after = retry_after
        super().__init__(f"circuit for {key} is open; next probe allowed in {retry_after:.2f}s")

    def __reduce__(self) -> tuple[type[CircuitOpenError], tuple[str, float]]:
        return (type(self), (self.key, self.retry_after))
