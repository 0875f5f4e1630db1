"""Endpoint names for metrics and logs, and keyed fingerprints: bounded, and never a secret.

A path segment becomes ``{id}`` when it is data rather than a route name:

- a number, or numbers joined by ``.-_:`` (``123``, ``2024-01-31``, ``1.2.3``);
- a UUID, a hex string of 16 characters or more, or of 7 or more with a digit in it
  (digests, object ids, short git hashes);
- a prefixed id: a lowercase prefix, ``_`` or ``-``, then 8 or more letters and digits
  with a digit or a capital among them (``cus_4QpHjk2LkdIwHu``, ``i-0abc1234def5678``);
- an opaque token of 10 characters or more from the base64url alphabet whose letters and
  digits alternate at least three times (``dQw4w9WgXcQ``, ULIDs, nanoids), or of 16 or
  more with two changes from lower to upper case inside it;
- an e-mail address, or any segment longer than 40 characters.

Route words stay, version names too: ``v1``, ``v2beta1``, ``oauth2``, ``sha256``,
``user-preferences``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

_NUMBER = r"[0-9]+(?:[.:_-][0-9]+)*"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX = r"(?=[a-fA-F]*[0-9])[0-9a-fA-F]{7,}|[0-9a-fA-F]{16,}"
_PREFIXED = r"[a-z]{1,12}(?:_[a-z]{1,12})?[_-](?=[a-z]*[0-9A-Z])[A-Za-z0-9]{8,}"
_EMAIL = r"[^@]+@[^@]+\.[^@]+"
_ID_SEGMENT = re.compile(f"{_NUMBER}|{_UUID}|{_HEX}|{_PREFIXED}|{_EMAIL}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{10,}={0,2}")
_LETTER_DIGIT_CHANGE = re.compile(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")
_LOWER_UPPER_CHANGE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_VERSION = re.compile(r"v[0-9]+(?:[a-z]+[0-9]*)?")
_LONGEST_NAME = 40
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=4096)
def _is_id(segment: str) -> bool:
    """Return True if a path segment is data (an id, a token) rather than a route name."""
    if not segment:
        return False
    if len(segment) > _LONGEST_NAME:
        return True
    if "%" in segment:
        segment = unquote(segment)
    if _ID_SEGMENT.fullmatch(segment):
        return True
    if not _TOKEN.fullmatch(segment) or _VERSION.fullmatch(segment):
        return False
    if len(_LETTER_DIGIT_CHANGE.findall(segment)) >= 3:
        return True
    return len(segment) >= 16 and len(_LOWER_UPPER_CHANGE.findall(segment)) >= 2


def endpoint_template(method: str, url: str) -> str:
    """Return ``METHOD host/path-template`` for ``url``, with id-like path segments as ``{id}``.

    A metric keyed by endpoint then has as many series as the API has routes, not as it
    has records (the rules are in this module's docstring). The host is lower-cased and
    keeps a port other than the scheme's default; the query string, the fragment and any
    user info in the URL are dropped. Never raises: an unreadable URL gives
    ``"METHOD (invalid url)"``.
    """
    method = method.upper()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return f"{method} (invalid url)"
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = "/".join("{id}" if _is_id(segment) else segment for segment in parts.path.split("/"))
    if not path.startswith("/"):
        path = "/" + path
    return f"{method} {host}{path}"


def key_fingerprint(headers: Mapping[str, str], key: bytes) -> str | None:
    """Return the request credential's fingerprint under ``key``: 8 hex characters, or None.

    The fingerprint is the first 8 hex characters of HMAC-SHA256(``key``, credential).
    The credential is read from ``Authorization`` (without its scheme: ``Bearer abc`` and
    ``X-API-Key: abc`` give the same fingerprint), ``X-API-Key`` or ``Api-Key``; None
    when the request carries none. The fingerprint tells keys apart in logs and metrics
    without revealing any of them, and without the key it is no test of a guess: a
    plain hash of a low-entropy secret (a Basic auth password) could be checked against
    a dictionary by anyone who reads the logs. ``key`` is a non-empty byte string: the
    same key gives the same fingerprints in every process (see the README's logging
    section for the deployment-wide one); the core never picks or reads a key itself.
    """
    if not isinstance(key, bytes):
        raise TypeError(f"key must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty: an empty HMAC key is a plain, guessable hash")
    credential = _credential(headers)
    if credential is None:
        return None
    digest = hmac.new(key, credential.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return digest.hexdigest()[:8]


def _credential(headers: Mapping[str, str]) -> str | None:
    """Return the credential a request carries (its token, without a scheme), or None."""
    for name in _CREDENTIAL_HEADERS:
        # Typed as str, but requests lets bytes through: read both, never raise.
        raw: object = headers.get(name)
        if raw is None and isinstance(headers, dict):
            raw = next(
                (v for k, v in headers.items() if isinstance(k, str) and k.lower() == name),
                None,
            )
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        if not isinstance(raw, str) or not raw.strip():
            continue
        credential = raw.strip()
        if name == "authorization":
            scheme, _, token = credential.partition(" ")
            if token.strip() and scheme.isalnum():
                credential = token.strip()
        return credential
    return None
