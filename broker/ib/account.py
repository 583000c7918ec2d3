"""``AccountFeed``: account values into ``AccountSnapshot`` events, and the reads the engine
reconciles with: positions, executions, other clients' open orders (ib-loop thread only).

ib_async keeps the account values of the traded account current (``reqAccountUpdates`` at
connect); every change marks the snapshot dirty and at most one snapshot per
``account_interval_s`` is delivered. Positions and executions are read fresh from IB for every
call (``reqPositions``, ``reqExecutions``: the executions of the day, including those that
happened while we were disconnected or stopped). ib_async keys concurrent requests of one kind
by name, so each kind is serialised with its own lock.

Option expiry, exercise and assignment: IB reports them only as position changes, so the feed
follows every ``position`` message and our executions through a ``SettlementWatch`` and delivers
the ``ExpiryEvent`` / ``AssignmentEvent`` it infers (see ``broker.ib.parsing.settlement``). A
full positions read (``positions()``, at every reconciliation) also counts: an option missing
from it went to 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from ib_async import AccountValue, Fill, Position, Trade
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.ib_history import forget_filed
from broker.ib.order_state import commission_of
from broker.ib.parsing.account import ACCOUNT_TAGS, account_snapshot, broker_position
from broker.ib.parsing.contracts import from_ib_contract
from broker.ib.parsing.orders import (
    broker_order_state,
    client_order_id,
    execution_event,
    order_status,
    request_from_trade,
)
from broker.ib.parsing.settlement import Settlement, SettlementWatch
from broker.ib.parsing.unset import amount_or_none
from core.domain import Contract
from core.events import AccountSnapshot, BrokerOrderState, BrokerPosition, ExecutionEvent
from core.exec_ids import superseded

__all__ = ["AccountFeed"]

#: Wall seconds a position change waits for the executions or the stock change explaining it.
SETTLE_GRACE_S = 2.0


class AccountFeed:
    def __init__(self, ctx: IbContext) -> None:
        self.ctx = ctx
        self._dirty = False
        self._scheduled = False
        self._last_emit = -1e18
        self._positions_lock = asyncio.Lock()
        self._executions_lock = asyncio.Lock()
        self._orders_lock = asyncio.Lock()
        self._foreign: list[BrokerOrderState] = []
        self._foreign_at = -1e18
        self.settlements = SettlementWatch(
            account="",
            expired=self._expired,
            underlying_price=self._underlying_price,
            grace_s=SETTLE_GRACE_S,
        )
        self._settle_scheduled = False
        # Wired here, with the feed: ib_async holds these bound methods weakly and the feed
        # lives as long as the broker.
        ctx.ib.positionEvent += self.on_position
        ctx.ib.execDetailsEvent += self.on_exec_details

    # -- snapshots ------------------------------------------------------------------------------
    def on_account_value(self, value: AccountValue) -> None:
        if value.tag not in ACCOUNT_TAGS:
            return
        if self.ctx.account and value.account and value.account != self.ctx.account:
            return
        self._dirty = True
        if not self._scheduled:
            self._scheduled = True
            wait = max(0.0, self._last_emit + self.ctx.options.account_interval_s - self.ctx.mono())
            asyncio.get_running_loop().call_later(wait, self._emit)

    def _emit(self) -> None:
        self._scheduled = False
        if not self._dirty:
            return
        snapshot = self.snapshot()
        if snapshot is not None:
            self._dirty = False
            self._last_emit = self.ctx.mono()
            self.ctx.emitter.event(snapshot)

    def snapshot(self) -> AccountSnapshot | None:
        return account_snapshot(
            self.ctx.ib.accountValues(self.ctx.account),
            account=self.ctx.account,
            time=self.ctx.clock.now(),
        )

    # -- settlements ----------------------------------------------------------------------------
    def on_position(self, position: Position) -> None:
        """A ``position`` message: the settlements it completes are delivered (not in a dry
        run: the account's real positions are not the shadow ledger's)."""
        account = self.ctx.account
        contract = from_ib_contract(position.contract)
        if contract is None or (account and position.account and position.account != account):
            return
        if self.ctx.options.dry_run:
            return
        self.settlements.account = account
        events = self.settlements.position(
            contract, int(position.position), now_s=self.ctx.mono(), time=self.ctx.clock.now()
        )
        self._deliver(events)

    def on_exec_details(self, trade: Trade, fill: Fill) -> None:
        self._explain([fill])

    def _explain(self, fills: Iterable[Fill]) -> None:
        for fill in fills:
            event = execution_event(fill, tz=self.ctx.tz)
            if event is not None:
                self.settlements.execution(
                    event.exec_id, event.contract, event.side, event.quantity
                )

    def _deliver(self, events: list[Settlement]) -> None:
        for event in events:
            logger.info("ib: {} inferred from IB's positions", event)
            self.ctx.emitter.event(event)
        if self.settlements.waiting() and not self._settle_scheduled:
            self._settle_scheduled = True
            asyncio.get_running_loop().call_later(SETTLE_GRACE_S, self._settle_due)

    def _settle_due(self) -> None:
        self._settle_scheduled = False
        events, unexplained = self.settlements.expire(self.ctx.mono())
        for change in unexplained:
            logger.debug(
                "ib: position change {} {:+d}: no execution explains it",
                change.contract.key,
                change.amount,
            )
        self._deliver(events)

    def _expired(self, contract: Contract) -> bool:
        if contract.expiry is None:
            return False
        return self.ctx.calendar.local(self.ctx.clock.now()).date() >= contract.expiry

    def _underlying_price(self, symbol: str) -> Decimal | None:
        for ticker in self.ctx.ib.tickers():
            if ticker.contract is not None and ticker.contract.secType == "STK":
                price = ticker.marketPrice() if ticker.contract.symbol == symbol else None
                amount = amount_or_none(price)
                if amount is not None and amount > 0:
                    return amount
        return None

    # -- reads ----------------------------------------------------------------------------------
    async def positions(self) -> list[BrokerPosition]:
        async with self._positions_lock:
            rows = await self.ctx.bounded(self.ctx.ib.reqPositionsAsync(), "positions")
        account = self.ctx.account
        mapped = [
            broker_position(p) for p in rows if not account or not p.account or p.account == account
        ]
        held = sorted((p for p in mapped if p is not None), key=lambda p: p.contract.key)
        if self.ctx.options.dry_run:
            return held
        self.settlements.account = account
        self._deliver(
            self.settlements.snapshot(
                [(p.contract, p.quantity) for p in held],
                now_s=self.ctx.mono(),
                time=self.ctx.clock.now(),
            )
        )
        return held

    async def executions(self) -> list[ExecutionEvent]:
        """The day's executions (IB lists those since midnight), oldest first, each with its
        commission when IB has reported it; an execution IB corrected appears only as its
        latest revision."""
        async with self._executions_lock:
            fills = await self.ctx.bounded(self.ctx.ib.reqExecutionsAsync(), "executions")
        self._explain(fills)
        replaced = superseded(f.execution.execId for f in fills)
        events = []
        for fill in fills:
            event = execution_event(fill, tz=self.ctx.tz)
            if event is None or event.exec_id in replaced:
                continue  # not ours, or replaced by its correction (also listed)
            commission = commission_of(self.ctx.ib, event.exec_id)
            if commission is not None:
                event = replace(event, commission=commission)
            else:
                logger.warning("ib: execution {} has no commission report yet", event.exec_id)
            events.append(event)
        return sorted(events, key=lambda e: (e.time, e.exec_id))

    async def fills(self) -> list[Fill]:
        """The raw ib_async fills of the day (for the reconnect resync)."""
        async with self._executions_lock:
            fills = list(await self.ctx.bounded(self.ctx.ib.reqExecutionsAsync(), "executions"))
        self._explain(fills)
        return fills

    async def open_trades(self) -> list[Trade]:
        """Our client's open orders, fresh from IB."""
        async with self._orders_lock:
            return list(await self.ctx.bounded(self.ctx.ib.reqOpenOrdersAsync(), "open orders"))

    async def completed_trades(self) -> list[Trade]:
        async with self._orders_lock:
            return await self._completed()

    async def _completed(self) -> list[Trade]:
        """IB's completed orders; ib_async files the ones it did not know into its maps as it
        reads them, and those are dropped again (``retention.forget_filed``)."""
        known = set(self.ctx.ib.wrapper.trades)
        completed = list(
            await self.ctx.bounded(self.ctx.ib.reqCompletedOrdersAsync(False), "completed orders")
        )
        forget_filed(self.ctx.ib, completed, known)
        return completed

    async def ib_orders(self) -> tuple[list[Trade], list[Trade]]:
        """IB's open orders of every client (``reqAllOpenOrders``) and its completed orders,
        read fresh (the other clients' open orders are refreshed from the same read)."""
        async with self._orders_lock:
            open_all = list(
                await self.ctx.bounded(self.ctx.ib.reqAllOpenOrdersAsync(), "all open orders")
            )
            completed = await self._completed()
        self._foreign, self._foreign_at = self._foreign_of(open_all), self.ctx.mono()
        return open_all, completed

    async def foreign_orders(self, *, force: bool = False) -> list[BrokerOrderState]:
        """Working orders of other API clients and of TWS itself (``reqAllOpenOrders``), at most
        ``foreign_orders_refresh_s`` old (or fresh with ``force``)."""
        now = self.ctx.mono()
        if force or now - self._foreign_at >= self.ctx.options.foreign_orders_refresh_s:
            async with self._orders_lock:
                trades = await self.ctx.bounded(
                    self.ctx.ib.reqAllOpenOrdersAsync(), "all open orders"
                )
            self._foreign, self._foreign_at = self._foreign_of(trades), self.ctx.mono()
        return list(self._foreign)

    def _foreign_of(self, trades: list[Trade]) -> list[BrokerOrderState]:
        """The working orders among ``trades`` that are not ours."""
        foreign = []
        for trade in trades:
            if trade.order.clientId == self.ctx.client_id and trade.order.orderRef:
                continue  # ours: the order desk knows it
            request = request_from_trade(trade)
            status = order_status(trade.orderStatus.status, trade.orderStatus.filled)
            if request is None or status is None or status.is_terminal:
                continue
            filled = int(trade.orderStatus.filled or 0)
            foreign.append(broker_order_state(request, status, filled))
            logger.debug(
                "ib: open order {} of client {} is not ours",
                client_order_id(trade.order.orderRef, trade.order.permId),
                trade.order.clientId,
            )
        return foreign
