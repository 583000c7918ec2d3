"""``OrderStatuses``: the one way an order's status changes in the order desk and leaves as an
event (ib-loop thread only).

A status is either the desk's own verdict (``report``: REJECTED by the adapter, CANCELLED
before it was sent, SUBMITTED in dry-run, ...) or IB's, turned into an event already
(``report_event``). Either way the tracked order takes it first (an ended order is never
reported again, and a held parent stops waiting), then the event goes through ``OrderFlow``
(never ahead of the executions it counts) to the emitter.
"""

from __future__ import annotations

from broker.ib.context import IbContext
from broker.ib.flow import OrderFlow
from broker.ib.order_state import Tracked
from core.domain import OrderStatus
from core.events import BrokerEvent, OrderStatusEvent

__all__ = ["OrderStatuses"]


class OrderStatuses:
    """Applies statuses to tracked orders and emits them (ib-loop thread only)."""

    def __init__(self, ctx: IbContext, flow: OrderFlow) -> None:
        self._ctx = ctx
        self._flow = flow

    def report(self, tracked: Tracked, status: OrderStatus, reason: str) -> None:
        """The desk's own verdict on ``tracked``, stamped with the engine's clock."""
        request = tracked.request
        filled = tracked.filled
        event = OrderStatusEvent(
            request.client_order_id,
            status,
            filled,
            0 if status.is_terminal else max(0, request.quantity - filled),
            None,
            self._ctx.clock.now(),
            reason,
            tracked.order.orderId if tracked.order is not None and tracked.order.orderId else None,
        )
        self.report_event(tracked, event)

    def report_event(self, tracked: Tracked, event: OrderStatusEvent) -> None:
        """``event`` becomes ``tracked``'s status and leaves through the flow; nothing happens
        for an order that has ended already."""
        if not tracked.working:
            return
        tracked.status = event.status
        tracked.filled = max(tracked.filled, event.filled)
        if event.status.is_terminal:
            tracked.release_hold()
        events: list[BrokerEvent] = self._flow.status(event, self._ctx.mono())
        self._ctx.emitter.many(events)
