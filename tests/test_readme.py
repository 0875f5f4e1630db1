"""Every ```python block in README.md runs, and every CLI output it shows is real.

So the manual cannot rot: a ```console block's ``$ python -m retrykit explain ...`` or
``schedule ...`` must print, through `main`, exactly the lines shown under it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from retrykit._cli._main import main

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_CONSOLE = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PROMPT = re.compile(r"^\$ (.*)\n", re.MULTILINE)
# The commands whose output is the same on every run (demo's holds times and a port).
_REPRODUCIBLE = ("explain", "schedule")


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((f"README.md:{line}", match.group(1)))
    return blocks


BLOCKS = _blocks()


def _commands() -> list[tuple[str, list[str], str]]:
    """Each reproducible command of a console block: where, its arguments, what is shown."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in _CONSOLE.finditer(text):
        prompts = list(_PROMPT.finditer(block.group(1)))
        ends = [prompt.start() for prompt in prompts[1:]] + [len(block.group(1))]
        for prompt, end in zip(prompts, ends, strict=True):
            argv = shlex.split(prompt.group(1))
            if argv[:3] == ["python", "-m", "retrykit"] and argv[3] in _REPRODUCIBLE:
                line = text.count("\n", 0, block.start(1) + prompt.start()) + 1
                shown = block.group(1)[prompt.end() : end]
                commands.append((f"README.md:{line}", argv[3:], shown))
    return commands


COMMANDS = _commands()


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


def test_readme_shows_explain_and_schedule() -> None:
    """The manual shows both commands' output, so there is something to check."""
    assert {argv[0] for _, argv, _ in COMMANDS} == set(_REPRODUCIBLE)


@pytest.mark.parametrize(
    ("argv", "shown"),
    [(argv, shown) for _, argv, shown in COMMANDS],
    ids=[name for name, _, _ in COMMANDS],
)
def test_readme_cli_output_is_real(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each explain and schedule command in README prints exactly the lines shown."""
    assert main(argv) == 0
    assert capsys.readouterr().out.rstrip("\n") == shown.rstrip("\n")


def test_readme_gives_both_commands() -> None:
    """README holds the demo command and the test command that CI runs."""
    text = README.read_text(encoding="utf-8")
    assert "python -m retrykit demo" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    command = "python -m pip install -e '.[dev]' && python -m pytest"
    assert command in text
    assert command in ci
