"""``python -m retrykit``: demo, explain and schedule, in a subprocess or through main()."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from retrykit import Backoff, Reason, RetryPolicy
from retrykit._cli._demo import Timeline
from retrykit._cli._main import build_parser, main
from retrykit._core._schedule import timeline
from retrykit._core._sentences import REASON_SENTENCES

if TYPE_CHECKING:
    from pathlib import Path

    from retrykit._core._backoff import JitterKind

_DEMO_LIMIT = 30.0
_STORY_HEADINGS = (
    "== 1. burst of 503, recovered by retries",
    "== 2. 429 with Retry-After: 1, honoured",
    "== 3. connection reset: the GET is retried, the POST is not",
    "== 4. validation error (422), parsed from its envelope, not retried",
    "== 5. outage: every call gets 503, the circuit opens, then calls fail fast",
    "== 6. recovery through half-open: a probe succeeds, the circuit closes",
    "== metrics per endpoint",
)
# A row of the schedule's table: attempt, earliest start, latest start, wait before it.
_ROW = re.compile(r"^\s*(\d+)\s+([0-9.]+)\s+(<?[0-9.]+)\s+(-|[0-9.]+(?: \.\. [0-9.]+)?)$")


def _run(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter running our own module
        [sys.executable, "-m", "retrykit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _explain(*args: str) -> str:
    result = _run("explain", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- demo: run once (about five seconds), shared by the tests below ---------------------


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    """The demo's output; a TimeoutExpired here means it broke its 30 s promise."""
    return _run("demo", timeout=_DEMO_LIMIT)


# The demo runs a real story with real waits: the longest test of this file by far.
@pytest.mark.timeout(_DEMO_LIMIT + 10)
def test_demo_exits_zero_within_30_seconds(demo: subprocess.CompletedProcess[str]) -> None:
    """`python -m retrykit demo` finishes within 30 s and exits 0, quietly on stderr."""
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr == ""


@pytest.mark.timeout(_DEMO_LIMIT + 10)
@pytest.mark.parametrize("heading", _STORY_HEADINGS)
def test_demo_prints_each_story_step(demo: subprocess.CompletedProcess[str], heading: str) -> None:
    """Each step of the story has its heading in the output."""
    assert heading in demo.stdout


@pytest.mark.timeout(_DEMO_LIMIT + 10)
@pytest.mark.parametrize(
    "fact",
    [
        "requests: caller got 200 after 3 attempts",
        "httpx: caller got 200 after 3 attempts",
        "429",
        "Retry-After: 1 and retrykit waited 1.0",
        "(server hits: 1)",
        "envelope code: validation_failed",
        "field errors: email: must contain @, age: must be 18 or more",
        "user message:",
        "circuit closed -> open",
        "rejected",
        "(unchanged)",
        "circuit open -> half_open",
        "circuit half_open -> closed",
        "the probe succeeded; circuit closed",
        "success %",
    ],
)
def test_demo_shows_key_facts(demo: subprocess.CompletedProcess[str], fact: str) -> None:
    """The timeline and notes show what each step proves."""
    assert fact in demo.stdout


