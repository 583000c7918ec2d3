"""Orders, order statuses and executions between our types and ib_async's (pure functions).

Our client order id travels as IB's ``orderRef`` and comes back on every open order,
completed order and execution, which is how the ledger and IB are matched.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from ib_async import Fill, Order, Trade
from loguru import logger

from broker.ib.parsing.contracts import from_ib_contract
from broker.ib.parsing.unset import amount_or_none, count_or_none, is_unset
from core.domain import OrderRequest, OrderStatus, OrderType, Side
from core.events import BrokerOrderState, CompletedOrder, ExecutionEvent, OrderStatusEvent

__all__ = [
    "OCA_REDUCE",
    "broker_order_state",
    "client_order_id",
    "commission_amount",
    "completed_order",
    "execution_event",
    "money",
    "order_status",
    "request_from_trade",
    "status_event",
    "status_of_trade",
    "to_ib_order",
]

#: IB ``ocaType`` 2: a fill reduces every other member of the group (no overfill).
OCA_REDUCE = 2

_STATUS: dict[str, OrderStatus | None] = {
    "PendingSubmit": None,  # not acknowledged yet: our PENDING_SUBMIT already says so
    "ApiPending": None,
    "PreSubmitted": OrderStatus.SUBMITTED,
    "Submitted": OrderStatus.SUBMITTED,
    "PendingCancel": None,  # still working until IB says Cancelled
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.INACTIVE,
    "ValidationError": None,  # ib_async's own mark for a warning; the order is unchanged
}


def money(value: float | Decimal | str) -> Decimal:
    """A price or commission as a Decimal, without binary noise (``190.54``, not
    ``190.539999...``).

    Raises:
        ValueError: NaN, infinity or IB's unset value (use ``amount_or_none`` where IB may
            leave an amount unset).
    """
    if isinstance(value, Decimal):
        return value
    number = float(value)
    if is_unset(number):
        raise ValueError(f"not a finite amount: {value!r}")
    return Decimal(repr(round(number, 8))).normalize() + Decimal(0)


def client_order_id(order_ref: str, perm_id: int) -> str:
    """Our id for an IB order: its ``orderRef``; an order without one (placed by hand in TWS or
    by another program) gets ``ib-<permId>``, which the ledger never knows."""
    return order_ref or f"ib-{perm_id}"


def to_ib_order(
    request: OrderRequest, *, account: str, transmit: bool = True, parent_id: int = 0
) -> Order:
    """The ib_async order for ``request`` (``orderId`` left 0: ib_async assigns it).

    Raises:
        ValueError: a LMT without a limit price or a STP without a stop price.
    """
    order = Order(
        action=request.side.value,
        totalQuantity=request.quantity,
        orderType=request.order_type.value,
        tif=request.tif,
        orderRef=request.client_order_id,
        transmit=transmit,
        parentId=parent_id,
        account=account,
    )
    if request.order_type is OrderType.LMT:
        if request.limit_price is None:
            raise ValueError(f"LMT order {request.client_order_id} has no limit price")
        order.lmtPrice = float(request.limit_price)
    elif request.order_type is OrderType.STP:
        if request.stop_price is None:
            raise ValueError(f"STP order {request.client_order_id} has no stop price")
        order.auxPrice = float(request.stop_price)
    if request.oca_group:
        order.ocaGroup = request.oca_group
        order.ocaType = OCA_REDUCE
    return order


def order_status(ib_status: str, filled: float) -> OrderStatus | None:
    """Our status for IB's; None for statuses that change nothing for us (pending submit or
    cancel, ib_async's ValidationError, anything unknown)."""
    status = _STATUS.get(ib_status)
    if status is OrderStatus.SUBMITTED and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def status_event(
    *,
    client_order_id: str,
    ib_status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    time: datetime,
    reason: str = "",
    order_id: int | None = None,
) -> OrderStatusEvent | None:
    """The status event for an ``orderStatus`` from IB; None when it changes nothing. An unset
    filled quantity counts as nothing filled, an unset remaining as 0, an unset average fill
    price as unknown (IB's ``UNSET_DOUBLE`` / ``UNSET_INTEGER``, ``broker.ib.parsing.unset``)."""
    filled = float(count_or_none(filled) or 0)
    status = order_status(ib_status, filled)
    if status is None:
        return None
    avg = amount_or_none(avg_fill_price) if filled > 0 else None
    left = count_or_none(remaining)
    return OrderStatusEvent(
        client_order_id,
        status,
        int(filled),
        max(0, left) if left is not None else 0,
        avg if avg is not None and avg != 0 else None,  # a combo's net may be < 0 (a credit)
        time,
        reason,
        order_id or None,
    )


