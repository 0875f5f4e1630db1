"""The origin of a URL (RFC 6454): the circuit key, and the one table of default ports."""

from __future__ import annotations

from typing import Final

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
"""The port each scheme uses when a URL names none."""

_cache: dict[str, str] = {}
_CACHE_SIZE: Final = 1024


def origin_key(url: str) -> str:
    """Return the origin of ``url`` as ``scheme://host:port``, lower-cased, port always shown.

    User info is dropped (``https://user:pw@api.example.com/x`` gives
    ``https://api.example.com:443``), so a key never holds a credential; IPv6 hosts keep
    their brackets. The adapters use it as the default circuit key, and a custom
    ``key_func`` can wrap it (``lambda url: origin_key(url) + "/search"``).
    """
    # Every request needs its key: parse each distinct "scheme://authority" prefix once.
    end = url.find("/", url.find("://") + 3)
    prefix = url if end < 0 else url[:end]
    key = _cache.get(prefix)
    if key is None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        key = _cache[prefix] = _parse_origin(prefix)
    return key


def url_without_secrets(url: str) -> str:
    """Return ``url`` without user info, query or fragment: safe to show in a trace or log."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.split("?", 1)[0].split("#", 1)[0]
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def _parse_origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if not authority.rpartition("]")[2].count(":"):
        port = DEFAULT_PORTS.get(scheme)
        authority = f"{authority}:{'' if port is None else port}"
    return f"{scheme}://{authority.lower()}"
