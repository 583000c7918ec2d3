"""What a third-party bot built on ib_async does against the simulated TWS, called the way such
a bot calls it (a wheel bot's first cycle): qualify the underlying with its primary exchange,
read the option chain a year and more out, place an Adaptive algo order, roll with a combo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    LimitOrder,
    MarketOrder,
    Option,
    Stock,
    TagValue,
    Trade,
)
from tws_support import SYMBOLS, Connect, bounded, qualified, wait_for_condition

from broker.sim import SimSymbol
from broker.tws.server import TwsSimServer

WIDE = {
    **SYMBOLS,
    "SPY": SimSymbol("SPY", price=510.0, volatility=0.15, spread_bps=0.5, display_size=900),
    "JPM": SimSymbol("JPM", price=190.0, volatility=0.22, spread_bps=2.0, display_size=500),
    "XOM": SimSymbol("XOM", price=110.0, volatility=0.24, spread_bps=2.0, display_size=500),
}


@pytest.fixture
def wide(make_server: Callable[..., TwsSimServer]) -> TwsSimServer:
    """A server listing stocks of NASDAQ, NYSE and NYSE Arca."""
    return make_server(symbols=WIDE)


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, _contract: seen.append((req_id, code, text))
    return seen


def _adaptive(order: LimitOrder | MarketOrder, priority: str = "Normal") -> None:
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", priority)]


async def test_stocks_report_the_primary_exchange_they_are_listed_on(
    wide: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(server=wide)
    listed = {}
    for symbol in ("SPY", "JPM", "XOM", "AAPL", "MSFT"):
        (details,) = await bounded(ib.reqContractDetailsAsync(Stock(symbol, "SMART", "USD")))
        listed[symbol] = details.contract.primaryExchange
    assert listed == {
        "SPY": "ARCA",
        "JPM": "NYSE",
        "XOM": "NYSE",
        "AAPL": "NASDAQ",
        "MSFT": "NASDAQ",
    }


async def test_a_smart_routed_stock_with_its_primary_exchange_qualifies(
    wide: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(server=wide)
    spy, msft, msft_nasdaq, jpm = await bounded(
        ib.qualifyContractsAsync(
            Stock("SPY", "SMART", "USD", primaryExchange="ARCA"),
            Stock("MSFT", "SMART", "USD", primaryExchange="ISLAND"),  # IB's name for Nasdaq
            Stock("MSFT", "SMART", "USD", primaryExchange="NASDAQ"),
            Stock("JPM", "SMART", "USD", primaryExchange="NYSE"),
        )
    )
    assert spy is not None and spy.conId == wide.con_id("SPY")
    assert msft is not None and msft.conId == wide.con_id("MSFT")
    assert msft_nasdaq is not None and msft_nasdaq.conId == wide.con_id("MSFT")
    assert jpm is not None and jpm.conId == wide.con_id("JPM")


async def test_a_primary_exchange_naming_another_listing_finds_no_contract(
    wide: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(server=wide)
    errors = _errors(ib)
    details = await bounded(
        ib.reqContractDetailsAsync(Stock("SPY", "SMART", "USD", primaryExchange="NYSE"))
    )
    assert details == []
    assert any(code == 200 for _, code, _ in errors)


async def test_an_option_position_names_an_exchange_its_underlying_qualifies_with(
    wide: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(server=wide)
    stock = await qualified(ib, "SPY")
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("SPY", "", "STK", stock.conId))
    quote = wide.last_quote("SPY")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    put = Option("SPY", chain.expirations[1], strike, "P", "SMART", "100", "USD")
    (details,) = await bounded(ib.reqContractDetailsAsync(put))
    assert details.contract.primaryExchange == "ARCA"  # the underlying's listing, not CBOE
    trade = ib.placeOrder(details.contract, MarketOrder("SELL", 1))
    await wait_for_condition(trade.isDone, what="the put sale")
    await wait_for_condition(lambda: bool(ib.portfolio()), what="the portfolio")
    (item,) = [p for p in ib.portfolio() if p.contract.secType == "OPT"]
    # What a wheel bot does at start-up with each option position:
    underlying = Stock("SPY", "SMART", "USD", primaryExchange=item.contract.primaryExchange)
    (found,) = await bounded(ib.qualifyContractsAsync(underlying))
    assert found is not None and found.conId == wide.con_id("SPY")


async def test_an_adaptive_limit_order_is_accepted_and_fills_as_a_limit(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib, "AAPL")
    quote = tws.last_quote("AAPL")
    assert quote is not None
    order = LimitOrder("BUY", 100, round(quote.ask + 0.50, 2))
    _adaptive(order, "Patient")
    trade: Trade = ib.placeOrder(stock, order)
    await wait_for_condition(trade.isDone, what="the Adaptive order to fill")
    assert trade.orderStatus.status == "Filled"
    assert sum(f.execution.shares for f in trade.fills) == 100
    assert all(f.execution.price <= order.lmtPrice for f in trade.fills)
    (done,) = [t for t in await bounded(ib.reqCompletedOrdersAsync(False)) if t.order.permId]
    assert done.order.algoStrategy == "Adaptive"
    assert [(p.tag, p.value) for p in done.order.algoParams] == [("adaptivePriority", "Patient")]


async def test_an_adaptive_limit_away_from_the_market_rests_and_echoes_its_algo(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib, "MSFT")
    quote = tws.last_quote("MSFT")
    assert quote is not None
    order = LimitOrder("BUY", 10, round(quote.bid * 0.8, 2))
    _adaptive(order)
    trade = ib.placeOrder(stock, order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    (open_trade,) = await bounded(ib.reqAllOpenOrdersAsync())
    assert open_trade.order.algoStrategy == "Adaptive"
    ib.cancelOrder(order)
    await wait_for_condition(trade.isDone, what="the cancel")


async def test_an_adaptive_market_order_fills_as_a_market_order(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib, "AAPL")
    order = MarketOrder("SELL", 50)
    _adaptive(order, "Urgent")
    trade = ib.placeOrder(stock, order)
    await wait_for_condition(trade.isDone, what="the Adaptive market order")
    assert trade.orderStatus.status == "Filled"


async def test_an_algo_the_simulator_does_not_know_is_refused_with_201(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    stock = await qualified(ib, "AAPL")
    order = LimitOrder("BUY", 10, 100.0)
    order.algoStrategy = "NotAnAlgo"
    trade = ib.placeOrder(stock, order)
    await wait_for_condition(trade.isDone, what="the refusal")
    assert any(code == 201 and "NotAnAlgo" in text for _, code, text in errors)


async def test_the_chain_lists_monthlies_a_year_out_and_january_leaps(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib, "AAPL")
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    days = sorted(date(int(e[:4]), int(e[4:6]), int(e[6:])) for e in chain.expirations)
    today = tws.now().date()
    assert any(180 < (d - today).days < 400 and 15 <= d.day <= 21 for d in days)  # monthlies
    leaps = [d for d in days if (d - today).days > 400]
    assert leaps and all(d.month == 1 and 15 <= d.day <= 21 for d in leaps)
    assert max(leaps).year >= today.year + 2
    # A LEAPS put is priced and tradable like any listed option.
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    leap = Option("AAPL", f"{max(leaps):%Y%m%d}", strike, "P", "SMART", "100", "USD")
    (leap,) = await bounded(ib.qualifyContractsAsync(leap))
    assert leap is not None
    ticker = ib.reqMktData(leap)
    await wait_for_condition(lambda: ticker.bid > 0 and ticker.ask > ticker.bid, what="quote")
    assert ticker.modelGreeks is not None and -0.6 < ticker.modelGreeks.delta < -0.2


def _roll(ib: IB, first: int, second: int) -> Contract:
    return Bag(
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=first, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=second, ratio=1, action="SELL", exchange="SMART"),
        ],
    )


async def test_a_combo_rolls_as_one_order_and_its_details_are_refused_with_their_own_201(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    stock = await qualified(ib, "AAPL")
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    strike = chain.strikes[len(chain.strikes) // 2]
    near, far = await bounded(
        ib.qualifyContractsAsync(
            Option("AAPL", chain.expirations[0], strike, "P", "SMART", "100", "USD"),
            Option("AAPL", chain.expirations[3], strike, "P", "SMART", "100", "USD"),
        )
    )
    combo = _roll(ib, near.conId, far.conId)
    trade = ib.placeOrder(combo, LimitOrder("BUY", 1, 1.05))  # pays up to a 1.05 debit
    await wait_for_condition(trade.isDone, what="the combo roll")
    assert trade.orderStatus.status == "Filled"  # combos are simulated (test_tws_combos.py)
    assert await bounded(ib.reqContractDetailsAsync(combo)) == []
    refusals = [text for _, code, text in errors if code == 201]
    assert len(refusals) == 1
    assert "combo market data and contract details are not simulated" in refusals[0]
    assert not any(code == 200 for _, code, _ in errors)


async def _resting_put(ib: IB, tws: TwsSimServer) -> Contract:
    stock = await qualified(ib, "AAPL")
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    put = Option("AAPL", chain.expirations[2], strike, "P", "SMART", "100", "USD")
    (put,) = await bounded(ib.qualifyContractsAsync(put))
    assert put is not None
    return put


async def test_a_buy_while_a_sell_works_on_the_same_option_is_refused(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors = _errors(ib)
    put = await _resting_put(ib, tws)
    sell = ib.placeOrder(put, LimitOrder("SELL", 1, 99.0))  # far above: rests
    await wait_for_condition(lambda: sell.orderStatus.status == "Submitted", what="the SELL")
    buy = ib.placeOrder(put, LimitOrder("BUY", 1, 0.05))
    await wait_for_condition(buy.isDone, what="the BUY's refusal")
    assert buy.orderStatus.status == "Cancelled"
    (refusal,) = [text for oid, code, text in errors if oid == buy.order.orderId]
    assert refusal.startswith("Order rejected - reason:an opposite side order is working")
    assert sell.orderStatus.status == "Submitted"  # the first order is untouched
    # Once the SELL is gone, the BUY is accepted.
    ib.cancelOrder(sell.order)
    await wait_for_condition(sell.isDone, what="the SELL's cancel")
    again = ib.placeOrder(put, LimitOrder("BUY", 1, 0.05))
    await wait_for_condition(lambda: again.orderStatus.status == "Submitted", what="the BUY")
    ib.cancelOrder(again.order)
    await wait_for_condition(again.isDone, what="the BUY's cancel")


async def test_a_bracket_on_an_option_is_one_family_not_two_sides(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _resting_put(ib, tws)
    bracket = ib.bracketOrder("SELL", 1, 99.0, takeProfitPrice=0.05, stopLossPrice=150.0)
    trades = [ib.placeOrder(put, order) for order in bracket]
    await wait_for_condition(
        lambda: all(t.orderStatus.status in ("Submitted", "PreSubmitted") for t in trades),
        what="the bracket to work",
    )
    for trade in trades:
        ib.cancelOrder(trade.order)
    await wait_for_condition(lambda: all(t.isDone() for t in trades), what="the cancels")
