"""The nightly reset (TWS / IB Gateway's daily restart) seen by the real ib_async client: 1100,
the connection dropped, refused while TWS is down, then back with the account, the orders, the
executions and the time kept; an order filled during the reset is there after it."""

from __future__ import annotations

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


async def test_the_nightly_reset_drops_clients_with_1100_and_keeps_account_orders_and_time(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(client_id=8)
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    dropped: list[bool] = []
    ib.disconnectedEvent += lambda: dropped.append(True)
    aapl = await qualified(ib)
    bought = ib.placeOrder(aapl, MarketOrder("BUY", 100))
    await wait_for_condition(bought.isDone, what="the fill")
    quote = tws.last_quote("AAPL")
    assert quote is not None
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 40, round(quote.bid - 10, 2)))
    await wait_for_condition(lambda: resting.orderStatus.status == "Submitted", what="working")
    before = tws.now()

    tws.nightly_reset(pause_s=1.5)
    await wait_for_condition(lambda: dropped == [True], what="the connection to drop")
    assert 1100 in errors
    assert not tws.listening
    refused = IB()
    try:
        await bounded(refused.connectAsync("127.0.0.1", tws.port, clientId=9, timeout=1))
        raise AssertionError("a connect during the reset must be refused")
    except (ConnectionRefusedError, OSError, TimeoutError):
        pass
    finally:
        refused.disconnect()
    tws.set_mid("AAPL", round(quote.bid - 12, 2))  # the resting order fills while TWS is down
    await wait_for_condition(lambda: tws.listening, what="the listener to come back")

    again = await connect(client_id=8)
    await wait_for_condition(lambda: bool(again.positions()), what="positions")
    assert {p.contract.symbol: p.position for p in again.positions()} == {"AAPL": 140.0}
    fills = await bounded(again.reqExecutionsAsync(ExecutionFilter()))
    assert sorted(f.execution.shares for f in fills) == [40.0, 100.0]
    done = await bounded(again.reqCompletedOrdersAsync(False))
    assert {t.order.permId for t in done} >= {bought.order.permId, resting.order.permId}
    assert again.client.getReqId() > resting.order.orderId
    assert tws.now() > before  # time went on through the reset


def test_a_server_stopped_during_the_reset_pause_stops_at_once_and_stays_down(
    tws: TwsSimServer,
) -> None:
    import socket
    import time

    tws.nightly_reset(pause_s=0.3)
    assert not tws.listening
    began = time.monotonic()
    tws.stop()
    assert time.monotonic() - began < 2.0 and not tws.running
    assert not tws.listening  # the loop is gone: the pending re-listen can never run
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", tws.port), timeout=1):
        pass
