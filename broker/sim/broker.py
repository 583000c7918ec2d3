"""``SimBroker``: the in-process, seeded stock and option market behind the ``Broker`` protocol.

Threads: market steps run on the clock's driver thread (or the test thread inside
``VirtualClock.run_until``); ``place_order``/``cancel_order``/``modify_order`` and the reads come
from any actor thread. One lock guards all state. Listener calls are made outside that lock:
events are appended to one FIFO under the lock and delivered in order by whichever thread holds
the emit lock, so a listener may call back into the broker without deadlock and the events of an
order always arrive in the order they happened.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from loguru import logger

from broker.base import BrokerListener
from broker.sim.account import SimAccount
from broker.sim.chains import OptionSpec
from broker.sim.market import TRADING_DAY_YEARS, MarketModel, SimSymbol, years_of_trading
from broker.sim.option_desk import OptionDesk
from broker.sim.order_book import OrderBook
from core.calendar import TradingCalendar
from core.clock import Clock, Timer, VirtualClock
from core.domain import Contract, OrderRequest, OrderStatus, Quote
from core.events import (
    AccountPnL,
    AccountSnapshot,
    AssignmentEvent,
    BrokerEvent,
    BrokerOrderState,
    BrokerPosition,
    CompletedOrder,
    ExecutionEvent,
    MarginCheck,
)
from core.gate import TradingGate
from core.ticks import TickRule

__all__ = ["SimBroker"]


class SimBroker:
    """A seeded GBM stock market with listed options on every stock, top-of-book matching,
    commissions, a margin account and option expiry at the close of the expiration day.

    Args:
        clock: every timestamp and the market-step timers come from it.
        calendar: quotes and fills happen only while a session is open.
        gate: ``place_order`` refuses what the gate refuses (checked before anything else).
        symbols: the simulated stocks by ticker.
        seed: seeds the one random generator (same seed and symbols: same quotes).
        tick_interval_s: clock seconds between market steps.
        starting_cash: opening cash, dollars.
        commission_per_share: dollars a share; commission_min: per order, dollars.
        maint_margin_long_pct / maint_margin_short_pct: percent of long / short market value.
        drift_annual: GBM drift per year shared by every symbol.
        options: the option market's parameters (chains, volatility skew, spreads).
        commission_per_contract / option_commission_min: option commissions, dollars a
            contract and at least per order.
        settlement_time: expired options are settled at this local time the morning after
            their expiration day (IB processes expirations overnight); None: at the close.

    Raises:
        ValueError: ``tick_interval_s`` <= 0, no symbols, or a key that is not its symbol.
    """

    name = "sim"

    def __init__(
        self,
        *,
        clock: Clock,
        calendar: TradingCalendar,
        gate: TradingGate,
        symbols: Mapping[str, SimSymbol],
        seed: int,
        tick_interval_s: float,
        starting_cash: Decimal,
        commission_per_share: Decimal = Decimal("0.0035"),
        commission_min: Decimal = Decimal("0.35"),
        maint_margin_long_pct: float = 25,
        maint_margin_short_pct: float = 30,
        drift_annual: float = 0.0,
        options: OptionSpec | None = None,
        commission_per_contract: Decimal = Decimal("0.65"),
        option_commission_min: Decimal = Decimal("1.00"),
        settlement_time: time | None = None,
    ) -> None:
        if not tick_interval_s > 0:
            raise ValueError(f"tick_interval_s must be > 0 (got {tick_interval_s})")
        self._clock = clock
        self._calendar = calendar
        self._gate = gate
        self._tick = timedelta(seconds=tick_interval_s)
        self._tick_years = years_of_trading(tick_interval_s)
        self._market = MarketModel(symbols, seed=seed, drift_annual=drift_annual)
        self._options = OptionDesk(self._market, calendar, options or OptionSpec(), seed=seed)
        self._account = SimAccount(
            starting_cash=starting_cash,
            maint_margin_long_pct=maint_margin_long_pct,
            maint_margin_short_pct=maint_margin_short_pct,
        )
        self._book = OrderBook(
            market=self._market,
            account=self._account,
            commission_per_share=commission_per_share,
            commission_min=commission_min,
            options=self._options.market,
            commission_per_contract=commission_per_contract,
            option_commission_min=option_commission_min,
        )
        self._lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self._local = threading.local()
        self._pending: deque[Quote | BrokerEvent] = deque()
        self._listener: BrokerListener | None = None
        self._running = False
        self._step_timer: Timer | None = None
        self._skip_timer: Timer | None = None
        self._expiry_timer: Timer | None = None
        self._next_step_at: datetime | None = None
        self._last_session: date | None = None
        self._subscribed: set[str] = set()
        self._settlement_time = settlement_time
        self._pnl_day: date | None = None  # the trading day ``_pnl_base`` belongs to
        self._pnl_base: Decimal | None = None  # net liquidation at the previous close
        self._last_net_liq: Decimal | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def restore_account(self, fills: Iterable[ExecutionEvent]) -> int:
        """Replay past executions into the simulated account (cash and positions) before
        ``start``: the simulator's stand-in for a broker that remembers the account across an
        engine restart. Working orders are not restored (the engine reconciles them).

        Returns:
            How many executions were replayed.
        """
        count = 0
        with self._lock:
            if self._running:
                raise RuntimeError("restore_account must come before start()")
            for fill in fills:
                self._account.apply_fill(
                    fill.contract, fill.side, fill.quantity, fill.price, fill.commission
                )
                count += 1
        return count

    def restore_state(
        self,
        *,
        cash: Decimal,
        holdings: Iterable[tuple[Contract, int, Decimal]],
        orders: Iterable[tuple[OrderRequest, int, Decimal, OrderStatus]],
        mids: Mapping[str, float],
    ) -> None:
        """Before ``start``: take back an account, orders and prices saved across a restart (a
        simulated TWS that remembers its account). ``orders`` are (request, filled, notional,
        status), parents before their children; ``mids`` the symbols' prices to go on from
        (unknown symbols are skipped).

        Raises:
            RuntimeError: already started.
        """
        with self._lock:
            if self._running:
                raise RuntimeError("restore_state must come before start()")
            self._account.restore(cash, holdings)
            for request, filled, notional, status in orders:
                self._book.restore(request, filled=filled, notional=notional, status=status)
            for symbol, mid in mids.items():
                if symbol in self._market:
                    self._market.set_mid(symbol, mid)

    def start(self, listener: BrokerListener) -> None:
        """Deliver events to ``listener`` and schedule the first market step: now if a session is
        open, else at the next open. Events queued before the start are delivered now.

        Raises:
            RuntimeError: already started (``stop()`` first).
        """
        with self._lock:
            if self._running:
                raise RuntimeError("SimBroker is already started")
            self._listener = listener
            self._running = True
            now = self._clock.now()
            first = now if self._calendar.is_open(now) else self._calendar.next_open(now)
            self._schedule_step(first)
        self._drain()

    def stop(self) -> None:
        """Cancel the market timers (idempotent). Orders, account and listener are kept, so
        reads keep working and cancels are still reported."""
        with self._lock:
            self._running = False
            for timer in (self._step_timer, self._skip_timer, self._expiry_timer):
                if timer is not None:
                    timer.cancel()
            self._step_timer = self._skip_timer = self._expiry_timer = None

    # -- market data ----------------------------------------------------------------------------
    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        """Emit quotes for these stocks and listed options from the next step on (all or none
        are added). Option subscriptions are counted (see ``unsubscribe_quotes``); a stock,
        once subscribed, stays subscribed.

        Raises:
            ValueError: an instrument that is neither a stock nor an option, a symbol that is
                not simulated, or an option that is not listed now.
        """
        wanted = list(contracts)
        with self._lock:
            now = self._clock.now()
            for contract in wanted:
                if contract.sec_type == "OPT":
                    self._options.check(contract, now)
                elif contract.sec_type != "STK":
                    raise ValueError(
                        f"unsupported instrument {contract.key!r}: the simulator quotes stocks "
                        f"(STK) and listed options (OPT), not {contract.sec_type}"
                    )
                elif contract.symbol not in self._market:
                    raise ValueError(
                        f"unknown symbol {contract.symbol!r}: simulated symbols are "
                        f"{', '.join(self._market.symbols)}"
                    )
            self._options.subscribe(c for c in wanted if c.is_option)
            self._subscribed.update(c.symbol for c in wanted if not c.is_option)

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        """Undo one ``subscribe_quotes`` of each option (quotes stop when none is left).
        Stocks and contracts not subscribed are left alone."""
        with self._lock:
            self._options.unsubscribe(c for c in contracts if c.is_option)

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """Every listed option of ``symbol`` quoted now (optionally one right and an expiry
        window), with IV, greeks and open interest; empty while no step has quoted the stock.

        Raises:
            ValueError: unknown symbol.
        """
        if symbol not in self._market:
            raise ValueError(f"unknown symbol {symbol!r}: not one of the simulated symbols")
        with self._lock:
            if self._market.last_quote(symbol) is None:
                return []
            return self._options.chain(
                symbol,
                self._clock.now(),
                right=right,
                min_expiry=min_expiry,
                max_expiry=max_expiry,
            )

    def tick_rule(self, contract: Contract) -> TickRule:
        """The price increments of ``contract`` (any thread): its symbol's ``option_ticks``
        class for an option, the stock rule for a stock. Orders off these ticks are REJECTED
        and modifications to them refused, as TWS refuses them with error 110."""
        return self._market.tick_rule(contract)

    def last_quote(self, symbol: str) -> Quote | None:
        """The latest quote of ``symbol`` (subscribed or not); None before the first step.

        Raises:
            ValueError: unknown symbol.
        """
        if symbol not in self._market:
            raise ValueError(f"unknown symbol {symbol!r}: not one of the simulated symbols")
        with self._lock:
            return self._market.last_quote(symbol)

    def set_mid(self, symbol: str, price: float | Decimal) -> None:
        """Move ``symbol``'s mid to ``price`` at once (tests, fault injection). The next step
        quotes around exactly this mid and matches resting orders against that quote.

        Raises:
            ValueError: unknown symbol or a price that is not > 0.
        """
        with self._lock:
            self._market.set_mid(symbol, float(price))

    # -- orders ---------------------------------------------------------------------------------
    def place_order(self, order: OrderRequest) -> bool:
        """Accept ``order`` for processing (any thread).

        Returns:
            False, with no event, if the gate refuses it or its client id was seen before; True
            otherwise: then a REJECTED event (bad order) or SUBMITTED follows, and a marketable
            order fills against the latest quote at once if a session is open.
        """
        if not self._gate.allows(
            reduce_only=order.reduce_only,
            protective_stop=TradingGate.is_protective_stop(order),
        ):
            logger.info(
                "sim: gate {} refused order {} ({})",
                self._gate.state,
                order.client_order_id,
                self._gate.reason,
            )
            return False
        with self._lock:
            cid = order.client_order_id
            if cid in self._book:
                logger.warning("sim: duplicate client_order_id {}: order refused", cid)
                return False
            now = self._clock.now()
            if order.contract.is_option:
                self._options.ensure_quote(order.contract, now)  # a marketable order fills now
            events = self._book.place(order, now, match_now=self._calendar.is_open(now))
            self._pending.extend(events)
        self._drain()
        return True

    def cancel_order(self, client_order_id: str) -> None:
        """Cancel a working order (any thread; never gated). Unknown or finished orders are left
        alone. Cancelling a parent with no fill cancels its attached orders too."""
        with self._lock:
            events = self._book.cancel(client_order_id, self._clock.now(), "cancelled by request")
            if not events:
                logger.debug("sim: cancel of {}: not a working order", client_order_id)
                return
            self._pending.extend(events)
        self._drain()

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Change a working order (any thread). Refused (logged, no event) for a finished or
        unknown order, a quantity below what has filled, or a price the order type does not have.
        Acknowledged with a status event carrying the new remaining; a modified order may fill at
        once. A quantity equal to the filled quantity completes the order (FILLED)."""
        with self._lock:
            problem = self._book.modify_problem(client_order_id, quantity, limit_price, stop_price)
            if problem is not None:
                logger.warning("sim: modify of {} refused: {}", client_order_id, problem)
                return
            now = self._clock.now()
            events = self._book.modify(
                client_order_id,
                now,
                quantity=quantity,
                limit_price=limit_price,
                stop_price=stop_price,
                match_now=self._calendar.is_open(now),
            )
            self._pending.extend(events)
        self._drain()

    # -- reads (any thread) ---------------------------------------------------------------------
    def open_orders(self) -> list[BrokerOrderState]:
        """Every working order, in placement order; ``quantity`` is a child's capped size."""
        with self._lock:
            return self._book.open_orders()

    def executions(self) -> list[ExecutionEvent]:
        """Every execution so far, oldest first."""
        with self._lock:
            return self._book.executions()

    def completed_orders(self) -> list[CompletedOrder]:
        """Every order that is done, in placement order."""
        with self._lock:
            return self._book.completed_orders()

    def positions(self) -> list[BrokerPosition]:
        """Every non-zero position, in contract key order."""
        with self._lock:
            return self._account.positions()

    def account(self) -> AccountSnapshot:
        """The account now, positions valued at the latest mids."""
        with self._lock:
            return self._account_snapshot(self._clock.now())

    def check_margin(self, order: OrderRequest) -> None:
        """What-if (any thread): the margin ``order`` would add if it filled at the marks, and
        the funds available for it (net liquidation less maintenance margin; the simulator
        reports one margin figure, Reg-T for short options), delivered as a ``MarginCheck``
        event before this returns. A contract the simulator cannot mark gets an answer with
        ``error``."""
        with self._lock:
            now = self._clock.now()
            key = order.client_order_id
            try:
                marks = self._marks(now)
                if order.contract.is_option:
                    marks[order.contract.key] = self._options.market.mark(order.contract, now)
                change = self._account.margin_change(
                    order.contract, order.side, order.quantity, marks
                ).quantize(Decimal("0.01"))
                snapshot = self._account.snapshot(marks, now)
                check = MarginCheck(
                    key,
                    change,
                    snapshot.available_funds,
                    now,
                    init_margin_after=snapshot.maint_margin + change,
                    equity_with_loan_after=snapshot.net_liquidation,
                )
            except (KeyError, ValueError) as err:
                problem = f"no margin estimate for {order.contract.key}: {err}"
                check = MarginCheck(key, None, None, now, error=problem)
            self._pending.append(check)
        self._drain()

    # -- market steps (clock thread) --------------------------------------------------------
    def _schedule_step(self, when: datetime) -> None:
        self._next_step_at = when
        self._step_timer = self._clock.call_at(when, self._step, name="sim-market-step")

    def _step(self) -> None:
        """One market step (clock thread): quote, match, report the account, schedule the next.

        Steps lie on a grid of ``tick_interval_s`` from the session open; a step more than a
        tick late resynchronises to now instead of catching up. The step whose successor would
        fall at or after the close schedules the next open instead and, on a ``VirtualClock``,
        a timer at the close that skips the clock to that open (the skip runs as its own timer
        so, at max speed, the actors have handled the last quotes before time jumps). A step
        that finds the session already closed (it ran late, past the close) quotes nothing and
        moves to the next open the same way.
        """
        skip_now: datetime | None = None
        with self._lock:
            if not self._running:
                return
            now = self._clock.now()
            planned = self._next_step_at or now
            if not self._calendar.is_open(now):
                self._settle(now)  # ran past a close: settle what expired there first
                next_open = self._calendar.next_open(now)
                self._schedule_step(next_open)
                skip_now = next_open
            else:
                if self._last_session != self._calendar.trading_day(now):
                    self._settle(now)  # a session's first step: what settled overnight
                self._market_step(now)
                nxt = planned + self._tick
                if nxt <= now:  # more than a tick late: resynchronise, no catch-up burst
                    nxt = now + self._tick
                close = self._calendar.session_close(self._calendar.local(now).date())
                if nxt < close:
                    self._schedule_step(nxt)
                else:
                    next_open = self._calendar.next_open(close)
                    self._schedule_step(next_open)
                    self._expiry_timer = self._clock.call_at(
                        self._settles_after(close), self._expire, name="sim-option-expiry"
                    )
                    self._schedule_skip(close, next_open)
        self._drain()
        clock = self._clock
        if skip_now is not None and isinstance(clock, VirtualClock):
            clock.skip_to(skip_now)

    def _expire(self) -> None:
        """At a session close (clock thread, before the skip to the next open): settle the
        options that expire now."""
        with self._lock:
            if not self._running:
                return
            self._settle(self._clock.now())
        self._drain()

    def assign_early(self, symbol: str) -> int:
        """Assign every short option of ``symbol`` held now (any thread); returns the
        contracts assigned."""
        with self._lock:
            now = self._clock.now()
            events = self._options.assign_early(symbol, now, self._account)
            if events:
                self._pending.extend(events)
                self._pending.extend(self._account_events(now))
        self._drain()
        return sum(-e.quantity for e in events if isinstance(e, AssignmentEvent))

    def _settles_after(self, close: datetime) -> datetime:
        """When options that expire at ``close`` are settled."""
        if self._settlement_time is None:
            return close
        day = self._calendar.local(close).date() + timedelta(days=1)
        return datetime.combine(day, self._settlement_time, tzinfo=self._calendar.tz)

    def _settles_at(self, expiry: date) -> datetime:
        return self._settles_after(self._options.market.expiry_moment(expiry))

    def _settle(self, now: datetime) -> None:
        events = self._options.settle(now, self._account, self._book, self._settles_at)
        if events:
            self._pending.extend(events)
            self._pending.extend(self._account_events(now))

    def _schedule_skip(self, close: datetime, next_open: datetime) -> None:
        clock = self._clock
        if isinstance(clock, VirtualClock):
            self._skip_timer = clock.call_at(
                close, lambda: clock.skip_to(next_open), name="sim-skip-night"
            )

    def _market_step(self, now: datetime) -> None:
        # dt: nothing for the very first step (quote the starting prices), one trading day for
        # the first step of a later session (the whole night or weekend as one move), one tick
        # otherwise.
        session = self._calendar.trading_day(now)
        if self._last_session is None:
            dt_years = 0.0
        elif session != self._last_session:
            dt_years = TRADING_DAY_YEARS
        else:
            dt_years = self._tick_years
        self._last_session = session
        quotes = self._market.step(dt_years=dt_years, time=now)
        self._pending.extend(q for q in quotes if q.contract.symbol in self._subscribed)
        option_quotes = self._options.step(now, self._book.working_option_contracts())
        subscribed = self._options.is_subscribed
        self._pending.extend(q for q in option_quotes if subscribed(q.contract.key))
        self._pending.extend(self._book.match_quotes(quotes + option_quotes, now))
        self._pending.extend(self._account_events(now))

    def _marks(self, now: datetime) -> dict[str, Decimal]:
        marks = {symbol: self._market.mark(symbol) for symbol in self._market.symbols}
        marks.update(self._options.marks(self._account, now))
        return marks

    def _account_snapshot(self, now: datetime) -> AccountSnapshot:
        return self._account.snapshot(self._marks(now), now)

    def _account_events(self, now: datetime) -> list[BrokerEvent]:
        """The day's P&L (as IB's ``reqPnL`` gives it: net liquidation now less at the previous
        session's last step, so a night's move counts on the new day; on the first day, less
        the first net liquidation), then the account snapshot of the same marks."""
        snapshot = self._account_snapshot(now)
        day = self._calendar.trading_day(now)
        if day != self._pnl_day:
            self._pnl_day = day
            last = self._last_net_liq
            self._pnl_base = last if last is not None else snapshot.net_liquidation
        self._last_net_liq = snapshot.net_liquidation
        base = self._pnl_base if self._pnl_base is not None else snapshot.net_liquidation
        pnl = AccountPnL(snapshot.net_liquidation - base, None, None, now)
        return [pnl, snapshot]

    # -- delivery -------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Deliver queued quotes and events in order, outside the state lock. A call from inside
        a listener callback returns at once: the outer loop delivers what it queued."""
        if getattr(self._local, "draining", False):
            return
        with self._emit_lock:
            self._local.draining = True
            try:
                while True:
                    with self._lock:
                        listener = self._listener
                        if listener is None or not self._pending:
                            return
                        item = self._pending.popleft()
                    try:
                        if isinstance(item, Quote):
                            listener.on_quote(item)
                        else:
                            listener.on_broker_event(item)
                    except Exception:
                        logger.exception("sim: listener raised on {}", type(item).__name__)
            finally:
                self._local.draining = False
