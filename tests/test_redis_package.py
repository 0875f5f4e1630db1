"""The redis integration: optional, named by its extra, and absent from `import retrykit`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import retrykit

_HIDE_REDIS = """
import sys

class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
        return None

sys.meta_path.insert(0, _Hide())
"""


def _run(code: str, *, hide_redis: bool = False) -> subprocess.CompletedProcess[str]:
    source = (_HIDE_REDIS if hide_redis else "") + textwrap.dedent(code)
    return subprocess.run(  # noqa: S603 - our own interpreter running our own code
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=30, check=False
    )


def test_import_retrykit_does_not_import_redis() -> None:
    """`import retrykit` loads no redis-py: `store=` is typed with retrykit's own protocol."""
    result = _run(
        """
        import sys
        import retrykit
        breaker = retrykit.CircuitBreaker()
        print("redis" in sys.modules, retrykit.FleetStore.__module__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "retrykit._state._store"]


def test_retrykit_works_without_redis_installed() -> None:
    """With redis-py missing, retrykit and its breakers and budgets work as before."""
    result = _run(
        """
        import retrykit
        budget = retrykit.RetryBudget()
        breaker = retrykit.CircuitBreaker()
        print(budget.available(), breaker.state("k").value)
        """,
        hide_redis=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["100", "closed"]


def test_retrykit_redis_without_redis_names_the_extra() -> None:
    """Importing retrykit.redis without redis-py raises an ImportError naming the extra."""
    result = _run(
        """
        try:
            import retrykit.redis
        except ImportError as exc:
            print("ImportError:", exc)
        """,
        hide_redis=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError:")
    assert "pip install 'retrykit-http[redis]'" in result.stdout


def test_storage_events_are_public_events() -> None:
    """The store's two events are exported, and are part of the Event union."""
    assert {"FleetStore", "StorageDegraded", "StorageRecovered"} <= set(retrykit.__all__)
    assert retrykit.StorageDegraded in retrykit.Event.__args__
    assert retrykit.StorageRecovered in retrykit.Event.__args__
