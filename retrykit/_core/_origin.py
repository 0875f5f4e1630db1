"""The origin of a URL (RFC 6454): the circuit key, and the one table of default ports."""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from retrykit._core._memo import remember

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
"""The port each scheme uses when a URL names none."""

_cache: OrderedDict[str, str] = OrderedDict()
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
        key = remember(_cache, prefix, _parse_origin(prefix), _CACHE_SIZE)
    return key


def url_without_secrets(url: str) -> str:
    """Return ``url`` without user info, query or fragment: safe to show in a trace or log."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.split("?", 1)[0].split("#", 1)[0]
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def origin_of(scheme: str, host: str, port: int | str | None) -> str:
    """Return the origin key of a URL already split into parts: what `origin_key` gives.

    For an adapter whose client has parsed the URL: no text to make and parse again.
    ``host`` may be an IPv6 address with or without its brackets; ``port`` None is the
    scheme's default.
    """
    scheme = scheme.lower()
    if port is None:
        port = DEFAULT_PORTS.get(scheme, "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host.lower()}:{port}"


def _parse_origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    host, colon, port = authority.rpartition(":")
    if not colon or "]" in port:  # no port: a colon is only inside an IPv6 address
        return origin_of(scheme, authority, None)
    return origin_of(scheme, host, port)
