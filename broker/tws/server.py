"""``TwsSimServer``: a TWS API server (protocol version 178) backed by the market simulator.

Threads:

* ``tws-sim-loop``: the server's own asyncio event loop. It owns every socket, session,
  subscription and order record; all protocol work happens here.
* ``clock-driver``: the ``VirtualClock``'s timer thread, which steps ``SimBroker``'s market
  (quotes and matching). ``SimBroker`` delivers quotes and events to a listener that only hands
  them to the loop with ``call_soon_threadsafe``, in the order they happened.
* the caller's thread: ``start``/``stop`` and the fault-injection methods, which run their work
  on the loop and wait for it (bounded) so a test sees the effect once the call returns.

The simulated time (``reqCurrentTime``, execution times, the connection time) is the clock's,
so a client can anchor its own clock to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from loguru import logger

from broker.sim import SimBroker, SimSymbol
from broker.tws import messages as msg
from broker.tws.contracts import InstrumentRegistry
from broker.tws.drill_book import DrillBook, FiredFault
from broker.tws.entitlements import check_entitlement
from broker.tws.faults import DEFAULT_REJECT_REASON, FaultState
from broker.tws.hub import TwsHub
from broker.tws.scenario import ScenarioFault
from broker.tws.settings import TwsSimSettings, check_host
from broker.tws.state import StateKeeper, capture, load_state, restore
from broker.tws.state_codec import SavedState
from broker.tws.views import AccountView, account_view
from core.calendar import TradingCalendar
from core.clock import VirtualClock
from core.domain import Contract, Quote
from core.events import BrokerEvent
from core.gate import GateState, TradingGate

__all__ = ["TwsSimServer"]

T = TypeVar("T")
_CALL_TIMEOUT_S = 5.0


class TwsSimServer:
    """A simulated TWS / IB Gateway on a TCP port, trading the simulator's market.

    Args:
        host: address to bind; loopback only unless ``allow_remote``.
        port: TCP port (0 = any free port; read ``port`` after ``start``).
        symbols: the simulated stocks by ticker.
        seed: the market's random seed (same seed and symbols: same prices).
        start: the simulated moment the clock starts at (timezone-aware).
        speed: simulated seconds per wall second (> 0).
        tick_interval_s: simulated seconds between market steps.
        calendar: sessions and time zone (default: New York 09:30-16:00, no holidays).
        allow_remote: permit a non-loopback ``host``.
        state_file: keep the account, orders, executions, ids and time in this file across
            restarts (``broker.tws.state``): read at construction and again when this object
            is started after a stop (the clock resumes at the later of ``start`` and the saved
            time; the same port is bound again), written while running and at ``stop``.
            None (the default): every run starts afresh.
        **options: further ``TwsSimSettings`` fields (account, starting_cash, commissions,
            margins, init_margin_pct, drift_annual, industries, account_push_interval_s (180:
            TWS's cadence), pnl_push_interval_s, primary_exchange,
            primary_exchanges (per-symbol listing overrides),
            commission_per_contract, option_commission_min, option_spec, entitlements,
            max_market_data_lines).

    Raises:
        ValueError: a remote host without ``allow_remote``, or invalid settings.
        StateError: a ``state_file`` that cannot be read back (a ``ValueError``; one line
            naming the file).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        *,
        symbols: Mapping[str, SimSymbol],
        seed: int,
        start: datetime,
        speed: float = 1.0,
        tick_interval_s: float = 1.0,
        calendar: TradingCalendar | None = None,
        allow_remote: bool = False,
        state_file: str | Path | None = None,
        **options: object,
    ) -> None:
        check_host(host, allow_remote=allow_remote)
        self._settings = TwsSimSettings.build(
            host=host,
            port=port,
            symbols=symbols,
            seed=seed,
            start=start,
            speed=speed,
            tick_interval_s=tick_interval_s,
            calendar=calendar,
            options=options,
        )
        self._faults = FaultState()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._bound_port: int | None = None
        self._clock: VirtualClock | None = None
        self._broker: SimBroker | None = None
        self._hub: TwsHub | None = None
        self._state_path = Path(state_file) if state_file is not None else None
        self._saved = (
            load_state(self._state_path, self._settings.registry, account=self._settings.account)
            if self._state_path is not None
            else None
        )
        saved_clock = self._saved.clock if self._saved is not None else self._settings.start
        self._start_at = max(self._settings.start, saved_clock)
        self._keeper: StateKeeper | None = None
        self._keeper_task: asyncio.Task[None] | None = None
        self._drills = DrillBook(self)
        self._relisten: asyncio.TimerHandle | None = None
        self._reopen: asyncio.Task[None] | None = None

    # -- properties ------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._settings.host

    @property
    def port(self) -> int:
        """The bound port (the requested one until ``start``)."""
        return self._bound_port if self._bound_port is not None else self._settings.port

    @property
    def account(self) -> str:
        return self._settings.account

    @property
    def calendar(self) -> TradingCalendar:
        return self._settings.calendar

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def registry(self) -> InstrumentRegistry:
        return self._settings.registry

    def now(self) -> datetime:
        """The simulated time (exchange zone); the start time before ``start`` (the saved
        time when a state file resumes a later one)."""
        if self._clock is not None:
            return self._clock.now()
        return self._start_at.astimezone(self._settings.calendar.tz)

    @property
    def restored(self) -> SavedState | None:
        """The state this server resumed from its state file (None: a fresh start)."""
        return self._saved

    def con_id(self, symbol: str) -> int:
        """The contract id of a simulated stock (KeyError if unknown)."""
        return self._settings.registry.by_symbol(symbol).con_id

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> None:
        """Bind the port, start the loop thread and the market clock; return once listening and,
        when the session is open, once the first quotes are in (a client that connects at once
        finds prices).

        Raises:
            RuntimeError: already started.
            OSError: the port could not be bound.
        """
        if self._thread is not None:
            raise RuntimeError("TwsSimServer is already started")
        s = self._settings
        if self._keeper is not None and self._state_path is not None:  # started before: reload
            self._saved = load_state(self._state_path, s.registry, account=s.account)
            if self._saved is not None:
                self._start_at = max(self._start_at, self._saved.clock)
        self._clock = VirtualClock(s.calendar.tz, self._start_at, s.speed)
        self._broker = SimBroker(
            clock=self._clock,
            calendar=s.calendar,
            gate=TradingGate(GateState.OPEN, "tws-sim"),
            symbols=s.symbols,
            seed=s.seed,
            tick_interval_s=s.tick_interval_s,
            starting_cash=s.starting_cash,
            commission_per_share=s.commission_per_share,
            commission_min=s.commission_min,
            maint_margin_long_pct=s.maint_margin_long_pct,
            maint_margin_short_pct=s.maint_margin_short_pct,
            drift_annual=s.drift_annual,
            options=s.option_spec,
            commission_per_contract=s.commission_per_contract,
            option_commission_min=s.option_commission_min,
            settlement_time=s.settlement_time,
        )
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._hub = TwsHub(s, self._broker, self._faults, self.now, loop, options=self._broker)
        if self._saved is not None:
            restore(self._saved, self._hub, self._broker)
        if self._state_path is not None:
            self._keeper = StateKeeper(self._state_path, self._capture_state)
            self._hub.on_account_change = self._keeper.save
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:  # the tws-sim-loop thread
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())

        self._thread = threading.Thread(target=run, name="tws-sim-loop", daemon=True)
        self._thread.start()
        if not started.wait(timeout_s) or failure:
            self._thread.join(timeout_s)
            loop.close()
            self._thread = self._loop = self._hub = self._broker = self._clock = None
            raise failure[0] if failure else TimeoutError("tws-sim did not start listening")
        self._broker.subscribe_quotes(Contract.stock(sym) for sym in s.symbols)
        self._broker.start(_Bridge(loop, self._hub.on_quote, self._hub.on_event))
        self._clock.start()
        self._drills.on_started()
        if s.calendar.is_open(self._start_at) and not self._hub.first_quote.wait(timeout_s):
            logger.warning("tws-sim: no quote within {}s of the start", timeout_s)
        logger.info("tws-sim: listening on {}:{} (simulated {})", self.host, self.port, self.now())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the market, close every connection and the listener, end the loop thread
        (idempotent)."""
        if self._broker is not None:
            self._broker.stop()
        if self._clock is not None:
            self._clock.stop(timeout_s)
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout_s)
            except Exception:
                logger.exception("tws-sim: shutdown did not complete")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()
        self._thread = None
        self._loop = None

    def __enter__(self) -> TwsSimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- market helpers (any thread) -------------------------------------------------------------
    def set_mid(self, symbol: str, price: float | Decimal) -> None:
        """Move a symbol's mid now; the next market step quotes around it and matches orders."""
        assert self._broker is not None, "start() first"
        self._broker.set_mid(symbol, price)

    def last_quote(self, symbol: str) -> Quote | None:
        assert self._broker is not None, "start() first"
        return self._broker.last_quote(symbol)

    def account_view(self) -> AccountView:
        """What IB holds now (positions and working orders, ``broker.tws.views``), read on the
        loop thread; readable while a nightly reset pauses the listener."""
        return self._call(lambda: account_view(self._hub_or_fail()))

    def connected_client_ids(self) -> list[int]:
        """Client ids of the sessions past ``startApi``."""
        return self._call(lambda: self._hub_or_fail().client_ids())

    def market_data_lines(self) -> int:
        """Market-data subscriptions open, over every session (IB caps them per account)."""
        return self._call(self._hub_or_fail().market.subscription_count)

    # -- faults (any thread) -----------------------------------------------------------------------
    def drop_connections(self, client_id: int | None = None) -> int:
        """Close the sockets of every session (or of one client id); the number closed."""

        return self._call(lambda: self._hub_or_fail().close_sessions(client_id))

    def connectivity_lost(self) -> None:
        """Send 1100 to every client and stop the ticks until connectivity is restored."""
        self._call(lambda: self._hub_or_fail().connectivity_lost())

    def connectivity_restored(self, *, data_lost: bool = False, silent_loss: bool = False) -> None:
        """Send 1102 (data maintained) or 1101 (data lost: every market-data subscription is
        dropped and must be requested again) and resume the ticks. ``silent_loss``: 1102, yet
        every subscription is gone (data that does not come back after the nightly reset,
        IbcAlpha/IBC#143): only a client that requests again gets ticks."""
        self._call(lambda: self._hub_or_fail().connectivity_restored(data_lost, silent_loss))

    def simulate_outage(self, duration_s: float, *, data_lost: bool = False) -> None:
        """1100 now, then 1101/1102 after ``duration_s`` wall seconds."""
        self.connectivity_lost()
        loop, hub = self._loop_or_fail(), self._hub_or_fail()

        def restore() -> None:
            hub.connectivity_restored(data_lost)

        loop.call_soon_threadsafe(loop.call_later, duration_s, restore)

    def reject_next_order(
        self, reason: str = DEFAULT_REJECT_REASON, *, code: int = 201, send_status: bool = True
    ) -> None:
        """The next new order is refused with error ``code`` (201: ``Order rejected -
        reason:<reason>``; any other code, e.g. 451 precautions, 10311, 103: ``reason`` as the
        text); ``send_status=False`` sends the error and no ``orderStatus`` (``FaultState``)."""
        self._faults.reject_next_order(reason, code=code, send_status=send_status)

    def refuse_next_modification(self, *, code: int = 105, reason: str = "") -> None:
        """The next modification of a live order is refused with error ``code`` (105 by default;
        103, 104, 110, ...) and ``reason`` (empty: IB's text); the order stays as it was."""
        self._faults.refuse_next_modification(code=code, reason=reason)

    def pacing_violation_next(self, count: int = 1) -> None:
        """The next ``count`` requests get error 100 (with their request id) and are dropped."""
        self._faults.pacing_violation_next(count)

    def refuse_next_connect(self, count: int = 1) -> None:
        """The next ``count`` API connections get error 326 (client id in use) and are closed."""
        self._faults.refuse_next_connect(count)

    def correct_next_execution(
        self, *, price: float | None = None, quantity: float | None = None
    ) -> None:
        """The next execution (any client) is followed by its correction: the same execId up to
        its last period and the next revision after it ("...01.01" -> "...01.02"), with this
        price and/or quantity (unchanged where None); tws-sim's account books the corrected
        values. IB: *Executions and Commissions*, "ExecID Behavior".

        Raises:
            ValueError: a price not above 0 or a quantity that is not a whole number >= 1.
        """
        if price is not None and not price > 0:
            raise ValueError(f"correct_next_execution: price must be > 0 (got {price})")
        if quantity is not None and (quantity < 1 or quantity != int(quantity)):
            raise ValueError(f"correct_next_execution: quantity must be >= 1 (got {quantity})")
        self._faults.correct_next_execution(
            None if price is None else Decimal(str(price)),
            None if quantity is None else int(quantity),
        )

    def delay_next_commission(self, delay_s: float) -> None:
        """The next execution's ``commissionReport`` comes ``delay_s`` WALL seconds after its
        ``execDetails`` (the adapter's wait for it is in wall seconds too).

        Raises:
            ValueError: a negative delay.
        """
        if not delay_s >= 0:
            raise ValueError(f"delay_next_commission: delay_s must be >= 0 (got {delay_s})")
        self._faults.delay_next_commission(delay_s)

    def assign_early(self, symbol: str) -> int:
        """Assign every short option of ``symbol`` held in the account now, before its expiry
        (American options can be assigned on any day): each leaves the account and delivers
        its shares at the strike, reported, as IB does, only as position and account changes.
        Returns the contracts assigned (0 when none is held short)."""
        assert self._broker is not None, "start() first"
        return self._broker.assign_early(symbol)

    def stop_quotes(self, symbol: str | None = None) -> None:
        """No more ticks (the market keeps moving and matching): for every contract, or only
        for ``symbol`` (a stock symbol: the stock and its options; or one option's contract
        key, ``"AAPL 20260116 P 150"``). Quotes stay silent across 1100/1101/1102 until
        ``resume_quotes`` (IbcAlpha/IBC#143: data that does not come back after the nightly
        reset)."""

        def stop() -> None:
            market = self._hub_or_fail().market
            if symbol is None:
                market.quoting = False
            else:
                market.silent.add(symbol)

        self._call(stop)

    def resume_quotes(self, symbol: str | None = None) -> None:
        """Ticks again: for everything (``None`` also clears every per-symbol stop), or for
        ``symbol`` only."""

        def resume() -> None:
            market = self._hub_or_fail().market
            if symbol is None:
                market.quoting = True
                market.silent.clear()
            else:
                market.silent.discard(symbol)

        self._call(resume)

    def set_entitlements(self, mode: str) -> None:
        """Switch the account's market-data entitlements (live, delayed, none); open streams
        are granted again (see ``broker.tws.entitlements``).

        Raises:
            ValueError: an unknown mode.
        """
        entitlement = check_entitlement(mode)
        self._call(lambda: self._hub_or_fail().market.set_entitlement(entitlement))

    def server_link_broken(self) -> None:
        """Send 2110 (TWS lost its link to IB's servers) to every client and pause the ticks
        until ``connectivity_restored``."""
        self._call(lambda: self._hub_or_fail().server_link_broken())

    def reject_working_order(
        self,
        order_id: int,
        *,
        client_id: int | None = None,
        code: int = 201,
        reason: str = DEFAULT_REJECT_REASON,
    ) -> bool:
        """End a live order at IB with error ``code`` and then ``orderStatus`` Cancelled (the
        sequence ib_async hides); False if no such live order."""
        return self._call(
            lambda: self._hub_or_fail().desk.reject_working(order_id, client_id, code, reason)
        )

    def make_order_inactive(self, order_id: int, *, client_id: int | None = None) -> bool:
        """Pull a live order from the market and report it ``Inactive``; False if no such live
        order. ``order_id`` 0: the oldest working stop order (of ``client_id``). The client may
        modify it (resubmitted) or cancel it."""
        return self._call(lambda: self._hub_or_fail().desk.make_inactive(order_id, client_id))

    def send_order_notice(
        self,
        order_id: int,
        *,
        code: int = 10349,
        text: str | None = None,
        client_id: int | None = None,
    ) -> bool:
        """Send an informational error for a live order to its client (the order is not
        changed); False if no such live order."""

        def notice() -> bool:
            hub = self._hub_or_fail()
            order = hub.desk.find(order_id, client_id)
            if order is None or order.done:
                return False
            hub.send_to_client(order.client_id, msg.error(order_id, code, text))
            return True

        return self._call(notice)

    def send_error(
        self, req_id: int, code: int, text: str, *, client_id: int | None = None
    ) -> None:
        """Send any error/notice (to one client id, or to every client)."""

        def send() -> None:
            hub, fields = self._hub_or_fail(), msg.error(req_id, code, text)
            if client_id is None:
                hub.broadcast(fields)
            else:
                hub.send_to_client(client_id, fields)

        self._call(send)

    def nightly_reset(self, pause_s: float = 5.0) -> None:
        """TWS / IB Gateway's daily restart (IBC's auto-restart; IbcAlpha/IBC#143): 1100 to
        every client, every API connection closed, nothing listening for ``pause_s`` wall
        seconds (a connect is refused), then the same port again. The account, orders,
        executions, order ids and the clock are kept and go on (they live at IB, not in TWS):
        orders may fill meanwhile, and a client that reconnects reads them as before. Returns
        at once (any thread; the state file, if any, is written at the reset).

        Raises:
            ValueError: ``pause_s`` < 0.
        """
        if not pause_s >= 0:
            raise ValueError(f"pause_s must be >= 0 (got {pause_s})")
        self._call(lambda: self._reset_now(pause_s))

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections (False while a nightly reset pauses)."""
        return self._server is not None and self.running

    # -- scenarios (any thread) ----------------------------------------------------------------
    def schedule_faults(self, faults: Iterable[ScenarioFault]) -> None:
        """Arm a scenario's faults (``broker.tws.scenario.load_scenario``); each fires on the
        loop thread when the simulated clock reaches its time, before or after ``start``."""
        self._drills.schedule(faults)

    def fired_faults(self) -> list[FiredFault]:
        """The scenario faults fired so far (what was called, when due, when run, outcome)."""
        return self._drills.fired()

    def clock_and_loop(self) -> tuple[VirtualClock, asyncio.AbstractEventLoop]:
        """The running clock and event loop (for ``DrillBook``). RuntimeError before start."""
        if self._clock is None:
            raise RuntimeError("TwsSimServer is not started")
        return self._clock, self._loop_or_fail()

    # -- internals ---------------------------------------------------------------------------------
    async def _listen(self) -> None:
        port = self._bound_port if self._bound_port is not None else self._settings.port
        self._server = await asyncio.start_server(
            self._hub_or_fail().serve_connection, self._settings.host, port
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
        if self._keeper is not None and self._keeper_task is None:
            self._keeper_task = asyncio.get_running_loop().create_task(self._keeper.run())

    def _reset_now(self, pause_s: float) -> None:
        """The nightly reset's first half (loop thread); the listener returns after
        ``pause_s``."""
        hub, loop = self._hub_or_fail(), self._loop_or_fail()
        logger.info("tws-sim: nightly reset: 1100, connections closed for {}s", pause_s)
        hub.broadcast(msg.error(msg.NO_REQ_ID, 1100))
        hub.close_sessions()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._keeper is not None:
            self._keeper.save(force=True)

        def back() -> None:
            self._relisten = None
            self._reopen = loop.create_task(self._listen())
            logger.info("tws-sim: nightly reset over: listening again on {}", self.port)

        self._relisten = loop.call_later(pause_s, back)

    async def _shutdown(self) -> None:
        self._drills.on_stopping()
        if self._relisten is not None:
            self._relisten.cancel()
        if self._keeper_task is not None:
            self._keeper_task.cancel()
            self._keeper_task = None
        if self._keeper is not None:
            self._keeper.save(force=True)
        if self._server is not None:
            self._server.close()
        if self._hub is not None:
            self._hub.close_sessions()
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), _CALL_TIMEOUT_S)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=_CALL_TIMEOUT_S)

    def _capture_state(self) -> SavedState:
        """The state to save (loop thread)."""
        assert self._hub is not None and self._broker is not None
        s = self._settings
        return capture(
            self._hub, self._broker, now=self.now(), account=s.account, symbols=s.symbols
        )

    def _hub_or_fail(self) -> TwsHub:
        if self._hub is None:
            raise RuntimeError("TwsSimServer is not started")
        return self._hub

    def _loop_or_fail(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or not self.running:
            raise RuntimeError("TwsSimServer is not running")
        return self._loop

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread and return its result (waits at most 5 s)."""
        loop = self._loop_or_fail()
        if threading.current_thread() is self._thread:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_CALL_TIMEOUT_S)


class _Bridge:
    """The simulator's listener: hands every quote and event to the loop, in order (runs on
    the clock thread or on the loop thread itself; never blocks)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_quote: Callable[[Quote], None],
        on_event: Callable[[BrokerEvent], None],
    ) -> None:
        self._loop = loop
        self._on_quote = on_quote
        self._on_event = on_event

    def on_quote(self, quote: Quote) -> None:
        self._post(self._on_quote, quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        self._post(self._on_event, event)

    def _post(self, fn: Callable[[T], None], item: T) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the server is stopping
            self._loop.call_soon_threadsafe(fn, item)
