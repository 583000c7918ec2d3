"""``main.py validate``: the engine over ``--broker ib`` against an in-process simulated TWS,
with drills, for a number of simulated trading days; then the ledger is compared with what IB
says and a report is written.

Threads: ``run_validation`` runs on the caller's thread and blocks until the run is over; it
polls the simulated TWS's clock every 0.25 wall seconds and runs the drills from there (the
engine's actors and the server's loop run on their own threads). The broker view is read
through a second API client on the caller's thread (``broker_view``).
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, RiskStatus
from broker.ib import IBBroker, IbOptions
from broker.tws.runner import server_from_config
from broker.tws.scenario import load_scenario
from broker.tws.server import TwsSimServer
from core.config import EngineConfig
from core.config_errors import ConfigError, one_line
from core.domain import OrderStatus, Purpose, TradingState
from core.gate import GateState, TradingGate
from db.report import build_report
from engine.engine import Engine
from engine.options import RunOptions
from engine.validation.broker_view import read_broker_view, working_order_refs
from engine.validation.report import (
    BreakerDrill,
    Comparison,
    FaultOutcome,
    HaltDrill,
    RunFacts,
    build_validation,
)
from engine.validation.setup import HorizonOverrides, ValidationSetup, validation_config

__all__ = ["ValidationOptions", "run_validation"]

_POLL_S = 0.25
#: How long the final comparison may wait for fills in flight at the halt (wall seconds).
_SETTLE_S = 30.0
#: The sell-off of the breaker drill: a step every 10 simulated minutes, at most 8 steps.
_CRASH_EVERY = timedelta(minutes=10)
_CRASH_STEPS = 8
_DRILL_WAIT_S = 5.0
#: A second API client for the broker's view (never the engine's client id).
_VIEW_CLIENT_ID = 901
#: The shipped drill of the validation: every fault kind, spread over the first eight days.
DEFAULT_SCENARIO = str(Path(__file__).resolve().parents[2] / "broker/tws/scenarios/validation.toml")
#: A rejection for an off-tick price: IB's 110 text, or our simulator's "110 ..." reason.
_TICK_REJECTION = re.compile(r"\b110\b|minimum price variation", re.IGNORECASE)
#: The engine's answer to a fault: what it said from a minute before (its clock may trail
#: TWS's by seconds) until the next fault, an hour at most (simulated time).
_ANSWER_WINDOW = timedelta(hours=1)
_LEAD = timedelta(minutes=1)


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


class _Events:
    """The engine's events (bus callback, any thread), kept for the fault answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[EngineEvent] = []

    def __call__(self, item: object) -> None:
        if isinstance(item, EngineEvent) and item.kind in ("risk", "reject", "info"):
            with self._lock:
                self.items.append(item)

    def between(self, start: datetime, end: datetime) -> list[str]:
        with self._lock:
            found = [e for e in self.items if start <= e.time <= end]
        return [f"{e.time:%H:%M:%S} {e.kind}: {e.text}" for e in found]


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


