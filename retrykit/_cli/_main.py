"""``python -m retrykit``: watch retrykit work, ask about one decision, or print a schedule.

- ``demo`` runs a scripted story against a local FlakyServer with both clients.
- ``explain`` asks the core what it would do with one outcome and says why in plain words.
- ``schedule`` draws a call's attempts on one time axis: when each can start at the
  earliest and the latest, the deadline, what a ``Retry-After`` does, and how long the
  call can take.

Only ``demo`` needs httpx and requests; the other two use the sans-IO core alone.

A tool people pipe: output cut short by its reader (``| head``) ends the command quietly
with status 0, a missing extra is one line naming what to install, and no credential
header given to ``explain`` is ever printed back.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn, get_args

import attrs

from retrykit._core._backoff import Backoff, JitterKind
from retrykit._core._decide import (
    Decision,
    Reason,
    decide,
    is_safe_to_repeat,
    proves_not_processed,
)
from retrykit._core._headers import unreadable_wait_headers
from retrykit._core._policy import FailureKind, RetryPolicy
from retrykit._core._schedule import (
    ASSUMED_STATUS,
    LONGEST_RAND,
    MEDIAN_RAND,
    Timeline,
    TimelineRow,
    timeline,
)
from retrykit._core._sentences import REASON_SENTENCES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_DEFAULT_BACKOFF = Backoff()
_DEFAULT_POLICY = RetryPolicy()
# The columns of the schedule's time axis: with its labels it fits an 80-column terminal.
_CHART_WIDTH = 60
# A deadline this many times past the call's latest end is left off the chart: on the
# same axis, the attempts would shrink to a column or two.
_DEADLINE_ON_CHART = 10.0
# Past this, a time is printed in e-notation rather than as a row of digits.
_LONG_TIME = 1e12


DEMO_INSTALL: Final = "pip install 'retrykit[httpx,requests]'"
"""How to install what ``demo`` needs: the one place the distribution and its extras are named."""

REDACTED: Final = "<redacted>"
"""What ``explain`` prints instead of a credential header's value."""

# Header names whose values are credentials (or carry one), however a server spells them.
_CREDENTIAL_NAMES: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-amz-security-token",
        "x-goog-api-key",
    }
)
_CREDENTIAL_WORDS: Final = re.compile(
    r"auth|token|secret|passw|api-?key|cookie|session|credential|signature", re.IGNORECASE
)


