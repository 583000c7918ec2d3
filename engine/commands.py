"""The command line's commands that do not run the engine: ``check-config``, ``report``,
``check-ledger``, ``validate`` and ``tws-sim`` (``main.py`` parses the arguments and dispatches
here), and what every command shares: ``UsageError``, the exit code for bad input, loading the
config.

Threads: the command line's (main) thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from core.config import ConfigError, EngineConfig, load_config

__all__ = [
    "EXIT_BAD_INPUT",
    "UsageError",
    "cmd_check_config",
    "cmd_check_ledger",
    "cmd_report",
    "cmd_tws_sim",
    "cmd_validate",
    "load_config_or_exit",
]

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A command-line value that cannot be used; the message names the option."""


def load_config_or_exit(path: str) -> EngineConfig:
    """The config at ``path``; on a bad one, its problems on stderr (a line each) and exit 2."""
    try:
        return load_config(path)
    except ConfigError as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config_or_exit(args.config)
    print(
        f"{args.config}: ok ({len(config.accounts)} virtual accounts, "
        f"{len(config.sim.symbols)} symbols, broker {config.broker.kind})"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from db.consolidated import format_consolidated_text  # noqa: PLC0415
    from db.reading import NoLedger, read_reports  # noqa: PLC0415
    from db.refusals import LedgerRefused  # noqa: PLC0415
    from db.report import format_text_report  # noqa: PLC0415

    config = load_config_or_exit(args.config)
    url, instance = _ledger_of(args, config)
    if getattr(args, "html", None) is not None:
        return _report_html(args, config, url, instance)
    try:
        report, consolidated = read_reports(
            url, instance=instance, every_instance=args.all, tz=config.tz
        )
    except (NoLedger, LedgerRefused, ValueError, RuntimeError) as err:
        print(f"main.py report: {err}", file=sys.stderr)  # no such ledger, a bad URL or name
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=None, default=str))
    elif consolidated:
        print(format_consolidated_text(report))
    else:
        print(format_text_report(report))
    return 0


def _report_html(args: argparse.Namespace, config: EngineConfig, url: str, instance: str) -> int:
    """``report --html PATH``: the charts of one instance's ledger in one HTML file."""
    from pathlib import Path  # noqa: PLC0415

    from db.reading import NoLedger, read_contents  # noqa: PLC0415
    from db.refusals import LedgerRefused  # noqa: PLC0415
    from engine.report_html import write_html_report  # noqa: PLC0415 - plotly: only here

    if args.all or args.json:
        given = "--all" if args.all else "--json"
        print(
            f"main.py report: --html draws one instance and prints no report: drop {given}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        contents = read_contents(url, instance=instance, tz=config.tz)
    except (NoLedger, LedgerRefused, ValueError, RuntimeError) as err:
        print(f"main.py report: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = Path(args.html)
    title = f"Engine report: instance {instance}"
    try:
        write_html_report(contents, path, tz=config.tz, title=title)
    except OSError as err:
        print(
            f"main.py report: cannot write --html {args.html}: {err.strerror or err}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    trades = len(contents.report["trades"])
    print(f"wrote {path} ({trades} closed trades, {len(contents.executions)} fills)")
    return 0


def cmd_check_ledger(args: argparse.Namespace) -> int:
    from db.reading import NoLedger, read_instance_problems  # noqa: PLC0415
    from db.refusals import LedgerRefused  # noqa: PLC0415

    config = load_config_or_exit(args.config)
    url, instance = _ledger_of(args, config)
    try:
        problems = read_instance_problems(url, instance=instance)
    except (NoLedger, LedgerRefused, ValueError, RuntimeError) as err:
        print(f"main.py check-ledger: {err}", file=sys.stderr)  # no such ledger, a bad URL or name
        return EXIT_BAD_INPUT
    for problem in problems:
        print(problem.line())
    if not problems:
        print("ok")
    return 1 if problems else 0


def _ledger_of(args: argparse.Namespace, config: EngineConfig) -> tuple[str, str]:
    """The database URL and instance a reading command names (else the config's)."""
    return args.db or config.engine.database_url, args.instance or config.engine.instance


def cmd_validate(args: argparse.Namespace) -> int:
    from dataclasses import replace  # noqa: PLC0415

    from core.config_errors import ConfigError  # noqa: PLC0415
    from engine.validation import (  # noqa: PLC0415
        ValidationOptions,
        format_markdown,
        run_validation,
    )

    try:
        _check_validate_args(args)
    except UsageError as err:
        print(f"validate: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from engine.logging_setup import setup_logging, shutdown_logging  # noqa: PLC0415

    given = sys.argv[1:] if sys.argv[1:2] == ["validate"] else ["validate"]
    options = ValidationOptions(
        config_path=args.config,
        days=args.days,
        speed=args.speed,
        seed=args.seed,
        database_url=args.db,
        min_trades=args.min_trades,
        command="python main.py " + " ".join(given),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        progress_stream=sys.stderr,
    )
    if args.scenario is not None:
        options = replace(options, scenario=None if args.scenario == "none" else args.scenario)
    setup_logging("logs/validation", console=False, level="INFO")
    try:
        result = run_validation(options)
    except ConfigError as err:
        for line in err.problems:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        shutdown_logging()
    markdown = format_markdown(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(markdown)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print(markdown, end="")
    return 0 if result["passed"] else 1


def _check_validate_args(args: argparse.Namespace) -> None:
    if not 1 <= args.days <= 60:
        raise UsageError(f"--days: must be 1 to 60 (got {args.days})")
    if not 1 <= args.speed <= 2000:
        raise UsageError(f"--speed: must be 1 to 2000 (got {args.speed:g})")
    if args.min_trades < 0:
        raise UsageError(f"--min-trades: must be >= 0 (got {args.min_trades})")
    if args.seed is not None and not 0 <= args.seed < 2**63:  # sim.seed's bounds
        raise UsageError(f"--seed: must be >= 0 and <= {2**63 - 1} (got {args.seed})")
    _fresh_database(args.db)


def _fresh_database(url: str) -> None:
    """The validation writes a ledger of its own: refuse one that already has a file."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :]
        if os.path.exists(path) and os.path.getsize(path) > 0:
            raise UsageError(f"--db: {path} exists; the validation needs a fresh ledger")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def cmd_tws_sim(args: argparse.Namespace) -> int:
    """tws-sim's log goes to ``<engine.log_dir>/tws-sim/`` (its warnings to the terminal too),
    all of it to the terminal with ``--log-terminal``."""
    from loguru import logger  # noqa: PLC0415

    from broker.tws.runner import run_tws_sim  # noqa: PLC0415
    from engine.logging_setup import setup_logging, shutdown_logging  # noqa: PLC0415

    config = load_config_or_exit(args.config)
    log_dir = os.path.join(config.engine.log_dir, "tws-sim")
    setup_logging(log_dir, console=not args.log_terminal)
    if args.log_terminal:
        logger.add(sys.stderr, level="DEBUG", format="{time:HH:mm:ss} {level} {message}")
    where = os.path.join(log_dir, "engine.log")

    def say_where(_server: object) -> None:  # once it listens: bad input stays one line
        print(f"tws-sim: log in {where}", file=sys.stderr, flush=True)

    try:
        return run_tws_sim(args, on_started=say_where)
    finally:
        shutdown_logging()
