"""Order status for the OrderManager: the broker's status events, every status change stored
and told, what an ended order sets off in the other parts, and the small order edits (a
resize, a stored order event, cancels) the parts share.

``OrderUpdates`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from loguru import logger

from actors.messages.events import EngineEvent, OrderUpdate, RiskNotice
from actors.messages.snapshots import OrderSnapshot
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.state import OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, OrderType, Purpose, Side
from core.events import OrderStatusEvent

if TYPE_CHECKING:
    from actors.order_manager.parts import OrderManagerParts

__all__ = ["OrderUpdates", "order_snapshot"]

_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.INACTIVE})


class OrderUpdates:
    """Status changes of the tracked orders (``state.orders``), stored in the ledger, told to
    the VA (and the governor for entries) and published; an order's end is handed to the parts
    that follow it (exits, re-pricing plans, flatten, held option exits, refused stops)."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        outbox: PacedOutbox,
        *,
        parts: OrderManagerParts,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.outbox = outbox
        self.parts = parts

    def on_status(self, event: OrderStatusEvent) -> None:
        order = self.state.orders.get(event.client_order_id)
        if order is None:
            if self.ctx.ledger.order(event.client_order_id) is None:
                self.ctx.book.tell(
                    "governor",
                    RiskNotice(
                        "unknown_order",
                        f"broker reports unknown order {event.client_order_id}",
                        event.time,
                        f"{event.status.value} filled {event.filled}",
                    ),
                )
            return
        if order.status.is_terminal:
            return  # late or repeated event for a finished order
        self.set_status(
            order.id,
            event.status,
            max(order.filled, event.filled),
            event.avg_fill_price,
            event.time,
            event.reason,
            event.broker_order_id,
        )

    def set_status(
        self,
        order_id: str,
        status: OrderStatus,
        filled: int,
        avg: Decimal | None,
        when: datetime,
        reason: str = "",
        broker_order_id: int | None = None,
    ) -> None:
        """Store and tell a tracked order's new status; an ended order leaves ``state.orders``
        and the other parts follow it."""
        order = self.state.orders[order_id]
        changed = status is not order.status or filled != order.filled
        order.status = status
        order.filled = filled
        order.avg_fill_price = avg if avg is not None else order.avg_fill_price
        order.last_event_at = when
        if changed:
            self.ctx.ledger.update_order(
                order_id,
                status=status,
                filled=filled,
                avg_fill_price=order.avg_fill_price,
                time=when,
                # The order keeps its purpose's reason; a refusal replaces it with IB's reason.
                reason=(reason or None) if status in _REFUSED else None,
                broker_order_id=broker_order_id,
                detail=reason,
            )
        if status.is_terminal:
            self._ended(order, status, when, reason)
        if changed:
            self.parts.refusals.stop_status(order, status, reason)
        self.publish(order)

    def _ended(self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str) -> None:
        record = order.record
        del self.state.orders[order.id]
        update = OrderUpdate(
            order.id,
            record.va_id,
            record.contract,
            order.purpose,
            Side(record.side),
            status,
            record.quantity,
            order.filled,
            when,
            reason,
        )
        self.ctx.book.tell(f"va:{record.va_id}", update)
        if order.purpose is Purpose.ENTRY:
            self.ctx.book.tell("governor", update)
            self._fit_stop_to_entry(order)
        if status is OrderStatus.REJECTED:
            self.ctx.bus.publish(
                EngineEvent(
                    "reject", f"order {order.id} rejected by broker: {reason}", when, record.va_id
                )
            )
        self.parts.exits.order_ended(order, status, reason)
        self.parts.repricing.order_ended(order, when)
        self.parts.flatten.order_ended(order, when)
        self.parts.sides.release_held_exits(order.id)

    def _fit_stop_to_entry(self, entry: WorkingOrder) -> None:
        """Once an entry is done, its protective stop covers exactly what is held (the entry's
        fill, less whatever exits already sold), or is cancelled when nothing is held."""
        stop = self.state.orders.get(f"{entry.id}.stop")
        position = self.state.positions.get((entry.record.va_id, entry.record.contract_key))
        held = abs(position.quantity) if position else 0
        if stop is None or not stop.working:
            if held and entry.record.contract.sec_type == "STK":
                # Its stop was refused (or lost) while it filled: the position gets one now.
                self.parts.stop_cover.restore_stops(self.ctx.clock.now())
            return
        if held == 0:
            self.cancel(stop.id)
            return
        target = stop.done + held
        if target != stop.record.quantity:
            self.resize(stop, target, f"stop resized to the position {held} after the entry ended")

    def resize(self, order: WorkingOrder, quantity: int, detail: str) -> None:
        """Change a working order's total quantity: here, at the broker (paced), and stored."""
        order.record = replace(order.record, quantity=quantity)
        self.outbox.send(partial(self.ctx.broker.modify_order, order.id, quantity=quantity))
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=self.ctx.clock.now(),
            quantity=quantity,
            detail=detail,
        )

    def store_event(self, order: WorkingOrder, now: datetime, detail: str) -> None:
        """Store ``detail`` as an order event (the order's status unchanged)."""
        self.ctx.ledger.update_order(
            order.id,
            status=order.status,
            filled=order.filled,
            avg_fill_price=order.avg_fill_price,
            time=now,
            detail=detail,
        )

    def cancel(self, order_id: str) -> None:
        """Ask the broker to cancel ``order_id`` (paced); its status event ends it here."""
        self.outbox.send(partial(self.ctx.broker.cancel_order, order_id))

    def cancel_where(self, predicate: Callable[[WorkingOrder], bool], reason: str) -> int:
        """Cancel every working order ``predicate`` picks; returns how many."""
        count = 0
        for order in list(self.state.orders.values()):
            if order.working and predicate(order):
                self.cancel(order.id)
                logger.debug("order manager: cancel {} ({})", order.id, reason)
                count += 1
        return count

    def cancel_entries(self, va_id: str | None, reason: str) -> None:
        """Cancel the working entries of ``va_id`` (of every VA for None)."""
        self.cancel_where(
            lambda o: o.purpose is Purpose.ENTRY and (va_id is None or o.record.va_id == va_id),
            reason,
        )

    def publish(self, order: WorkingOrder) -> None:
        """Publish the order's snapshot on the bus (the TUI's orders panel)."""
        self.ctx.bus.publish(order_snapshot(order))


def order_snapshot(order: WorkingOrder) -> OrderSnapshot:
    """The frozen view of a tracked order."""
    r = order.record
    return OrderSnapshot(
        r.id,
        r.va_id,
        r.contract,
        Side(r.side),
        OrderType(r.order_type),
        order.purpose,
        r.quantity,
        order.filled,
        order.status,
        r.limit_price,
        r.stop_price,
        r.created_at,
        order.last_event_at or r.created_at,
        r.reason,
    )
