"""``TwsSimServer``: a TWS API server (protocol version 178) backed by the market simulator.

The server is the public face: its settings, the state file across restarts, the market
helpers and the faults a test or a scenario injects. What one start builds and runs (the clock,
the simulator, the hub, the ``tws-sim-loop`` thread and its listener) is a ``ServerRun``
(``broker.tws.server_run``), which says which thread does what.

Threads: ``start``/``stop`` and every market helper and fault method run on the caller's
thread; a fault's work runs on the loop and the call waits for it (bounded), so a test sees
the effect once the call returns.

The simulated time (``reqCurrentTime``, execution times, the connection time) is the clock's,
so a client can anchor its own clock to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from loguru import logger

from broker.sim import SimSymbol
from broker.tws.contracts import InstrumentRegistry
from broker.tws.drill_book import DrillBook, FiredFault
from broker.tws.entitlements import check_entitlement
from broker.tws.faults import DEFAULT_REJECT_REASON, FaultState
from broker.tws.hub import TwsHub
from broker.tws.scenario import ScenarioFault
from broker.tws.server_run import ServerRun, resume_point
from broker.tws.settings import TwsSimSettings, check_host
from broker.tws.state_codec import SavedState
from broker.tws.views import AccountView, account_view
from core.calendar import TradingCalendar
from core.clock import VirtualClock
from core.domain import Quote

__all__ = ["TwsSimServer"]

T = TypeVar("T")


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
            max_market_data_lines, send_backlog_limit_bytes: a client with more unsent
            bytes than this is dropped, default 8 MiB).

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
        self._run: ServerRun | None = None
        self._bound_port: int | None = None
        self._starts = 0
        self._state_path = Path(state_file) if state_file is not None else None
        self._saved, self._start_at = resume_point(
            self._state_path, self._settings, self._settings.start
        )
        self._drills = DrillBook(self)

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
        return self._run is not None and self._run.running

    @property
    def registry(self) -> InstrumentRegistry:
        return self._settings.registry

    def now(self) -> datetime:
        """The simulated time (exchange zone); the start time before ``start`` (the saved
        time when a state file resumes a later one)."""
        if self._run is not None:
            return self._run.clock.now()
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
        if self.running:
            raise RuntimeError("TwsSimServer is already started")
        if self._starts and self._state_path is not None:  # started before: reload
            self._saved, self._start_at = resume_point(
                self._state_path, self._settings, self._start_at
            )
        run = ServerRun(
            self._settings,
            self._faults,
            start_at=self._start_at,
            port=self.port,
            saved=self._saved,
            state_path=self._state_path,
        )
        run.start(timeout_s)  # raises: no run is kept
        self._run = run
        self._starts += 1
        self._bound_port = run.port
        self._drills.on_started()
        run.wait_first_quote(timeout_s)
        logger.info("tws-sim: listening on {}:{} (simulated {})", self.host, self.port, self.now())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the market, close every connection and the listener, end the loop thread
        (idempotent)."""
        if self._run is not None:
            self._run.stop(timeout_s, on_stopping=self._drills.on_stopping)

    def __enter__(self) -> TwsSimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- market helpers (any thread) -------------------------------------------------------------
    def set_mid(self, symbol: str, price: float | Decimal) -> None:
        """Move a symbol's mid now; the next market step quotes around it and matches orders."""
        self._started().broker.set_mid(symbol, price)

    def last_quote(self, symbol: str) -> Quote | None:
        return self._started().broker.last_quote(symbol)

    def account_view(self) -> AccountView:
        """What IB holds now (positions and working orders, ``broker.tws.views``), read on the
        loop thread; readable while a nightly reset pauses the listener."""
        return self._call(lambda: account_view(self._hub_or_fail()))

    def connected_client_ids(self) -> list[int]:
        """Client ids of the sessions past ``startApi``."""
        return self._call(lambda: self._hub_or_fail().client_ids())

    def buffered_bytes(self) -> int:
        """Bytes the open connections hold in the process: partial incoming frames and
        output their clients have not read yet."""
        return self._call(lambda: self._hub_or_fail().buffered_bytes())

    def connection_count(self) -> int:
        """Open connections, whether past ``startApi`` or not."""
        return self._call(lambda: self._hub_or_fail().session_count())

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
        loop, hub = self._started().loop, self._hub_or_fail()
        restore = lambda: hub.connectivity_restored(data_lost)  # noqa: E731
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
        """The next ``count`` requests of the clients connected now get error 100 (with their
        request id) and are dropped. IB paces each connection by its own traffic, so a client
        that connects later (a second program reading the account) is never refused for it."""
        clients = frozenset(self.connected_client_ids())
        self._faults.pacing_violation_next(count, clients)

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
        self._faults.correct_next_execution(price, quantity)

    def delay_next_commission(self, delay_s: float) -> None:
        """The next execution's ``commissionReport`` comes ``delay_s`` WALL seconds after its
        ``execDetails`` (the adapter's wait for it is in wall seconds too).

        Raises:
            ValueError: a negative delay.
        """
        self._faults.delay_next_commission(delay_s)

    def assign_early(self, symbol: str) -> int:
        """Assign every short option of ``symbol`` held in the account now, before its expiry
        (American options can be assigned on any day): each leaves the account and delivers
        its shares at the strike, reported, as IB does, only as position and account changes.
        Returns the contracts assigned (0 when none is held short)."""
        return self._started().broker.assign_early(symbol)

    def freeze_market(self) -> None:
        """No more quotes and no more matching: the simulator's market timers stop, while its
        orders and account stay, so reads and cancels still work (a still market for an exact
        final comparison, as the crash harness makes at its end)."""
        self._started().broker.stop()

    def stop_quotes(self, symbol: str | None = None) -> None:
        """No more ticks (the market keeps moving and matching): for every contract, or only
        for ``symbol`` (a stock symbol: the stock and its options; or one option's contract
        key, ``"AAPL 20260116 P 150"``). Quotes stay silent across 1100/1101/1102 until
        ``resume_quotes`` (IbcAlpha/IBC#143: data that does not come back after the nightly
        reset)."""
        self._call(lambda: self._hub_or_fail().market.stop_quotes(symbol))

    def resume_quotes(self, symbol: str | None = None) -> None:
        """Ticks again: for everything (``None`` also clears every per-symbol stop), or for
        ``symbol`` only."""
        self._call(lambda: self._hub_or_fail().market.resume_quotes(symbol))

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
        return self._call(
            lambda: self._hub_or_fail().send_order_notice(order_id, code, text, client_id)
        )

    def send_error(
        self, req_id: int, code: int, text: str, *, client_id: int | None = None
    ) -> None:
        """Send any error/notice (to one client id, or to every client)."""
        self._call(lambda: self._hub_or_fail().send_error(req_id, code, text, client_id))

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
        run = self._started()
        self._call(lambda: run.reset_now(pause_s))

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections (False while a nightly reset pauses)."""
        return self._run is not None and self._run.listening

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
        run = self._started()
        if not run.running:
            raise RuntimeError("TwsSimServer is not running")
        return run.clock, run.loop

    # -- internals ---------------------------------------------------------------------------------
    def _started(self) -> ServerRun:
        if self._run is None:
            raise RuntimeError("TwsSimServer is not started")
        return self._run

    def _hub_or_fail(self) -> TwsHub:
        return self._started().hub

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread and return its result (waits at most 5 s)."""
        return self._started().call(fn)
