"""Key fingerprints are keyed: no test of a guessed password, the same across a deployment."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import httpx
import pytest

import retrykit._fingerprint
from retrykit import Event, key_fingerprint
from retrykit._fingerprint import FINGERPRINT_KEY_ENV, set_fingerprint_key
from retrykit.httpx import RetryTransport
from retrykit.testing import FakeClock, ScriptedTransport

if TYPE_CHECKING:
    from collections.abc import Iterator

USER, PASSWORD = "alice", "hunter2"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

# One call through RetryTransport with Basic auth, a 503 then a 200; prints the
# fingerprints its events carried.
_CALL = """
import json
import httpx
from retrykit.httpx import RetryTransport
from retrykit.testing import FakeClock, ScriptedTransport

events = []
transport = RetryTransport(
    ScriptedTransport([503, 200]), hooks=[events.append], clock=FakeClock(), breaker=None
)
with httpx.Client(transport=transport) as client:
    client.get("https://api.example.com/v1/me", auth=("alice", "hunter2"))
print(json.dumps(sorted({e.key_fingerprint for e in events if hasattr(e, "key_fingerprint")})))
"""


def _sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _fingerprints_in_a_new_process(key: str | None) -> list[str]:
    env = {name: value for name, value in os.environ.items() if name != FINGERPRINT_KEY_ENV}
    if key is not None:
        env[FINGERPRINT_KEY_ENV] = key
    result = subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", textwrap.dedent(_CALL)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    fingerprints: list[str] = json.loads(result.stdout)
    return fingerprints


@pytest.fixture
def restore_key() -> Iterator[None]:
    """Put the process's fingerprint key back after a test that replaces it."""
    saved = retrykit._fingerprint._key
    yield
    retrykit._fingerprint._key = saved


def _call_fingerprints(**auth: str) -> set[str | None]:
    events: list[Event] = []
    transport = RetryTransport(
        ScriptedTransport([503, 200]), hooks=[events.append], clock=FakeClock(), breaker=None
    )
    with httpx.Client(transport=transport) as client:
        client.get("https://api.example.com/v1/me", auth=(auth["user"], auth["password"]))
    return {getattr(event, "key_fingerprint", None) for event in events} - {None}


def test_processes_with_the_same_configured_key_agree() -> None:
    """Two processes given one RETRYKIT_FINGERPRINT_KEY log one fingerprint for a credential."""
    first = _fingerprints_in_a_new_process("s3cret deployment key, 32 bytes+")
    second = _fingerprints_in_a_new_process("s3cret deployment key, 32 bytes+")
    assert len(first) == 1
    assert first == second


def test_processes_without_a_configured_key_disagree() -> None:
    """Without the variable each process draws its own key: its fingerprints are its own."""
    first = _fingerprints_in_a_new_process(None)
    second = _fingerprints_in_a_new_process(None)
    assert len(first) == len(second) == 1
    assert first != second


def test_an_empty_variable_counts_as_unset() -> None:
    """RETRYKIT_FINGERPRINT_KEY="" is no key at all: a random one, not an empty HMAC key."""
    assert _fingerprints_in_a_new_process("") != _fingerprints_in_a_new_process("")


def test_the_configured_key_gives_the_documented_fingerprint() -> None:
    """With the key, a deployment can compute the fingerprint it will see in its logs."""
    key = "s3cret deployment key, 32 bytes+"
    expected = key_fingerprint({"Authorization": f"Basic {BASIC}"}, key.encode())
    assert _fingerprints_in_a_new_process(key) == [expected]


def test_a_fingerprint_is_never_the_plain_hash_of_the_credential() -> None:
    """Neither sha256(base64(user:pass))[:8] nor sha256(user:pass)[:8]: no guess can be checked."""
    [fingerprint] = _call_fingerprints(user=USER, password=PASSWORD)
    assert fingerprint not in {_sha8(BASIC), _sha8(f"{USER}:{PASSWORD}"), _sha8(PASSWORD)}


def test_a_dictionary_of_guesses_finds_nothing() -> None:
    """Hashing guessed passwords the way an unkeyed fingerprint would never hits the log's."""
    [fingerprint] = _call_fingerprints(user=USER, password=PASSWORD)
    guesses = ["123456", "password", "hunter1", PASSWORD, "letmein"]
    hashed = {_sha8(base64.b64encode(f"{USER}:{guess}".encode()).decode()) for guess in guesses}
    assert fingerprint not in hashed


def test_set_fingerprint_key_keys_every_later_call(restore_key: None) -> None:
    """set_fingerprint_key(key) makes the driver's fingerprints those of that key."""
    set_fingerprint_key("one deployment key")
    expected = key_fingerprint({"Authorization": f"Basic {BASIC}"}, b"one deployment key")
    assert _call_fingerprints(user=USER, password=PASSWORD) == {expected}
    set_fingerprint_key(b"another key")
    assert _call_fingerprints(user=USER, password=PASSWORD) != {expected}


def test_set_fingerprint_key_none_draws_a_new_random_key(restore_key: None) -> None:
    """None replaces the key with fresh random bytes: earlier fingerprints no longer match."""
    before = _call_fingerprints(user=USER, password=PASSWORD)
    set_fingerprint_key(None)
    assert _call_fingerprints(user=USER, password=PASSWORD) != before


@pytest.mark.parametrize(
    ("key", "error"),
    [("", ValueError), (b"", ValueError), (42, TypeError), (["k"], TypeError)],
)
def test_set_fingerprint_key_refuses_what_is_no_key(
    restore_key: None, key: object, error: type[Exception]
) -> None:
    """An empty key or one that is not bytes or text is refused, naming the parameter."""
    with pytest.raises(error, match="key"):
        set_fingerprint_key(key)  # type: ignore[arg-type]


@pytest.mark.parametrize(("key", "error"), [(b"", ValueError), ("text", TypeError)])
def test_the_core_refuses_an_empty_or_text_key(key: object, error: type[Exception]) -> None:
    """The core function takes the key as bytes; an empty one would be a plain hash."""
    with pytest.raises(error, match="key"):
        key_fingerprint({"Authorization": "Bearer abc"}, key)  # type: ignore[arg-type]


def test_different_keys_give_different_fingerprints() -> None:
    """The same credential under two keys gives two unrelated fingerprints."""
    headers = {"X-API-Key": "k-123"}
    assert key_fingerprint(headers, b"key one") != key_fingerprint(headers, b"key two")
