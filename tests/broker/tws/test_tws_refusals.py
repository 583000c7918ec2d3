"""Refusals as a real TWS sends them, observed through the real ib_async client: an order refused
with any code (451 precautions, 10311) with or without an ``orderStatus``, a working order IB
kills with 201 then Cancelled (the status ib_async drops), a refused modification that leaves the
order as it was, and 104 for a modification of a filled order."""

from __future__ import annotations

from ib_async import IB, LimitOrder, MarketOrder, Trade
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer

PRECAUTION = (
    "The following order value estimate exceeds the Total Value Limit of 1000000 USD. "
    "Please adjust the Total Value Limit in Precautionary Settings."
)


def record_errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


def far_limit(tws: TwsSimServer, ref: str, below: float = 20.0) -> LimitOrder:
    quote = tws.last_quote("AAPL")
    assert quote is not None
    return LimitOrder("BUY", 100, round(quote.bid - below, 2), orderRef=ref)


async def completed_refs(ib: IB) -> dict[str, str]:
    """IB's completed orders of every client: orderRef -> status."""
    trades = await bounded(ib.reqCompletedOrdersAsync(False))
    return {t.order.orderRef: t.orderStatus.status for t in trades}


async def working(ib: IB, trade: Trade) -> None:
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="Submitted")


async def test_an_order_refused_with_code_451_and_no_status_hears_only_the_error(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    opened: list[Trade] = []
    ib.openOrderEvent += opened.append
    tws.reject_next_order(PRECAUTION, code=451, send_status=False)
    refused = ib.placeOrder(contract, far_limit(tws, "r1"))
    order_id = refused.order.orderId
    await wait_for_condition(lambda: any(e[1] == 451 for e in errors), what="error 451")
    assert (order_id, 451, PRECAUTION) in errors
    assert await completed_refs(ib) == {"r1": "Cancelled"}  # IB files it as ended
    assert refused.orderStatus.permId == 0 and opened == []  # no openOrder, no orderStatus
    accepted = ib.placeOrder(contract, far_limit(tws, "r2"))
    await working(ib, accepted)  # one-shot: the next order works


async def test_an_order_refused_with_a_status_is_announced_and_then_cancelled(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    tws.reject_next_order("Direct routed orders are not allowed", code=10311)
    refused = ib.placeOrder(contract, far_limit(tws, "r1"))
    await wait_for_condition(lambda: refused.orderStatus.permId > 0, what="the orderStatus")
    assert (refused.order.orderId, 10311, "Direct routed orders are not allowed") in errors
    assert refused.orderStatus.status == "Cancelled"
    assert [entry.errorCode for entry in refused.log if entry.errorCode] == [10311]


async def test_a_working_order_rejected_at_ib_sends_201_then_a_cancelled_ib_async_drops(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    trade = ib.placeOrder(contract, far_limit(tws, "w1"))
    await working(ib, trade)
    statuses: list[str] = []
    trade.statusEvent += lambda t: statuses.append(t.orderStatus.status)
    assert tws.reject_working_order(trade.order.orderId, reason="MARGIN (TEST)")
    await wait_for_condition(lambda: any(e[1] == 201 for e in errors), what="error 201")
    assert await completed_refs(ib) == {"w1": "Cancelled"}
    # ib_async's own verdict on the error, once; IB's Cancelled that followed is dropped.
    assert statuses == ["Cancelled"]
    assert trade.log[-1].errorCode == 201
    assert await bounded(ib.reqAllOpenOrdersAsync()) == []


async def test_a_refused_modification_leaves_the_order_as_it_was(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    order = far_limit(tws, "m1")
    before = order.lmtPrice
    trade = ib.placeOrder(contract, order)
    await working(ib, trade)
    tws.refuse_next_modification(code=105)
    order.lmtPrice = round(before + 1, 2)
    ib.placeOrder(contract, order)
    await wait_for_condition(lambda: any(e[1] == 105 for e in errors), what="error 105")
    observer = await connect(client_id=2)
    [seen] = await bounded(observer.reqAllOpenOrdersAsync())
    assert seen.order.lmtPrice == before  # IB kept the old price
    # one-shot: the next modification is taken and echoed
    order.lmtPrice = round(before + 2, 2)
    trade.orderStatus.status = "Submitted"  # ib_async marked it done on the error
    ib.placeOrder(contract, order)
    await wait_for_condition(lambda: trade.log[-1].message == "Modified", what="the echo")
    [seen] = await bounded(observer.reqAllOpenOrdersAsync())
    assert seen.order.lmtPrice == round(before + 2, 2)


async def test_modifying_a_filled_order_is_answered_104(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    trade = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await wait_for_condition(lambda: trade.orderStatus.status == "Filled", what="filled")
    trade.orderStatus.status = "Submitted"  # ib_async refuses to modify a done trade itself
    trade.order.totalQuantity = 200
    ib.placeOrder(contract, trade.order)
    await wait_for_condition(lambda: any(e[1] == 104 for e in errors), what="error 104")
    assert (trade.order.orderId, 104, "Can't modify a filled order.") in errors
