"""Every ```python block in README.md runs, so the manual cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((f"README.md:{line}", match.group(1)))
    return blocks


BLOCKS = _blocks()


def test_readme_has_python_examples() -> None:
    """The manual shows code, so there is something to check."""
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[name for name, _ in BLOCKS])
def test_readme_block_runs(code: str, tmp_path: Path) -> None:
    """Each example runs as written, on its own, in a fresh interpreter."""
    result = subprocess.run(  # noqa: S603 - our own README's code
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_readme_gives_both_commands() -> None:
    """README holds the demo command and the test command that CI runs."""
    text = README.read_text(encoding="utf-8")
    assert "python -m retrykit demo" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = "python -m pip install -e '.[dev]' && python -m pytest"
    assert command in text
    assert command in ci
