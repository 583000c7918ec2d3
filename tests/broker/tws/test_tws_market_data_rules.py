"""The simulated TWS's market-data rules through the real ib_async client: entitlements (live,
delayed, none) with ``reqMarketDataType``, the line limit (101), quotes stopped per symbol
across 1102, and the 2110 notice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ib_async import IB, Option, Stock, Ticker
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.entitlements import delayed_fields
from broker.tws.server import TwsSimServer


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen


def _tick_types(ticker: Ticker) -> set[int]:
    return {tick.tickType for tick in ticker.ticks}


async def _types_seen(ticker: Ticker, seen: set[int]) -> None:
    ticker.updateEvent += lambda t: seen.update(_tick_types(t))
    await wait_for_condition(lambda: bool(seen), what="ticks")


async def _near_put(ib: IB, tws: TwsSimServer) -> Option:
    stock = await qualified(ib)
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    option = Option("AAPL", chain.expirations[1], strike, "P", "SMART", "100", "USD")
    (qualified_option,) = await bounded(ib.qualifyContractsAsync(option))
    return qualified_option


async def test_a_live_account_streams_live_ticks_whatever_type_was_asked(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    ib.reqMarketDataType(3)  # live data wins when the account has it (IB's rule)
    ticker = ib.reqMktData(await qualified(ib))
    seen: set[int] = set()
    await _types_seen(ticker, seen)
    await wait_for_condition(lambda: {1, 2} <= seen, what="live bid and ask")
    assert ticker.marketDataType == 1
    assert not seen & {66, 67, 68}


async def test_a_delayed_account_refuses_live_requests_with_10089(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(entitlements="delayed")
    ib = await connect(server=tws)
    errors = _errors(ib)
    ticker = ib.reqMktData(await _stock(ib))
    await wait_for_condition(lambda: any(code == 10089 for _, code, _ in errors), what="10089")
    assert ticker.bid != ticker.bid or ticker.bid <= 0  # nan: no data came
    assert tws.market_data_lines() == 0


async def _stock(ib: IB) -> Stock:
    return await qualified(ib)


async def test_a_delayed_account_streams_delayed_ticks_with_type_3_and_notice_10167(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(entitlements="delayed")
    ib = await connect(server=tws)
    errors = _errors(ib)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(await _stock(ib))
    seen: set[int] = set()
    await _types_seen(ticker, seen)
    await wait_for_condition(lambda: {66, 67} <= seen, what="delayed bid and ask")
    assert ticker.marketDataType == 3
    assert ticker.bid > 0 and ticker.ask >= ticker.bid  # ib_async folds 66/67 into bid/ask
    assert not seen & {1, 2, 4}
    assert any(code == 10167 for _, code, _ in errors)


async def test_delayed_option_greeks_arrive_as_tick_83_model_greeks(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(entitlements="delayed")
    ib = await connect(server=tws)
    greek_types: list[int] = []
    original = ib.wrapper.tickOptionComputation

    def record(req_id: int, tick_type: int, *args: object) -> None:
        greek_types.append(tick_type)
        original(req_id, tick_type, *args)  # type: ignore[arg-type]

    ib.wrapper.tickOptionComputation = record  # type: ignore[method-assign]
    ib.reqMarketDataType(3)
    option = await _near_put(ib, tws)
    ticker = ib.reqMktData(option, "101")
    await wait_for_condition(
        lambda: ticker.modelGreeks is not None and ticker.bid > 0, what="delayed greeks"
    )
    assert set(greek_types) == {83}
    assert ticker.marketDataType == 3
    assert ticker.modelGreeks is not None and ticker.modelGreeks.delta is not None
    assert ticker.modelGreeks.delta < 0  # a put


def test_the_delayed_twin_of_model_greeks_is_tick_83() -> None:
    assert delayed_fields([21, 5, 13, 0, 0.2]) == [21, 5, 83, 0, 0.2]
    assert delayed_fields([2, 6, 5, 27, 100]) == [2, 6, 5, 27, 100]  # open interest: no twin


async def test_an_account_without_data_refuses_every_request_with_354_or_10168(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(entitlements="none")
    ib = await connect(server=tws)
    errors = _errors(ib)
    stock = await _stock(ib)
    ib.reqMktData(stock)
    await wait_for_condition(lambda: any(code == 354 for _, code, _ in errors), what="354")
    ib.cancelMktData(stock)
    ib.reqMarketDataType(4)
    ib.reqMktData(stock)
    await wait_for_condition(lambda: any(code == 10168 for _, code, _ in errors), what="10168")
    assert tws.market_data_lines() == 0


async def test_switching_entitlements_ends_live_streams_and_turns_delayed_ones(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(await _stock(ib))
    seen: set[int] = set()
    await _types_seen(ticker, seen)
    tws.set_entitlements("delayed")
    await wait_for_condition(lambda: ticker.marketDataType == 3, what="type 3")
    assert any(code == 10167 for _, code, _ in errors)
    seen.clear()
    await wait_for_condition(lambda: 66 in seen or 67 in seen, what="delayed ticks")
    tws.set_entitlements("none")
    await wait_for_condition(lambda: any(code == 10168 for _, code, _ in errors), what="10168")
    assert tws.market_data_lines() == 0


async def test_requests_beyond_the_line_limit_get_error_101(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(max_market_data_lines=1)
    ib = await connect(server=tws)
    errors = _errors(ib)
    ib.reqMktData(await qualified(ib, "AAPL"))
    msft = await qualified(ib, "MSFT")
    ib.reqMktData(msft)
    await wait_for_condition(lambda: any(code == 101 for _, code, _ in errors), what="101")
    assert [text for _, code, text in errors if code == 101] == [
        "Max number of tickers has been reached."
    ]
    assert tws.market_data_lines() == 1


async def test_quotes_stopped_for_one_symbol_stay_silent_after_1102(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    aapl = ib.reqMktData(await qualified(ib, "AAPL"))
    msft = ib.reqMktData(await qualified(ib, "MSFT"))
    updates = {"AAPL": 0, "MSFT": 0}
    aapl.updateEvent += lambda t: updates.__setitem__("AAPL", updates["AAPL"] + 1)
    msft.updateEvent += lambda t: updates.__setitem__("MSFT", updates["MSFT"] + 1)
    await wait_for_condition(lambda: min(updates.values()) >= 2, what="first ticks")
    tws.stop_quotes("AAPL")
    tws.connectivity_lost()
    tws.connectivity_restored()  # 1102: "data maintained", yet AAPL stays silent
    await asyncio.sleep(0.1)  # ticks already on the wire may still land
    before = dict(updates)
    await wait_for_condition(lambda: updates["MSFT"] >= before["MSFT"] + 3, what="MSFT ticks")
    assert updates["AAPL"] == before["AAPL"]
    tws.resume_quotes("AAPL")
    await wait_for_condition(lambda: updates["AAPL"] >= before["AAPL"] + 2, what="AAPL again")


async def test_2110_reaches_the_client_and_pauses_ticks_until_restored(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    ticker = ib.reqMktData(await _stock(ib))
    updates: list[int] = []
    ticker.updateEvent += lambda t: updates.append(1)
    await wait_for_condition(lambda: len(updates) >= 2, what="first ticks")
    tws.server_link_broken()
    await wait_for_condition(lambda: any(code == 2110 for _, code, _ in errors), what="2110")
    await asyncio.sleep(0.1)
    paused_at = len(updates)
    await asyncio.sleep(0.5)
    assert len(updates) == paused_at
    tws.connectivity_restored()
    await wait_for_condition(lambda: len(updates) >= paused_at + 2, what="ticks after 1102")


async def test_a_delayed_stream_shows_the_market_as_it_was_the_lag_ago(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(entitlements="delayed", delayed_lag_s=60.0)  # 3 wall seconds at 20x
    ib = await connect(server=tws)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(await _stock(ib))
    await wait_for_condition(lambda: ticker.bid > 0, what="delayed bid")
    assert ticker.bid < 200
    tws.set_mid("AAPL", 250.0)
    moved_at = tws.now()
    await wait_for_condition(
        lambda: (q := tws.last_quote("AAPL")) is not None and q.bid > 240, what="the live move"
    )
    await asyncio.sleep(0.5)  # 10 simulated seconds: the delayed stream has not seen it
    assert ticker.bid < 200
    await wait_for_condition(lambda: ticker.bid > 240, what="the move, delayed")
    assert (tws.now() - moved_at).total_seconds() >= 60