def status_of_trade(
    trade: Trade, client_order_id: str, *, executed: int, time: datetime, reason: str = ""
) -> OrderStatusEvent | None:
    """The status of an order IB listed (open or completed: a completed order carries its
    filled quantity in the order, not in a status; ``executed`` when neither says).
    ``reason`` is kept for an Inactive order only."""
    status = trade.orderStatus
    filled = status.filled or float(trade.order.filledQuantity or 0)
    if is_unset(filled):
        filled = float(executed)
    return status_event(
        client_order_id=client_order_id,
        ib_status=status.status,
        filled=filled,
        remaining=float(trade.order.totalQuantity) - filled,
        avg_fill_price=status.avgFillPrice,
        time=time,
        reason=reason if status.status == "Inactive" else "",
    )


def execution_event(fill: Fill, *, tz: ZoneInfo) -> ExecutionEvent | None:
    """The execution of an ib_async ``Fill`` (commission left at zero: it comes in its own
    report); None for an instrument we do not trade, a combo's BAG execution, or (logged) an
    execution whose price or quantity IB left unset."""
    execution = fill.execution
    contract = from_ib_contract(fill.contract)
    if contract is None or contract.is_combo or not execution.execId:
        return None  # a combo's own BAG execution: its legs' executions carry the fill
    price, shares = amount_or_none(execution.price), count_or_none(execution.shares)
    if price is None or shares is None or shares <= 0:
        logger.error(
            "ib: execution {} has no usable price or quantity ({!r}, {!r}): ignored",
            execution.execId,
            execution.price,
            execution.shares,
        )
        return None
    side = Side.BUY if execution.side.upper() in ("BOT", "BUY") else Side.SELL
    when = execution.time if execution.time.tzinfo else execution.time.replace(tzinfo=tz)
    return ExecutionEvent(
        exec_id=execution.execId,
        client_order_id=client_order_id(execution.orderRef, execution.permId),
        contract=contract,
        side=side,
        quantity=shares,
        price=price,
        commission=Decimal(0),
        time=when.astimezone(tz),
    )


def request_from_trade(trade: Trade) -> OrderRequest | None:
    """The request an IB order stands for (orders learned from IB, e.g. left working by an
    earlier run); None for order types or instruments we do not trade."""
    order = trade.order
    contract = from_ib_contract(trade.contract)
    try:
        order_type = OrderType(order.orderType)
    except ValueError:
        return None
    quantity = count_or_none(order.totalQuantity)
    if contract is None or quantity is None:
        return None
    return OrderRequest(
        client_order_id=client_order_id(order.orderRef, order.permId),
        contract=contract,
        side=Side.BUY if order.action.upper() == "BUY" else Side.SELL,
        order_type=order_type,
        quantity=quantity,
        limit_price=_price(order.lmtPrice) if order_type is OrderType.LMT else None,
        stop_price=_price(order.auxPrice) if order_type is OrderType.STP else None,
        tif=order.tif or "DAY",
        oca_group=order.ocaGroup or None,
    )


def completed_order(trade: Trade) -> CompletedOrder | None:
    """A completed order as IB lists it (``reqCompletedOrders``); None for an instrument or
    order type we do not trade, or a status we do not know. IB's completedOrder carries the
    filled quantity (``filledQuantity``), not an average price (ib_async ``decoder.py``,
    ``completedOrder``)."""
    request = request_from_trade(trade)
    status = _STATUS.get(trade.orderStatus.status)
    if request is None or status is None:
        return None
    filled = count_or_none(trade.order.filledQuantity) or 0  # unset: nothing known filled
    avg = amount_or_none(trade.orderStatus.avgFillPrice)
    return CompletedOrder(
        client_order_id=request.client_order_id,
        contract=request.contract,
        side=request.side,
        status=status,
        quantity=request.quantity,
        filled=filled,
        avg_fill_price=avg if filled and avg is not None and avg > 0 else None,
        time=None,  # ib_async keeps the completion time in an OrderState it drops
        order_type=request.order_type,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
    )


def broker_order_state(request: OrderRequest, status: OrderStatus, filled: int) -> BrokerOrderState:
    return BrokerOrderState(
        client_order_id=request.client_order_id,
        contract=request.contract,
        side=request.side,
        order_type=request.order_type,
        quantity=request.quantity,
        filled=filled,
        status=status,
    )


def _price(value: float | Decimal | None) -> Decimal | None:
    amount = amount_or_none(value)
    return amount if amount is not None and amount > 0 else None


def commission_amount(value: float | Decimal | None) -> Decimal | None:
    """A commission report's commission; None when IB left it unset (``UNSET_DOUBLE``: the
    commission is not known yet and must not be booked)."""
    return amount_or_none(value)
