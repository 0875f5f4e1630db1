"""retrykit for httpx2, pydantic's fork of httpx: the names of `retrykit.httpx`, for httpx2.

``RetryTransport``, ``AsyncRetryTransport``, ``CircuitOpenError`` and the extension keys
behave exactly as in `retrykit.httpx`, built on ``httpx2``'s classes (a
``CircuitOpenError`` here is an ``httpx2.TransportError``)::

    client = httpx2.Client(transport=RetryTransport(policy=RetryPolicy(max_attempts=4)))

There is one implementation: this module runs retrykit's httpx transport module a second
time with ``httpx2`` in place of ``httpx``; type checkers read ``httpx2.pyi`` beside it,
which gives them the real classes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from types import ModuleType

try:
    import httpx2 as _httpx2  # noqa: F401 - only checks that the extra is installed
except ImportError as _missing:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "retrykit.httpx2 needs httpx2: pip install 'retrykit-http[httpx2]'"
    ) from _missing

__all__ = [
    "ENDPOINT_EXTENSION",
    "HISTORY_EXTENSION",
    "POLICY_EXTENSION",
    "READ_BODY_EXTENSION",
    "AsyncRetryTransport",
    "CircuitOpenError",
    "DeadlineExceededError",
    "RateLimitExceededError",
    "RetryTransport",
]

_MODULE_NAME: Final = "retrykit._adapters._httpx2"


def _load() -> ModuleType:
    """Run ``_adapters/_httpx.py`` as `_MODULE_NAME`, importing ``httpx2`` as its ``httpx``."""
    loaded = sys.modules.get(_MODULE_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(
        _MODULE_NAME, Path(__file__).parent / "_adapters" / "_httpx.py"
    )
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with retrykit
        raise ImportError(f"cannot load {_MODULE_NAME}")
    module = importlib.util.module_from_spec(spec)
    module.HTTPX_MODULE = "httpx2"  # type: ignore[attr-defined]
    sys.modules[_MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return module


_transport = _load()

RetryTransport: Any = _transport.RetryTransport
AsyncRetryTransport: Any = _transport.AsyncRetryTransport
CircuitOpenError: Any = _transport.CircuitOpenError
DeadlineExceededError: Any = _transport.DeadlineExceededError
RateLimitExceededError: Any = _transport.RateLimitExceededError
POLICY_EXTENSION: Final[str] = _transport.POLICY_EXTENSION
READ_BODY_EXTENSION: Final[str] = _transport.READ_BODY_EXTENSION
HISTORY_EXTENSION: Final[str] = _transport.HISTORY_EXTENSION
ENDPOINT_EXTENSION: Final[str] = _transport.ENDPOINT_EXTENSION

for _cls in (
    AsyncRetryTransport,
    CircuitOpenError,
    DeadlineExceededError,
    RateLimitExceededError,
    RetryTransport,
):
    _cls.__module__ = __name__
del _cls
