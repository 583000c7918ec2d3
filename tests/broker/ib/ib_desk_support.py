"""A bench for the order desk's parts tested alone: an ``IbContext`` around an unconnected
``IB``, a virtual clock, a recorder on the emitter, and the shared ``OrderTable``, flow and
statuses the parts are given (imported by name, like ``ib_support``). No socket, no thread:
the parts run on the test's own thread (and its event loop, for an async test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ib_async import IB, Order, Stock, Trade
from ib_async import OrderStatus as IbOrderStatus
from ib_support import START, TZ, limit, stop

from broker.ib.context import Emitter, IbContext, IbOptions
from broker.ib.flow import OrderFlow
from broker.ib.order_state import OrderTable, Tracked
from broker.ib.order_statuses import OrderStatuses
from broker.ib.parsing.orders import to_ib_order
from core.calendar import TradingCalendar
from core.clock import VirtualClock
from core.domain import OrderRequest, Side
from tests.support.recorder import Recorder

__all__ = ["CLIENT_ID", "DeskBench", "ib_trade", "tracked_entry", "tracked_stop"]

CLIENT_ID = 17


@dataclass
class DeskBench:
    """What the desk shares with its parts, built for one test."""

    options: IbOptions = field(default_factory=IbOptions)
    recorder: Recorder = field(default_factory=Recorder)

    def __post_init__(self) -> None:
        self.clock = VirtualClock(TZ, START)
        self.ctx = IbContext(
            options=self.options,
            ib=IB(),
            clock=self.clock,
            calendar=TradingCalendar(TZ),
            emitter=Emitter(),
        )
        self.ctx.client_id = CLIENT_ID
        self.ctx.emitter.attach(self.recorder)
        self.table = OrderTable()
        self.flow = OrderFlow(commission_wait_s=1.0, status_wait_s=1.0)
        self.statuses = OrderStatuses(self.ctx, self.flow)

    def track(self, tracked: Tracked) -> Tracked:
        self.table.add(tracked)
        return tracked


def _tracked(request: OrderRequest, *, order_id: int, transmit: bool) -> Tracked:
    order = to_ib_order(request, account="DU1", transmit=transmit)
    order.orderId, order.clientId = order_id, CLIENT_ID
    return Tracked(request, order=order, contract=Stock("AAPL", "SMART", "USD"))


def tracked_entry(cid: str = "entry", *, order_id: int = 0, **kw: Any) -> Tracked:
    """A 100-share AAPL buy limit at 190 with its ib_async ``Order`` (not sent unless
    ``order_id``)."""
    request = limit(cid, Side.BUY, 190.0, **kw)
    return _tracked(request, order_id=order_id, transmit=not request.has_attached)


def tracked_stop(cid: str = "stop", *, parent: str | None = "entry", order_id: int = 0) -> Tracked:
    """A protective 100-share AAPL sell stop at 185, attached to ``parent``."""
    return _tracked(stop(cid, Side.SELL, 185.0, parent_id=parent), order_id=order_id, transmit=True)


def ib_trade(
    cid: str,
    status: str,
    *,
    client_id: int = CLIENT_ID,
    order_id: int = 5,
    filled: float = 0.0,
    quantity: float = 100,
    lmt_price: float = 190.0,
    change: Callable[[Order], None] | None = None,
) -> Trade:
    """An ib_async ``Trade`` as IB lists it: a limit buy of AAPL with orderRef ``cid``."""
    order = Order(
        orderId=order_id,
        clientId=client_id,
        permId=1000 + order_id,
        action="BUY",
        totalQuantity=quantity,
        orderType="LMT",
        lmtPrice=lmt_price,
        orderRef=cid,
        filledQuantity=filled,
    )
    if change is not None:
        change(order)
    return Trade(
        Stock("AAPL", "SMART", "USD"),
        order,
        IbOrderStatus(order_id, status, filled=filled, remaining=quantity - filled),
        [],
        [],
    )
