"""Where the fleet's state lives: every key under ``retrykit:{<namespace>...}``.

- A circuit has three keys sharing one hash tag, ``{<namespace>|<circuit>}``, so they
  sit in one Redis Cluster slot and one script may touch them all: ``...:state`` (a
  hash), ``...:reporters`` and ``...:leases`` (sorted sets).
- The budget's reserve is ``retrykit:{<namespace>}:reserve``; the index of open circuits,
  ``retrykit:{<namespace>}:open``; the records of kind K for a key, a hash of every
  member's record and a sorted set of their expiries under one hash tag,
  ``retrykit:{<namespace>|K|<key>}:records`` and ``...:expiries``; the processes on the
  records of kind K, ``retrykit:{<namespace>|K}:present`` and ``...:present-expiries``.

A circuit key is used as it is when it is short printable ASCII with no braces, no
``@`` and no whitespace (the adapters' origins, ``https://host:443``, always are); any
other key is replaced by a hash of it, so no credential a custom ``key_func`` might put
in a key reaches Redis.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

PREFIX: Final = "retrykit"
MAX_NAMESPACE: Final = 64
MAX_READABLE: Final = 200

_NAMESPACE: Final = re.compile(r"[A-Za-z0-9._:/-]+")
_READABLE: Final = re.compile(r"[!-~]+")
_KIND: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")


def check_namespace(value: object) -> str:
    """Return ``value`` if it is a valid namespace; raise TypeError or ValueError naming it."""
    if not isinstance(value, str):
        raise TypeError(f"namespace must be a str, got {value!r}")
    if not value or len(value) > MAX_NAMESPACE or not _NAMESPACE.fullmatch(value):
        raise ValueError(
            f"namespace must be 1 to {MAX_NAMESPACE} letters, digits or ._:/- "
            f"(it names one API's shared state, such as 'billing-api'), got {value!r}"
        )
    return value


def check_kind(value: object) -> str:
    """Return ``value`` if it is a valid record kind; raise TypeError or ValueError naming it."""
    if not isinstance(value, str):
        raise TypeError(f"kind must be a str, got {value!r}")
    if not _KIND.fullmatch(value):
        raise ValueError(f"kind must be 1 to 32 letters, digits, _ or -, got {value!r}")
    return value


def readable(key: str) -> bool:
    """Return True if ``key`` may appear in a Redis key name as it is."""
    return (
        len(key) <= MAX_READABLE
        and _READABLE.fullmatch(key) is not None
        and not any(char in key for char in "{}@")
    )


def name_of(key: str) -> str:
    """Return ``key`` itself when `readable`, else ``#`` and 32 hex digits of its SHA-256."""
    if readable(key):
        return key
    return "#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def circuit_keys(namespace: str, key: str) -> tuple[str, str, str]:
    """Return the state, reporters and leases keys of circuit ``key``, in one hash slot."""
    base = f"{PREFIX}:{{{namespace}|{name_of(key)}}}"
    return f"{base}:state", f"{base}:reporters", f"{base}:leases"


def reserve_key(namespace: str) -> str:
    """Return the key of the namespace's shared retry reserve."""
    return f"{PREFIX}:{{{namespace}}}:reserve"


def index_key(namespace: str) -> str:
    """Return the key of the namespace's index of open circuits."""
    return f"{PREFIX}:{{{namespace}}}:open"


def presence_keys(namespace: str, kind: str) -> tuple[str, str]:
    """Return the keys announcing the processes on the records of ``kind``, in one hash slot."""
    base = f"{PREFIX}:{{{namespace}|{kind}}}"
    return f"{base}:present", f"{base}:present-expiries"


def record_keys(namespace: str, kind: str, key: str) -> tuple[str, str]:
    """Return the records and expiries keys of ``kind`` for ``key``, in one hash slot."""
    base = f"{PREFIX}:{{{namespace}|{kind}|{name_of(key)}}}"
    return f"{base}:records", f"{base}:expiries"
