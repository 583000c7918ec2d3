"""Tick sizes at the simulated TWS with the real ib_async client: contract details carry each
contract's minTick and market rule ids, ``reqMarketRule`` answers the rule's price bands, and
an off-tick price is refused with error 110 on a new order and on a modification (which
leaves the order as it was)."""

from __future__ import annotations

from collections.abc import Callable

from ib_async import IB, LimitOrder, Option, Stock, Trade
from tws_support import SYMBOLS, Connect, bounded, qualified, wait_for_condition

from broker.sim import SimSymbol
from broker.tws.server import TwsSimServer


def _errors(ib: IB) -> list[tuple[int, int]]:
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, _text, _contract: seen.append((req_id, code))
    return seen


async def _put(ib: IB, tws: TwsSimServer, symbol: str = "AAPL") -> Option:
    stock = await qualified(ib, symbol)
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync(symbol, "", "STK", stock.conId))
    quote = tws.last_quote(symbol)
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    put = Option(symbol, chain.expirations[2], strike, "P", "SMART", "100", "USD")
    (found,) = await bounded(ib.qualifyContractsAsync(put))
    assert found is not None
    return found


async def _working(ib: IB, trade: Trade) -> None:
    await wait_for_condition(
        lambda: trade.orderStatus.status in ("Submitted", "PreSubmitted"), what="the order works"
    )


async def test_contract_details_carry_each_contracts_min_tick_and_market_rule(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    symbols = {**SYMBOLS, "MSFT": SimSymbol("MSFT", 400.0, 0.2, 2.0, 300, option_ticks="penny")}
    tws = make_server(symbols=symbols)
    ib = await connect(server=tws)
    (stock,) = await bounded(ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD")))
    assert stock.minTick == 0.01
    assert set(stock.marketRuleIds.split(",")) == {"26"}
    assert len(stock.marketRuleIds.split(",")) == len(stock.validExchanges.split(","))
    nickel_put = await _put(ib, tws, "AAPL")  # not listed as penny: a nickel class
    (nickel,) = await bounded(ib.reqContractDetailsAsync(nickel_put))
    assert nickel.minTick == 0.05 and set(nickel.marketRuleIds.split(",")) == {"110"}
    penny_put = await _put(ib, tws, "MSFT")
    (penny,) = await bounded(ib.reqContractDetailsAsync(penny_put))
    assert penny.minTick == 0.01 and set(penny.marketRuleIds.split(",")) == {"32"}


async def test_req_market_rule_answers_the_price_bands_of_each_rule(connect: Connect) -> None:
    ib = await connect()
    bands = {}
    for rule_id in (26, 32, 33, 110):
        answer = await bounded(ib.reqMarketRuleAsync(rule_id))
        bands[rule_id] = [(p.lowEdge, p.increment) for p in answer]
    assert bands == {
        26: [(0.0, 0.0001), (1.0, 0.01)],
        32: [(0.0, 0.01), (3.0, 0.05)],
        33: [(0.0, 0.01)],
        110: [(0.0, 0.05), (3.0, 0.1)],
    }
    assert await bounded(ib.reqMarketRuleAsync(999)) is None  # unknown: no answer (1 s)


async def test_an_off_tick_option_price_is_refused_with_110_and_an_on_tick_one_works(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    put = await _put(ib, tws)
    refused = ib.placeOrder(put, LimitOrder("SELL", 1, 80.05))  # from $3 a nickel class is $0.10
    await wait_for_condition(refused.isDone, what="the off-tick order to end")
    assert (refused.order.orderId, 110) in errors
    assert refused.orderStatus.status == "Cancelled" and refused.fills == []
    taken = ib.placeOrder(put, LimitOrder("SELL", 1, 80.10))
    await _working(ib, taken)
    assert not [code for oid, code in errors if oid == taken.order.orderId]


async def test_an_off_tick_stock_price_is_refused_with_110(connect: Connect) -> None:
    ib = await connect()
    errors = _errors(ib)
    aapl = await qualified(ib)
    refused = ib.placeOrder(aapl, LimitOrder("BUY", 100, 100.005))
    await wait_for_condition(refused.isDone, what="the sub-penny order to end")
    assert (refused.order.orderId, 110) in errors


async def test_an_off_tick_modification_is_refused_with_110_and_the_order_stays_as_it_was(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    put = await _put(ib, tws)
    order = LimitOrder("SELL", 1, 80.0)  # far above the market: it rests
    trade = ib.placeOrder(put, order)
    await _working(ib, trade)
    order.lmtPrice = 79.95  # a nickel, but $0.10 is the increment from $3
    ib.placeOrder(put, order)
    await wait_for_condition(
        lambda: (trade.order.orderId, 110) in errors, what="110 for the modification"
    )
    open_trades = await bounded(ib.reqOpenOrdersAsync())
    assert {t.order.orderId for t in open_trades} == {trade.order.orderId}
    assert trade.order.lmtPrice == 80.0  # IB's copy: the refused price never took
    order.lmtPrice = 79.90  # on tick: taken
    ib.placeOrder(put, order)
    await bounded(ib.reqOpenOrdersAsync())  # answered after the modification is handled
    assert trade.order.lmtPrice == 79.9
    assert [code for oid, code in errors if oid == trade.order.orderId] == [110]
