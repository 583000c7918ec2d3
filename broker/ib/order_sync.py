"""``OrderSync``: the order desk's part that brings its orders in line with IB's after a
(re)connect: orders IB knows that we had not tracked (an earlier run's), IB's status of every
working order after a reconnect, and what is working now (ib-loop thread only).

Built by ``OrderDesk`` with the desk's ``OrderTable``, its ``OrderFlow`` and its
``OrderStatuses``.
"""

from __future__ import annotations

from ib_async import Trade

from broker.ib.context import IbContext
from broker.ib.flow import OrderFlow
from broker.ib.order_state import OrderTable, Tracked
from broker.ib.order_statuses import OrderStatuses
from broker.ib.parsing.orders import (
    broker_order_state,
    client_order_id,
    request_from_trade,
    status_of_trade,
)
from core.domain import OrderStatus
from core.events import BrokerOrderState

__all__ = ["OrderSync"]

_WORKING_IB = ("Submitted", "PreSubmitted")


class OrderSync:
    """Tracks IB's orders for our client and takes IB's statuses after a reconnect
    (ib-loop thread only)."""

    def __init__(
        self, ctx: IbContext, table: OrderTable, *, flow: OrderFlow, statuses: OrderStatuses
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._flow = flow
        self._statuses = statuses

    def learn_trades(self, trades: list[Trade]) -> None:
        """Track the working orders IB knows for our client (e.g. left by an earlier run)."""
        for trade in trades:
            if trade.order.clientId != self._ctx.client_id:
                continue
            if trade.orderStatus.status not in ("Filled", "Cancelled", "Inactive", "ApiCancelled"):
                cid = client_order_id(trade.order.orderRef, trade.order.permId)
                if cid not in self._table.orders:
                    self.learn(trade)

    def sync_statuses(self, open_trades: list[Trade], completed: list[Trade]) -> None:
        """After a reconnect: every order we think is working gets IB's current status (after
        the executions, which ``take_fill`` has delivered); one IB no longer has at all is
        ended as CANCELLED."""
        by_ref: dict[str, Trade] = {}
        for trade in [*completed, *open_trades]:  # open ones win
            if trade.order.orderRef:
                by_ref[trade.order.orderRef] = trade
        now = self._ctx.clock.now()
        for cid, tracked in list(self._table.orders.items()):
            if not tracked.working or tracked.dry or tracked.held:
                continue
            found = by_ref.get(cid)
            if found is None:
                if tracked.status is OrderStatus.PENDING_SUBMIT:
                    self._statuses.report(
                        tracked, OrderStatus.REJECTED, "never reached IB (link lost)"
                    )
                else:
                    self._statuses.report(
                        tracked, OrderStatus.CANCELLED, "not at IB after reconnect"
                    )
                continue
            event = status_of_trade(
                found, cid, executed=self._flow.executed(cid), time=now, reason=tracked.reason
            )
            if event is not None:
                self._statuses.report_event(tracked, event)

    def working(self) -> list[BrokerOrderState]:
        """Our working orders (dry-run ones included), as IB last reported them; an order
        whose end is still held back in the flow (its executions not yet delivered) still
        counts as working, so a reconciliation never retires it ahead of its fills."""
        return [
            broker_order_state(t.request, t.status, t.filled)
            for cid, t in self._table.orders.items()
            if t.working or not self._flow.is_terminal(cid)
        ]

    def learn(self, trade: Trade) -> Tracked | None:
        """Track an order IB knows and we had not (our client's, from an earlier run)."""
        request = request_from_trade(trade)
        if request is None or not trade.order.orderRef:
            return None
        tracked = Tracked(request, order=trade.order, contract=trade.contract)
        if trade.orderStatus.status in _WORKING_IB:
            tracked.status = OrderStatus.SUBMITTED
        tracked.filled = int(trade.orderStatus.filled or 0)
        self._table.add(tracked)
        return tracked
