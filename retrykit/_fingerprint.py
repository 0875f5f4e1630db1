"""The key of the process's credential fingerprints: configured once, or random.

`retrykit._core._endpoint.key_fingerprint` is keyed (HMAC-SHA256), so that a
fingerprint in a log line is no test of a guessed password. This module holds the key
the driver uses, chosen once per process:

- the value of the environment variable ``RETRYKIT_FINGERPRINT_KEY`` (UTF-8 encoded),
  read once, when retrykit is imported: every process of a deployment that sets the
  same value logs the same fingerprint for the same credential;
- otherwise 32 random bytes, so fingerprints agree within the process only.

`set_fingerprint_key` replaces it at run time (before the first request, ideally: a
call in flight keeps the fingerprint it already computed).
"""

from __future__ import annotations

import os
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from retrykit._core._endpoint import credential_of, fingerprint_of
from retrykit._core._memo import remember

if TYPE_CHECKING:
    from collections.abc import Mapping

FINGERPRINT_KEY_ENV: Final = "RETRYKIT_FINGERPRINT_KEY"
"""The environment variable holding a deployment's fingerprint key."""


def _as_key(value: bytes | str, source: str) -> bytes:
    given: object = value
    if isinstance(given, str):
        given = given.encode("utf-8")
    if not isinstance(given, bytes):
        raise TypeError(f"{source} must be bytes or str, got {type(value).__name__}")
    if not given:
        raise ValueError(f"{source} must not be empty")
    return given


def _initial_key() -> bytes:
    configured = os.environ.get(FINGERPRINT_KEY_ENV)
    if configured:
        return _as_key(configured, FINGERPRINT_KEY_ENV)
    return secrets.token_bytes(32)


_key: bytes = _initial_key()

_REMEMBERED: Final = 256
# Fingerprints by credential: a process uses few credentials, and an HMAC costs more than
# the rest of a call's events. Replaced whole with the key.
_fingerprints: OrderedDict[str, str] = OrderedDict()


def set_fingerprint_key(key: bytes | str | None) -> None:
    """Key every fingerprint this process computes from now on with ``key``.

    ``key`` is bytes, or text (UTF-8 encoded, as the environment variable is); give
    every process of a deployment the same one, a random string of 32 bytes or more,
    kept as secret as the credentials it fingerprints. None draws a new random key.
    Raises TypeError or ValueError (an empty key) naming the parameter.
    """
    global _key, _fingerprints  # noqa: PLW0603 - the one key of the process, replaced whole
    _key = secrets.token_bytes(32) if key is None else _as_key(key, "key")
    _fingerprints = OrderedDict()


def key_fingerprint(headers: Mapping[str, str]) -> str | None:
    """Return the fingerprint of the request's credential under the process's key, or None."""
    credential = credential_of(headers)
    if credential is None:
        return None
    fingerprints = _fingerprints
    fingerprint = fingerprints.get(credential)
    if fingerprint is None:
        fingerprint = remember(
            fingerprints, credential, fingerprint_of(credential, _key), _REMEMBERED
        )
    return fingerprint
