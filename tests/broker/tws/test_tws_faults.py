"""Fault injection on the simulated TWS, each observed through the real ib_async client: a
dropped socket, 1100/1101/1102, a forced 201 rejection, pacing error 100, quotes that stop, an
Inactive order, an informational 10349, and client id in use (326)."""

from __future__ import annotations

import asyncio

from ib_async import IB, LimitOrder, MarketOrder, Stock, Ticker
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


def record_errors(ib: IB) -> list[tuple[int, int, str]]:
    """Every (reqId, code, text) the client's errorEvent emits from now on."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


def codes(errors: list[tuple[int, int, str]]) -> list[int]:
    return [code for _, code, _ in errors]


async def streaming_ticker(ib: IB) -> tuple[Ticker, list[int]]:
    """A streaming AAPL ticker and a list that grows by one per update."""
    ticker = ib.reqMktData(await qualified(ib))
    updates: list[int] = []
    ticker.updateEvent += lambda t: updates.append(1)
    await wait_for_condition(lambda: len(updates) >= 2, what="the first ticks")
    return ticker, updates


async def quiet_for(updates: list[int], seconds: float = 0.5) -> bool:
    """Whether no update arrives for ``seconds`` (10 market steps at the test speed)."""
    before = len(updates)
    await asyncio.sleep(seconds)
    return len(updates) == before


def far_limit(tws: TwsSimServer) -> LimitOrder:
    quote = tws.last_quote("AAPL")
    assert quote is not None
    return LimitOrder("BUY", 100, round(quote.bid - 20, 2))


async def test_dropping_the_connection_fires_disconnected_event(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    dropped: list[bool] = []
    ib.disconnectedEvent += lambda: dropped.append(True)
    assert tws.drop_connections() == 1
    await wait_for_condition(lambda: dropped == [True], what="disconnectedEvent")
    assert not ib.isConnected()
    await wait_for_condition(lambda: tws.connected_client_ids() == [])


async def test_connectivity_lost_then_restored_sends_1100_then_1102_and_pauses_ticks(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = record_errors(ib)
    _, updates = await streaming_ticker(ib)
    summary: list[str] = []
    ib.accountSummaryEvent += lambda value: summary.append(value.tag)
    tws.connectivity_lost()
    await wait_for_condition(lambda: 1100 in codes(errors), what="1100")
    assert await quiet_for(updates)
    tws.connectivity_restored()
    await wait_for_condition(lambda: 1102 in codes(errors), what="1102")
    assert codes(errors)[-2:] == [1100, 1102]
    # ib_async re-requests the account summary on 1102; the server answers it.
    await wait_for_condition(lambda: "NetLiquidation" in summary, what="the account summary")
    resumed_at = len(updates)
    await wait_for_condition(lambda: len(updates) >= resumed_at + 2, what="ticks after 1102")


async def test_1101_data_lost_drops_market_data_until_it_is_requested_again(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = record_errors(ib)
    ticker, updates = await streaming_ticker(ib)
    tws.simulate_outage(0.2, data_lost=True)
    await wait_for_condition(lambda: 1101 in codes(errors), what="1101")
    assert codes(errors)[-2:] == [1100, 1101]
    assert await quiet_for(updates)
    ib.cancelMktData(ticker.contract)
    again = ib.reqMktData(ticker.contract)
    fresh: list[int] = []
    again.updateEvent += lambda t: fresh.append(1)
    await wait_for_condition(lambda: len(fresh) >= 2, what="ticks after resubscribing")


async def test_a_forced_rejection_arrives_as_error_201_with_its_reason(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    tws.reject_next_order("MARGIN TOO LOW (TEST)")
    rejected = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await wait_for_condition(lambda: rejected.orderStatus.status == "Cancelled")
    assert (rejected.order.orderId, 201, "Order rejected - reason:MARGIN TOO LOW (TEST)") in errors
    assert not rejected.fills
    accepted = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await wait_for_condition(lambda: accepted.orderStatus.status == "Filled")


async def test_a_pacing_violation_answers_the_next_request_with_error_100(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = record_errors(ib)
    tws.pacing_violation_next()
    assert await bounded(ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))) == [None]
    assert 100 in codes(errors)
    (req_id,) = [r for r, code, _ in errors if code == 100]
    assert req_id > 0  # the refused request's id, so its caller stops waiting
    assert (await qualified(ib)).conId == tws.con_id("AAPL")


async def test_a_pacing_violation_refuses_only_the_clients_connected_when_it_fired(
    tws: TwsSimServer, connect: Connect
) -> None:
    engine = await connect(client_id=1)
    tws.pacing_violation_next()
    reader = await connect(client_id=2)  # a second program, connected after the violation
    reader_errors = record_errors(reader)
    assert (await qualified(reader)).conId == tws.con_id("AAPL")
    assert 100 not in codes(reader_errors)
    engine_errors = record_errors(engine)
    assert await bounded(engine.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))) == [None]
    assert 100 in codes(engine_errors)


async def test_stopped_quotes_send_no_ticks_until_resumed(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    _, updates = await streaming_ticker(ib)
    tws.stop_quotes()
    await asyncio.sleep(0.1)  # ticks already on the wire may still land
    assert await quiet_for(updates)
    stopped_at = len(updates)
    tws.resume_quotes()
    await wait_for_condition(lambda: len(updates) >= stopped_at + 2, what="ticks after resuming")


async def test_an_order_marked_inactive_is_reported_inactive_and_is_final(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    order = far_limit(tws)
    trade = ib.placeOrder(contract, order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted")
    assert tws.make_order_inactive(order.orderId)
    await wait_for_condition(lambda: trade.orderStatus.status == "Inactive", what="Inactive")
    assert not tws.make_order_inactive(order.orderId)  # no longer live
    ib.cancelOrder(order)
    await wait_for_condition(lambda: 10148 in codes(errors), what="cannot be cancelled")
    assert await bounded(ib.reqOpenOrdersAsync()) == []
    completed = await bounded(ib.reqCompletedOrdersAsync(False))
    assert [(t.order.permId, t.orderStatus.status) for t in completed] == [
        (trade.order.permId, "Inactive")
    ]


async def test_an_informational_10349_reaches_the_client_and_leaves_the_order_live(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors = record_errors(ib)
    order = far_limit(tws)
    trade = ib.placeOrder(contract, order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted")
    assert tws.send_order_notice(order.orderId)
    await wait_for_condition(lambda: 10349 in codes(errors), what="10349")
    (notice,) = [e for e in errors if e[1] == 10349]
    assert notice[0] == order.orderId
    assert notice[2] == "Order TIF was set to DAY based on order preset."
    # ib_async treats any code outside its warning list as fatal for the order and marks it
    # Cancelled locally; the server still works it (an adapter must not trust that status).
    assert trade.orderStatus.status == "Cancelled"
    open_trades = await bounded(ib.reqOpenOrdersAsync())
    assert [t.order.orderId for t in open_trades] == [order.orderId]


async def test_client_id_in_use_refuses_the_next_connection_with_326(
    tws: TwsSimServer, connect: Connect
) -> None:
    tws.refuse_next_connect()
    ib = IB()
    errors = record_errors(ib)
    try:
        await bounded(ib.connectAsync("127.0.0.1", tws.port, clientId=9, timeout=1))
    except TimeoutError:
        pass
    else:
        raise AssertionError("the connection must be refused")
    finally:
        ib.disconnect()
    assert 326 in codes(errors)
    retry = await connect(client_id=9)  # the fault was one-shot
    assert retry.isConnected()


async def test_a_frozen_market_quotes_and_matches_nothing_and_still_answers_cancels(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    order = far_limit(tws)
    trade = ib.placeOrder(contract, order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    tws.freeze_market()
    frozen_quote, frozen_at = tws.last_quote("AAPL"), tws.now()
    tws.set_mid("AAPL", order.lmtPrice - 5)  # marketable, on a market that no longer steps
    # Ten market steps' worth of simulated time (1 s steps at 20x: half a wall second).
    await wait_for_condition(
        lambda: (tws.now() - frozen_at).total_seconds() >= 10, what="simulated time to pass"
    )
    assert trade.orderStatus.status == "Submitted"
    assert tws.last_quote("AAPL") == frozen_quote
    ib.cancelOrder(order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Cancelled", what="Cancelled")
