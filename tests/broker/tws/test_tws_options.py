"""Option chains of the simulated TWS through the real ib_async client: chain definitions,
contract details of options, and option market data with model greeks."""

from __future__ import annotations

import itertools
from datetime import date

from ib_async import IB, Option, Ticker
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


async def _chain(ib: IB, symbol: str = "AAPL") -> tuple[list[str], list[float]]:
    stock = await qualified(ib, symbol)
    chains = await bounded(ib.reqSecDefOptParamsAsync(symbol, "", "STK", stock.conId))
    assert len(chains) == 1
    chain = chains[0]
    assert chain.exchange == "SMART"
    assert int(chain.underlyingConId) == stock.conId
    assert chain.multiplier == "100"
    return list(chain.expirations), list(chain.strikes)


async def _near_put(ib: IB, tws: TwsSimServer) -> Option:
    expirations, strikes = await _chain(ib)
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(strikes, key=lambda s: abs(s - quote.mid))
    return Option("AAPL", expirations[2], strike, "P", "SMART", multiplier="100", currency="USD")


async def test_sec_def_opt_params_lists_weekly_and_monthly_expirations_and_strikes(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    expirations, strikes = await _chain(ib)
    assert expirations == sorted(expirations)
    assert len(expirations) >= 6
    days = [date(int(e[:4]), int(e[4:6]), int(e[6:])) for e in expirations]
    assert all(d.weekday() == 4 for d in days)  # Fridays (no holidays in the test calendar)
    assert days[0] >= tws.now().date()
    spot = tws.last_quote("AAPL")
    assert spot is not None
    assert strikes == sorted(strikes)
    assert min(strikes) < spot.mid < max(strikes)
    assert 2.5 in {b - a for a, b in itertools.pairwise(strikes)}


async def test_sec_def_opt_params_of_an_unknown_underlying_ends_empty(connect: Connect) -> None:
    ib = await connect()
    assert await bounded(ib.reqSecDefOptParamsAsync("NOPE", "", "STK", 0)) == []


async def test_qualify_contracts_gives_an_option_its_details(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _near_put(ib, tws)
    (qualified_put,) = await bounded(ib.qualifyContractsAsync(put))
    assert qualified_put is not None
    assert qualified_put.conId > 0
    assert qualified_put.secType == "OPT"
    assert qualified_put.right == "P"
    assert qualified_put.multiplier == "100"
    assert qualified_put.exchange == "SMART"
    assert qualified_put.currency == "USD"
    assert qualified_put.localSymbol.startswith("AAPL  ")
    (details,) = await bounded(ib.reqContractDetailsAsync(put))
    assert details.underConId == tws.con_id("AAPL")
    assert details.realExpirationDate == put.lastTradeDateOrContractMonth
    # Looked up again by conId alone: the same option.
    (again,) = await bounded(ib.reqContractDetailsAsync(Option(conId=qualified_put.conId)))
    assert again.contract.conId == qualified_put.conId
    # Without a strike, a whole expiration of puts matches (ambiguous for qualify).
    every = await bounded(
        ib.reqContractDetailsAsync(
            Option("AAPL", put.lastTradeDateOrContractMonth, right="P", exchange="SMART")
        )
    )
    assert len(every) > 5
    assert {d.contract.right for d in every} == {"P"}


async def test_an_unlisted_option_is_answered_with_error_200(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _near_put(ib, tws)
    put.strike += 0.01
    assert await bounded(ib.reqContractDetailsAsync(put)) == []


async def test_option_market_data_has_bid_ask_and_model_greeks(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    (put,) = await bounded(ib.qualifyContractsAsync(await _near_put(ib, tws)))
    ticker: Ticker = ib.reqMktData(put, "101")

    def greeks_and_updates() -> bool:
        return ticker.modelGreeks is not None and ticker.bid > 0 and ticker.ask > ticker.bid

    await wait_for_condition(greeks_and_updates, what="option bid/ask and model greeks")
    greeks = ticker.modelGreeks
    assert greeks is not None
    assert greeks.delta is not None and -1 < greeks.delta < 0
    assert greeks.impliedVol is not None and 0 < greeks.impliedVol < 1
    assert greeks.gamma is not None and greeks.gamma > 0
    assert greeks.vega is not None and greeks.vega > 0
    assert greeks.theta is not None and greeks.theta < 0
    assert greeks.undPrice is not None and greeks.undPrice > 100
    assert greeks.optPrice is not None and ticker.bid <= greeks.optPrice <= ticker.ask
    assert ticker.bidSize > 0 and ticker.askSize > 0
    await wait_for_condition(lambda: ticker.putOpenInterest > 0, what="put open interest")
    # The stream keeps updating from the simulator's option quotes.
    first = ticker.time
    await wait_for_condition(lambda: ticker.time != first, what="a streamed update")
    ib.cancelMktData(put)


async def test_option_snapshot_ends(tws: TwsSimServer, connect: Connect) -> None:
    ib = await connect()
    (put,) = await bounded(ib.qualifyContractsAsync(await _near_put(ib, tws)))
    (ticker,) = await bounded(ib.reqTickersAsync(put))
    assert ticker.bid > 0 and ticker.ask > ticker.bid
    assert ticker.modelGreeks is not None
