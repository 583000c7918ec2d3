"""``main.py validate``: the engine over ``--broker ib`` against an in-process simulated TWS,
with drills, for a number of simulated trading days; then the ledger is compared with what IB
says and a report is written.

Threads: ``run_validation`` runs on the caller's thread and blocks until the run is over; it
polls the simulated TWS's clock every 0.25 wall seconds and runs the drills from there (the
engine's actors and the server's loop run on their own threads). The broker view is read
through a second API client on the caller's thread (``broker_view``).
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from loguru import logger

from broker.ib import IBBroker, IbOptions
from broker.tws.runner import server_from_config
from broker.tws.scenario import load_scenario
from broker.tws.server import TwsSimServer
from core.config import EngineConfig
from core.config_errors import ConfigError, one_line
from core.gate import GateState, TradingGate
from db.report import build_report
from engine.engine import Engine
from engine.options import RunOptions
from engine.progress import FillCounter, RunProgress, progress_for
from engine.validation.comparison import EngineEventLog, compare_with_broker, fault_outcomes
from engine.validation.drills import EmergencyHaltDrill, SellOffDrill, iso_seconds
from engine.validation.report import Comparison, RunFacts, build_validation
from engine.validation.setup import HorizonOverrides, ValidationSetup, validation_config

__all__ = ["ValidationOptions", "run_validation"]

_POLL_S = 0.25
#: How long the final comparison may wait for fills in flight at the halt (wall seconds).
_SETTLE_S = 30.0
#: How long past its due time the breaker drill waits for the halt drill to have run: the
#: breaker ends the day's entries, and the halt drill needs an entry working.
_HALT_FIRST = timedelta(hours=2)
#: A second API client for the broker's view (never the engine's client id).
_VIEW_CLIENT_ID = 901
#: The shipped drill of the validation: every fault kind, spread over the first eight days.
DEFAULT_SCENARIO = str(Path(__file__).resolve().parents[2] / "broker/tws/scenarios/validation.toml")


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """The run's size and knobs (``main.py validate`` flags)."""

    config_path: str = "config.toml"
    days: int = 15
    speed: float = 300.0
    seed: int | None = None
    start: datetime | None = None  # default: the Monday open before the latest session
    database_url: str = "sqlite:///data/validation.db"
    min_trades: int = 20
    crash_step_pct: float = 4.0
    client_id: int = 17
    wall_limit_s: float = 28 * 60.0
    horizon: HorizonOverrides = field(default_factory=HorizonOverrides)
    command: str = "python main.py validate"
    #: The faults tws-sim injects (``broker/tws/scenario.py``); None: no faults.
    scenario: str | None = DEFAULT_SCENARIO
    progress: Callable[[str], None] = field(default=lambda _line: None)
    #: Where the run's progress is shown (``engine.progress``: a bar on a terminal, lines
    #: otherwise); None: nowhere.
    progress_stream: TextIO | None = None