@pytest.mark.timeout(_DEMO_LIMIT + 10)
def test_demo_prints_both_clients_on_every_attempt_line(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Attempt lines come from both clients, each with its circuit state."""
    lines = [line for line in demo.stdout.splitlines() if "circuit closed" in line]
    assert any(" requests " in line for line in lines)
    assert any(" httpx " in line for line in lines)


@pytest.mark.timeout(_DEMO_LIMIT + 10)
def test_demo_sends_a_reset_post_once(demo: subprocess.CompletedProcess[str]) -> None:
    """Each client's POST cut off by a reset gets one attempt line, a stop for unsafe_method."""
    lines = [line for line in demo.stdout.splitlines() if "POST /payments" in line]
    assert len(lines) == 2
    assert all("unknown_outcome" in line and "stop  unsafe_method" in line for line in lines)


@pytest.mark.timeout(_DEMO_LIMIT + 10)
def test_demo_has_no_colour_when_piped(demo: subprocess.CompletedProcess[str]) -> None:
    """Colour codes are written only to a terminal."""
    assert "\033[" not in demo.stdout


@pytest.mark.timeout(_DEMO_LIMIT + 10)
def test_demo_talks_only_to_localhost(demo: subprocess.CompletedProcess[str]) -> None:
    """Every endpoint in the metrics table is on 127.0.0.1."""
    table = demo.stdout.split("== metrics per endpoint", 1)[1]
    endpoints = re.findall(r"^\s+(?:GET|POST) (\S+)", table, flags=re.MULTILINE)
    assert endpoints
    assert all(endpoint.startswith("127.0.0.1:") for endpoint in endpoints)


# -- explain ----------------------------------------------------------------------------


def test_explain_retries_get_on_503() -> None:
    """A GET answered 503 is retried, with the median wait shown and the jitter's range."""
    output = _explain("--method", "GET", "--status", "503")
    assert "decision:  retry (retryable_status)" in output
    assert f"wait:      {Backoff().delay(1, rand=0.5):.3f} s" in output
    assert "rand=0.5" in output
    assert "range:     0.000 .. 1.000 s" in output


def test_explain_stops_post_on_503() -> None:
    """A POST answered 503 is not sent again, and the reason says why in plain words."""
    output = _explain("--method", "POST", "--status", "503", "-H", "Retry-After: 30")
    assert "decision:  stop (unsafe_method)" in output
    assert "POST is not idempotent and carries no idempotency key" in output


def test_explain_retries_post_with_idempotency_key() -> None:
    """An idempotency key makes a POST safe to repeat."""
    output = _explain("--method", "POST", "--status", "503", "--idempotency-key")
    assert "decision:  retry (retryable_status)" in output
    assert "idempotency key" in output


def test_explain_stops_post_with_unknown_outcome() -> None:
    """A POST cut off after it was sent is not sent again."""
    output = _explain("--method", "POST", "--failure", "unknown_outcome")
    assert "decision:  stop (unsafe_method)" in output


def test_explain_stops_on_a_retry_after_too_long() -> None:
    """A 429 asking for 120 s, past max_retry_after (60 s), stops at once."""
    output = _explain("--status", "429", "-H", "Retry-After: 120")
    assert "decision:  stop (retry_after_too_long)" in output
    assert "asked to wait 120 s" in output


def test_explain_waits_at_least_retry_after() -> None:
    """The shown wait is never shorter than the server's Retry-After."""
    output = _explain("--status", "503", "-H", "retry-after: 30")
    assert "wait:      30.000 s" in output


def test_explain_stops_when_attempts_are_used_up() -> None:
    """The last allowed attempt is final."""
    output = _explain("--status", "503", "--attempt", "2", "--max-attempts", "2")
    assert "decision:  stop (attempts_exhausted)" in output
    assert "attempt 2 of 2" in output


def test_explain_parses_the_envelope_of_a_body() -> None:
    """With --body, the error envelope's code, field errors and user message are shown."""
    body = json.dumps(
        {
            "error": {
                "code": "validation_failed",
                "message": "The request has invalid fields.",
                "request_id": "req_42",
                "details": {"errors": [{"field": "email", "message": "must contain @"}]},
            }
        }
    )
    output = _explain("--method", "POST", "--status", "422", "--body", body)
    assert "decision:  stop (not_retryable_status)" in output
    assert "code:         validation_failed" in output
    assert "request id:   req_42" in output
    assert "email: must contain @" in output
    assert "user message:" in output


def test_explain_reads_a_body_file(tmp_path: Path) -> None:
    """--body-file reads the body from a file."""
    path = tmp_path / "error.json"
    path.write_text(json.dumps({"code": "quota_exceeded", "message": "Too many."}))
    output = _explain("--status", "429", "--body-file", str(path))
    assert "code:         quota_exceeded" in output


@pytest.mark.parametrize(
    ("args", "because"),
    [
        (["--method", "post", "--status", "429"], "a 429 means the server did not act"),
        (["--method", "POST", "--status", "408"], "a 408 means the server did not act"),
        (["--method", "delete", "--status", "503"], "DELETE is idempotent"),
        (["--method", "PATCH", "--failure", "connect"], "sending it again is safe for any method"),
        (
            ["--method", "POST", "--status", "503", "--idempotency-key"],
            "carries an idempotency key",
        ),
    ],
)
def test_explain_says_why_a_repeat_is_safe(
    args: list[str], because: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reason names the rule that made the retry safe, as the core states it."""
    assert main(["explain", *args]) == 0
    assert because in capsys.readouterr().out


def test_explain_reads_a_repeated_retry_after(capsys: pytest.CaptureFixture[str]) -> None:
    """Retry-After given twice is joined as a client joins it, and its wait is honoured."""
    args = ["explain", "--status", "503", "-H", "Retry-After: 1", "-H", "retry-after: 3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Retry-After: 1, 3" in out
    assert "server:    asked to wait 3 s" in out


def test_explain_names_an_unreadable_retry_after(capsys: pytest.CaptureFixture[str]) -> None:
    """A Retry-After the core cannot read is named, not silently replaced by the backoff."""
    assert main(["explain", "--status", "503", "-H", "Retry-After: in a minute"]) == 0
    out = capsys.readouterr().out
    assert "ignored:   Retry-After could not be read, so the wait does not follow it" in out
    assert "server:" not in out


def test_explain_names_every_unreadable_wait_header(capsys: pytest.CaptureFixture[str]) -> None:
    """Each unreadable rate-limit header is named too, in one line."""
    args = ["explain", "--status", "429", "-H", "X-RateLimit-Reset: soon", "-H", "Retry-After: x"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ignored:   Retry-After, X-RateLimit-Reset could not be read" in out


def test_explain_is_quiet_about_readable_headers(capsys: pytest.CaptureFixture[str]) -> None:
    """A readable Retry-After gives no "ignored" line."""
    assert main(["explain", "--status", "503", "-H", "Retry-After: 5"]) == 0
    assert "ignored:" not in capsys.readouterr().out


def test_every_reason_has_a_sentence() -> None:
    """Every Reason, including those the retry loops give, is explained in plain words."""
    assert set(Reason) == set(REASON_SENTENCES)


# -- schedule ---------------------------------------------------------------------------


def _schedule(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["schedule", *args]) == 0
    return capsys.readouterr().out


def _table(output: str) -> list[tuple[str, ...]]:
    """The rows of the schedule's table: attempt, earliest, latest, wait before it."""
    return [match.groups() for line in output.splitlines() if (match := _ROW.match(line))]


def _bars(output: str) -> dict[int, str]:
    """The chart's bar of each attempt, after the label and its one space."""
    return {
        int(match.group(1)): match.group(2)
        for match in re.finditer(r"^attempt +(\d+) (.*)$", output, flags=re.MULTILINE)
    }


def test_schedule_of_the_default_policy(capsys: pytest.CaptureFixture[str]) -> None:
    """Four attempts: each one's earliest and latest start from t = 0, and the wait before it."""
    output = _schedule(capsys)
    assert _table(output) == [
        ("1", "0.000", "0.000", "-"),
        ("2", "0.000", "1.000", "0.000 .. 1.000"),
        ("3", "0.000", "3.000", "0.000 .. 2.000"),
        ("4", "0.000", "7.000", "0.000 .. 4.000"),
    ]
    assert "every attempt fails at once with a 503, no Retry-After" in output
    assert (
        "ends:      after attempt 4: max_attempts=4 allows no more (attempts_exhausted)" in output
    )


def test_schedule_answers_how_long_a_call_can_take(capsys: pytest.CaptureFixture[str]) -> None:
    """One line: the last attempt's latest start, the attempts' own time, the deadline."""
    output = _schedule(capsys)
    [line] = [line for line in output.splitlines() if line.startswith("how long:")]
    assert "attempt 4, the last, starts by 7.000 s" in line
    assert "each up to its own timeouts" in line
    assert "never past the 60 s deadline" in line


def test_schedule_draws_each_attempt_on_one_time_axis(capsys: pytest.CaptureFixture[str]) -> None:
    """Bars on 0..60 s, one column a second: attempt 4 spans 0..7 s, the deadline at the end."""
    output = _schedule(capsys)
    bars = _bars(output)
    assert sorted(bars) == [1, 2, 3, 4]
    assert [bar.rstrip(" |") for bar in bars.values()] == ["#", "##", "####", "########"]
    assert all(len(bar) == 61 and bar.endswith("|") for bar in bars.values())
    assert "'|' the 60 s deadline" in output


@pytest.mark.parametrize("jitter", ["full", "none", "equal", "proportional", "decorrelated"])
def test_schedule_prints_the_cores_timeline(
    jitter: JitterKind, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table's numbers are timeline()'s, for every jitter kind."""
    backoff = Backoff(base=0.5, multiplier=3, cap=10, jitter=jitter, jitter_ratio=0.25)
    policy = RetryPolicy(max_attempts=6, backoff=backoff, deadline=None)
    output = _schedule(
        capsys,
        *("--base", "0.5", "--multiplier", "3", "--cap", "10", "--jitter", jitter),
        *("--jitter-ratio", "0.25", "--max-attempts", "6", "--deadline", "none"),
    )
    rows = _table(output)
    expected = timeline(policy).rows
    assert [int(row[0]) for row in rows] == [row.attempt for row in expected]
    for row, want in zip(rows, expected, strict=True):
        assert float(row[1]) == pytest.approx(want.earliest, abs=5e-4)
        assert float(row[2]) == pytest.approx(want.latest, abs=5e-4)


def test_schedule_deadline_stops_the_call(capsys: pytest.CaptureFixture[str]) -> None:
    """No jitter, --deadline 3: attempt 3 would start at 3 s, so the call ends after attempt 2."""
    output = _schedule(capsys, "--jitter", "none", "--deadline", "3")
    assert [row[0] for row in _table(output)] == ["1", "2"]
    assert "after attempt 2: the next wait would end at or past the 3 s deadline (deadline)" in (
        output
    )
    assert "never past the 3 s deadline" in output


def test_schedule_marks_attempts_the_deadline_may_cut(capsys: pytest.CaptureFixture[str]) -> None:
    """--deadline 5: attempt 4 (latest 7 s) starts before 5 s only if the waits are short."""
    output = _schedule(capsys, "--deadline", "5")
    assert _table(output)[-1] == ("4", "0.000", "<5.000", "0.000 .. 4.000")
    assert "attempt 4 would start at or past the deadline" in output
    assert "or sooner, when long waits bring the next attempt's start to the 5 s deadline" in output
    assert "starts before the 5 s deadline if at all" in output
    bar = _bars(output)[4]
    assert bar == "#" * 60 + "|"


def test_schedule_without_a_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    """--deadline none: no cut, no mark, and the answer says nothing bounds the whole."""
    output = _schedule(capsys, "--deadline", "NONE", "--max-attempts", "8")
    assert _table(output)[-1][2] == "91.000"
    assert "deadline=none" in output
    assert "with no deadline to bound the whole" in output
    assert "|" not in "".join(_bars(output).values())


def test_schedule_retry_after_beyond_max_retry_after_stops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--retry-after 120 with max_retry_after 60: one attempt, and the call stops."""
    output = _schedule(capsys, "--retry-after", "120")
    assert [row[0] for row in _table(output)] == ["1"]
    assert (
        "ends:      after attempt 1: the server asks to wait 120 s, longer than max_retry_after "
        "(60 s), so retrykit stops instead of waiting (retry_after_too_long)"
    ) in output
    assert "one attempt, at 0 s" in output


def test_schedule_retry_after_sets_the_shortest_wait(capsys: pytest.CaptureFixture[str]) -> None:
    """--retry-after 5: every wait is at least 5 s; --max-retry-after 3 turns that into a stop."""
    output = _schedule(capsys, "--retry-after", "5", "--deadline", "none")
    assert [row[1] for row in _table(output)] == ["0.000", "5.000", "10.000", "15.000"]
    assert "each with Retry-After: 5 (no wait is shorter)" in output
    stopped = _schedule(capsys, "--retry-after", "5", "--max-retry-after", "3")
    assert "(retry_after_too_long)" in stopped


def test_schedule_retry_after_past_the_deadline_stops(capsys: pytest.CaptureFixture[str]) -> None:
    """--retry-after 30 under the 60 s deadline: attempt 3 would start at 60 s, so it does not."""
    output = _schedule(capsys, "--retry-after", "30")
    assert [row[1] for row in _table(output)] == ["0.000", "30.000"]
    assert "the next wait would end at or past the 60 s deadline (deadline)" in output


def test_schedule_can_ignore_retry_after(capsys: pytest.CaptureFixture[str]) -> None:
    """--ignore-retry-after: the waits are the backoff's, whatever the server asks."""
    output = _schedule(capsys, "--retry-after", "120", "--ignore-retry-after")
    assert len(_table(output)) == 4
    assert "(ignored: respect_retry_after=False)" in output


def test_schedule_attempt_time_and_min_wait(capsys: pytest.CaptureFixture[str]) -> None:
    """--attempt-time adds each attempt's own time; --min-wait raises the shortest waits."""
    output = _schedule(capsys, "--attempt-time", "0.5", "--min-wait", "0.25", "--jitter", "none")
    assert [row[1] for row in _table(output)] == ["0.000", "1.500", "4.000", "8.500"]
    assert "every attempt fails after 0.5 s (--attempt-time)" in output
    assert "at most 9.000 s: attempt 4, the last, starts by 8.500 s, then takes 0.5 s" in output
    assert all("-" in bar for bar in _bars(output).values())
    floor = _schedule(capsys, "--min-wait", "0.25")
    assert [row[1] for row in _table(floor)] == ["0.000", "0.250", "0.500", "0.750"]


def test_schedule_chart_stays_within_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    """Even with 100 attempts, each chart line fits an 80-column terminal."""
    output = _schedule(capsys, "--max-attempts", "100", "--deadline", "none")
    chart = output.split("chart,", 1)[1].splitlines()[1:]
    assert len(chart) == 101
    assert max(len(line) for line in chart) <= 80


def test_schedule_without_retries(capsys: pytest.CaptureFixture[str]) -> None:
    """With max_attempts=1 the schedule says there is no retry."""
    output = _schedule(capsys, "--max-attempts", "1")
    assert "with max_attempts=1 there are no retries" in output
    assert [row[0] for row in _table(output)] == ["1"]


def test_schedule_from_the_command_line() -> None:
    """`python -m retrykit schedule` prints what main() prints, and exits 0."""
    result = _run("schedule", "--deadline", "5")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _table(result.stdout)[-1] == ("4", "0.000", "<5.000", "0.000 .. 4.000")


# -- arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "--status", "503", "-H", "Retry-After 30"], "a header is 'Name: value'"),
        (["explain", "--method", "GET"], "one of the arguments --status --failure is required"),
        (["explain", "--status", "700"], "between 100 and 599"),
        (["explain", "--failure", "connect", "--body", "{}"], "need --status"),
        (
            ["explain", "--status", "503", "--deadline", "0"],
            "invalid policy: 'deadline' must be > 0",
        ),
        (["explain", "--status", "422", "--body-file", "/nonexistent/x"], "cannot read"),
        (["schedule", "--cap", "-1"], "invalid policy: 'cap' must be >= 0"),
        (["schedule", "--max-attempts", "0"], "invalid policy: 'max_attempts' must be >= 1"),
        (["schedule", "--jitter", "wobbly"], "invalid choice"),
        (["schedule", "--deadline", "0"], "argument --deadline: must be a finite number"),
        (["schedule", "--deadline", "soon"], "argument --deadline: not seconds or 'none': 'soon'"),
        (["schedule", "--deadline", "inf"], "argument --deadline: must be a finite number"),
        (["schedule", "--retry-after", "-1"], "argument --retry-after: must be a finite number"),
        (["schedule", "--retry-after", "Tue"], "argument --retry-after: not a number: 'Tue'"),
        (["schedule", "--attempt-time", "nan"], "argument --attempt-time: must be a finite"),
        (["schedule", "--max-retry-after", "x"], "argument --max-retry-after: not a number"),
        (["schedule", "--min-wait", "-0.5"], "argument --min-wait: must be a finite number"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Argument errors, the policy's own validation included, exit 2 with a clear message."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_arguments_exit_2_from_the_command_line() -> None:
    """A policy the core rejects exits 2 with a usage message, not a traceback."""
    result = _run("schedule", "--cap", "-1")
    assert result.returncode == 2
    assert "usage: python -m retrykit schedule" in result.stderr
    assert "'cap' must be >= 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_describes_every_option() -> None:
    """--help of each subcommand gives a help text for every option."""
    parser = build_parser()
    subcommands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    assert set(subcommands.choices) == {"demo", "explain", "schedule"}
    for name, subparser in subcommands.choices.items():
        for action in subparser._actions:
            assert action.help, f"{name} {action.option_strings} has no help"


def test_help_exits_0() -> None:
    """`python -m retrykit explain --help` prints the options and exits 0."""
    result = _run("explain", "--help")
    assert result.returncode == 0
    assert "--max-retry-after" in result.stdout


def test_timeline_colours_only_when_asked() -> None:
    """The demo's timeline adds ANSI colours only when told to (a terminal)."""
    plain, coloured = io.StringIO(), io.StringIO()
    Timeline(plain, color=False).heading("1. step")
    Timeline(coloured, color=True).heading("1. step")
    assert plain.getvalue() == "\n== 1. step\n"
    assert "\033[" in coloured.getvalue()
