"""Protective stops put back for the OrderManager: every open stock position that has no
working stop gets a new one (after a reconciliation found a stop gone, a stop refused, an
entry that filled while its stop was refused), except stock a wheel VA holds (its VA's own
limits are its protection, ``core.rules.wheel``), and an ended entry's stop fitted to what it
filled.

``StopCover`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial

from actors.order_manager.orders import OrderUpdates
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.order_manager.submission import Submitter
from actors.runtime.context import EngineContext
from core.domain import OrderRequest, OrderStatus, OrderType, Purpose, Side
from core.rules.stops import protective_stop_price, stop_distance
from core.ticks import on_tick_request
from db.records import OrderRecord

__all__ = ["StopCover"]


class StopCover:
    """Puts a protective stop back on every open stock position without one."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        outbox: PacedOutbox,
        *,
        orders: OrderUpdates,
        submitter: Submitter,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.outbox = outbox
        self.orders = orders
        self.submitter = submitter

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
        """An entry ended: its protective stop is fitted to what is held."""
        if order.purpose is Purpose.ENTRY:
            self._fit_stop_to_entry(order)

    def _fit_stop_to_entry(self, entry: WorkingOrder) -> None:
        """Once an entry is done, its protective stop covers exactly what is held (the entry's
        fill, less whatever exits already sold), or is cancelled when nothing is held."""
        stop = self.state.orders.get(f"{entry.id}.stop")
        position = self.state.positions.get((entry.record.va_id, entry.record.contract_key))
        held = abs(position.quantity) if position else 0
        if stop is None or not stop.working:
            if held and entry.record.contract.sec_type == "STK":
                # Its stop was refused (or lost) while it filled: the position gets one now.
                self.restore_stops(self.ctx.clock.now())
            return
        if held == 0:
            self.orders.cancel(stop.id)
            return
        target = stop.done + held
        if target != stop.record.quantity:
            self.orders.resize(
                stop, target, f"stop resized to the position {held} after the entry ended"
            )

    def _wheels(self, va_id: str) -> bool:
        """Whether ``va_id`` wheels its assigned stock (a VA no longer configured: no)."""
        account = next((a for a in self.ctx.config.accounts if a.id == va_id), None)
        return account is not None and account.strategy.wheels_stock()

    def restore_stops(self, now: datetime) -> None:
        """Every open stock position gets a working protective stop again (a new order: the
        old one is known not to be at the broker, so nothing can double), at the price of the
        position's last stored stop, else at ``orders.stop_loss_pct`` from its average price
        (``core/rules/stops.py``)."""
        stop_pct = Decimal(str(self.ctx.config.orders.stop_loss_pct)) / 100
        for (va_id, key), position in self.state.positions.items():
            if position.quantity == 0 or position.contract.sec_type != "STK":
                continue
            if self._wheels(va_id):
                continue  # wheel stock has no protective stop (its VA's limits apply)
            if self.state.stop_price(va_id, key) is not None:
                continue
            lost = [
                o
                for o in self.ctx.ledger.orders(va_id=va_id)
                if o.purpose == Purpose.STOP and o.contract_key == key and o.stop_price
            ]
            side = Side.SELL if position.quantity > 0 else Side.BUY
            tick = self.ctx.broker.tick_rule(position.contract)
            if lost:
                price = lost[-1].stop_price
            else:
                price = protective_stop_price(
                    position.avg_price, stop_distance(position.avg_price, stop_pct), side, tick
                )
            request = OrderRequest(
                self.ctx.new_id(f"{va_id}-restop"),
                position.contract,
                side,
                OrderType.STP,
                abs(position.quantity),
                stop_price=price,
                reduce_only=True,
                tif="GTC",
            )
            request = on_tick_request(request, tick)
            record = OrderRecord.from_request(
                request, va_id=va_id, purpose=Purpose.STOP.value, created_at=now, reason="stop"
            )
            self.ctx.ledger.insert_orders([record])
            self.state.orders[record.id] = WorkingOrder(
                record, OrderStatus.PENDING_SUBMIT, last_event_at=now
            )
            self.outbox.send(partial(self.submitter.submit, record.id))
