"""The order desk's records: one ``Tracked`` per order, the ``OrderTable`` its parts share, the
commission lookup, and the FIFO outbox that holds order requests back during a pacing pause
(ib-loop thread only)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ib_async import IB, Order
from ib_async import Contract as IbContract
from loguru import logger

from broker.ib.context import IbContext
from broker.ib.parsing.orders import commission_amount
from broker.ib.parsing.retired import Retired
from core.domain import OrderRequest, OrderStatus

__all__ = ["OrderTable", "PacedOutbox", "PendingModify", "Tracked", "commission_of"]


@dataclass(frozen=True, slots=True)
class PendingModify:
    """A modification sent and not yet echoed by IB: what IB had before it (our request and
    the ib_async ``Order``'s quantity, limit and stop), to go back to if IB refuses it."""

    before: OrderRequest
    quantity: float | Decimal
    lmt_price: float | Decimal | None
    aux_price: float | Decimal | None


@dataclass(slots=True)
class Tracked:
    """One of our orders as the desk knows it."""

    request: OrderRequest
    order: Order | None = None  # the ib_async order (None in dry-run)
    contract: IbContract | None = None
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    filled: int = 0
    reason: str = ""  # IB's last word on it (error text), for INACTIVE/REJECTED
    cancel_reason: str = ""  # why the adapter itself cancelled it
    # The engine asked to cancel it: no modification follows, and an IB-side Cancelled of it
    # is not a refusal (``order_checks``).
    cancel_asked: bool = False
    held: bool = False  # not sent yet: waits for its attached child (``has_attached``)
    hold_timer: asyncio.TimerHandle | None = None  # the safety release of a held order
    dry: bool = False
    sent_at: datetime | None = None  # engine clock: when the placement went out (ack timeout)
    at_ib: bool = False  # IB listed it (open or completed orders): no acknowledgement check
    modify: PendingModify | None = None  # a modification IB has not echoed yet
    refusal_code: int = 0  # the last error about it that is not a warning (0: none)

    @property
    def working(self) -> bool:
        return not self.status.is_terminal

    def release_hold(self) -> None:
        """No longer held: the safety release of a held parent is called off."""
        self.held = False
        if self.hold_timer is not None:
            self.hold_timer.cancel()
            self.hold_timer = None


@dataclass(slots=True)
class OrderTable:
    """The orders the desk tracks, shared by the desk and its parts (ib-loop thread only):
    ``orders`` by our client order id (IB's ``orderRef``), and ``by_ib_id`` from IB's
    ``orderId`` back to our id (IB's errors name the ``orderId``)."""

    orders: dict[str, Tracked] = field(default_factory=dict)
    by_ib_id: dict[int, str] = field(default_factory=dict)
    ended: Retired[str] = field(default_factory=Retired)

    def forget_ended(self) -> int:
        """Forget the orders that were already ended at the previous call (called once a
        trading day, ``broker/ib/retention.py``); returns how many went."""
        gone = self.ended.roll(
            cid for cid, t in self.orders.items() if not t.working and t.modify is None
        )
        for cid in gone:
            del self.orders[cid]
        for order_id in [i for i, cid in self.by_ib_id.items() if cid in gone]:
            del self.by_ib_id[order_id]
        return len(gone)

    def add(self, tracked: Tracked) -> None:
        """Track ``tracked`` under its client order id (and its IB ``orderId``, if it has one)."""
        cid = tracked.request.client_order_id
        self.orders[cid] = tracked
        if tracked.order is not None and tracked.order.orderId:
            self.by_ib_id[tracked.order.orderId] = cid

    def of_ib_id(self, order_id: int) -> Tracked | None:
        """The order IB knows as ``order_id``, None if it is not one of ours."""
        cid = self.by_ib_id.get(order_id)
        return self.orders.get(cid) if cid else None


def commission_of(ib: IB, exec_id: str) -> Decimal | None:
    """The commission IB reported for ``exec_id``, None if no report came yet. (ib_async
    keeps the report on the first ``Fill`` it saw for an execution; the ``Fill`` objects a
    later ``reqExecutions`` returns carry an empty one.) A report whose commission IB left
    unset (``UNSET_DOUBLE``) counts as no report."""
    stored = ib.wrapper.fills.get(exec_id)
    report = stored.commissionReport if stored is not None else None
    if report is None or report.execId != exec_id:
        return None
    return commission_amount(report.commission)


class PacedOutbox:
    """Runs order requests now, or after the pacing pause IB's error 100 started, always in
    the order they were asked for (a bracket's parent before its child, a cancel after its
    order)."""

    def __init__(self, ctx: IbContext) -> None:
        self._ctx = ctx
        self._queue: deque[Callable[[], object]] = deque()
        self._draining = False

    def run(self, action: Callable[[], object]) -> None:
        self._queue.append(action)
        if not self._draining:
            self._drain()

    def _drain(self) -> None:
        self._draining = True
        while self._queue:
            wait = self._ctx.throttle.wait_s(self._ctx.mono())
            if wait > 0:
                asyncio.get_running_loop().call_later(wait, self._drain)
                return
            action = self._queue.popleft()
            try:
                action()
            except Exception:
                logger.exception("ib: order request failed")
        self._draining = False
