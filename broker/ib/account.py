"""``AccountFeed``: account values into ``AccountSnapshot`` events, and the reads the engine
reconciles with: positions, executions, other clients' open orders (ib-loop thread only).

ib_async keeps the account values of the traded account current (``reqAccountUpdates`` at
connect); every change marks the snapshot dirty and at most one snapshot per
``account_interval_s`` is delivered. Positions and executions are read fresh from IB for every
call (``reqPositions``, ``reqExecutions``: the executions of the day, including those that
happened while we were disconnected or stopped). ib_async keys concurrent requests of one kind
by name, so each kind is serialised with its own lock.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ib_async import AccountValue, Fill, Trade
from loguru import logger

from broker.base import AccountSnapshot, BrokerOrderState, BrokerPosition, ExecutionEvent
from broker.ib.context import IbContext
from broker.ib.order_state import commission_of
from broker.ib.parsing.account import ACCOUNT_TAGS, account_snapshot, broker_position
from broker.ib.parsing.orders import (
    broker_order_state,
    client_order_id,
    execution_event,
    order_status,
    request_from_trade,
)

__all__ = ["AccountFeed"]


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

    # -- reads ----------------------------------------------------------------------------------
    async def positions(self) -> list[BrokerPosition]:
        async with self._positions_lock:
            rows = await self.ctx.bounded(self.ctx.ib.reqPositionsAsync(), "positions")
        account = self.ctx.account
        mapped = [
            broker_position(p) for p in rows if not account or not p.account or p.account == account
        ]
        return sorted((p for p in mapped if p is not None), key=lambda p: p.contract.key)

    async def executions(self) -> list[ExecutionEvent]:
        """The day's executions (IB keeps them since its last restart), oldest first, each
        with its commission when IB has reported it."""
        async with self._executions_lock:
            fills = await self.ctx.bounded(self.ctx.ib.reqExecutionsAsync(), "executions")
        events = []
        for fill in fills:
            event = execution_event(fill, tz=self.ctx.tz)
            if event is None:
                continue
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
            return list(await self.ctx.bounded(self.ctx.ib.reqExecutionsAsync(), "executions"))

    async def open_trades(self) -> list[Trade]:
        """Our client's open orders, fresh from IB."""
        async with self._orders_lock:
            return list(await self.ctx.bounded(self.ctx.ib.reqOpenOrdersAsync(), "open orders"))

    async def completed_trades(self) -> list[Trade]:
        async with self._orders_lock:
            return list(
                await self.ctx.bounded(
                    self.ctx.ib.reqCompletedOrdersAsync(False), "completed orders"
                )
            )

    async def foreign_orders(self, *, force: bool = False) -> list[BrokerOrderState]:
        """Working orders of other API clients and of TWS itself (``reqAllOpenOrders``), at most
        ``foreign_orders_refresh_s`` old (or fresh with ``force``)."""
        now = self.ctx.mono()
        if force or now - self._foreign_at >= self.ctx.options.foreign_orders_refresh_s:
            async with self._orders_lock:
                trades = await self.ctx.bounded(
                    self.ctx.ib.reqAllOpenOrdersAsync(), "all open orders"
                )
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
            self._foreign, self._foreign_at = foreign, self.ctx.mono()
        return list(self._foreign)
