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
from datetime import date, time
from decimal import Decimal

from loguru import logger

from broker.base import BrokerListener
from broker.sim.account import SimAccount
from broker.sim.account_reports import AccountReports
from broker.sim.chains import OptionSpec
from broker.sim.delivery import EventDelivery
from broker.sim.market import MarketModel, SimSymbol
from broker.sim.market_steps import MarketSteps
from broker.sim.option_desk import OptionDesk
from broker.sim.order_book import OrderBook
from core.calendar import TradingCalendar
from core.clock import Clock
from core.domain import Contract, OrderRequest, OrderStatus, Quote
from core.events import (
    AccountSnapshot,
    AssignmentEvent,
    BrokerEvent,
    BrokerOrderState,
    BrokerPosition,
    CompletedOrder,
    ExecutionEvent,
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
        self._pending: deque[Quote | BrokerEvent] = deque()
        self._listener: BrokerListener | None = None
        self._delivery = EventDelivery(self._lock, self._pending, lambda: self._listener)
        self._subscribed: set[str] = set()
        self._tick_interval_s = tick_interval_s
        self._settlement_time = settlement_time
        self._reports, self._steps = self._market_parts()

    def _market_parts(self) -> tuple[AccountReports, MarketSteps]:
        """The account reports and the market's step schedule, over this simulator's market,
        options, account and order book."""
        reports = AccountReports(
            market=self._market,
            options=self._options,
            account=self._account,
            calendar=self._calendar,
        )
        steps = MarketSteps(
            clock=self._clock,
            calendar=self._calendar,
            lock=self._lock,
            market=self._market,
            options=self._options,
            book=self._book,
            account=self._account,
            reports=reports,
            pending=self._pending,
            drain=self._delivery.drain,
            subscribed=self._subscribed,
            tick_interval_s=self._tick_interval_s,
            settlement_time=self._settlement_time,
        )
        return reports, steps

    def take_over(self, other: SimBroker) -> None:
        """Continue ``other``'s market: its prices, option chains, account and working orders,
        as a TWS keeps all of them while an engine is away. For a restarted engine on a
        simulator that must not start afresh (tests of recovery across restarts); before
        ``start()``, with ``other`` stopped.

        Raises:
            RuntimeError: this simulator is already started.
        """
        with self._lock:
            if self._steps.running:
                raise RuntimeError("take_over must come before start()")
            self._market, self._options = other._market, other._options
            self._account, self._book = other._account, other._book
            self._reports, self._steps = self._market_parts()

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
            if self._steps.running:
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
            if self._steps.running:
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
            if self._steps.running:
                raise RuntimeError("SimBroker is already started")
            self._listener = listener
            self._steps.start(self._clock.now())
        self._delivery.drain()

    def stop(self) -> None:
        """Cancel the market timers (idempotent). Orders, account and listener are kept, so
        reads keep working and cancels are still reported."""
        with self._lock:
            self._steps.stop()

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
                else:
                    self._market.check_stock(contract)
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
            for leg in order.legs:
                if leg.contract.is_option:
                    self._options.ensure_quote(leg.contract, now)
            events = self._book.place(order, now, match_now=self._calendar.is_open(now))
            self._pending.extend(events)
        self._delivery.drain()
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
        self._delivery.drain()

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
        self._delivery.drain()

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
            return self._reports.snapshot(self._clock.now())

    def check_margin(self, order: OrderRequest) -> None:
        """What-if (any thread): the margin ``order`` would add if it filled at the marks, and
        the funds available for it (net liquidation less maintenance margin; the simulator
        reports one margin figure, Reg-T for short options), delivered as a ``MarginCheck``
        event before this returns. A contract the simulator cannot mark gets an answer with
        ``error``."""
        with self._lock:
            self._pending.append(self._reports.margin_check(order, self._clock.now()))
        self._delivery.drain()

    def assign_early(self, symbol: str) -> int:
        """Assign every short option of ``symbol`` held now (any thread); returns the
        contracts assigned."""
        with self._lock:
            now = self._clock.now()
            events = self._options.assign_early(symbol, now, self._account)
            if events:
                self._pending.extend(events)
                self._pending.extend(self._reports.events(now))
        self._delivery.drain()
        return sum(-e.quantity for e in events if isinstance(e, AssignmentEvent))
