"""The periodic comparison of the OrderManager's working orders with the broker's open orders,
at every reconcile tick, and the reconciliation's difference reports (one risk event each).

The broker is read while the events explaining a difference (the order's end, ...) may still
wait in the actor's mailbox: a difference is reported only when a tick sent *after* the read
that first saw it sees it again (``core.rules.reconcile.seen_twice``).

``WorkingOrderCheck`` is a part of the OrderManager: every method runs on its actor thread;
``compare`` is a step of a reconcile tick's job (``read_steps.py``): the open orders are read on
a worker thread while the actor handles what it is told (an order handed to the broker after
the read began is seen once missing, never twice).
"""

from __future__ import annotations

from datetime import datetime

from actors.messages.events import RiskNotice
from actors.order_manager.orders import OrderUpdates
from actors.order_manager.read_steps import Steps, open_orders
from actors.order_manager.state import OrderBook
from actors.order_manager.stop_cover import StopCover
from actors.runtime.context import EngineContext
from core.domain import OrderStatus
from core.rules.reconcile import seen_twice

__all__ = ["WorkingOrderCheck"]


class WorkingOrderCheck:
    """Compares working orders with the broker's and reports each difference once."""

    def __init__(
        self,
        ctx: EngineContext,
        state: OrderBook,
        *,
        orders: OrderUpdates,
        stop_cover: StopCover,
    ) -> None:
        self.ctx = ctx
        self.state = state
        self.orders = orders
        self.stop_cover = stop_cover
        self._reported: set[str] = set()  # differences already reported, by order id
        # Differences seen, by when the read that first saw them was made.
        self._first_seen: dict[str, datetime] = {}

    def compare(self, now: datetime) -> Steps[None]:
        """Compare the working orders with the broker's open orders (``now``: when the tick
        was sent); report the differences seen by an earlier read too."""
        broker_orders = {o.client_order_id for o in (yield from open_orders())}
        read_at = self.ctx.clock.now()  # the read happened before this
        orders = self.state.orders
        # A PENDING_SUBMIT order counts once it was handed to the broker (not while it waits in
        # the pacer): one the broker does not list on two reads never reached it.
        ours = {
            oid
            for oid, o in orders.items()
            if o.working and (o.status is not OrderStatus.PENDING_SUBMIT or o.handed_at)
        }
        # An attached stop is held by the broker until its parent fills.
        missing = [
            oid
            for oid in sorted(ours - broker_orders)
            if not (orders[oid].record.parent_id and orders[oid].record.parent_id in orders)
        ]
        unknown = [
            oid
            for oid in sorted(broker_orders - orders.keys())
            if self.ctx.ledger.order(oid) is None
        ]
        judged = seen_twice(
            self._first_seen, [*missing, *unknown], read_at=read_at, tick_sent_at=now
        )
        self._first_seen = judged.first_seen
        for oid in judged.confirmed:
            order = orders.get(oid)
            if oid in unknown:
                self.report_once(oid, f"broker order {oid} unknown to the ledger", now)
            elif order is None:
                continue
            elif order.status is OrderStatus.PENDING_SUBMIT:
                reason = "never acknowledged by the broker, which does not list it"
                self.orders.set_status(oid, OrderStatus.REJECTED, order.done, None, now, reason)
                self.report_once(oid, f"order {oid} {reason}", now)
                self.stop_cover.restore_stops(now)
            else:
                self.report_once(oid, f"order {oid} working here, unknown to the broker", now)

    def report_once(self, order_id: str, reason: str, now: datetime) -> None:
        """A reconciliation difference becomes one risk event, not one per tick."""
        if order_id in self._reported:
            return
        self._reported.add(order_id)
        self.ctx.book.tell("governor", RiskNotice("reconcile", reason, now))
