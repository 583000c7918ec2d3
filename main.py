"""Command line: the engine (run, attach, status, health, stop) and its tools (report, ...).

    python main.py run [--config PATH] [--broker sim|ib] [--headless] [--db URL]
                       [--speed N|max] [--start ISO-8601] [--until HH:MM|ISO-8601] [--seed N]
                       [--live] [--dry-run]
    python main.py attach [--socket PATH] [--config PATH] [--db URL] [--read-only] [--wait S]
    python main.py status [--config PATH] [--db URL] [--socket PATH] [--json]
    python main.py health [--config PATH] [--db URL] [--socket PATH]
    python main.py stop [--config PATH] [--db URL] [--socket PATH] [--flatten | --leave]
                        [--timeout S]
    python main.py halt [--config PATH] [--db URL] [--socket PATH] [--reason TEXT]
    python main.py resume [--config PATH] [--db URL] [--socket PATH] [--reason TEXT] [--yes]
    python main.py flatten [--config PATH] [--db URL] [--socket PATH] [--va VA] [--reason TEXT]
                           [--yes]
    python main.py check-config [--config PATH]
    python main.py report [--config PATH] [--db URL] [--instance NAME | --all] [--json]
    python main.py report --html PATH [--config PATH] [--db URL] [--instance NAME]
    python main.py check-ledger [--config PATH] [--db URL] [--instance NAME]
    python main.py tws-sim [--host 127.0.0.1] [--port 7497] [--seed N] [--speed N]
                           [--start ISO-8601] [--config PATH]
    python main.py validate [--config PATH] [--days N] [--speed N] [--seed N] [--db URL]
                            [--min-trades N] [--out FILE.md] [--json]

``run`` without ``--headless`` starts ``run --headless`` as a child process and attaches the
dashboard to it (``engine/operations/run_attached.py``); ``attach``, ``status``, ``health``,
``stop``, ``halt``, ``resume`` and ``flatten`` talk to a running engine over its control socket
(``halt``, ``resume`` and ``flatten``: ``engine/operations/trading_commands.py``).

Exit codes: 0 ok, 2 bad input (config or arguments), 1 a runtime failure (for validate: a
failed check; for check-ledger: problems found; for status, health and stop: no engine runs
there, it is unhealthy, or it did not stop in time; for halt, resume and flatten: no engine
runs there, it refused or did not journal the command, or the question was answered no).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import EngineConfig
    from engine.engine import Engine
    from engine.options import RunOptions

from engine.commands import (
    EXIT_BAD_INPUT,
    UsageError,
    cmd_check_config,
    cmd_check_ledger,
    cmd_report,
    cmd_tws_sim,
    cmd_validate,
    load_config_or_exit,
)
from engine.run_arguments import parse_until, run_options

EXIT_FORCED = 130  # a second SIGINT/SIGTERM: out at once, recovered like a crash


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the engine (simulator by default)")
    run.add_argument("--config", default="config.toml")
    run.add_argument("--broker", choices=["sim", "ib"])
    run.add_argument(
        "--headless",
        action="store_true",
        help="no TUI; fills and risk events are printed to stderr",
    )
    run.add_argument("--db", help="database URL (any peewee URL); overrides engine.database_url")
    run.add_argument("--speed", default=None, help="simulation speed: N (x real time) or max")
    run.add_argument(
        "--start",
        help="simulated start, ISO-8601 in exchange time, after the ledger's last record "
        "(default: the next session open after it; an empty ledger: the latest trading day's)",
    )
    run.add_argument(
        "--until", help="stop at HH:MM exchange time on the start day, or at an ISO-8601 moment"
    )
    run.add_argument("--seed", type=int, help="market simulator seed (overrides sim.seed)")
    run.add_argument(
        "--live",
        action="store_true",
        help="--broker ib: allow a live-trading port or account (needs broker.ib.allow_live)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="--broker ib: market data and account from IB, orders stored but never sent",
    )

    attach = sub.add_parser("attach", help="the dashboard of an engine running elsewhere")
    attach.add_argument("--config", default="config.toml", help="the engine's config")
    attach.add_argument("--db", help="the engine's --db (its socket is beside the ledger)")
    attach.add_argument("--socket", help="the engine's control socket (overrides the config)")
    attach.add_argument("--read-only", action="store_true", help="a viewer: no trading keys")
    attach.add_argument(
        "--wait", type=float, default=10.0, help="seconds to wait for the engine (default 10)"
    )
    from engine.operations.arguments import add_operations  # noqa: PLC0415 - light: argparse

    add_operations(sub)  # status, health, stop, halt, resume, flatten

    check = sub.add_parser("check-config", help="validate the config and exit")
    check.add_argument("--config", default="config.toml")

    report = sub.add_parser("report", help="summarize the ledger")
    report.add_argument("--config", default="config.toml")
    report.add_argument("--db", help="database URL (default: engine.database_url of the config)")
    report.add_argument("--json", action="store_true", help="one JSON object on stdout")
    report.add_argument(
        "--html", metavar="PATH", help="write charts to one self-contained HTML file (one instance)"
    )
    which = report.add_mutually_exclusive_group()
    which.add_argument("--instance", help="the engine instance (default: engine.instance)")
    which.add_argument(
        "--all", action="store_true", help="every instance in the database, and the totals"
    )

    ledger = sub.add_parser("check-ledger", help="verify the ledger's invariants")
    ledger.add_argument("--config", default="config.toml")
    ledger.add_argument("--db", help="database URL (default: engine.database_url of the config)")
    ledger.add_argument("--instance", help="the engine instance (default: engine.instance)")

    validate = sub.add_parser(
        "validate",
        help="the naked-put VAs over the IB API against tws-sim, with drills; a report",
    )
    validate.add_argument("--config", default="config.toml")
    validate.add_argument("--days", type=int, default=15, help="simulated trading days")
    validate.add_argument("--speed", type=float, default=300.0, help="simulated x real time")
    validate.add_argument("--seed", type=int, help="market seed (default: sim.seed)")
    validate.add_argument(
        "--db", default="sqlite:///data/validation.db", help="the run's ledger (a fresh one)"
    )
    validate.add_argument("--min-trades", type=int, default=20, help="closed option trades")
    validate.add_argument("--out", help="also write the Markdown report to this file")
    validate.add_argument(
        "--scenario",
        help="tws-sim fault drill (default: broker/tws/scenarios/validation.toml; none: none)",
    )
    validate.add_argument("--json", action="store_true", help="one JSON object on stdout")

    from broker.tws.runner import add_tws_sim_arguments  # noqa: PLC0415 - light: no ib_async

    add_tws_sim_arguments(
        sub.add_parser("tws-sim", help="a simulated TWS (API protocol 178) on a local port")
    )
    return parser


def _print_event(item: object) -> None:
    """The headless printer: one stderr line per fill or risk event, every string in it from
    outside (a reason, a broker's text) escaped by ``core.text.printable`` (bus thread). Every
    snapshot of a run comes here too: they are let go before any import statement runs."""
    if getattr(item, "kind", None) not in ("fill", "risk"):
        return
    from actors.messages.events import EngineEvent  # noqa: PLC0415
    from core.text import printable  # noqa: PLC0415

    if isinstance(item, EngineEvent) and item.kind in ("fill", "risk"):
        va, text = printable(item.va_id or "-"), printable(item.text)
        # One write per line: lines from several threads never run into each other.
        sys.stderr.write(f"{item.time:%Y-%m-%d %H:%M:%S} {item.kind:<4} {va} {text}\n")
        sys.stderr.flush()


class _StopSignals:
    """SIGINT and SIGTERM, for the whole run: the first asks for a graceful stop (the headless
    wait or the dashboard ends, then the engine stops as ``engine.on_shutdown`` says); a second
    one, e.g. while that stop is still running, forces the process out at once with exit code
    130. A forced exit is a crash as far as the ledger is concerned: orders are stored before
    they are sent and the next start reconciles with the broker, so nothing is lost."""

    def __init__(self, requested: threading.Event | None = None) -> None:
        """``requested``: the event a stop sets (the engine's ``stop_requested``, which a
        ``stop`` over the control channel sets too)."""
        self.requested = requested or threading.Event()
        self.count = 0

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            print("second signal: forcing exit", file=sys.stderr, flush=True)
            os._exit(EXIT_FORCED)
        print(f"signal {signum}: stopping", file=sys.stderr, flush=True)
        self.requested.set()


def _wait_headless(
    engine: Engine, stop: threading.Event, tick: Callable[[], None] | None = None
) -> None:
    """Until a signal, the engine's own end, or a ``stop`` over the control channel; ``tick``
    (the progress) every 0.2 wall seconds meanwhile."""
    while not (stop.is_set() or engine.done.is_set() or engine.stop_requested.is_set()):
        if tick is not None:
            tick()
        stop.wait(0.2)


def _stop_engine(engine: Engine) -> None:
    """The run's end: as a ``stop`` over the control channel asked, else as
    ``engine.on_shutdown`` says."""
    flatten = engine.stop_flatten if engine.stop_requested.is_set() else None
    if engine.stopped_because is not None or flatten is False:
        engine.stop()  # nothing more is decided: positions keep their protective stops
    else:
        engine.shutdown(flatten=flatten)


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config_or_exit(args.config)
    if args.broker:
        config = config.model_copy(
            update={"broker": config.broker.model_copy(update={"kind": args.broker})}
        )
    if args.dry_run and config.broker.kind == "ib":
        ib = config.broker.ib.model_copy(update={"dry_run": True})
        config = config.model_copy(update={"broker": config.broker.model_copy(update={"ib": ib})})
    try:
        options = run_options(args, config)
    except UsageError as err:
        print(f"main.py run: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.headless:
        return _run_with_dashboard(args, config)

    from engine.logging_setup import setup_logging, shutdown_logging  # noqa: PLC0415

    setup_logging(config.engine.log_dir, console=args.headless)
    from db.refusals import LedgerRefused  # noqa: PLC0415

    try:
        engine = _engine(config, options, args.until)
    except (UsageError, LedgerRefused) as err:
        print(f"main.py run: {err}", file=sys.stderr)
        shutdown_logging()
        return EXIT_BAD_INPUT
    except _BrokerUnavailable as err:
        print(f"main.py run: {err}", file=sys.stderr)
        shutdown_logging()
        return err.exit_code
    from engine.control.server import ControlRefused  # noqa: PLC0415
    from engine.headless_run import HeadlessProgress, print_run_summary  # noqa: PLC0415

    signals = _StopSignals(engine.stop_requested)  # a signal, or a stop over the channel
    signals.install()
    progress = HeadlessProgress(engine)
    try:
        engine.bus.subscribe(_print_event)
        engine.start()
        if engine.control is not None:
            sys.stderr.write(f"control: serving on {engine.control.path}\n")
            sys.stderr.flush()
        progress.begin()
        _wait_headless(engine, signals.requested, progress.tick)
    except ControlRefused as err:
        print(f"main.py run: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        progress.close()
        _stop_engine(engine)
        shutdown_logging()
    if engine.started_at is not None:  # the engine's start, as its clients were told
        print_run_summary(
            options.database_url or config.engine.database_url,
            instance=config.engine.instance,
            tz=config.tz,
            since=engine.started_at,
            command="main.py run",
        )
    if engine.stopped_because is not None:
        print(f"main.py run: {engine.stopped_because}", file=sys.stderr)
        return 1
    return 0


def _run_with_dashboard(args: argparse.Namespace, config: EngineConfig) -> int:
    """``run`` without ``--headless``: ``run --headless`` as a child process, the dashboard
    (``tui.attach_command.attach_dashboard``) attached to it (``engine.operations``)."""
    from engine.logging_setup import setup_logging, shutdown_logging  # noqa: PLC0415
    from engine.operations.run_attached import (  # noqa: PLC0415
        DashboardChoice,
        dashboard_choice,
        plan_run,
        run_attached,
    )

    plan = plan_run(os.path.abspath(__file__), args, config)
    if isinstance(plan, str):
        print(f"main.py run: {plan}", file=sys.stderr)
        return EXIT_BAD_INPUT

    def attach(socket: str, end: threading.Event) -> DashboardChoice | None:
        from tui.attach_command import attach_dashboard  # noqa: PLC0415 - Textual: only here

        # The dashboard owns the terminal: its log goes to a file of its own.
        setup_logging(os.path.join(config.engine.log_dir, "attach"), console=False, level="INFO")
        try:
            return dashboard_choice(attach_dashboard(socket, end, client="main.py run"))
        finally:
            shutdown_logging()

    return run_attached(plan, attach)


class _BrokerUnavailable(Exception):
    """The broker refused us or could not be reached (one line, with the exit code)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _engine(config: EngineConfig, options: RunOptions, until_text: str | None) -> Engine:
    """The engine, connected to IB first when ``broker.kind = "ib"``. ``--until`` not read
    yet (IB, or a simulated run whose start the ledger chose) is read against the engine's
    start.

    Raises:
        UsageError: a bad --until.
        LedgerRefused: the ledger refuses this run (e.g. a start behind its last record).
        _BrokerUnavailable: IB refused the account (exit 2) or cannot be reached (exit 1).
    """
    from dataclasses import replace  # noqa: PLC0415

    from engine.engine import Engine  # noqa: PLC0415

    engine = _ib_engine(config, options) if config.broker.kind == "ib" else Engine(config, options)
    if options.until is not None or until_text is None:
        return engine
    try:
        until = parse_until(until_text, engine.clock.now(), config)
    except UsageError:
        engine.stop()
        raise
    engine.options = replace(engine.options, until=until)
    return engine


def _ib_engine(config: EngineConfig, options: RunOptions) -> Engine:
    """The engine on IB, its clock anchored at the broker's time.

    Raises:
        _BrokerUnavailable: IB refused the account (exit 2) or cannot be reached (exit 1).
    """
    from broker.ib import LiveTradingRefused  # noqa: PLC0415
    from engine.engine import Engine  # noqa: PLC0415

    ib = config.broker.ib
    try:
        return Engine(config, options)
    except LiveTradingRefused as err:
        raise _BrokerUnavailable(str(err), EXIT_BAD_INPUT) from None
    except (ConnectionError, TimeoutError, OSError) as err:
        where = f"{ib.host}:{ib.port}"
        raise _BrokerUnavailable(
            f"cannot connect to TWS / IB Gateway at {where} as client {ib.client_id}: {err} "
            "(is it running with the API enabled on that port?)",
            1,
        ) from None


def cmd_attach(args: argparse.Namespace) -> int:
    from tui.attach_command import cmd_attach as attach  # noqa: PLC0415 - Textual: not for all

    return attach(args)


#: The commands that talk to a running engine: (module, function).
_OPERATIONS = {
    "status": ("engine.operations.status", "cmd_status"),
    "health": ("engine.operations.status", "cmd_health"),
    "stop": ("engine.operations.stop", "cmd_stop"),
    "halt": ("engine.operations.trading_commands", "cmd_halt"),
    "resume": ("engine.operations.trading_commands", "cmd_resume"),
    "flatten": ("engine.operations.trading_commands", "cmd_flatten"),
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in _OPERATIONS:  # imported only when run: the channel's client is heavy
        module, name = _OPERATIONS[args.command]
        command: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(module), name
        )
        return command(args)
    handlers = {
        "run": cmd_run,
        "attach": cmd_attach,
        "check-config": cmd_check_config,
        "report": cmd_report,
        "check-ledger": cmd_check_ledger,
        "tws-sim": cmd_tws_sim,
        "validate": cmd_validate,
    }
    try:
        return handlers[args.command](args)
    except BrokenPipeError:
        # The reader of stdout went away (``report | head``): the rest has nowhere to go. Point
        # stdout at /dev/null so that the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
