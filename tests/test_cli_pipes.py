"""``python -m retrykit`` as a tool people pipe: no tracebacks, no credentials printed back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from retrykit._cli import _main
from retrykit._cli._main import DEMO_INSTALL, REDACTED, console_main, main

# Run in a fresh interpreter: the listed top-level packages look uninstalled, then
# ``python -m retrykit`` runs with ARGV.
_WITHOUT = """
import runpy
import sys

class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Hide())
sys.argv = ["retrykit", *ARGV]
runpy.run_module("retrykit", run_name="__main__", alter_sys=True)
"""


# A schedule of 3000 attempts with no deadline: some 400 kB, far more than a pipe holds.
_LONG_SCHEDULE = ("--max-attempts", "3000", "--deadline", "none")


def _run_without(hidden: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    code = f"HIDDEN = {hidden!r}\nARGV = {list(argv)!r}\n{textwrap.dedent(_WITHOUT)}"
    return subprocess.run(  # noqa: S603 - our own interpreter running our own module
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )


def _explain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter running our own module
        [sys.executable, "-m", "retrykit", "explain", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- pipes ------------------------------------------------------------------------------


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    """`schedule | head -1`: the reader leaves mid-output; exit 0, nothing on stderr."""
    # Far more output than a pipe holds, so the writer is still writing when the reader leaves.
    with subprocess.Popen(  # noqa: S603 - our own interpreter running our own module
        [sys.executable, "-m", "retrykit", "schedule", *_LONG_SCHEDULE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read()
        code = process.wait(timeout=30)
    assert first.startswith(b"policy:    max_attempts=3000, Backoff(")
    assert stderr == b""
    assert code == 0


def test_a_shell_pipe_into_head_shows_no_traceback() -> None:
    """The command as people type it: `python -m retrykit schedule ... | head -3`."""
    result = subprocess.run(  # noqa: S603 - a fixed command line of our own
        [
            "/bin/sh",
            "-c",
            f"'{sys.executable}' -m retrykit schedule {' '.join(_LONG_SCHEDULE)} | head -3",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == ""


def test_ctrl_c_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupt ends the command with 128 + SIGINT and prints nothing."""

    def interrupted(argv: object = None) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_main, "main", interrupted)
    assert console_main([]) == 130
    assert capsys.readouterr() == ("", "")


def test_console_main_returns_the_commands_status(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a broken pipe, console_main is main: its output and its exit status."""
    assert console_main(["schedule", "--max-attempts", "2"]) == 0
    assert "after attempt 2: max_attempts=2 allows no more" in capsys.readouterr().out


# -- missing extras -----------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [("httpx",), ("requests",), ("httpx", "requests", "anyio")])
def test_demo_without_its_clients_says_what_to_install(hidden: tuple[str, ...]) -> None:
    """`demo` without httpx or requests: one line naming the extra, exit 1, no traceback."""
    result = _run_without(hidden, "demo")
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert DEMO_INSTALL in line
    assert hidden[0] in line
    assert "Traceback" not in result.stderr


def test_explain_and_schedule_need_no_client() -> None:
    """The commands that only ask the core run with no HTTP client installed."""
    hidden = ("httpx", "requests", "urllib3", "anyio")
    assert _run_without(hidden, "schedule").returncode == 0
    assert _run_without(hidden, "explain", "--status", "503").returncode == 0


def test_the_install_hint_lives_in_one_constant() -> None:
    """The distribution and extra are named once, in DEMO_INSTALL (a rename edits one line)."""
    source = _main.__file__
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    assert text.count("pip install") == 1
    assert DEMO_INSTALL == "pip install 'retrykit[httpx,requests]'"


# -- credentials are never printed back -----------------------------------------------------

SECRET = "sk_live_4QpHjk2LkdIwHu"


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-API-Key",
        "Api-Key",
        "X-Auth-Token",
        "x-amz-security-token",
        "X-Goog-Api-Key",
        "X-Session-Token",
        "X-Client-Secret",
    ],
)
def test_explain_redacts_a_credential_header(name: str) -> None:
    """The header's name is shown, its value never."""
    result = _explain("--status", "503", "-H", f"{name}: Bearer {SECRET}")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert f"{name}: " in result.stdout
    assert REDACTED in result.stdout


def test_explain_redacts_both_headers_of_the_issue() -> None:
    """-H 'Authorization: Bearer ...' -H 'Set-Cookie: ...': neither value printed back."""
    result = _explain(
        "--status",
        "429",
        "-H",
        f"Authorization: Bearer {SECRET}",
        "-H",
        f"Set-Cookie: session={SECRET}; HttpOnly",
        "-H",
        "Retry-After: 7",
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    assert f"Authorization: Bearer {REDACTED}" in result.stdout
    assert f"Set-Cookie: {REDACTED}" in result.stdout
    # Other headers are shown as given, and still decide the wait.
    assert "Retry-After: 7" in result.stdout
    assert "wait:      7.000 s" in result.stdout


def test_explain_shows_other_headers_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    """Headers that carry no credential are printed exactly as given."""
    assert main(["explain", "--status", "503", "-H", "X-Request-Id: req-42"]) == 0
    assert "X-Request-Id: req-42" in capsys.readouterr().out


@pytest.mark.parametrize(
    "header", [f"Authorization Bearer {SECRET}", f"Bad Name: {SECRET}", f"{SECRET}"]
)
def test_a_malformed_header_is_refused_without_echoing_it(
    header: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The argument error says what is wrong with the header, never what its value was."""
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "--status", "503", "-H", header])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "a header is 'Name: value'" in captured.err
    assert SECRET not in captured.out + captured.err
