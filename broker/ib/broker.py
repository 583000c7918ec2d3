"""``IBBroker``: the ``Broker`` protocol over ib_async, for TWS and IB Gateway.

Threads: one ``ib-loop`` thread owns the ``IB`` object and everything that touches it
(``LoopThread``). The methods here are called from actor threads and the main thread: orders,
cancels and subscriptions are posted to the loop and return at once; reads run on the loop
and wait for their answer, bounded by ``request_timeout_s``. Quotes and events reach the
listener on the loop thread, already frozen domain values.

Lifecycle: ``connect()`` (the engine calls it first to anchor its clock at the broker's time;
``start`` calls it if nobody did), ``use_clock``, ``start(listener)``, ``stop()``. Order
statuses IB reports before ``start`` (while connecting: an earlier run's working orders) are
turned into events at ``start``, so every event carries the engine's clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from loguru import logger

from broker.base import BrokerListener
from broker.ib.account import AccountFeed
from broker.ib.context import IbContext, IbOptions
from broker.ib.loop import LoopThread
from broker.ib.market_data import MarketData
from broker.ib.orders import OrderDesk
from broker.ib.parsing.orders import completed_order
from broker.ib.parts import IbParts, build_parts
from broker.ib.safety import check_market_data_type, check_port
from core.calendar import TradingCalendar
from core.clock import Clock, WallClock
from core.domain import Contract, OrderRequest, Quote
from core.events import (
    AccountSnapshot,
    BrokerOrderState,
    BrokerPosition,
    CompletedOrder,
    ExecutionEvent,
)
from core.gate import TradingGate
from core.ticks import TickRule, default_rule

__all__ = ["IBBroker"]


class IBBroker:
    """Interactive Brokers through TWS or IB Gateway (paper by default; see ``safety``).

    Args:
        options: where and how to connect (``IbOptions.from_settings``).
        gate: ``place_order`` refuses what the gate refuses, checked here again.
        calendar: sessions (the stale-data watchdog only watches open markets).
        clock: the engine's clock; may be given later with ``use_clock`` (the engine anchors
            its clock at the broker's time, which it can only read once connected).

    Raises:
        LiveTradingRefused: a live-trading port without ``allow_live`` and ``live``.
    """

    def __init__(
        self,
        options: IbOptions,
        *,
        gate: TradingGate,
        calendar: TradingCalendar,
        clock: Clock | None = None,
    ) -> None:
        check_port(options.port, allow_live=options.allow_live, live_flag=options.live)
        check_market_data_type(options.market_data_type, port=options.port)
        self.name = "ib-dry-run" if options.dry_run else "ib"
        self.options = options
        self._gate = gate
        self._calendar = calendar
        self._clock: Clock = clock or WallClock(calendar.tz)
        self._loop = LoopThread()
        self._parts: IbParts | None = None
        self._started = False
        self._orders_read_at = float("-inf")  # loop mono time of the last fresh orders read

    # -- lifecycle -----------------------------------------------------------------------------
    def connect(self) -> datetime:
        """Start the loop thread and connect (blocking, bounded by the connect timeout and the
        client-id retries); returns the broker's current time (exchange zone). Idempotent:
        later calls return the broker's time again.

        Raises:
            LiveTradingRefused: not a paper account and live trading not asked for twice.
            ConnectionError | TimeoutError | OSError: TWS cannot be reached.
        """
        if self._parts is not None:
            return self._loop.run(self._broker_time(), self.options.request_timeout_s)
        self._loop.start()
        options = self.options
        attempts = 2 * options.client_id_attempts
        budget = attempts * (options.connect_timeout_s + options.reconnect_base_s + 2.0)
        try:
            parts = self._loop.call(
                lambda: build_parts(options, clock=self._clock, calendar=self._calendar),
                timeout_s=5.0,
            )
            self._parts = parts
            now = self._loop.run(parts.connection.connect(), budget)
            self._loop.call(parts.margin.subscribe_pnl, timeout_s=5.0)  # later connects: itself
            return now
        except BaseException:
            self._teardown()
            raise

    def use_clock(self, clock: Clock) -> None:
        """Stamp everything with ``clock`` from now on (before ``start``)."""
        self._clock = clock
        if self._parts is not None:
            ctx = self._parts.ctx
            self._loop.call(lambda: setattr(ctx, "clock", clock), timeout_s=5.0)

    def start(self, listener: BrokerListener) -> None:
        """Deliver quotes and events to ``listener`` (connecting first if needed).

        Raises:
            RuntimeError: already started.
        """
        if self._started:
            raise RuntimeError("IBBroker is already started")
        if self._parts is None:
            self.connect()
        parts = self._parts_or_fail()
        ctx, account, desk = parts.ctx, parts.account, parts.desk

        def attach() -> None:
            desk.begin()  # statuses learned while connecting, stamped with the engine's clock
            ctx.emitter.attach(listener)
            snapshot = account.snapshot()
            if snapshot is not None:
                ctx.emitter.event(snapshot)

        self._loop.call(attach, timeout_s=5.0)
        self._started = True
        logger.info(
            "ib: started on {}:{} as client {}, account {}{}",
            self.options.host,
            self.options.port,
            ctx.client_id,
            ctx.account,
            " (DRY RUN: no order is sent)" if self.options.dry_run else "",
        )

    def stop(self) -> None:
        """Disconnect and end the loop thread (idempotent). TWS keeps our orders working."""
        self._started = False
        self._teardown()

    def _teardown(self) -> None:
        parts = self._parts
        if parts is not None and self._loop.running:
            try:
                self._loop.run(parts.connection.close(), 5.0)
            except Exception:
                logger.exception("ib: disconnect failed")
        self._loop.stop()
        self._parts = None

    # -- market data ---------------------------------------------------------------------------
    def tick_rule(self, contract: Contract) -> TickRule:
        """``contract``'s price increments from IB's contract details and market rule, learnt
        when the contract was qualified (a subscription or a chain scan); ``default_rule``
        before that (any thread, never waits)."""
        parts = self._parts
        return parts.market.ticks.rule(contract) if parts is not None else default_rule(contract)

    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        wanted = list(contracts)
        for contract in wanted:
            if contract.sec_type not in ("STK", "OPT"):
                raise ValueError(f"unsupported instrument {contract.key!r} ({contract.sec_type})")
        self._loop.post(self._market_or_fail().subscribe, wanted)

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None:
        self._loop.post(self._market_or_fail().unsubscribe, list(contracts))

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """Listed options of ``symbol`` with greeks (blocks up to ``option_chain_timeout_s``;
        an empty list when IB lists none, the scan does not end in time, or the link is down:
        a down link is a state the scan waits out, not an error for its VA)."""
        market = self._market_or_fail()
        try:
            return self._loop.run(
                market.option_chain(
                    symbol, right=right, min_expiry=min_expiry, max_expiry=max_expiry
                ),
                self.options.option_chain_timeout_s,
            )
        except TimeoutError as err:
            logger.warning("ib: option chain of {}: {}", symbol, err)
            return []
        except ConnectionError as err:
            logger.info("ib: option chain of {}: the link is down ({})", symbol, err)
            return []

    def last_quote(self, key: str) -> Quote | None:
        market = self._market_or_fail()
        return self._loop.call(lambda: market.last_quote(key), 5.0)

    # -- orders --------------------------------------------------------------------------------
    def place_order(self, order: OrderRequest) -> bool:
        """Hand ``order`` to IB (any thread; returns at once).

        Returns:
            False, with no event, when the gate refuses it or the link to IB is down; True
            otherwise, and its status events follow (REJECTED with IB's reason if IB refuses).
        """
        if not self._gate.allows(
            reduce_only=order.reduce_only, protective_stop=TradingGate.is_protective_stop(order)
        ):
            logger.info(
                "ib: gate {} refused order {} ({})",
                self._gate.state,
                order.client_order_id,
                self._gate.reason,
            )
            return self._refused(order, f"gate {self._gate.state}")
        parts = self._parts
        if parts is None or not parts.connection.health.can_send:
            logger.warning("ib: link to IB is down: order {} refused", order.client_order_id)
            return self._refused(order, "the link to IB is down")
        self._loop.post(self._desk_or_fail().place, order)
        return True

    def _refused(self, order: OrderRequest, reason: str) -> bool:
        """False; an attached order refused here also ends the parent held for it."""
        parts = self._parts
        if order.parent_id and parts is not None:
            self._loop.post(parts.desk.brackets.child_refused, order, reason)
        return False

    def cancel_order(self, client_order_id: str) -> None:
        self._loop.post(self._desk_or_fail().cancel, client_order_id)

    def modify_order(
        self,
        client_order_id: str,
        *,
        quantity: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        desk = self._desk_or_fail()
        self._loop.post(
            lambda: desk.modify(
                client_order_id,
                quantity=quantity,
                limit_price=limit_price,
                stop_price=stop_price,
            )
        )

    def notice_counts(self, timeout_s: float = 2.0) -> dict[int, int]:
        """How often IB sent each error/notice code since the adapter was built (copied on the
        ib-loop thread; any thread may call). Empty before the first connect."""
        parts = self._parts
        if parts is None or not self._loop.running:
            return {}
        notices = parts.connection.notices
        return self._loop.call(lambda: dict(notices.seen), timeout_s=timeout_s)

    def cancel_all(self) -> None:
        """Cancel every working order of ours (by client order id, one ``cancelOrder`` each);
        the trader's manual orders and other clients' are left alone (no ``reqGlobalCancel``)."""
        self._loop.post(self._desk_or_fail().cancel_ours)

    # -- reads (any thread; bounded) -------------------------------------------------------------
    def open_orders(self) -> list[BrokerOrderState]:
        """Our working orders (as IB last reported them) and other clients' (dry-run: ours)."""
        return self._loop.run(self._open_orders(), self.options.request_timeout_s + 1)

    async def _open_orders(self) -> list[BrokerOrderState]:
        """Ours as the desk knows them after a fresh read of IB's open and completed orders
        (at most one every ``orders_refresh_s`` wall seconds: two requests, far inside IB's 50
        messages a second), which ends every order IB ended behind ib_async's back; then the
        other clients' open orders."""
        desk = self._desk_or_fail()
        if self.options.dry_run:
            return desk.sync.working()
        account = self._account_or_fail()
        now = self._ctx_or_fail().mono()
        if now - self._orders_read_at >= self.options.orders_refresh_s:
            asked_at = self._ctx_or_fail().clock.now()
            open_all, completed = await account.ib_orders()
            self._orders_read_at = self._ctx_or_fail().mono()
            desk.checks.take_ib_orders(open_all, completed, asked_at=asked_at)
        foreign = await account.foreign_orders()
        return desk.sync.working() + foreign

    def executions(self) -> list[ExecutionEvent]:
        """The day's executions at IB (none in dry-run: the shadow ledger has no fills)."""
        if self.options.dry_run:
            return []
        account = self._account_or_fail()
        return self._loop.run(account.executions(), self.options.request_timeout_s + 1)

    def completed_orders(self) -> list[CompletedOrder]:
        """The orders IB lists as completed (``reqCompletedOrders``: every client's, today's),
        ours and not; none in dry-run (the shadow ledger's orders never reached IB)."""
        if self.options.dry_run:
            return []
        account = self._account_or_fail()
        trades = self._loop.run(account.completed_trades(), self.options.request_timeout_s + 1)
        found = (completed_order(t) for t in trades)
        return [c for c in found if c is not None]

    def positions(self) -> list[BrokerPosition]:
        """The account's positions (none in dry-run: the account's positions are not the
        shadow ledger's)."""
        if self.options.dry_run:
            return []
        account = self._account_or_fail()
        return self._loop.run(account.positions(), self.options.request_timeout_s + 1)

    def account(self) -> AccountSnapshot:
        """The account now (from the values IB keeps current).

        Raises:
            RuntimeError: IB has not sent the account values yet.
        """
        account = self._account_or_fail()
        snapshot = self._loop.call(account.snapshot, 5.0)
        if snapshot is None:
            raise RuntimeError("IB has not reported the account values yet")
        return snapshot

    def check_margin(self, order: OrderRequest) -> None:
        """What-if ``order`` at IB (any thread; returns at once): a ``MarginCheck`` event follows
        within ``request_timeout_s`` (see ``broker.ib.margin``)."""
        self._loop.post(self._parts_or_fail().margin.check, order)

    def stats(self) -> dict[str, int]:
        """Counters for tests and logs: orders sent, quotes, reconnects, late commissions."""
        parts = self._parts
        if parts is None:
            return {}
        desk, market, connection = parts.desk, parts.market, parts.connection
        return self._loop.call(
            lambda: {
                "orders_sent": desk.sender.sent,
                "quotes_received": market.received,
                "quotes_delivered": market.delivered,
                "reconnects": connection.reconnects,
                "client_id_refusals": connection.login.refusals,
                "late_commissions": desk.flow.late_commissions,
                "pacing_violations": desk.ctx.throttle.violations,
                "market_data_lines": market.lines_in_use(),
                "scan_failures": market.scan_failures,
                "stale_resubscribes": connection.stale_resubscribes,
            },
            5.0,
        )

    @property
    def connected(self) -> bool:
        parts = self._parts
        return parts is not None and parts.connection.health.can_send

    @property
    def client_id(self) -> int:
        return self._ctx_or_fail().client_id

    @property
    def account_id(self) -> str:
        return self._ctx_or_fail().account

    # -- internals -----------------------------------------------------------------------------
    async def _broker_time(self) -> datetime:
        ctx = self._ctx_or_fail()
        now = await ctx.bounded(ctx.ib.reqCurrentTimeAsync(), "current time")
        return now.astimezone(ctx.tz)

    def _parts_or_fail(self) -> IbParts:
        if self._parts is None:
            raise RuntimeError("IBBroker is not connected (call connect() or start())")
        return self._parts

    def _ctx_or_fail(self) -> IbContext:
        return self._parts_or_fail().ctx

    def _desk_or_fail(self) -> OrderDesk:
        return self._parts_or_fail().desk

    def _market_or_fail(self) -> MarketData:
        return self._parts_or_fail().market

    def _account_or_fail(self) -> AccountFeed:
        return self._parts_or_fail().account
