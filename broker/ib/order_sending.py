"""``OrderSender``: writes the order desk's requests to IB (ib-loop thread only).

* Every placement, cancel and modification goes through the ``PacedOutbox``: at once, or in
  order after the pause IB's error 100 started.
* While the link to IB is down, cancels and modifications (``keep_while_down``) are kept and
  sent by ``replay_kept`` after the reconnect's resync: a stop the engine cancelled while we
  were away must not stay working at IB. A placement is not kept: it ends REJECTED.
* ``cancel_at_ib`` marks the time inside our own ``IB.cancelOrder`` call (``cancelling``):
  ib_async emits its own verdict on the cancel then, which is not IB's status.
* ib_async refuses (assert) to modify or re-send a trade it marked done itself after an error
  code; ``revive_trade`` puts the local status back while IB still works the order.
"""

from __future__ import annotations

from collections.abc import Callable

from ib_async import Order
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.order_state import OrderTable, PacedOutbox, Tracked
from broker.ib.order_statuses import OrderStatuses
from core.domain import OrderStatus

__all__ = ["OrderSender"]


class OrderSender:
    """Sends placements, cancels and modifications to IB, paced (ib-loop thread only)."""

    def __init__(
        self,
        ctx: IbContext,
        table: OrderTable,
        *,
        statuses: OrderStatuses,
        outbox: PacedOutbox,
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._statuses = statuses
        self._outbox = outbox
        self._kept: list[Callable[[], object]] = []
        self.cancelling = False  # inside our own ``IB.cancelOrder`` call
        self.sent = 0  # placements written to the socket (dry-run: always 0)

    def paced(self, action: Callable[[], object], *, keep_while_down: bool = False) -> None:
        """Send now (after any pacing pause). While the link to IB is down, cancels and
        modifications (``keep_while_down``) wait for ``replay_kept``."""
        if keep_while_down and not self._ctx.link_up:
            logger.info("ib: link down: request kept until the link is back")
            self._kept.append(action)
            return
        self._outbox.run(action)

    def replay_kept(self) -> None:
        """Send the cancels and modifications asked for while the link was down (after the
        reconnect's resync; one for an order that has ended since is answered 10148 and
        changes nothing)."""
        kept, self._kept = self._kept, []
        for action in kept:
            self._outbox.run(action)

    def cancel_at_ib(self, order: Order) -> None:
        """Ask IB to cancel; what ib_async says about it meanwhile is not IB's answer."""
        self.cancelling = True
        try:
            self._ctx.ib.cancelOrder(order)
        finally:
            self.cancelling = False

    def send(self, tracked: Tracked, *, parent: Tracked | None = None) -> bool:
        """Write one placement (True when it went out; False: ended REJECTED here, or ended
        already while it waited)."""
        assert tracked.order is not None and tracked.contract is not None
        if not tracked.working:
            return False  # ended while it waited in the outbox
        if parent is not None and parent.order is not None and parent.order.orderId:
            tracked.order.parentId = parent.order.orderId
        if not self._ctx.link_up:
            self._statuses.report(tracked, OrderStatus.REJECTED, "not sent: the link to IB is down")
            return False
        try:
            trade = self._ctx.ib.placeOrder(tracked.contract, tracked.order)
        except ConnectionError:
            self._statuses.report(
                tracked, OrderStatus.REJECTED, "not sent: the connection to IB was lost"
            )
            return False
        self._table.by_ib_id[trade.order.orderId] = tracked.request.client_order_id
        tracked.sent_at = self._ctx.clock.now()
        self.sent += 1
        logger.debug(
            "ib: placed {} as orderId {} (transmit={})",
            tracked.request.client_order_id,
            trade.order.orderId,
            tracked.order.transmit,
        )
        return True

    def resend(self, cid: str) -> None:
        """Send again an order IB dropped unacknowledged (pacing), queued behind the pause."""
        tracked = self._table.orders.get(cid)
        if tracked is not None and tracked.status is OrderStatus.PENDING_SUBMIT:
            self.revive_trade(tracked.order, tracked)
            self.paced(lambda: self.send(tracked))

    def revive_trade(self, order: Order | None, tracked: Tracked) -> None:
        """ib_async refuses (assert) to modify a trade it marked done itself after an error
        code; IB still works the order, so its local status is put back."""
        if order is None:
            return
        ib = self._ctx.ib
        trade = ib.wrapper.trades.get(ib.wrapper.orderKey(order.clientId, order.orderId, 0))
        if trade is not None and trade.isDone() and tracked.working:
            trade.orderStatus.status = "Submitted" if tracked.status.is_working else "PendingSubmit"
