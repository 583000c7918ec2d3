"""Refusals through the adapter against the simulated TWS: an order refused with any code and no
status ends REJECTED; an order IB never acknowledges is checked against IB's open and completed
orders; an order IB ended behind ib_async's back is ended by the next fresh read; a refused
modification is put back and reported; ``cancel_all`` leaves the trader's manual orders alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from ib_async import LimitOrder, Stock
from ib_support import Harness, all_open_orders, limit, other_client, wait_until

from broker.tws.server import TwsSimServer
from core.domain import OrderStatus, Side
from core.events import ModifyRefusedEvent

MakeHarness = Callable[..., Harness]
PRECAUTION = (
    "The following order value estimate exceeds the Total Value Limit of 1000000 USD. "
    "Please adjust the Total Value Limit in Precautionary Settings."
)


def resting_buy(h: Harness, cid: str, below: float = 5.0) -> Decimal:
    request = limit(cid, Side.BUY, h.quote().bid - below, reduce_only=True)
    assert h.broker.place_order(request)
    wait_until(lambda: OrderStatus.SUBMITTED in h.recorder.statuses(cid), what=f"{cid} working")
    assert request.limit_price is not None
    return request.limit_price


def order_id_of(h: Harness, cid: str) -> int:
    [order_id] = {e.broker_order_id for e in h.recorder.status_events(cid)}
    assert order_id is not None
    return order_id


@pytest.mark.parametrize(
    ("code", "text"),
    [(451, PRECAUTION), (10311, "Direct routed orders are not allowed"), (103, "Duplicate")],
)
def test_an_order_refused_with_any_error_and_no_status_ends_rejected(
    tws: TwsSimServer, harness: MakeHarness, code: int, text: str
) -> None:
    h = harness().start("AAPL")
    tws.reject_next_order(text, code=code, send_status=False)
    assert h.broker.place_order(limit("refused", Side.BUY, h.quote().bid - 5, reduce_only=True))
    wait_until(lambda: h.recorder.statuses("refused"), what="the rejection")
    [event] = h.recorder.status_events("refused")
    assert (event.status, event.reason) == (OrderStatus.REJECTED, text)
    assert h.broker.open_orders() == []


def test_an_unacknowledged_order_is_looked_up_at_ib_after_the_timeout_and_rejected(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    # 399 is a warning (ib_async's list): the adapter waits; IB has filed the order as ended.
    h = harness(ack_timeout_clock_s=2.0).start("AAPL")
    tws.reject_next_order("Order message error", code=399, send_status=False)
    assert h.broker.place_order(limit("silent", Side.BUY, h.quote().bid - 5, reduce_only=True))
    wait_until(lambda: h.recorder.statuses("silent"), what="the acknowledgement check")
    [event] = h.recorder.status_events("silent")
    assert event.status is OrderStatus.REJECTED
    assert event.reason == "Order message error"


def test_an_order_ib_lists_nowhere_is_rejected_after_the_timeout(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(ack_timeout_clock_s=3600.0).start("AAPL")
    tws.reject_next_order("Order message error", code=399, send_status=False)
    assert h.broker.place_order(limit("lost", Side.BUY, h.quote().bid - 5, reduce_only=True))
    desk = h.broker._desk_or_fail()
    assert desk is not None
    wait_until(lambda: h.broker._loop.call(lambda: desk.table.orders["lost"].sent_at, 5.0))

    def overdue_and_read_empty() -> None:
        tracked = desk.table.orders["lost"]
        assert tracked.sent_at is not None
        tracked.sent_at -= timedelta(seconds=3601)  # sent an hour ago
        desk.checks.take_ib_orders([], [], asked_at=h.clock.now())  # read fresh: not there

    h.broker._loop.call(overdue_and_read_empty, 5.0)
    [event] = h.recorder.status_events("lost")
    assert event.status is OrderStatus.REJECTED
    assert "IB did not acknowledge it within 3600s and lists no such order" in event.reason


def test_a_working_order_ib_ended_behind_ib_async_is_ended_by_the_next_fresh_read(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness(orders_refresh_s=0.0).start("AAPL")
    resting_buy(h, "killed")
    assert tws.reject_working_order(order_id_of(h, "killed"), reason="MARGIN (TEST)")
    wait_until(lambda: all_open_orders(tws) == [], what="IB ended it")
    assert h.recorder.statuses("killed") == [OrderStatus.SUBMITTED]  # ib_async hid the end
    assert h.broker.open_orders() == []
    wait_until(lambda: len(h.recorder.statuses("killed")) == 2, what="the end")
    event = h.recorder.status_events("killed")[-1]
    assert (event.status, event.reason) == (OrderStatus.REJECTED, "MARGIN (TEST)")


@pytest.mark.parametrize("code", [103, 105, 110])
def test_a_refused_modification_is_put_back_and_reported(
    tws: TwsSimServer, harness: MakeHarness, code: int
) -> None:
    h = harness().start("AAPL")
    price = resting_buy(h, "mod")
    tws.refuse_next_modification(code=code)
    h.broker.modify_order("mod", limit_price=price + 1)
    wait_until(lambda: h.recorder.of(ModifyRefusedEvent), what="the refusal")
    [refused] = h.recorder.of(ModifyRefusedEvent)
    assert (refused.client_order_id, refused.code) == ("mod", code)
    assert (refused.limit_price, refused.quantity) == (price, 100)
    # The next modification (quantity only) goes out with IB's price, not the refused one.
    h.broker.modify_order("mod", quantity=200)
    wait_until(
        lambda: [float(t.order.totalQuantity) for t in all_open_orders(tws)] == [200.0],
        what="the quantity change",
    )
    [seen] = all_open_orders(tws)
    assert Decimal(str(seen.order.lmtPrice)) == price
    assert h.recorder.statuses("mod")[-1] is OrderStatus.SUBMITTED


def test_a_modification_ib_echoes_is_kept(tws: TwsSimServer, harness: MakeHarness) -> None:
    h = harness().start("AAPL")
    price = resting_buy(h, "mod")
    h.broker.modify_order("mod", limit_price=price + 1)
    wait_until(
        lambda: [Decimal(str(t.order.lmtPrice)) for t in all_open_orders(tws)] == [price + 1],
        what="the new price at IB",
    )
    desk = h.broker._desk_or_fail()
    assert desk is not None
    assert h.broker._loop.call(lambda: desk.table.orders["mod"].modify, 5.0) is None
    assert h.recorder.of(ModifyRefusedEvent) == []


def test_cancel_all_cancels_our_orders_and_leaves_the_traders_manual_order(
    tws: TwsSimServer, harness: MakeHarness
) -> None:
    h = harness().start("AAPL")
    bid = h.quote().bid

    async def manual(ib: Any) -> None:
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(contract, LimitOrder("BUY", 10, round(bid - 30, 2)))
        while trade.orderStatus.status != "Submitted":
            await asyncio.sleep(0.02)

    other_client(tws, manual, client_id=0)
    resting_buy(h, "ours-1")
    resting_buy(h, "ours-2", below=6.0)
    h.broker.cancel_all()
    for cid in ("ours-1", "ours-2"):
        wait_until(lambda c=cid: OrderStatus.CANCELLED in h.recorder.statuses(c), what=cid)
    [left] = all_open_orders(tws)
    assert (left.order.clientId, float(left.order.totalQuantity)) == (0, 10.0)
