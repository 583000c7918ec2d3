"""Order status for the OrderManager: the broker's status events, every status change stored
and told, the parts that follow an order's end (``OrderEndListener``, registered when the parts
are wired), and the small order edits the parts share (a resize, a stored order event, cancels,
stops shrunk to a position, a closed position's orders cancelled).

``OrderUpdates`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Protocol

from loguru import logger

from actors.messages.events import EngineEvent, OrderUpdate, RiskNotice
from actors.messages.snapshots import OrderSnapshot
from actors.order_manager.pacing import PacedOutbox
from actors.order_manager.state import HeldPosition, OrderBook, WorkingOrder
from actors.runtime.context import EngineContext
from core.domain import OrderStatus, OrderType, Purpose, Side
from core.events import OrderStatusEvent

__all__ = [
    "MarketCloser",
    "OrderChangeListener",
    "OrderEndListener",
    "OrderUpdates",
    "order_snapshot",
]

_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.INACTIVE})


class OrderEndListener(Protocol):
    """A part that follows the end of a tracked order (told after it left ``state.orders``)."""

    def order_ended(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None: ...


class OrderChangeListener(Protocol):
    """A part that follows every status change of a tracked order."""

    def order_changed(self, order: WorkingOrder, status: OrderStatus, reason: str) -> None: ...


class MarketCloser(Protocol):
    """Closes a VA's whole position with a market exit (``Placing.close_at_market``)."""

    def close_at_market(
        self, va_id: str, position: HeldPosition, *, reason: str, now: datetime, tag: str
    ) -> None: ...


class OrderUpdates:
    """Status changes of the tracked orders (``state.orders``), stored in the ledger, told to
    the VA (and the governor for entries) and published; an order's end is handed to the parts
    that follow it (exits, re-pricing plans, flatten, held option exits, refused stops)."""

    def __init__(self, ctx: EngineContext, state: OrderBook, outbox: PacedOutbox) -> None:
        self.ctx = ctx
        self.state = state
        self.outbox = outbox
        self._end_listeners: list[OrderEndListener] = []
        self._change_listeners: list[OrderChangeListener] = []

    def follow(
        self,
        *,
        ended: list[OrderEndListener],
        changed: list[OrderChangeListener],
    ) -> None:
        """Register the parts told of every order's end (in this order) and of every status
        change (after the end's listeners); called once, when the parts are wired."""
        self._end_listeners = list(ended)
        self._change_listeners = list(changed)

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
            self._end_order(order, status, when, reason)
        if changed:
            for change_listener in self._change_listeners:
                change_listener.order_changed(order, status, reason)
        self.publish(order)

    def _end_order(
        self, order: WorkingOrder, status: OrderStatus, when: datetime, reason: str
    ) -> None:
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
        if status is OrderStatus.REJECTED:
            self.ctx.bus.publish(
                EngineEvent(
                    "reject", f"order {order.id} rejected by broker: {reason}", when, record.va_id
                )
            )
        for end_listener in self._end_listeners:
            end_listener.order_ended(order, status, when, reason)

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

    def shrink_stops(self, va_id: str, contract_key: str, held: int) -> None:
        """After a partial exit, no stop may cover more than what is still held."""
        for order in list(self.state.orders.values()):
            record = order.record
            if (
                order.purpose is Purpose.STOP
                and record.va_id == va_id
                and record.contract_key == contract_key
                and record.quantity - order.done > held
            ):
                self.resize(order, order.done + held, f"stop resized to position {held}")

    def position_closed(self, va_id: str, contract_key: str, reason: str) -> None:
        """A VA's position in a contract is flat: forget it and cancel its stops and exits."""
        self.state.positions.pop((va_id, contract_key), None)
        self.cancel_where(
            lambda o: (
                o.record.va_id == va_id
                and o.record.contract_key == contract_key
                and o.purpose is not Purpose.ENTRY
            ),
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
