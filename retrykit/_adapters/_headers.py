"""Header views the driver reads many names from: one pass, then a dict lookup per name.

The core reads a response's headers by lower-case name, a dozen times for a call that
someone observes (request ids, rate-limit fields, Retry-After, a credential's
fingerprint). httpx's `Headers.get` scans and decodes every header on each lookup, and
requests' `CaseInsensitiveDict.get` raises and catches a KeyError for each name it
lacks; these views answer from a dict instead. Both are read-only `Mapping`s whose
lookups are case-insensitive, as the clients' own are.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

_LOWER_NAME: Final = operator.itemgetter(1)


def header_names(headers: Any) -> Iterable[bytes] | Iterable[str]:
    """Return the lower-case name of each header (bytes or str), reading the clients' own.

    httpx's ``Headers`` keeps (raw, lower, value) triples, requests' ``CaseInsensitiveDict``
    a dict by lower-case name; any other mapping's names are lowered here. Read in C, with
    no frame per name: this runs on every successful answer.
    """
    pairs = getattr(headers, "_list", None)
    if pairs is not None:
        return map(_LOWER_NAME, pairs)
    store = getattr(headers, "_store", None)
    if isinstance(store, dict):
        return store.keys()
    return [name.lower() for name in headers]


class HttpxHeaders(Mapping[str, str]):
    """A view of an ``httpx.Headers``: indexed by lower-case name on the first lookup.

    The index keeps httpx's own bytes and decodes a value only when it is asked for (with
    the encoding httpx would use). Repeated headers are joined with ``", "``, as
    ``httpx.Headers.get`` joins them.
    """

    __slots__ = ("_headers", "_index")

    def __init__(self, headers: Any) -> None:
        self._headers = headers
        self._index: dict[bytes, bytes] | None = None

    def _built(self) -> dict[bytes, bytes]:
        pairs = getattr(self._headers, "_list", None)  # httpx keeps (raw, lower, value)
        if pairs is None:
            pairs = [
                (b"", name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in self._headers.items()
            ]
        index = {name: value for _, name, value in pairs}
        if len(index) != len(pairs):  # a repeated header: join its values, as httpx does
            index = {}
            for _, name, value in pairs:
                known = index.get(name)
                index[name] = value if known is None else known + b", " + value
        self._index = index
        return index

    def _decoded(self, value: bytes) -> str:
        encoding = getattr(self._headers, "encoding", "latin-1")
        return value.decode(encoding if isinstance(encoding, str) else "latin-1")

    def get(self, key: str, default: Any = None) -> Any:
        index = self._index
        if index is None:
            index = self._built()
        value = index.get(key.lower().encode("latin-1", "replace"))
        return default if value is None else self._decoded(value)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        index = self._index if self._index is not None else self._built()
        return isinstance(key, str) and key.lower().encode("latin-1", "replace") in index

    def __iter__(self) -> Iterator[str]:
        index = self._index if self._index is not None else self._built()
        return (self._decoded(name) for name in index)

    def __len__(self) -> int:
        return len(self._index if self._index is not None else self._built())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._headers!r})"


class RequestsHeaders(Mapping[str, str]):
    """A view of a requests ``CaseInsensitiveDict``: its own lower-case store, read directly."""

    __slots__ = ("_headers", "_store")

    def __init__(self, headers: Any) -> None:
        self._headers = headers
        store = getattr(headers, "_store", None)
        if not isinstance(store, dict):
            store = {str(name).lower(): (name, value) for name, value in headers.items()}
        self._store: dict[str, tuple[str, str]] = store

    def get(self, key: str, default: Any = None) -> Any:
        item = self._store.get(key.lower())
        return default if item is None else item[1]

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._headers!r})"
