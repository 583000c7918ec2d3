"""``main.py run``'s command-line values read into ``RunOptions``: ``--speed``, ``--start``,
``--until``, ``--seed``, ``--live``, ``--dry-run`` against the config (the simulator or IB).

Each refusal is a ``UsageError`` whose message names the option. Threads: the command line's
(main) thread.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time

from core.config import EngineConfig
from engine.commands import UsageError
from engine.options import RunOptions

__all__ = ["MAX_SEED", "parse_speed", "parse_until", "run_options"]

MAX_SEED = 2**63 - 1  # sim.seed's bound: a seed is a non-negative 64-bit integer


def parse_speed(text: str | None) -> float | None:
    if text is None:
        return 1.0
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise UsageError(f"--speed: expected a number or max (got {text!r})") from None
    from core.moments import speed_out_of_range  # noqa: PLC0415

    problem = speed_out_of_range("--speed", speed)
    if problem:
        raise UsageError(problem)
    return speed


def _parse_moment(option: str, text: str, config: EngineConfig) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: expected ISO-8601 like 2026-01-05T09:30 (got {text!r})"
        ) from None
    from core.moments import moment_out_of_range  # noqa: PLC0415

    problem = moment_out_of_range(option, moment)
    if problem:
        raise UsageError(problem)
    return (
        moment.replace(tzinfo=config.tz) if moment.tzinfo is None else moment.astimezone(config.tz)
    )


def parse_until(text: str | None, start: datetime, config: EngineConfig) -> datetime | None:
    if text is None:
        return None
    if len(text) <= 5 and ":" in text:
        try:
            at = time.fromisoformat(text)
        except ValueError:
            raise UsageError(f"--until: expected HH:MM (got {text!r})") from None
        until = datetime.combine(start.date(), at, tzinfo=config.tz)
    else:
        until = _parse_moment("--until", text, config)
    if until <= start:
        raise UsageError(f"--until: {until.isoformat()} is not after the start {start.isoformat()}")
    return until


def run_options(args: argparse.Namespace, config: EngineConfig) -> RunOptions:
    """Run options on the simulator. Without ``--start`` the ledger decides where the run
    starts (``core.rules.timeline``), and ``--until`` is read against that start once the
    engine is built (``main.py``'s ``_engine``)."""

    speed = parse_speed(args.speed)
    if config.broker.kind == "ib":
        return _ib_options(args, config, speed)
    if args.live or args.dry_run:
        flag = "--live" if args.live else "--dry-run"
        raise UsageError(f"{flag}: only with --broker ib")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed: must be >= 0 and <= {MAX_SEED} (got {args.seed})")
    start = _parse_moment("--start", args.start, config) if args.start else None
    if start is not None:
        start = _session_start(start, config)
    until = parse_until(args.until, start, config) if start is not None else None
    return RunOptions(
        database_url=args.db,
        speed=speed,
        start=start,
        until=until,
        seed=args.seed,
        config_path=args.config,
    )


def _session_start(start: datetime, config: EngineConfig) -> datetime:
    """A ``--start`` with no session (weekend, holiday, after the close) moves to the next
    open, said in one line on stderr (``core.moments.session_start``)."""
    from core.calendar import TradingCalendar  # noqa: PLC0415
    from core.moments import session_start  # noqa: PLC0415

    calendar = TradingCalendar.build(
        config.tz, config.open_time, config.close_time, config.engine.holidays
    )
    moved, line = session_start(calendar, start)
    if line is not None:
        sys.stderr.write(f"main.py run: {line}\n")
        sys.stderr.flush()
    return moved


def _ib_options(args: argparse.Namespace, config: EngineConfig, speed: float | None) -> RunOptions:
    """Run options against TWS / IB Gateway: the clock starts at the broker's time (no
    --start), at --speed (1 = real time; N only makes sense against ``tws-sim --speed N``)."""
    from broker.ib.safety import LiveTradingRefused, check_port  # noqa: PLC0415

    if args.start:
        raise UsageError("--start: not with --broker ib (the clock starts at the broker's time)")
    if speed is None:
        raise UsageError("--speed max: not with --broker ib (the broker runs in real time)")
    if args.seed is not None:
        raise UsageError("--seed: not with --broker ib (the market is the broker's)")
    ib = config.broker.ib
    if args.live and not ib.allow_live:
        raise UsageError("--live: set broker.ib.allow_live = true in the config as well")
    try:
        check_port(ib.port, allow_live=ib.allow_live, live_flag=args.live)
    except LiveTradingRefused as err:
        raise UsageError(str(err)) from None
    return RunOptions(
        database_url=args.db,
        speed=speed,
        live=args.live,
        dry_run=args.dry_run,
        config_path=args.config,
    )