def _read_config(path: str) -> dict[str, Any]:
    source = one_line(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([f"{source}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{source}: cannot read file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None


class _Run:
    """One validation run's state (the caller's thread only)."""

    def __init__(self, options: ValidationOptions, setup: ValidationSetup) -> None:
        self.options = options
        self.setup = setup
        self.config: EngineConfig = setup.config
        start = options.start or _default_start(self.config)
        self.server: TwsSimServer = server_from_config(
            self.config, port=0, speed=options.speed, start=start, seed=options.seed
        )
        if options.scenario is not None:
            self.server.schedule_faults(
                load_scenario(
                    options.scenario, tz=self.config.tz, start=start, server_class=TwsSimServer
                )
            )
        self.events = EngineEventLog()
        self.fills = FillCounter()
        self.engine: Engine | None = None
        self.broker: IBBroker | None = None
        self.halt = EmergencyHaltDrill(self.server, view_client_id=_VIEW_CLIENT_ID)
        self.breaker = SellOffDrill(self.server, step_pct=options.crash_step_pct)

    # -- the run ------------------------------------------------------------------------
    def start(self) -> Engine:
        self.server.start()
        ib = IbOptions.from_settings(self.config.broker.ib, port=self.server.port)
        gate = TradingGate(GateState.CLOSED, "engine starting")
        broker = IBBroker(ib, gate=gate, calendar=self.server.calendar)
        self.broker = broker
        run = RunOptions(database_url=self.options.database_url, speed=self.options.speed)
        engine = Engine(self.config, run, broker=broker, gate=gate)
        engine.bus.subscribe(self.events)
        engine.bus.subscribe(self.fills)
        self.engine = engine
        engine.start()
        return engine

    def schedule(self) -> tuple[datetime, datetime]:
        """(end, breaker due) in the simulated TWS's time. The halt drill has no due time: it
        runs at the first poll that finds entries of ours working and acknowledged by IB
        (``drills.acknowledged_entries``), from the run's start, when every VA enters, and
        before the shipped drill's first fault (a halt timed while TWS withholds its answer to
        an order would measure the fault, not the halt). A VA holding its position enters
        nothing more, so a later halt may find no entry to end before the run is over."""
        calendar = self.server.calendar
        first = calendar.trading_day(self.server.now())
        days = [first]
        while len(days) < self.options.days:
            days.append(calendar.next_trading_day(days[-1]))
        # Ten simulated minutes before the last close: the loop sees the end before tws-sim
        # skips the night (the next open's exits would race the final comparison).
        end = calendar.session_close(days[-1]) - timedelta(minutes=10)
        breaker_day = days[min(2, len(days) - 1)]
        breaker_due = calendar.session_open(breaker_day) + timedelta(minutes=120)
        return end, breaker_due

    def loop(self, engine: Engine) -> None:
        end, breaker_due = self.schedule()
        began = time.monotonic()
        shown: RunProgress | None = None
        if self.options.progress_stream is not None:
            shown = progress_for(
                self.options.progress_stream, start=self.server.now(), end=end, tz=self.config.tz
            )
        try:
            self._loop(engine, end, breaker_due, began, shown)
        finally:
            if shown is not None:
                shown.update(min(self.server.now(), end), self.fills.count)
                shown.close()

    def _loop(
        self,
        engine: Engine,
        end: datetime,
        breaker_due: datetime,
        began: float,
        shown: RunProgress | None,
    ) -> None:
        """Poll the simulated TWS's clock until ``end``: progress, days, drills."""
        pause = threading.Event()
        day: date | None = None
        while self.server.now() < end:
            if shown is not None:
                shown.update(self.server.now(), self.fills.count)
            today = self.server.now().date()
            if today != day:
                day = today
                self._progress(engine, began)
            if time.monotonic() - began > self.options.wall_limit_s:
                logger.warning("validate: wall-time limit reached at {}", self.server.now())
                break
            now = self.server.now()
            if self.halt.result is None and not self.breaker.running:
                self.halt.try_run(engine)
            halt_over = self.halt.result is not None or now >= breaker_due + _HALT_FIRST
            if self.breaker.result is None and now >= breaker_due and halt_over:
                self.breaker.try_step(engine)
            pause.wait(_POLL_S)
        if self.breaker.result is None and self.breaker.started:
            self.breaker.finish(engine)

    def _progress(self, engine: Engine, began: float) -> None:
        closed = sum(1 for t in build_report(engine.ledger, tz=self.config.tz)["trades"])
        self.options.progress(
            f"validate: {self.server.now():%a %Y-%m-%d %H:%M} after "
            f"{time.monotonic() - began:.0f} wall s: {closed} closed trade(s)"
        )

    # -- the end ----------------------------------------------------------------------
    def settle_and_compare(self, engine: Engine) -> Comparison:
        """Halt (nothing new goes out), then compare until the ledger agrees with IB or
        ``_SETTLE_S`` wall seconds have passed: an exit that was working at the halt may still
        fill, and its execution takes a moment to reach the ledger; a read of IB's view that
        failed (a timeout, a refused request) is tried again within the same bound. The last
        comparison counts."""
        engine.halt("validation over: the final comparison with IB")
        started = time.monotonic()
        pause = threading.Event()
        while True:
            comparison = compare_with_broker(
                engine, port=self.server.port, view_client_id=_VIEW_CLIENT_ID, broker=self.broker
            )
            settled = not (
                comparison.errors or comparison.pending_submit or not comparison.positions_agree
            )
            if settled or time.monotonic() - started > _SETTLE_S:
                return comparison
            pause.wait(1.0)


def _default_start(config: EngineConfig) -> datetime:
    """A Monday open, 30 minutes in, in the config's time zone (a fixed, reproducible week)."""
    return datetime(2026, 1, 5, 10, 0, tzinfo=config.tz)


def _shown(path: str | None) -> str:
    """A scenario path as the report shows it: relative to the working directory when inside
    it (the shipped drill reads ``broker/tws/scenarios/validation.toml``), else as given."""
    if path is None:
        return "none"
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path


def run_validation(options: ValidationOptions) -> dict[str, Any]:
    """Run the validation and return its result (``report.build_validation``).

    Raises:
        ConfigError: the config cannot be read or validated (one line per problem).
        ValueError: the config has no naked-put VA, or the scenario cannot be run
            (``ScenarioError``, one line naming the file, the fault and the key).
    """
    data = _read_config(options.config_path)
    setup = validation_config(
        data,
        database_url=options.database_url,
        client_id=options.client_id,
        speed=options.speed,
        horizon=options.horizon,
        source=one_line(options.config_path),
    )
    run = _Run(options, setup)
    wall_start = time.monotonic()
    engine: Engine | None = None
    try:
        engine = run.start()
        sim_start = run.server.now()
        run.loop(engine)
        sim_end = run.server.now()
        comparison = run.settle_and_compare(engine)
        report = build_report(engine.ledger, tz=run.config.tz)
        faults = fault_outcomes(engine, run.server, run.events, tz=run.config.tz)
    finally:
        if engine is not None:
            engine.stop()
        run.server.stop()
    facts = RunFacts(
        command=options.command,
        speed=options.speed,
        days=options.days,
        sim_start=iso_seconds(sim_start),
        sim_end=iso_seconds(sim_end),
        wall_s=time.monotonic() - wall_start,
        seed=options.seed if options.seed is not None else run.config.sim.seed,
        vas=setup.vas,
        changes=setup.changes,
        scenario=_shown(options.scenario),
    )
    return build_validation(
        run=facts,
        report=report,
        comparison=comparison,
        halt=run.halt.result,
        breaker=run.breaker.result,
        faults=faults,
        min_trades=options.min_trades,
    )