class _CliError(Exception):
    """A problem with the arguments that argparse itself cannot see."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m retrykit`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Argument errors print a message to stderr and exit with status 2, as argparse does.
    ``demo`` without httpx or requests installed prints one line naming the extra to
    install and returns 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    try:
        if args.command == "demo":
            try:
                from retrykit._cli._demo import run_demo  # noqa: PLC0415 - imports both clients
            except ImportError as exc:
                missing = exc.name or "a client library"
                print(
                    f"python -m retrykit demo needs httpx and requests ({missing} is not "
                    f"installed): {DEMO_INSTALL}",
                    file=sys.stderr,
                )
                return 1
            return run_demo(color=args.color)
        if args.command == "explain":
            return _explain(args)
        return _schedule(args)
    except _CliError as exc:
        _fail(command_parser, str(exc))


def console_main(argv: Sequence[str] | None = None) -> int:
    """Run `main` as a command: a reader that stops reading, or Ctrl-C, ends it quietly.

    Output cut short by its reader (``python -m retrykit schedule | head -3``) is what the
    reader asked for: the exit status is 0 and nothing is printed. Ctrl-C exits with 130
    (128 + SIGINT), without a traceback.
    """
    try:
        code = main(argv)
        # Flush here, so a reader gone by now is seen in this try and not at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that finds nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except KeyboardInterrupt:
        return 130
    return code


def is_credential_header(name: str) -> bool:
    """Return True if a header named ``name`` carries a credential (its value is never shown)."""
    lower = name.strip().lower()
    return lower in _CREDENTIAL_NAMES or bool(_CREDENTIAL_WORDS.search(lower))


def shown_value(name: str, value: str) -> str:
    """Return ``value`` as the CLI may print it: a credential header's is redacted.

    The scheme of an ``Authorization`` value (``Bearer``, ``Basic``) stays, as it tells
    what kind of credential was sent without giving any of it away.
    """
    if not is_credential_header(name):
        return value
    scheme, space, rest = value.strip().partition(" ")
    if space and rest.strip() and scheme.isalpha() and "authorization" in name.lower():
        return f"{scheme} {REDACTED}"
    return REDACTED


def _fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m retrykit`` and its three subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m retrykit",
        description="See retrykit work, ask what it would do with an outcome, "
        "or see when a policy's attempts happen and how long a call can take.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run a scripted story against a local flaky server with requests and httpx",
        description="Start a FlakyServer on 127.0.0.1 and drive a requests Session and an "
        "httpx client through bursts of 503, a 429 with Retry-After, connection resets, a "
        "validation error, an outage that opens the circuit, and the recovery. Prints one "
        "line per attempt, then the metrics per endpoint. Takes about five seconds.",
    )
    demo.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the timeline: auto (the default) colours only when stdout is a terminal",
    )
    demo.set_defaults(command_parser=demo)

    backoff_options = _backoff_options()

    explain = commands.add_parser(
        "explain",
        parents=[backoff_options],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="say what retrykit would do after one attempt's outcome, and why",
        description=(
            "Ask the retry core what it would do after one attempt: retry or stop, how long\n"
            "it would wait, and why in plain words. Give the outcome with --status (and\n"
            "headers) or --failure. With --body or --body-file, also print the error\n"
            "envelope parsed from the response body."
        ),
        epilog=(
            "examples:\n"
            "  python -m retrykit explain --method POST --status 503 -H 'Retry-After: 30'\n"
            "  python -m retrykit explain --method PUT --failure unknown_outcome --attempt 2\n"
            "  python -m retrykit explain --status 422 --body-file error.json"
        ),
    )
    request = explain.add_argument_group("the request and its outcome")
    request.add_argument(
        "--method", default="GET", help="the request's HTTP method (default: %(default)s)"
    )
    outcome = request.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--status", type=_status_code, help="the response's status code, e.g. 503")
    outcome.add_argument(
        "--failure",
        choices=[kind.value for kind in FailureKind],
        help="the attempt got no response: connect (it never reached the server) or "
        "unknown_outcome (sent, then a timeout or reset cut the exchange)",
    )
    request.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="a response header, e.g. -H 'Retry-After: 30'; repeat for more",
    )
    request.add_argument(
        "--attempt",
        type=_positive_int,
        default=1,
        help="which attempt this outcome ended, counting from 1 (default: %(default)s)",
    )
    request.add_argument(
        "--elapsed",
        type=_non_negative_float,
        default=0.0,
        help="seconds since the first attempt started, for --deadline (default: %(default)s)",
    )
    request.add_argument(
        "--previous-delay",
        type=_non_negative_float,
        default=None,
        help="the wait before this attempt, used by --jitter decorrelated",
    )
    request.add_argument(
        "--idempotency-key",
        action="store_true",
        help="the request carried the policy's idempotency header (Idempotency-Key), which "
        "makes any method safe to repeat",
    )
    body = request.add_mutually_exclusive_group()
    body.add_argument("--body", help="the response body, to parse its error envelope")
    body.add_argument(
        "--body-file", type=Path, help="a file holding the response body, to parse its envelope"
    )
    policy = explain.add_argument_group("policy: Retry-After and deadline")
    policy.add_argument(
        "--max-retry-after",
        type=float,
        default=_DEFAULT_POLICY.max_retry_after,
        help="the longest Retry-After worth waiting for; longer stops at once "
        "(default: %(default)s)",
    )
    policy.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds for all attempts and waits together (default: no deadline)",
    )
    policy.add_argument(
        "--ignore-retry-after",
        action="store_true",
        help="turn off respect_retry_after: wait only the backoff, whatever the server asks",
    )
    explain.set_defaults(command_parser=explain)

    schedule = commands.add_parser(
        "schedule",
        parents=[backoff_options],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="draw when a call's attempts can start, and how long the call can take",
        description=(
            "Draw a call's attempts on one time axis, from the first attempt's start\n"
            "(t = 0): when each attempt can start at the earliest (every wait drawn\n"
            "shortest) and the latest (every wait drawn longest), the wait before it,\n"
            "where the deadline cuts the call, what a Retry-After on every answer does,\n"
            "and how long the call can take. Each attempt is assumed to fail at once\n"
            f"with a {ASSUMED_STATUS}, or after --attempt-time seconds."
        ),
        epilog=(
            "examples:\n"
            "  python -m retrykit schedule --max-attempts 6 --deadline 20\n"
            "  python -m retrykit schedule --retry-after 5 --attempt-time 0.5\n"
            "  python -m retrykit schedule --retry-after 120 --max-retry-after 60"
        ),
    )
    limits = schedule.add_argument_group("policy: deadline and Retry-After")
    limits.add_argument(
        "--deadline",
        type=_deadline,
        default=_DEFAULT_POLICY.deadline,
        metavar="SECONDS|none",
        help="seconds for the whole call, attempts and waits together, or 'none' for no "
        "bound (default: %(default)s)",
    )
    limits.add_argument(
        "--max-retry-after",
        type=_non_negative_float,
        default=_DEFAULT_POLICY.max_retry_after,
        metavar="SECONDS",
        help="the longest Retry-After worth waiting for; longer stops the call "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--min-wait",
        type=_non_negative_float,
        default=_DEFAULT_POLICY.min_wait,
        metavar="SECONDS",
        help="no wait between attempts is shorter than this (default: %(default)s)",
    )
    limits.add_argument(
        "--ignore-retry-after",
        action="store_true",
        help="turn off respect_retry_after: wait only the backoff, whatever the server asks",
    )
    assumed = schedule.add_argument_group("what each attempt is assumed to get")
    assumed.add_argument(
        "--retry-after",
        type=_non_negative_float,
        default=None,
        metavar="SECONDS",
        help="every answer carries 'Retry-After: SECONDS' (default: none)",
    )
    assumed.add_argument(
        "--attempt-time",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="how long each attempt takes before it fails (default: %(default)s, it fails at once)",
    )
    schedule.set_defaults(command_parser=schedule)
    return parser


def _backoff_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("policy: attempts and backoff")
    group.add_argument(
        "--max-attempts",
        type=int,
        default=_DEFAULT_POLICY.max_attempts,
        help="attempts in total, the first included (default: %(default)s)",
    )
    group.add_argument(
        "--base",
        type=float,
        default=_DEFAULT_BACKOFF.base,
        help="the wait before the first retry, before jitter, in seconds (default: %(default)s)",
    )
    group.add_argument(
        "--multiplier",
        type=float,
        default=_DEFAULT_BACKOFF.multiplier,
        help="each retry waits this many times longer than the last (default: %(default)s)",
    )
    group.add_argument(
        "--cap",
        type=float,
        default=_DEFAULT_BACKOFF.cap,
        help="the longest wait before jitter, in seconds (default: %(default)s)",
    )
    group.add_argument(
        "--jitter",
        choices=get_args(JitterKind),
        default=_DEFAULT_BACKOFF.jitter,
        help="how the wait is randomised (default: %(default)s): none; full, anywhere in "
        "[0, w]; equal, in [w/2, w]; proportional, in [w, w * (1 + ratio)]; decorrelated, "
        "from the previous wait",
    )
    group.add_argument(
        "--jitter-ratio",
        type=float,
        default=_DEFAULT_BACKOFF.jitter_ratio,
        help="the extra fraction added by --jitter proportional (default: %(default)s)",
    )
    return options


def _status_code(text: str) -> int:
    try:
        status = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a status code: {text!r}") from None
    if not 100 <= status <= 599:
        raise argparse.ArgumentTypeError(f"a status code is between 100 and 599, got {status}")
    return status


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    name = name.strip()
    # The text may hold a credential: the message never repeats the value.
    if not colon:
        raise argparse.ArgumentTypeError("a header is 'Name: value', got one without a colon")
    if not name or " " in name:
        shown = REDACTED if is_credential_header(name) else repr(name)
        raise argparse.ArgumentTypeError(
            f"a header is 'Name: value' with a name of one word, got the name {shown}"
        )
    return name, value.strip()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _deadline(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not seconds or 'none': {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds > 0, or 'none', got {text}"
        )
    return value


def _policy(args: argparse.Namespace) -> RetryPolicy:
    """Build the policy from the options; its own validation errors become argument errors."""
    try:
        backoff = Backoff(
            base=args.base,
            multiplier=args.multiplier,
            cap=args.cap,
            jitter=args.jitter,
            jitter_ratio=args.jitter_ratio,
        )
        policy = RetryPolicy(max_attempts=args.max_attempts, backoff=backoff)
        if args.command == "explain":
            policy = attrs.evolve(
                policy,
                max_retry_after=args.max_retry_after,
                deadline=args.deadline,
                respect_retry_after=not args.ignore_retry_after,
            )
        elif args.command == "schedule":
            policy = attrs.evolve(
                policy,
                max_retry_after=args.max_retry_after,
                deadline=args.deadline,
                respect_retry_after=not args.ignore_retry_after,
                min_wait=args.min_wait,
            )
    except (ValueError, TypeError) as exc:
        raise _CliError(f"invalid policy: {exc}") from None
    return policy


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


# -- schedule ---------------------------------------------------------------------------


def _schedule(args: argparse.Namespace) -> int:
    policy = _policy(args)
    result = timeline(policy, attempt_time=args.attempt_time, retry_after=args.retry_after)
    backoff = policy.backoff
    print(
        f"policy:    max_attempts={policy.max_attempts}, Backoff(base={backoff.base:g}, "
        f"multiplier={backoff.multiplier:g}, cap={backoff.cap:g}, jitter={backoff.jitter!r}, "
        f"jitter_ratio={backoff.jitter_ratio:g})"
    )
    print(
        f"           min_wait={policy.min_wait:g}, max_retry_after={policy.max_retry_after:g}, "
        f"deadline={_number(policy.deadline)}"
        + ("" if policy.respect_retry_after else ", respect_retry_after=False")
    )
    print(f"assumes:   {_assumption(policy, args, result.stop)}")
    print()
    _print_table(result.rows)
    print()
    for line in _endings(policy, result):
        print(line)
    print()
    _print_chart(result)
    return 0


def _assumption(policy: RetryPolicy, args: argparse.Namespace, stop: Reason) -> str:
    when = (
        "at once"
        if args.attempt_time == 0
        else f"after {_number(args.attempt_time)} s (--attempt-time)"
    )
    text = f"every attempt fails {when} with a {ASSUMED_STATUS}"
    if args.retry_after is None:
        return text + ", no Retry-After"
    text += f", each with Retry-After: {_number(args.retry_after)}"
    if not policy.respect_retry_after:
        return text + " (ignored: respect_retry_after=False)"
    if stop is Reason.RETRY_AFTER_TOO_LONG:
        return text
    return text + " (no wait is shorter)"


def _print_table(rows: Sequence[TimelineRow]) -> None:
    header = ("attempt", "earliest start s", "latest start s", "wait before it s")
    table = [header] + [
        (
            str(row.attempt),
            _time(row.earliest),
            f"<{_time(row.latest)}" if row.may_not_start else _time(row.latest),
            _wait(row),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    cut = [row for row in rows if row.may_not_start]
    if cut:
        first, last = cut[0].attempt, cut[-1].attempt
        them = f"attempt {first}" if first == last else f"attempts {first}-{last}"
        print(
            f"<{_time(cut[0].latest)}: with the longest waits {them} would start at or past "
            "the deadline, so it starts (before it) only if the waits are drawn shorter"
        )


def _wait(row: TimelineRow) -> str:
    if row.attempt == 1:
        return "-"
    if row.wait_min == row.wait_max:
        return _time(row.wait_min)
    return f"{_time(row.wait_min)} .. {_time(row.wait_max)}"


def _endings(policy: RetryPolicy, result: Timeline) -> list[str]:
    """Why the call ends where it does, and how long it can take, one line each."""
    last = result.rows[-1]
    deadline = _number(result.deadline)
    if result.stop is Reason.ATTEMPTS_EXHAUSTED:
        why = (
            "with max_attempts=1 there are no retries"
            if policy.max_attempts == 1
            else f"max_attempts={policy.max_attempts} allows no more"
        )
    elif result.stop is Reason.DEADLINE:
        why = f"the next wait would end at or past the {deadline} s deadline"
    elif result.stop is Reason.RETRY_AFTER_TOO_LONG:
        why = (
            f"the server asks to wait {_number(result.server_wait)} s, longer than "
            f"max_retry_after ({_number(policy.max_retry_after)} s), so retrykit stops "
            "instead of waiting"
        )
    else:
        why = f"a {ASSUMED_STATUS} is final for this policy"
    lines = [f"ends:      after attempt {last.attempt}: {why} ({result.stop})"]
    if last.may_not_start and result.stop is not Reason.DEADLINE:
        lines.append(
            f"           or sooner, when long waits bring the next attempt's start to the "
            f"{deadline} s deadline ({Reason.DEADLINE})"
        )
    lines.append(f"how long:  {_how_long(result)}")
    return lines


def _how_long(result: Timeline) -> str:
    """Answer "how long can my call take?" in one line."""
    last, spent = result.rows[-1], _number(result.attempt_time)
    if last.may_not_start:
        starts = f"starts before the {_number(result.deadline)} s deadline if at all"
    else:
        starts = f"starts by {_time(last.latest)} s"
    if result.attempt_time == 0:
        if last.attempt == 1:
            answer = "one attempt, at 0 s: as long as it takes (up to its own timeouts)"
        else:
            answer = (
                f"attempt {last.attempt}, the last, {starts}; add what the {last.attempt} "
                "attempts take (each up to its own timeouts)"
            )
        if result.deadline is None:
            return answer + ", with no deadline to bound the whole"
        return answer + f", never past the {_number(result.deadline)} s deadline"
    answer = f"at most {_time(result.latest_end)} s: "
    if last.attempt == 1:
        answer += f"one attempt, taking {spent} s"
    else:
        answer += f"attempt {last.attempt}, the last, {starts}, then takes {spent} s"
    if result.deadline is None:
        return answer + "; no deadline"
    if result.latest_end >= result.deadline:
        return answer + f", cut at the {_number(result.deadline)} s deadline"
    return answer + f"; the {_number(result.deadline)} s deadline is not reached"


def _print_chart(result: Timeline) -> None:
    deadline, latest_end = result.deadline, result.latest_end
    if deadline is None and latest_end == 0:
        print("chart:     none: every attempt starts at 0 s")
        return
    on_chart = deadline is not None and (
        latest_end == 0 or deadline <= _DEADLINE_ON_CHART * latest_end
    )
    end = deadline if on_chart and deadline is not None else latest_end
    scale = _CHART_WIDTH / end
    if deadline is None:
        where = "no deadline"
    elif on_chart:
        where = f"'|' the {_number(deadline)} s deadline"
    else:
        where = f"the {_number(deadline)} s deadline is far past the right end"
    print(
        f"chart, 0 to {_number(end)} s: '#' when an attempt can start"
        + (", '-' while it may still run" if result.attempt_time > 0 else "")
        + f"; {where}"
    )
    label_width = len(f"attempt {result.rows[-1].attempt}")
    right = f"{_number(end)} s"
    axis_width = _CHART_WIDTH + (1 if on_chart else 0)
    print(f"{'':{label_width}} {'0'.ljust(axis_width - len(right))}{right}")
    mark = "|" if on_chart else ""
    for row in result.rows:
        bar = _bar(row, result.attempt_time, end, scale).ljust(_CHART_WIDTH) + mark
        print(f"{f'attempt {row.attempt}'.ljust(label_width)} {bar}".rstrip())


def _bar(row: TimelineRow, attempt_time: float, end: float, scale: float) -> str:
    """One attempt on the time axis: '#' from its earliest to its latest start, then '-'."""

    def column(moment: float) -> int:
        # The deadline sits just past the last column: no start reaches it.
        return min(round(moment * scale), _CHART_WIDTH - 1)

    first, last = column(row.earliest), column(row.latest)
    running = last
    if attempt_time > 0:
        # At least one '-': an attempt that takes time never looks like one that does not.
        running = min(max(column(min(row.latest + attempt_time, end)), last + 1), _CHART_WIDTH - 1)
    return " " * first + "#" * (last - first + 1) + "-" * (running - last)


def _time(value: float) -> str:
    return f"{value:.3f}" if value < _LONG_TIME else f"{value:.3e}"


# -- explain ----------------------------------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    policy = _policy(args)
    method: str = args.method.upper()
    status: int | None = args.status
    failure = FailureKind(args.failure) if args.failure else None
    headers = _merge_headers(args.headers)
    body = _read_body(args)
    if body is not None and status is None:
        raise _CliError("--body and --body-file need --status: a failure has no response body")
    if failure is not None and headers:
        raise _CliError("-H describes a response; --failure means there was none")
    now = time.time()

    def decision_at(rand: float) -> Decision:
        return decide(
            policy,
            attempt=args.attempt,
            method=method,
            has_idempotency_key=args.idempotency_key,
            status=status,
            headers=headers,
            failure=failure,
            elapsed=args.elapsed,
            now=now,
            rand=rand,
            previous_delay=args.previous_delay,
        )

    shown = decision_at(MEDIAN_RAND)
    shortest, longest = decision_at(0.0), decision_at(LONGEST_RAND)

    key = "with an idempotency key" if args.idempotency_key else "no idempotency key"
    print(
        f"request:   {method}, attempt {args.attempt} of {policy.max_attempts}, "
        f"{_number(args.elapsed)} s elapsed, {key}"
    )
    outcome = f"status {status}" if status is not None else f"failure {args.failure}"
    if headers:
        outcome += "; " + "; ".join(
            f"{name}: {shown_value(name, value)}" for name, value in headers.items()
        )
    print(f"outcome:   {outcome}")
    if shown.retry:
        print(
            f"decision:  retry ({shown.reason}): attempt {args.attempt + 1} of "
            f"{policy.max_attempts} follows"
        )
        print(f"wait:      {_seconds(shown.delay)} s (shown for the draw rand=0.5, the median)")
        if longest.retry and shortest.delay != longest.delay:
            print(
                f"range:     {_seconds(shortest.delay)} .. {_seconds(longest.delay)} s "
                f"with {policy.backoff.jitter} jitter"
            )
        elif not longest.retry or not shortest.retry:
            print(
                "range:     with another draw the wait would pass the deadline and "
                "retrykit would stop instead"
            )
    else:
        print(f"decision:  stop ({shown.reason})")
        print("wait:      none")
        if shortest.retry:
            print(
                f"note:      decided for the draw rand=0.5; a luckier draw (a wait as short as "
                f"{_seconds(shortest.delay)} s) would fit before the deadline and retry"
            )
    if shown.server_wait is not None:
        never_less = "; retrykit never waits less" if shown.retry else ""
        print(f"server:    asked to wait {_number(shown.server_wait)} s{never_less}")
    unreadable = unreadable_wait_headers(headers, now=now)
    if unreadable:
        them = "it" if len(unreadable) == 1 else "them"
        print(
            f"ignored:   {', '.join(unreadable)} could not be read, so the wait does not "
            f"follow {them}"
        )
    sentence = _reason_sentence(
        shown, policy=policy, args=args, method=method, status=status, failure=failure
    )
    print(f"reason:    {sentence}")
    if body is not None and status is not None:
        print()
        _print_envelope(status, headers, body, now)
    return 0


def _merge_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    # Repeated fields combine into one comma-separated value (RFC 9110, section 5.3).
    merged: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        if lower in names:
            merged[names[lower]] += ", " + value
        else:
            names[lower] = name
            merged[name] = value
    return merged


def _read_body(args: argparse.Namespace) -> bytes | None:
    if args.body is not None:
        return str(args.body).encode()
    if args.body_file is not None:
        try:
            return Path(args.body_file).read_bytes()
        except OSError as exc:
            raise _CliError(f"cannot read --body-file: {exc.strerror}: {exc.filename}") from None
    return None


def _reason_sentence(
    decision: Decision,
    *,
    policy: RetryPolicy,
    args: argparse.Namespace,
    method: str,
    status: int | None,
    failure: FailureKind | None,
) -> str:
    # Why a repeat is safe, from the core's own predicates; the sentences that use it are
    # only given for decisions where one of these holds.
    if args.idempotency_key:
        safe_because = "the request carries an idempotency key, so the server can deduplicate it"
    elif is_safe_to_repeat(policy, method, has_idempotency_key=False):
        safe_because = f"{method} is idempotent (sending it twice does what sending it once does)"
    elif failure is FailureKind.CONNECT:
        safe_because = "the server never received it"
    elif status is not None and proves_not_processed(status):
        safe_because = f"a {status} means the server did not act on the request"
    else:
        safe_because = f"{method} is not safe to repeat"
    template = REASON_SENTENCES.get(decision.reason, "{reason}")
    return template.format(
        reason=decision.reason,
        method=method,
        status=status,
        attempt=args.attempt,
        max_attempts=policy.max_attempts,
        elapsed=_number(args.elapsed),
        deadline=_number(policy.deadline),
        server_wait=_number(decision.server_wait),
        max_retry_after=_number(policy.max_retry_after),
        safe_because=safe_because,
    )


def _print_envelope(status: int, headers: Mapping[str, str], body: bytes, now: float) -> None:
    from retrykit._core._envelope import parse_error  # noqa: PLC0415 - only when asked

    info = parse_error(status, headers, body, now=now)
    print("envelope:")
    print(f"  code:         {info.code or 'none'}")
    print(f"  message:      {info.message}")
    print(f"  request id:   {info.request_id or 'none'}")
    if info.field_errors:
        print("  field errors:")
        for field_error in info.field_errors:
            print(f"    {field_error.field}: {field_error.message}")
    else:
        print("  field errors: none")
    if info.retry_after is not None:
        print(f"  retry after:  {_number(info.retry_after)} s")
    print(f"  user message: {info.user_message}")
