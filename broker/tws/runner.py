"""Command line for the simulated TWS: ``python -m broker.tws`` or ``main.py tws-sim``.

    tws-sim [--host 127.0.0.1] [--port 7497] [--seed N] [--speed N] [--start ISO-8601]
            [--config PATH] [--allow-remote] [--state FILE | --no-state] [--scenario FILE]
            [--entitlements live|delayed|none] [--max-market-data-lines N]

Symbols, spreads, volatilities, cash, commissions and margins come from the config's ``[sim]``
section; session hours, holidays and the time zone from ``[engine]``. ``run_tws_sim`` runs on
the caller's (main) thread and blocks until SIGINT or SIGTERM; the server runs on its own
threads. Exit codes as ``main.py``: 0 ok, 2 bad input, 1 runtime failure.

State: the command keeps its account, orders, executions, ids and time in a state file across
its own restarts (by default ``tws-sim-state.json`` next to the config; ``--state FILE`` to
choose, ``--no-state`` for a fresh account every run), because a user restarts it as one would
restart TWS, whose account lives at IB. ``TwsSimServer`` itself keeps no state unless given a
file, so tests start fresh. ``--scenario FILE``: a fault drill (``broker.tws.scenario``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType

from loguru import logger

from broker.sim.from_config import option_spec, sim_symbols
from broker.tws.entitlements import DEFAULT_MAX_LINES, ENTITLEMENTS
from broker.tws.scenario import ScenarioError, load_scenario
from broker.tws.server import TwsSimServer
from broker.tws.state_codec import StateError
from core.calendar import TradingCalendar
from core.config import ConfigError, EngineConfig, load_config
from core.moments import moment_out_of_range, speed_out_of_range

STATE_FILE_NAME = "tws-sim-state.json"

__all__ = [
    "add_tws_sim_arguments",
    "main",
    "run_tws_sim",
    "server_from_config",
]

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def add_tws_sim_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``tws-sim`` options to ``parser`` (e.g. a ``main.py`` subparser); returns it."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    parser.add_argument("--port", type=int, default=7497, help="TCP port (default 7497)")
    parser.add_argument("--seed", type=int, help="market seed (default: sim.seed of the config)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated x real time (> 0)")
    parser.add_argument(
        "--start",
        help="simulated start, ISO-8601 (exchange time if no offset; default: the open of the "
        "latest trading day)",
    )
    parser.add_argument("--config", default="config.toml", help="engine config (its [sim])")
    parser.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --host")
    state = parser.add_mutually_exclusive_group()
    state.add_argument(
        "--state",
        help=f"keep the account, orders and time in this file (default: {STATE_FILE_NAME} "
        "next to the config)",
    )
    state.add_argument(
        "--no-state", action="store_true", help="no state file: a fresh account every run"
    )
    parser.add_argument("--scenario", help="a TOML file of faults at simulated times (a drill)")
    parser.add_argument(
        "--entitlements",
        choices=ENTITLEMENTS,
        default="live",
        help="the account's market data: live, delayed only (paper without subscriptions: "
        "10089 for live requests, ticks 66-68 for delayed) or none (354/10168)",
    )
    parser.add_argument(
        "--max-market-data-lines",
        type=int,
        default=DEFAULT_MAX_LINES,
        help=f"concurrent market-data lines (default {DEFAULT_MAX_LINES}, IB's); error 101 beyond",
    )
    parser.add_argument(
        "--log-terminal",
        action="store_true",
        help="also write the whole log (DEBUG) to the terminal; by default it goes to "
        "<engine.log_dir>/tws-sim/ and only warnings and errors reach the terminal",
    )
    return parser


def state_path(args: argparse.Namespace) -> Path | None:
    """The state file ``args`` ask for (None with ``--no-state``)."""
    if getattr(args, "no_state", False):
        return None
    explicit = getattr(args, "state", None)
    if explicit:
        return Path(explicit)
    return Path(args.config).resolve().parent / STATE_FILE_NAME


def server_from_config(
    config: EngineConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 7497,
    seed: int | None = None,
    speed: float = 1.0,
    start: datetime | None = None,
    allow_remote: bool = False,
    state_file: Path | None = None,
    entitlements: str = "live",
    max_market_data_lines: int = DEFAULT_MAX_LINES,
) -> TwsSimServer:
    """A (not yet started) server for an engine config's ``[sim]`` and ``[engine]`` sections.

    Raises:
        ValueError: no symbols in ``[sim.symbols]``, a remote host, or a bad value.
        StateError: a ``state_file`` that cannot be read back (a ``ValueError``).
    """
    sim = config.sim
    calendar = TradingCalendar.build(
        config.tz, config.open_time, config.close_time, config.engine.holidays
    )
    return TwsSimServer(
        host,
        port,
        symbols=sim_symbols(config),
        seed=sim.seed if seed is None else seed,
        start=start or calendar.latest_open(datetime.now(config.tz)),
        speed=speed,
        tick_interval_s=sim.tick_interval_s,
        calendar=calendar,
        allow_remote=allow_remote,
        state_file=state_file,
        starting_cash=sim.starting_cash,
        commission_per_share=sim.commission_per_share,
        commission_min=sim.commission_min,
        maint_margin_long_pct=sim.maint_margin_long_pct,
        maint_margin_short_pct=sim.maint_margin_short_pct,
        drift_annual=sim.drift_annual,
        industries={name: spec.sector for name, spec in sim.symbols.items()},
        primary_exchanges={
            name: spec.primary_exchange
            for name, spec in sim.symbols.items()
            if spec.primary_exchange is not None
        },
        commission_per_contract=sim.options.commission_per_contract,
        option_commission_min=sim.options.commission_min,
        option_spec=option_spec(sim.options),
        entitlements=entitlements,
        max_market_data_lines=max_market_data_lines,
    )


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _parse_start(text: str | None, config: EngineConfig) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--start: expected ISO-8601 like 2026-01-05T09:30 (got {text!r})"
        ) from None
    problem = moment_out_of_range("--start", moment)
    if problem:
        raise ValueError(problem)
    return moment.replace(tzinfo=config.tz) if moment.tzinfo is None else moment


def run_tws_sim(
    args: argparse.Namespace,
    *,
    stop: threading.Event | None = None,
    on_started: Callable[[TwsSimServer], None] | None = None,
) -> int:
    """Run the simulated TWS until SIGINT/SIGTERM (or ``stop`` is set); the exit code.

    Args:
        args: the options of ``add_tws_sim_arguments`` (host, port, seed, speed, start, config,
            allow_remote).
        stop: set it to stop from another thread (tests); signals are handled only when called
            on the main thread.
        on_started: called with the running server once it listens (e.g. to read the port
            chosen for ``--port 0``).
    """
    try:
        config = load_config(args.config)
    except ConfigError as err:
        for line in err.problems:
            _say(line)
        return EXIT_BAD_INPUT
    try:
        start = _parse_start(args.start, config)
        speed_problem = speed_out_of_range("--speed", args.speed)
        if speed_problem:
            raise ValueError(speed_problem)
        server = server_from_config(
            config,
            host=args.host,
            port=args.port,
            seed=args.seed,
            speed=args.speed,
            start=start,
            allow_remote=getattr(args, "allow_remote", False),
            state_file=state_path(args),
            entitlements=getattr(args, "entitlements", "live"),
            max_market_data_lines=getattr(args, "max_market_data_lines", DEFAULT_MAX_LINES),
        )
        if getattr(args, "scenario", None):
            server.schedule_faults(
                load_scenario(
                    args.scenario, tz=config.tz, start=server.now(), server_class=TwsSimServer
                )
            )
    except (StateError, ScenarioError) as err:
        _say(f"tws-sim: {err}")
        return EXIT_BAD_INPUT
    except ValueError as err:
        _say(f"tws-sim: {err}")
        return EXIT_BAD_INPUT
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except OSError as err:
        _say(f"tws-sim: cannot listen on {args.host}:{args.port}: {err}")
        return EXIT_FAILURE
    try:
        started = server.now().strftime("%Y-%m-%d %H:%M:%S %Z")
        symbols = ", ".join(config.sim.symbols)
        _say(
            f"tws-sim: listening on {server.host}:{server.port}, account {server.account}, "
            f"symbols {symbols}, simulated start {started}, speed {args.speed}x"
        )
        _say(f"tws-sim: {_state_line(server, state_path(args))}")
        if on_started is not None:
            on_started(server)
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


def _state_line(server: TwsSimServer, path: Path | None) -> str:
    saved = server.restored
    if path is None:
        return "no state file (a fresh account every run)"
    if saved is None or saved.desk is None or saved.book is None:
        return f"state file {path} (new)"
    working = sum(1 for o in saved.desk.orders if not o.done)
    return (
        f"state file {path}: resumed at {saved.clock:%Y-%m-%d %H:%M:%S %Z} with "
        f"{len(saved.book.holdings)} position(s), {working} open order(s), "
        f"{len(saved.desk.executions)} execution(s)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m broker.tws [options]`` (main thread): logs at INFO to stderr, then
    ``run_tws_sim``."""
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{time:HH:mm:ss} {level} {message}")
    description = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m broker.tws", description=description)
    return run_tws_sim(add_tws_sim_arguments(parser).parse_args(argv))