def _governor(engine: Engine) -> RiskStatus | None:
    try:
        status = engine.ask_snapshot("governor", timeout_s=2.0)
    except (pykka.Timeout, pykka.ActorDeadError):  # busy or restarting: asked again later
        return None
    return status if isinstance(status, RiskStatus) else None


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> float | None:
    """Wall milliseconds until ``predicate`` held (polled every 20 ms), None after timeout."""
    start = time.monotonic()
    pause = threading.Event()
    while time.monotonic() - start < timeout_s:
        if predicate():
            return (time.monotonic() - start) * 1000.0
        pause.wait(0.02)
    return None


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
        self.events = _Events()
        self.engine: Engine | None = None
        self.broker: IBBroker | None = None
        self.halt: HaltDrill | None = None
        self.breaker: BreakerDrill | None = None
        self._crash_at: datetime | None = None
        self._crashed: tuple[str, ...] = ()
        self._crash_steps = 0
        self._last_step_at: datetime | None = None

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
        self.engine = engine
        engine.start()
        return engine

    def schedule(self) -> tuple[datetime, datetime, datetime]:
        """(end, halt due, breaker due) in the simulated TWS's time. The halt drill runs at the
        first poll after ``halt due`` that finds an entry of ours working: 13:30 of the first
        day, after the shipped drill's first-day faults (a halt timed while TWS withholds its
        answer to an order would measure the fault, not the halt)."""
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
        halt_due = calendar.session_open(first) + timedelta(hours=4)
        return end, halt_due, breaker_due

    def loop(self, engine: Engine) -> None:
        end, halt_due, breaker_due = self.schedule()
        began = time.monotonic()
        pause = threading.Event()
        day = None
        while self.server.now() < end:
            today = self.server.now().date()
            if today != day:
                day = today
                self._progress(engine, began)
            if time.monotonic() - began > self.options.wall_limit_s:
                logger.warning("validate: wall-time limit reached at {}", self.server.now())
                break
            now = self.server.now()
            if self.halt is None and now >= halt_due:
                self._try_halt_drill(engine)
            if self.breaker is None and now >= breaker_due:
                self._try_breaker_drill(engine)
            pause.wait(_POLL_S)
        if self.breaker is None and self._crash_at is not None:
            self._breaker_result(engine, None)

    def _progress(self, engine: Engine, began: float) -> None:
        closed = sum(1 for t in build_report(engine.ledger, tz=self.config.tz)["trades"])
        self.options.progress(
            f"validate: {self.server.now():%a %Y-%m-%d %H:%M} after "
            f"{time.monotonic() - began:.0f} wall s: {closed} closed trade(s)"
        )

    # -- the emergency halt -----------------------------------------------------------
    def _try_halt_drill(self, engine: Engine) -> None:
        """Halt at the first poll that finds an entry of ours working (sent or being sent),
        measure until the governor reports HALTED and until every such entry has ended in the
        ledger with none working at IB, then resume."""
        entries = {o.order_id for o in _working(engine) if o.purpose is Purpose.ENTRY}
        if not entries:
            return
        at = self.server.now()
        started = time.monotonic()
        engine.halt("validation drill: emergency halt")

        def halted() -> bool:
            status = _governor(engine)
            return status is not None and status.state is TradingState.HALTED

        halted_ms = _wait_for(halted, _DRILL_WAIT_S)

        def entries_gone() -> bool:
            for order_id in entries:
                record = engine.ledger.order(order_id)
                if record is None or not record.status.is_terminal:
                    return False
            return not (working_order_refs(self.server.port, _VIEW_CLIENT_ID) & entries)

        gone = _wait_for(entries_gone, _DRILL_WAIT_S)
        gone_ms = None if gone is None else (time.monotonic() - started) * 1000.0
        engine.resume("validation drill: resume after the emergency halt")

        def active() -> bool:
            status = _governor(engine)
            return status is not None and status.state is TradingState.ACTIVE

        resumed = _wait_for(active, _DRILL_WAIT_S) is not None
        self.halt = HaltDrill(_iso(at), halted_ms, gone_ms, len(entries), resumed)
        logger.info("validate: halt drill {}", self.halt)

    # -- the daily-loss circuit breaker ------------------------------------------------
    def _try_breaker_drill(self, engine: Engine) -> None:
        """A sell-off of the underlyings of the short puts held: each falls ``crash_step_pct``
        every ``_CRASH_EVERY`` of simulated time until the governor trips its daily-loss
        breaker, at most ``_CRASH_STEPS`` times (enough to trip it, no more: a larger crash
        would also pause the VAs for drawdown and end their trading for the run)."""
        now = self.server.now()
        if self._crash_at is None:
            held = _short_option_underlyings(engine)
            if not held:
                return
            self._crash_at = now
            self._crashed = held
            self._crash_step(now)
            return
        status = _governor(engine)
        tripped = (
            status is not None
            and "daily_loss" in status.reason
            and status.state in (TradingState.REDUCING, TradingState.FLATTENING)
        )
        if tripped:
            self._breaker_result(engine, status)
        elif self._crash_steps < _CRASH_STEPS:
            if self._last_step_at is not None and now - self._last_step_at >= _CRASH_EVERY:
                self._crash_step(now)
        elif self._last_step_at is not None and now - self._last_step_at > timedelta(hours=1):
            self._breaker_result(engine, status)

    def _crash_step(self, now: datetime) -> None:
        step = Decimal(str(self.options.crash_step_pct)) / 100
        for symbol in self._crashed:
            quote = self.server.last_quote(symbol)
            if quote is None:
                continue
            mid = Decimal(str((quote.bid + quote.ask) / 2))
            self.server.set_mid(symbol, (mid * (1 - step)).quantize(Decimal("0.01")))
        self._crash_steps += 1
        self._last_step_at = now
        logger.info(
            "validate: sell-off step {}: {} down {} %",
            self._crash_steps,
            self._crashed,
            self.options.crash_step_pct,
        )

    def _breaker_result(self, engine: Engine, status: RiskStatus | None) -> None:
        status = status or _governor(engine)
        tripped = status is not None and "daily_loss" in status.reason
        assert self._crash_at is not None
        fallen = 100 * (1 - (1 - self.options.crash_step_pct / 100) ** self._crash_steps)
        self.breaker = BreakerDrill(
            at=_iso(self._crash_at),
            crashed=self._crashed,
            crash_pct=round(fallen, 1),
            tripped_at=_iso(self.server.now()) if tripped else None,
            state=str(status.state) if status is not None else "unknown",
            reason=status.reason if status is not None else "no answer from the governor",
            day_pnl=float(status.day_pnl) if status is not None else None,
        )
        logger.info("validate: breaker drill {}", self.breaker)

    # -- the end ----------------------------------------------------------------------
    def settle_and_compare(self, engine: Engine) -> Comparison:
        """Halt (nothing new goes out), then compare until the ledger agrees with IB or
        ``_SETTLE_S`` wall seconds have passed: an exit that was working at the halt may still
        fill, and its execution takes a moment to reach the ledger. The last comparison counts."""
        engine.halt("validation over: the final comparison with IB")
        started = time.monotonic()
        pause = threading.Event()
        while True:
            comparison = self.compare(engine)
            settled = comparison.positions_agree and not comparison.pending_submit
            if settled or time.monotonic() - started > _SETTLE_S or comparison.errors:
                return comparison
            pause.wait(1.0)

    def compare(self, engine: Engine) -> Comparison:
        engine.wait_idle(timeout_s=10.0)
        ledger = engine.ledger
        orders = ledger.orders()
        ours = {o.id for o in orders}
        ledger_positions: dict[str, int] = {}
        for position in ledger.open_positions():
            key = position.contract_key
            ledger_positions[key] = ledger_positions.get(key, 0) + position.quantity
        pending = tuple(o.id for o in orders if o.status is OrderStatus.PENDING_SUBMIT)
        ticks = tuple(
            o.id
            for o in orders
            if o.status is OrderStatus.REJECTED and _TICK_REJECTION.search(o.reason or "")
        )
        working = {o.id for o in orders if not o.status.is_terminal}
        errors: list[str] = []
        notices = self.broker.notice_counts() if self.broker is not None else {}
        try:
            view = read_broker_view(self.server.port, _VIEW_CLIENT_ID)
        except (TimeoutError, ConnectionError, OSError) as err:
            errors.append(f"could not read IB's view: {err}")
            return Comparison(
                {k: v for k, v in ledger_positions.items() if v},
                {},
                (),
                (),
                (),
                pending,
                ticks,
                notices.get(110, 0),
                tuple(errors),
            )
        stored = {_exec_base(e.exec_id) for e in ledger.executions()}
        missing = tuple(
            sorted(
                exec_id
                for exec_id, ref in view.executions.items()
                if ref in ours and _exec_base(exec_id) not in stored
            )
        )
        at_ib = view.working_refs & ours
        return Comparison(
            ledger_positions={k: v for k, v in ledger_positions.items() if v},
            broker_positions=dict(view.positions),
            executions_missing_in_ledger=missing,
            ledger_working_not_at_broker=tuple(sorted(working - at_ib)),
            broker_working_not_in_ledger=tuple(sorted(at_ib - working)),
            pending_submit=pending,
            tick_rejections=ticks,
            tick_notices=notices.get(110, 0),
            errors=tuple(errors),
        )

    def faults(self, engine: Engine) -> list[FaultOutcome]:
        """Each fault fired, with what the engine said around it: its live events and the
        risk events it stored (a refused modification, a notice, a reconciliation)."""
        stored = engine.ledger.risk_events()
        fired = sorted(self.server.fired_faults(), key=lambda f: f.time)
        out = []
        for i, f in enumerate(fired):
            # An armed fault (the next order, modification, execution) acts at the client's
            # next move: look until the next fault fired, an hour at most.
            later = [g.time for g in fired[i + 1 :] if g.time > f.time]
            lo, hi = f.time - _LEAD, min([f.time + _ANSWER_WINDOW, *later])
            kept = [
                f"{e.time.astimezone(self.config.tz):%H:%M:%S} {e.kind}: {e.reason}"
                for e in stored
                if lo <= e.time <= hi and e.kind not in ("day_reset", "day_start")
            ]
            answers = tuple(dict.fromkeys([*self.events.between(lo, hi), *kept]))
            out.append(FaultOutcome(_iso(f.time), f.kind, f.detail, answers[:6]))
        return out


def _exec_base(exec_id: str) -> str:
    """An execution id without its correction suffix (IB corrects ``.01`` with ``.02``)."""
    head, dot, _ = exec_id.rpartition(".")
    return head if dot else exec_id


def _working(engine: Engine) -> tuple[OrderSnapshot, ...]:
    try:
        return engine.working_orders(timeout_s=2.0)
    except (pykka.Timeout, pykka.ActorDeadError):  # busy: the drill waits for a later poll
        return ()


def _short_option_underlyings(engine: Engine) -> tuple[str, ...]:
    symbols = {
        p.contract_key.split()[0]
        for p in engine.ledger.open_positions()
        if p.quantity < 0 and len(p.contract_key.split()) == 4
    }
    return tuple(sorted(symbols))


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


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


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
        faults = run.faults(engine)
    finally:
        if engine is not None:
            engine.stop()
        run.server.stop()
    facts = RunFacts(
        command=options.command,
        speed=options.speed,
        days=options.days,
        sim_start=_iso(sim_start),
        sim_end=_iso(sim_end),
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
        halt=run.halt,
        breaker=run.breaker,
        faults=faults,
        min_trades=options.min_trades,
    )
