"""The simulated TWS with the real ib_async client: connect and startup sync, time, contracts
and market data."""

from __future__ import annotations

import time
from datetime import timedelta

from ib_async import IB, Stock
from tws_support import START, Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer
from broker.tws.settings import DEFAULT_ACCOUNT


async def test_connect_completes_quickly_with_the_managed_account_and_a_next_order_id(
    tws: TwsSimServer, connect: Connect
) -> None:
    errors: list[int] = []
    began = time.monotonic()
    ib = IB()
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    try:
        await bounded(ib.connectAsync("127.0.0.1", tws.port, clientId=7, timeout=4))
        took = time.monotonic() - began
        assert ib.isConnected()
        assert ib.managedAccounts() == [DEFAULT_ACCOUNT]
        assert ib.client.getReqId() >= 1
        assert ib.client.serverVersion() == 178
        assert took < 3.5  # every startup request answered: no 4 s sync timeout
        await wait_for_condition(lambda: {2104, 2106, 2158} <= set(errors), what="farm notices")
        assert tws.connected_client_ids() == [7]
    finally:
        ib.disconnect()


async def test_current_time_is_the_simulated_time(tws: TwsSimServer, connect: Connect) -> None:
    ib = await connect()
    before = tws.now()
    reported = await bounded(ib.reqCurrentTimeAsync())
    after = tws.now()
    assert before - timedelta(seconds=1) <= reported <= after  # whole simulated seconds
    assert reported.date() == START.date()  # the simulated day, not the wall clock's


async def test_qualify_contracts_gives_a_stock_its_stable_con_id(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib, "AAPL")
    assert contract.conId == tws.con_id("AAPL") > 0
    assert (contract.exchange, contract.currency, contract.primaryExchange) == (
        "SMART",
        "USD",
        "NASDAQ",
    )
    details = await bounded(ib.reqContractDetailsAsync(Stock("MSFT", "SMART", "USD")))
    assert [d.contract.conId for d in details] == [tws.con_id("MSFT")]
    assert details[0].minTick == 0.01
    assert details[0].timeZoneId == "America/New_York"
    assert "20240313:0930-20240313:1600" in details[0].tradingHours


async def test_an_unknown_contract_is_answered_with_error_200(connect: Connect) -> None:
    ib = await connect()
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    result = await bounded(ib.qualifyContractsAsync(Stock("NOPE", "SMART", "USD")))
    assert result == [None]
    assert 200 in codes


async def test_market_data_ticks_arrive_with_bid_below_ask(connect: Connect) -> None:
    ib = await connect()
    contract = await qualified(ib)
    ticker = ib.reqMktData(contract)
    seen: list[tuple[float, float]] = []
    ticker.updateEvent += lambda t: seen.append((t.bid, t.ask))
    await wait_for_condition(lambda: len(seen) >= 5, what="five ticker updates")
    assert ticker.bid < ticker.ask
    assert ticker.bidSize > 0 and ticker.askSize > 0
    assert ticker.last > 0 and ticker.volume > 0
    assert ticker.close > 0
    ib.cancelMktData(contract)


async def test_a_snapshot_request_ends_with_tick_snapshot_end(connect: Connect) -> None:
    ib = await connect()
    contract = await qualified(ib, "MSFT")
    (ticker,) = await bounded(ib.reqTickersAsync(contract))
    assert 0 < ticker.bid < ticker.ask


async def test_a_second_connection_with_a_client_id_in_use_is_refused_with_326(
    tws: TwsSimServer, connect: Connect
) -> None:
    await connect(client_id=4)
    codes: list[int] = []
    second = IB()
    second.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    try:
        await bounded(second.connectAsync("127.0.0.1", tws.port, clientId=4, timeout=1))
    except TimeoutError:
        pass
    else:
        raise AssertionError("a duplicate client id must not connect")
    finally:
        second.disconnect()
    assert 326 in codes
    assert tws.connected_client_ids() == [4]


async def test_several_clients_connect_at_once(tws: TwsSimServer, connect: Connect) -> None:
    first = await connect(client_id=1)
    second = await connect(client_id=2)
    assert first.isConnected() and second.isConnected()
    assert tws.connected_client_ids() == [1, 2]
