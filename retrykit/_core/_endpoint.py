"""Endpoint names for metrics and logs, and key fingerprints: bounded, and never a secret."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

_ID_SEGMENT = re.compile(
    r"""
    [0-9]+                                                         # 123
    | [0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}  # UUID
    | [0-9a-fA-F]{16,}                                             # long hex
    | (?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{20,}={0,2}              # base64-like with a digit
    | [a-z]{2,5}_[A-Za-z0-9]{10,}                                  # prefixed ids: cus_4Qp..
    """,
    re.VERBOSE,
)
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")


def endpoint_template(method: str, url: str) -> str:
    """Return ``METHOD host/path-template`` for ``url``, with id-like path segments as ``{id}``.

    Numbers, UUIDs, long hex strings and long base64-like tokens become ``{id}``, so a
    metric keyed by endpoint has as many series as the API has routes, not as it has
    records. The query string and any credentials in the URL are dropped.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return f"{method.upper()} (invalid url)"
    if port is not None:
        host = f"{host}:{port}"
    segments = [
        "{id}" if _ID_SEGMENT.fullmatch(segment) else segment
        for segment in parts.path.split("/")
    ]
    path = "/".join(segments) or "/"
    if not path.startswith("/"):
        path = "/" + path
    return f"{method.upper()} {host}{path}"


def key_fingerprint(headers: Mapping[str, str]) -> str | None:
    """Return the first 8 hex characters of the SHA-256 of the request's credential, or None.

    The credential is read from ``Authorization``, ``X-API-Key`` or ``Api-Key``. The
    fingerprint tells keys apart in logs and metrics without revealing any of them.
    """
    for name in _CREDENTIAL_HEADERS:
        value = headers.get(name)
        if value is None and isinstance(headers, dict):
            value = next((v for k, v in headers.items() if k.lower() == name), None)
        if value:
            return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return None
