"""What a drill reads of the simulated IB without a second API client (``account_view``), and
the scenario's ``order_inactive`` with ``order_id = 0`` (the oldest working stop), each against
orders the real ib_async client placed."""

from __future__ import annotations

from ib_async import LimitOrder, MarketOrder, StopOrder
from tws_support import Connect, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


async def test_the_account_view_shows_the_position_and_the_working_stop_placed_by_a_client(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(client_id=4)
    contract = await qualified(ib)
    bought = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await wait_for_condition(lambda: bought.orderStatus.status == "Filled", what="the buy")
    quote = tws.last_quote("AAPL")
    assert quote is not None
    stop = StopOrder("SELL", 100, round(quote.bid - 20, 2), orderRef="va-1.stop")
    trade = ib.placeOrder(contract, stop)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="the stop")

    view = tws.account_view()
    assert view.positions == {"AAPL": 100}
    assert view.sec_types == {"AAPL": "STK"}
    [working] = view.orders
    assert (working.client_id, working.order_id, working.order_ref) == (
        4,
        stop.orderId,
        "va-1.stop",
    )
    assert (working.key, working.sec_type, working.action) == ("AAPL", "STK", "SELL")
    assert (working.order_type, working.status, working.remaining) == ("STP", "Submitted", 100)


async def test_order_inactive_with_order_id_0_pulls_the_oldest_working_stop_only(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(client_id=4)
    contract = await qualified(ib)
    quote = tws.last_quote("AAPL")
    assert quote is not None
    trades = [
        ib.placeOrder(contract, LimitOrder("BUY", 100, round(quote.bid - 20, 2))),
        ib.placeOrder(contract, StopOrder("SELL", 100, round(quote.bid - 20, 2))),
        ib.placeOrder(contract, StopOrder("SELL", 50, round(quote.bid - 25, 2))),
    ]
    await wait_for_condition(
        lambda: all(t.orderStatus.status == "Submitted" for t in trades), what="all working"
    )
    assert not tws.make_order_inactive(0, client_id=9)  # no stop of that client
    assert tws.make_order_inactive(0, client_id=4)
    await wait_for_condition(lambda: trades[1].orderStatus.status == "Inactive", what="Inactive")
    assert [t.orderStatus.status for t in (trades[0], trades[2])] == ["Submitted", "Submitted"]
    assert tws.make_order_inactive(0)  # any client: the next oldest working stop
    await wait_for_condition(lambda: trades[2].orderStatus.status == "Inactive", what="the next")
    assert not tws.make_order_inactive(0)  # the limit order is never picked
    assert trades[0].orderStatus.status == "Submitted"
