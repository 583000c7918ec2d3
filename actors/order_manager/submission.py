"""Submission for the OrderManager: a stored order (``pending_submit``) handed to the broker as
an ``OrderRequest`` with its OCA group and whether a protective stop is attached to it.

``Submitter`` is a part of the OrderManager: every method runs on its actor thread.
"""

from __future__ import annotations

from dataclasses import replace

from actors.order_manager.exits import ExitGuard
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.state import OrderBook
from actors.runtime.context import EngineContext
from core.domain import OrderRequest, OrderStatus, Purpose
from db.records import OrderRecord

__all__ = ["Submitter"]


class Submitter:
    """Hands stored orders to the broker (the caller paces them)."""

    def __init__(
        self, ctx: EngineContext, state: OrderBook, *, orders: OrderUpdates, exits: ExitGuard
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.exits = exits

    def submit(self, order_id: str) -> None:
        """Hand a stored order still ``pending_submit`` to the broker; one the broker adapter
        refuses (its gate closed) ends REJECTED."""
        order = self.state.orders.get(order_id)
        if order is None or order.status is not OrderStatus.PENDING_SUBMIT:
            return
        order.handed_at = self.ctx.clock.now()
        request = replace(self._request(order.record), legs=order.legs)
        if not self.ctx.broker.place_order(request):
            self.orders.set_status(
                order_id,
                OrderStatus.REJECTED,
                0,
                None,
                self.ctx.clock.now(),
                "refused at the broker adapter (gate closed)",
            )

    def _request(self, record: OrderRecord) -> OrderRequest:
        request = record.to_request(tif="GTC" if record.purpose == Purpose.STOP else "DAY")
        group = self.exits.oca_group(record)
        # An entry whose protective stop is placed right after it: the broker sends the two
        # as one family (IB holds the entry until the stop arrives).
        attached = any(
            o.working and o.record.parent_id == record.id for o in self.state.orders.values()
        )
        return replace(request, oca_group=group, has_attached=attached)
