"""The composition root: builds the actor system from config, starts it in dependency order
and stops it in reverse.

Start: ledger -> control channel -> journal -> governor -> order manager -> position monitor ->
VAs -> inbox -> broker -> timers -> clock. Stop: clock and timers -> every actor but the journal
(reverse start order) -> broker -> journal -> control channel -> ledger. Called from the main
thread (or a test); nothing here runs per message. What is built from config (clock, broker,
pacer) is ``engine.build``.

The constructor takes the ledger's lease (``db.lease``), then opens the ledger and reads its
last record: a simulated clock starts after it (``core.rules.timeline``), and with Interactive
Brokers, whose adapter connects in the constructor (the engine's clock is a ``VirtualClock``
started at the broker's current time and running at ``--speed``), a broker clock behind it is
refused (``db.refusals.TimelineRefused``, the connection stopped again) before anything is
written or sent.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pykka
from loguru import logger

from actors.inbox import Inbox
from actors.journal import Journal
from actors.messages.commands import ConfigChanged, Flatten, Halt, PauseVA, Resume
from actors.messages.events import EngineEvent, RiskNotice
from actors.messages.queries import GetSnapshot, GetWorkingOrders, InspectVA, VAInspection
from actors.messages.snapshots import OrderSnapshot
from actors.messages.timers import (
    StartupReconcileDue,
)
from actors.order_manager import OrderManager
from actors.position_monitor import PositionMonitor
from actors.quote_book import QuoteBook
from actors.risk_governor import RiskGovernor
from actors.runtime.base import AddressBook, Bus, EngineActor
from actors.runtime.context import EngineContext, LockedPacer
from actors.runtime.supervision import CrashPolicy
from actors.virtual_account import VirtualAccount
from broker.base import Broker
from core.calendar import TradingCalendar
from core.clock import Clock, VirtualClock
from core.config import EngineConfig, load_config
from core.config_reload import ReloadPlan, plan_reload
from core.domain import Contract, TradingState
from core.gate import GateState, TradingGate
from db import Ledger, close_database, open_database
from db.connection import damage_refused
from db.integrity import refuse_broken
from db.lease import acquire_lease
from db.records import AccountRecord
from db.refusals import ledger_label
from engine import build, crashes
from engine.broker_router import BrokerRouter
from engine.closed_trades import ClosedTrades, read_closed_trades
from engine.control.requests import said_by
from engine.control.server import HELLO_TIMEOUT_S, ControlServer
from engine.control.wire import NotifyStatus
from engine.notify import SessionNotifications
from engine.options import RunOptions
from engine.timers import EngineTimers

__all__ = ["Engine"]


#: Of a stop's time budget, what is kept for the broker's disconnect and for the journal, which
#: stops last.
_BROKER_STOP_S = 1.5
_JOURNAL_STOP_S = 0.5
#: How long the actors get to finish their mailboxes with the broker still up. An actor still
#: inside a broker call after that (a VA's option-chain scan takes seconds) is released by the
#: broker's stop: at shutdown such a read has nothing left to serve.
_ACTORS_FIRST_S = 1.0


class Engine:
    def __init__(
        self,
        config: EngineConfig,
        options: RunOptions | None = None,
        *,
        broker: Broker | None = None,
        clock: Clock | None = None,
        gate: TradingGate | None = None,
    ) -> None:
        """Args beyond the config: ``broker``/``clock`` replace the ones the config would
        build (tests, tools); ``gate`` is the kill switch when a given broker was built with
        it (the broker checks it again on every order)."""
        self.config = config
        self.options = options or RunOptions()
        url = self.options.database_url or config.engine.database_url
        # First of all: a refused engine connects to nothing and writes nothing.
        self.lease = acquire_lease(
            url, instance=config.engine.instance, command=shlex.join(sys.argv)
        )
        try:
            self._build(config, url, broker=broker, clock=clock, gate=gate)
        except BaseException:
            self.lease.release()
            raise

    def _build(
        self,
        config: EngineConfig,
        url: str,
        *,
        broker: Broker | None,
        clock: Clock | None,
        gate: TradingGate | None,
    ) -> None:
        """The rest of the constructor, run holding the ledger's lease."""
        tz = config.tz
        self.calendar = TradingCalendar.build(
            tz, config.open_time, config.close_time, config.engine.holidays
        )
        self.gate = gate or TradingGate(GateState.CLOSED, "engine starting")
        ib_settings = config.broker.ib
        self.dry_run = self.options.dry_run or (config.broker.kind == "ib" and ib_settings.dry_run)
        # The ledger first (a broken one is refused before a broker is reached), read before
        # the clock is made: time in a ledger only moves forward.
        self.database = open_database(url, instance=config.engine.instance)
        ib = None
        try:
            with damage_refused(url):  # a damaged page read here: one line, not a traceback
                refuse_broken(self.database)  # before any actor: no trading on a broken ledger
                self.ledger = Ledger(self.database, dry_run=self.dry_run)
                last_record = self.ledger.last_record_time()
            label = ledger_label(url)
            ib = build.ib_broker(config, self.options, self.gate, self.calendar, given=broker)
            self.clock = clock or (
                build.anchored_clock(config, self.options, ib)
                if ib
                else build.make_clock(
                    config, self.options, self.calendar, last_record=last_record, ledger=label
                )
            )
            if ib is not None and clock is not None:
                ib.use_clock(clock)
            if ib is not None or clock is not None:  # time the broker or the caller set
                build.follow_timeline(self.clock, last_record=last_record, ledger=label)
            self.book = AddressBook(self.clock.inflight)
            self.bus = Bus()
            self.quotes = QuoteBook(
                self.book, min_interval_s=build.quote_interval_s(config, self.options)
            )
            self.broker = (
                broker
                or ib
                or build.sim_broker(config, self.options, self.clock, self.calendar, self.gate)
            )
        except BaseException:
            if ib is not None:
                ib.stop()  # connected to anchor the clock: disconnect again
            close_database(self.database)
            raise
        self.ctx = EngineContext(
            config=config,
            clock=self.clock,
            calendar=self.calendar,
            ledger=self.ledger,
            book=self.book,
            bus=self.bus,
            quotes=self.quotes,
            gate=self.gate,
            broker=self.broker,
            pacer=LockedPacer(build.entry_pacer(config)),
            on_crash=self._on_crash,
        )
        self.done = threading.Event()
        #: Why the engine ended its run by itself (a journal that cannot write), else None.
        self.stopped_because: str | None = None
        self._reload_lock = threading.Lock()
        self.crashes: Counter[str] = Counter()
        #: Backoff and halt for an actor that keeps crashing (tests may replace it before start).
        self.crash_policy = CrashPolicy()
        self.crash_lock = threading.Lock()  # guards crashes and stopped_because (engine/crashes.py)
        self._refs: list[tuple[str, pykka.ActorRef[Any]]] = []
        self.control: ControlServer | None = None  # engine/control/, from start to stop
        self.control_hello_timeout_s = HELLO_TIMEOUT_S  # tests may shorten it before start
        self.stop_requested = threading.Event()  # request_stop: end the run, as on SIGTERM
        self.stop_flatten: bool | None = None
        self._inbox_quiet = build.inbox_quiet(config, self.clock)
        self._timers = EngineTimers(
            clock=self.clock,
            calendar=self.calendar,
            book=self.book,
            done=self.done,
            inbox_quiet=self._inbox_quiet,
        )
        self._started = False
        #: The run's start on the engine clock (``start`` sets it; the run's summary counts
        #: from it, and the control channel's welcome says it).
        self.started_at: datetime | None = None
        self.notifications = SessionNotifications(
            config, bus=self.bus, ledger=self.ledger, now=self.clock.now, environ=os.environ
        )

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, *, drive_clock: bool = True) -> None:
        """Start everything in dependency order: the control channel first (refused before any
        actor runs; it then misses no publish), the actors, the broker. Raises if an actor fails
        to start, ``engine.control.server.ControlRefused`` if the socket cannot be served.

        Args:
            drive_clock: start the clock's driver thread. Tests pass False and advance a
                max-speed clock themselves with ``run_until``/``advance``.
        """
        self.started_at = self.clock.now()
        self.ctx.inline_reads = (
            drive_clock
            and self.config.broker.kind == "sim"
            and self.clock.is_virtual
            and getattr(self.clock, "speed", 1.0) is None
        )
        if self.config.control.enabled:
            url = self.options.database_url or self.config.engine.database_url
            self.control = ControlServer.serve(self, self.bus, url, self.control_hello_timeout_s)
        self.notifications.start()  # on the bus before any actor publishes
        self.ledger.upsert_accounts(
            [
                AccountRecord(
                    id=a.id,
                    strategy=a.strategy.kind,
                    capital=Decimal(a.capital),
                    created_at=self.clock.now(),
                )
                for a in self.config.accounts
            ]
        )
        self._spawn("journal", Journal.start(self.ctx))
        self._spawn("governor", RiskGovernor.start(self.ctx))
        self._spawn("order_manager", OrderManager.start(self.ctx))
        self._spawn("position_monitor", PositionMonitor.start(self.ctx))
        for account in self.config.accounts:
            if account.enabled:
                self._spawn(f"va:{account.id}", VirtualAccount.start(self.ctx, account.id))
        if self.config.inbox.enabled:
            self._spawn("inbox", Inbox.start(self.ctx, quiet=self._inbox_quiet))
        # Barrier: every actor has run on_start (recovery from the ledger) before data flows.
        first: list[object] = []
        for name, ref in self._refs:
            answer = ref.ask(GetSnapshot(), timeout=10)
            first.extend(answer if isinstance(answer, list | tuple) else [answer])
            logger.debug("engine: {} ready", name)
        if self.control is not None:  # what no actor publishes before it changes
            self.control.seed([*first, *self.working_orders(timeout_s=10)])
        build.restore_sim_account(self.broker, self.ledger)
        self.quotes.start()
        self.broker.start(BrokerRouter(self.book, self.quotes))
        symbols = sorted({s for a in self.config.accounts for s in a.universe})
        self.broker.subscribe_quotes([Contract.stock(s) for s in symbols])
        # Nothing trades before the ledger and the broker have been compared.
        self.book.tell("order_manager", StartupReconcileDue(self.clock.now()))
        self._timers.start(self.config, self.options.until)
        self._started = True
        if drive_clock:
            self.clock.start()
        logger.info(
            "engine: started with {} VAs at {} (speed {})",
            len(self.config.accounts),
            self.clock.now().isoformat(),
            self.clock.speed or "max",
        )

    def _spawn(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        self.book.register(name, ref)
        self._refs.append((name, ref))

    def shutdown(self, timeout_s: float = 5.0, *, flatten: bool | None = None) -> None:
        """Stop, closing every position first (bounded by ``timeout_s``) when ``flatten``, or,
        when None, as ``engine.on_shutdown`` says (``"leave"``: they keep their protective
        stops)."""
        if flatten is None:
            flatten = self.config.engine.on_shutdown == "flatten"
        if self._started and flatten:
            self.flatten("shutdown")
            deadline = time.monotonic() + timeout_s
            pause = threading.Event()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.error("engine: flatten on shutdown did not finish in {}s", timeout_s)
                    break
                try:
                    state = self.ask_snapshot("governor", timeout_s=min(1.0, left)).state
                except pykka.Timeout:
                    continue  # a busy governor: ask again while time is left
                if state is TradingState.HALTED:
                    break
                pause.wait(min(0.05, left))
        self.stop(timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop within ``timeout_s``. Time and the timers stop and the gate closes; every actor
        but the journal is asked to stop, in reverse start order, and finishes what is in its
        mailbox (fills and order events; quote wake-ups and ticks are dropped once stopping) with
        the broker still up for up to ``_ACTORS_FIRST_S``; then the broker disconnects (a request
        still in flight fails, and its actor's error is only logged); then the journal, which
        stores what the others told it, and storage. Orders working at the broker stay working
        (stops are GTC); what the broker reports after its actor stopped is taken in at the next
        start."""
        if self.control is not None:
            self.control.mark_stopping()
        if not self._started and not self._refs:
            self.notifications.close(None)
            self._stop_control()
            close_database(self.database)
            self.lease.release()
            return
        deadline = time.monotonic() + timeout_s
        self._started = False
        self._timers.cancel()
        self.clock.stop()
        self.quotes.close()
        self.gate.set(GateState.CLOSED, "engine stopping")
        self.book.closing = True
        refs = list(reversed(self._refs))
        workers = [(name, ref, ref.stop(block=False)) for name, ref in refs if name != "journal"]
        first = min(time.monotonic() + _ACTORS_FIRST_S, deadline - _BROKER_STOP_S)
        left = self._await_stops(workers, first)
        try:
            self.broker.stop()
        except Exception:
            logger.exception("engine: broker stop failed")
        left = self._await_stops(left, deadline - _JOURNAL_STOP_S)
        journal = [(name, ref, ref.stop(block=False)) for name, ref in refs if name == "journal"]
        for name, _ref, _future in self._await_stops(left + journal, deadline):
            logger.error("engine: {} did not stop within {:.1f}s", name, timeout_s)
        for name, ref in refs:
            self.book.unregister(name, ref)
        self._refs.clear()
        self.notifications.close(self.started_at)  # the session's summary; at most 1 s
        self._stop_control()  # before the lease goes: the next engine's socket is its own
        self.ledger.close()
        close_database(self.database)
        self.lease.release()
        self.done.set()
        logger.info("engine: stopped")

    def _stop_control(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.control = None

    @staticmethod
    def _await_stops(
        stopping: list[tuple[str, pykka.ActorRef[Any], pykka.Future[Any]]], until: float
    ) -> list[tuple[str, pykka.ActorRef[Any], pykka.Future[Any]]]:
        """Wait for each actor's stop until the monotonic time ``until``; the ones still
        running."""
        running = []
        for name, ref, future in stopping:
            try:
                future.get(timeout=max(0.05, until - time.monotonic()))
            except pykka.Timeout:
                running.append((name, ref, future))
        return running

    # -- supervision ------------------------------------------------------------------------
    def _on_crash(self, address: str, exc: BaseException) -> float:
        """Called on the crashed actor's thread: how long it waits before its restart
        (``engine/crashes.py`` ``actor_crashed``)."""
        return crashes.actor_crashed(self, address, exc)

    # -- commands (any thread: TUI, signal handlers, tests) ---------------------------------
    def reload_config(self, path: str) -> ReloadPlan:
        """Validate ``path``, apply what may change live, store a risk event with the diff.

        Raises:
            ConfigError: the file is invalid; nothing is applied.
        """
        plan = plan_reload(self.config, load_config(path))
        if plan.changed:
            with self._reload_lock:
                self.config = self.ctx.config = plan.config
            self.ctx.pacer.resize(*build.pacer_limits(plan.config))
            for name in self.book.names():
                self.book.tell(name, ConfigChanged(plan.applied))
            self.book.tell(
                "governor",
                RiskNotice(
                    "config_reload",
                    f"{len(plan.applied)} change(s) applied from {path}",
                    self.clock.now(),
                    "; ".join(plan.applied),
                ),
            )
        return plan

    def halt(self, reason: str = "manual halt", *, by: str = "") -> None:
        """The kill switch: the gate closes here, at once; the governor confirms it. ``by``:
        who asked (an in-process dashboard), journaled with the reason (``said_by``)."""
        reason = said_by(reason, by)
        self.gate.set(GateState.CLOSED, reason)
        self.book.tell("governor", Halt(reason, self.clock.now()))

    def resume(self, reason: str = "manual resume", *, by: str = "") -> None:
        self.book.tell("governor", Resume(said_by(reason, by), self.clock.now()))

    def flatten(
        self, reason: str = "manual flatten", va_id: str | None = None, *, by: str = ""
    ) -> None:
        self.book.tell("governor", Flatten(said_by(reason, by), va_id, self.clock.now()))

    def pause_va(self, va_id: str, *, paused: bool, reason: str = "manual") -> None:
        self.book.tell(f"va:{va_id}", PauseVA(va_id, paused, reason))

    def request_stop(self, flatten: bool | None) -> None:
        """End the run as SIGTERM does (the control channel's ``stop``): ``flatten`` true closes
        every position first, false leaves them working, None does as ``engine.on_shutdown``
        says. Whoever runs the engine (``main.py run``) waits on ``stop_requested``."""
        self.stop_flatten = flatten
        self.stop_requested.set()
        how = {True: "flatten first", False: "leave positions working", None: "as configured"}
        text = f"stop requested over the control channel ({how[flatten]})"
        logger.warning("engine: {}", text)
        self.bus.publish(EngineEvent("info", text, self.clock.now()))

    def notify_status(self) -> NotifyStatus:
        """The notification settings (URLs masked) and counters (``engine/notify``)."""
        return self.notifications.status()

    def notify_test(self) -> NotifyStatus:
        """Queue a test message to every notification service; the status says what was done."""
        return self.notifications.status(self.notifications.send_test())

    def has_actor(self, name: str) -> bool:
        """Whether an actor runs at ``name`` (``va:<id>``, ``governor``, ...)."""
        return self.book.get(name) is not None

    def inspect_va(self, va_id: str, timeout_s: float = 1.0) -> VAInspection:
        """The VA's inspection view. Blocks up to ``timeout_s``: call from a worker thread,
        never from the UI loop.

        Raises:
            pykka.Timeout: the VA did not answer in time (busy or stalled).
            LookupError: no such VA.
        """
        result = self.book.ask(f"va:{va_id}", InspectVA(), timeout_s=timeout_s)
        assert isinstance(result, VAInspection)
        return result

    def closed_trades(self, limit: int = 200) -> ClosedTrades:
        """The latest ``limit`` closed trades and the totals, read from the ledger on the
        calling thread (a worker thread: never the UI loop or an actor)."""
        return read_closed_trades(self.ledger, limit=limit)

    def working_orders(self, timeout_s: float = 1.0) -> tuple[OrderSnapshot, ...]:
        """Every working order now (blocks up to ``timeout_s``: worker threads only)."""
        result = self.book.ask("order_manager", GetWorkingOrders(), timeout_s=timeout_s)
        return tuple(result)

    def ask_snapshot(self, name: str, timeout_s: float = 2.0) -> Any:
        return self.book.ask(name, GetSnapshot(), timeout_s=timeout_s)

    def actor(self, name: str) -> EngineActor | None:
        """The actor object (tests and the inspector read its public counters only)."""
        ref = self.book.get(name)
        if ref is None:
            return None
        actor = ref._actor_weakref()
        return actor if isinstance(actor, EngineActor) else None

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        return self.clock.inflight.wait_idle(timeout_s)

    def run_until(self, until: datetime) -> None:
        """Max-speed runs driven by the caller's thread (tests): advance to ``until``."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("run_until needs a virtual clock")
        self.clock.run_until(until)

    def advance(self, seconds: float) -> None:
        self.run_until(self.clock.now() + timedelta(seconds=seconds))
