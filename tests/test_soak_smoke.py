"""benchmarks/soak.py: a two-second run holds every figure at 0, and its ledger counts right."""

from __future__ import annotations

import importlib.util
import logging
import pathlib
import re
import sys
from typing import TYPE_CHECKING

import pytest

from retrykit.testing import Garbage, Hang, ReceivedRequest, Reply, Reset, StalledBody, Step

if TYPE_CHECKING:
    import types

SOAK = pathlib.Path(__file__).parent.parent / "benchmarks" / "soak.py"


@pytest.fixture(scope="module")
def soak() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("retrykit_soak", SOAK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # attrs resolves the module's classes through sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The trio workers stop reading drained streams early: httpx's async generators warn (see
# tests/test_faults.py, _TRIO_PARTIAL_READ).
@pytest.mark.filterwarnings("ignore:Async generator .* was garbage collected:ResourceWarning")
def test_a_short_soak_holds(
    soak: types.ModuleType,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """main(seconds=2): no write applied twice, no hang, no leaked connection; exit 0."""
    # urllib3 logs a cut head's HeaderParsingError with its traceback; pytest keeps the
    # record, the traceback keeps the pool, and the pool its sockets: keep none of it.
    caplog.set_level(logging.ERROR, logger="urllib3")
    assert soak.main(seconds=2, threads=8) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Soak: 8 threads, 2 s, every fault")
    for figure in ("| duplicates applied | 0 | 0 |", "| connections leaked | 0 | 0 |"):
        assert figure in out
    assert "hangs past the deadline (2 s + 0.5 s) | 0 | 0 |" in out
    for kind in ("requests", "httpx", "asyncio", "trio"):
        # Every client got answers through (none stuck failing at once, call after call).
        row = re.search(rf"^\| {kind} \| (\d+) \| (\d+) \|", out, flags=re.MULTILINE)
        assert row is not None, kind
        calls, successes = int(row[1]), int(row[2])
        assert 0 < successes <= calls < 10_000, (kind, calls, successes)


def _post(write: str, step: Step, key: str | None = None) -> ReceivedRequest:
    headers = [("X-Write-Id", write)]
    if key is not None:
        headers.append(("Idempotency-Key", key))
    return ReceivedRequest("POST", "/w", tuple(headers), b"{}", 0.0, 0, step=step)


def test_the_ledger_counts_a_write_applied_twice(soak: types.ModuleType) -> None:
    """An unkeyed POST applied, then applied again: one duplicate."""
    books = soak.ledger([_post("w1", Reset()), _post("w1", Reply(201))])
    assert (books.writes, books.applied, books.duplicates) == (1, 2, 1)


def test_the_ledger_lets_the_server_deduplicate_a_key(soak: types.ModuleType) -> None:
    """The same key twice is applied once, as a server honouring keys does."""
    books = soak.ledger([_post("w1", Garbage(), key="k"), _post("w1", Reply(201), key="k")])
    assert (books.applied, books.duplicates) == (1, 0)


@pytest.mark.parametrize(
    ("step", "applied"),
    [
        (Reply(201), True),
        (Reply(503), False),
        (Reset(), True),
        (Reset(after_read=False), False),
        (Hang(1.0), True),
        (Garbage(), True),
        (StalledBody(503), False),
    ],
)
def test_what_the_server_counts_as_applied(
    soak: types.ModuleType, step: Step, applied: bool
) -> None:
    """A step applies a POST when it struck after the server read it, or answered 2xx."""
    assert soak.applies(step) is applied
