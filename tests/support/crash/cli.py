"""The crash harness's command line: its options, SIGTERM handled like Ctrl-C, and the exit
code (0: no violation and no finding; 1: violations, findings, or the run did not complete;
2: bad arguments)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType

import tests.support.crash as package
from tests.support.crash.harness import CrashHarness
from tests.support.crash.options import (
    DEFAULT_CONFIG,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATION,
    HarnessOptions,
    say,
)
from tests.support.crash.report import format_summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.crash",
        description=(package.__doc__ or "").split("\n")[0],
    )
    defaults = HarnessOptions()
    parser.add_argument("--kills", type=int, default=defaults.kills, help="SIGKILLs (>= 1)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the kill plan")
    parser.add_argument("--speed", type=float, default=defaults.speed, help="x real time")
    parser.add_argument("--report", type=Path, help="write the summary here as JSON")
    parser.add_argument("--start", default=defaults.start, help="simulated start (ISO-8601)")
    parser.add_argument("--workdir", type=Path, help="work here (kept) instead of a temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    parser.add_argument("--timeout", type=float, help="seconds for the whole run")
    parser.add_argument(
        "--max-trades-per-day",
        type=int,
        default=defaults.max_trades_per_day,
        help="risk.max_trades_per_day for the run (0: keep the config's)",
    )
    parser.add_argument(
        "--default-bars", action="store_true", help="keep the shipped MA-cross bar lengths"
    )
    parser.add_argument(
        "--on-mismatch",
        choices=["halt", "trade"],
        help="engine.on_mismatch for the run (default: the config's, halt): with trade the "
        "engine keeps trading after a startup position mismatch (still a violation here)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="config to copy")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the engine's ledger: an empty database, e.g. postgresql://user@host:port/db "
        "(default: an SQLite file in the work dir)",
    )
    return parser


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: the engine is killed and the server stopped."""

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.kills < 1 or not 0 < args.speed <= 1000:
        sys.stderr.write("crash harness: --kills must be >= 1 and --speed in (0, 1000]\n")
        return EXIT_USAGE
    try:
        datetime.fromisoformat(args.start)
    except ValueError:
        sys.stderr.write(f"crash harness: --start: not ISO-8601: {args.start!r}\n")
        return EXIT_USAGE
    options = HarnessOptions(
        kills=args.kills,
        seed=args.seed,
        speed=args.speed,
        start=args.start,
        report=args.report,
        workdir=args.workdir,
        keep=args.keep,
        timeout_s=args.timeout,
        max_trades_per_day=args.max_trades_per_day or None,
        fast_bars=not args.default_bars,
        on_mismatch=args.on_mismatch,
        config=args.config,
        database_url=args.db,
    )
    harness = CrashHarness(options)
    with _signals_raise():
        try:
            summary = harness.run()
        except KeyboardInterrupt:
            sys.stderr.write("crash harness: interrupted; engine killed, market stopped\n")
            return EXIT_VIOLATION
    harness.cleanup(summary)
    text = format_summary(summary)
    say(text)
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return EXIT_OK if summary["clean"] else EXIT_VIOLATION
