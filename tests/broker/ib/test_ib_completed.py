"""Completed orders as IB lists them (``reqCompletedOrders``: filled quantity, no average
price) and the price a proven fill is booked at (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ib_async import Order, Stock, Trade
from ib_async import OrderStatus as IbOrderStatus

from actors.order_manager.proofs import missing_fill_price
from actors.order_manager.state import WorkingOrder
from broker.ib.parsing.orders import completed_order
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side
from core.events import CompletedOrder
from db.records import OrderRecord

T = datetime(2026, 1, 7, 15, 0, tzinfo=UTC)


def _completed_trade(status: str, filled: float, order_type: str = "STP") -> Trade:
    order = Order(
        permId=77,
        action="SELL",
        totalQuantity=100,
        orderType=order_type,
        auxPrice=186.2,
        lmtPrice=187.5,
        orderRef="in-1.stop",
        filledQuantity=filled,
    )
    return Trade(Stock("AAPL", "SMART", "USD"), order, IbOrderStatus(0, status), [], [])


def test_a_completed_order_carries_its_filled_quantity_and_its_own_prices() -> None:
    done = completed_order(_completed_trade("Filled", 100.0))
    assert done is not None
    assert (done.client_order_id, done.status, done.filled, done.quantity) == (
        "in-1.stop",
        OrderStatus.FILLED,
        100,
        100,
    )
    assert (done.avg_fill_price, done.order_type, done.stop_price) == (
        None,
        OrderType.STP,
        Decimal("186.2"),
    )
    assert completed_order(_completed_trade("Cancelled", 1.7976931348623157e308)).filled == 0  # type: ignore[union-attr]
    assert completed_order(_completed_trade("Filled", 100.0, "TRAIL")) is None


def _working(order_type: OrderType) -> WorkingOrder:
    request = OrderRequest(
        "in-1.stop",
        Contract.stock("AAPL"),
        Side.SELL,
        order_type,
        100,
        limit_price=Decimal("187.5") if order_type is OrderType.LMT else None,
        stop_price=Decimal("186.2") if order_type is OrderType.STP else None,
    )
    record = OrderRecord.from_request(request, va_id="va1", purpose="stop", created_at=T)
    return WorkingOrder(record, OrderStatus.SUBMITTED, 40, Decimal("186"), T)


def _done(order_type: OrderType, avg: Decimal | None = None) -> CompletedOrder:
    return CompletedOrder(
        "in-1.stop",
        Contract.stock("AAPL"),
        Side.SELL,
        OrderStatus.FILLED,
        100,
        100,
        avg,
        None,
        order_type,
        Decimal("187.5") if order_type is OrderType.LMT else None,
        Decimal("186.2") if order_type is OrderType.STP else None,
    )


def test_a_proven_fill_is_priced_from_the_average_else_the_limit_else_the_stop() -> None:
    # 40 known at 186; IB's average over 100 is 185.4: the missing 60 were at 185.
    average = missing_fill_price(
        _done(OrderType.STP, Decimal("185.4")), _working(OrderType.STP), 40, 60
    )
    assert average == (Decimal("185"), "IB's average fill price")
    limit = missing_fill_price(_done(OrderType.LMT), _working(OrderType.LMT), 40, 60)
    assert limit is not None and limit[0] == Decimal("187.5") and "limit" in limit[1]
    stop = missing_fill_price(_done(OrderType.STP), _working(OrderType.STP), 40, 60)
    assert stop is not None and stop[0] == Decimal("186.2") and "trigger" in stop[1]
    assert missing_fill_price(_done(OrderType.MKT), _working(OrderType.MKT), 40, 60) is None
