"""Option orders through the simulated TWS with the real ib_async client: a sold put fills with
the option's contract fields and a per-contract commission, and shows as a short option position
(multiplier 100) in positions, the portfolio and the account values; closing it realizes the
premium difference times 100; overnight after its expiration day it expires or is assigned the
way IB reports it (positions change; no execution)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ib_async import IB, MarketOrder, Option, Trade
from tws_support import TZ, Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer

CASH = Decimal(1_000_000)
#: A Friday (an expiration day) five minutes before the close.
EXPIRY_DAY_START = datetime(2024, 3, 15, 15, 55, tzinfo=TZ)


async def _put(ib: IB, tws: TwsSimServer, *, expiry_index: int, offset: float) -> Option:
    """A qualified AAPL put of the ``expiry_index``-th listed expiration with the strike nearest
    the spot plus ``offset`` dollars."""
    stock = await qualified(ib)
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - (quote.mid + offset)))
    expiry = chain.expirations[expiry_index]
    put = Option("AAPL", expiry, strike, "P", "SMART", multiplier="100", currency="USD")
    (qualified_put,) = await bounded(ib.qualifyContractsAsync(put))
    assert qualified_put is not None
    return qualified_put


async def _fill(ib: IB, contract: Option, action: str, quantity: int) -> Trade:
    trade = ib.placeOrder(contract, MarketOrder(action, quantity, orderRef=f"va-1:{action}"))
    await wait_for_condition(trade.isDone, what=f"{action} {quantity} to finish")
    assert trade.orderStatus.status == "Filled"
    await wait_for_condition(
        lambda: all(f.commissionReport.execId for f in trade.fills), what="commission reports"
    )
    return trade


def _value(ib: IB, tag: str) -> Decimal:
    (row,) = [v for v in ib.accountValues() if v.tag == tag and v.currency == "USD"]
    return Decimal(row.value)


def _option_position(ib: IB, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)


async def test_a_sold_put_fills_with_its_contract_fields_and_a_per_contract_commission(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _put(ib, tws, expiry_index=2, offset=-5)
    trade = await _fill(ib, put, "SELL", 2)
    (fill,) = trade.fills
    assert fill.contract.conId == put.conId
    assert fill.contract.secType == "OPT"
    assert fill.contract.right == "P"
    assert fill.contract.strike == put.strike
    assert fill.contract.lastTradeDateOrContractMonth == put.lastTradeDateOrContractMonth
    assert fill.contract.multiplier == "100"
    assert fill.execution.side == "SLD"
    assert fill.execution.shares == 2
    assert fill.execution.orderRef == "va-1:SELL"
    # max($1.00, 2 x $0.65): IB's per-contract schedule, as the simulator's [sim.options].
    assert fill.commissionReport.commission == 1.30
    # The day's executions list it with the option's fields too.
    (again,) = [f for f in await bounded(ib.reqExecutionsAsync()) if f.contract.conId == put.conId]
    assert again.contract.secType == "OPT" and again.execution.execId == fill.execution.execId


async def test_a_short_put_shows_in_positions_portfolio_and_account_values_times_100(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _put(ib, tws, expiry_index=2, offset=-5)
    assert _value(ib, "MaintMarginReq") == 0
    trade = await _fill(ib, put, "SELL", 2)
    price = Decimal(str(trade.fills[0].execution.price))
    await wait_for_condition(lambda: _option_position(ib, put.conId) == -2, what="the position")
    (position,) = [p for p in ib.positions() if p.contract.conId == put.conId]
    assert position.contract.secType == "OPT"
    assert Decimal(str(position.avgCost)) == price * 100  # per contract, as IB reports it
    # The account: the premium is cash; the short put is valued at its mark times 100 and needs
    # Reg-T margin, at least 10 % of the strike a contract plus the premium.
    cash = CASH + 2 * price * 100 - Decimal("1.30")
    await wait_for_condition(lambda: _value(ib, "TotalCashValue") == cash, what="cash")
    await wait_for_condition(
        lambda: any(i.contract.conId == put.conId for i in ib.portfolio()), what="portfolio row"
    )
    (item,) = [i for i in ib.portfolio() if i.contract.conId == put.conId]
    assert item.position == -2
    assert Decimal(str(item.averageCost)) == price * 100
    mark = Decimal(str(item.marketPrice))
    assert 0 < mark < Decimal(str(put.strike))
    assert Decimal(str(item.marketValue)) == (-2 * mark * 100).quantize(Decimal("0.01"))
    floor = 2 * (Decimal("0.10") * Decimal(str(put.strike)) * 100)
    assert _value(ib, "MaintMarginReq") >= floor
    assert _value(ib, "GrossPositionValue") >= 2 * mark * 100 - 1
    net_liq, option_value = _value(ib, "NetLiquidation"), _value(ib, "OptionMarketValue")
    assert option_value < 0
    assert abs(net_liq - (cash + option_value)) <= 1  # the same marks, a step apart at most
    # positionMulti carries the same row (ib_async has no high-level call: hook its wrapper).
    multi: list[tuple[int, float, float]] = []
    ib.wrapper.positionMulti = lambda req, acct, model, contract, pos, avg: multi.append(  # type: ignore[method-assign]
        (contract.conId, pos, avg)
    )
    ib.client.reqPositionsMulti(9001, tws.account, "")
    await wait_for_condition(lambda: bool(multi), what="positionMulti")
    assert multi == [(put.conId, -2, float(price * 100))]
    # A what-if sale of one more contract needs at least another 10 % of the strike x 100.
    state = await bounded(ib.whatIfOrderAsync(put, MarketOrder("SELL", 1)))
    assert Decimal(state.maintMarginChange) >= Decimal("0.10") * Decimal(str(put.strike)) * 100
    assert Decimal(state.commission) == Decimal("1.00")


async def test_buying_back_a_short_put_realizes_the_premium_difference_times_100(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _put(ib, tws, expiry_index=2, offset=-5)
    sold = await _fill(ib, put, "SELL", 1)
    bought = await _fill(ib, put, "BUY", 1)
    (sale,), (purchase,) = sold.fills, bought.fills
    expected = (
        (Decimal(str(sale.execution.price)) - Decimal(str(purchase.execution.price))) * 100
        - Decimal("1.00")
    ).quantize(Decimal("0.01"))
    assert Decimal(str(purchase.commissionReport.realizedPNL)) == expected
    await wait_for_condition(lambda: _option_position(ib, put.conId) == 0, what="a flat position")


async def test_overnight_an_otm_put_expires_and_an_itm_put_is_assigned_without_executions(
    make_server: object, connect: Connect
) -> None:
    tws = make_server(start=EXPIRY_DAY_START, speed=60.0)  # type: ignore[operator]
    ib = await connect(server=tws)
    otm = await _put(ib, tws, expiry_index=0, offset=-10)
    itm = await _put(ib, tws, expiry_index=0, offset=+10)
    assert otm.lastTradeDateOrContractMonth == "20240315"
    otm_sale = await _fill(ib, otm, "SELL", 1)
    itm_sale = await _fill(ib, itm, "SELL", 2)
    premium = sum(
        Decimal(str(f.execution.price)) * int(f.execution.shares) * 100
        for f in (*otm_sale.fills, *itm_sale.fills)
    )
    fills_before = len(ib.fills())
    stock_id = tws.con_id("AAPL")
    await wait_for_condition(
        lambda: _option_position(ib, itm.conId) == -2 and _option_position(ib, otm.conId) == -1,
        what="both short puts",
    )

    def settled() -> bool:
        return _option_position(ib, itm.conId) == 0 and _option_position(ib, otm.conId) == 0

    await wait_for_condition(settled, timeout_s=20, what="the night to settle both puts")
    # The assignment delivered 200 shares at the strike; the worthless put left nothing.
    await wait_for_condition(
        lambda: any(p.contract.conId == stock_id for p in ib.positions()), what="the stock"
    )
    (stock,) = [p for p in ib.positions() if p.contract.conId == stock_id]
    assert stock.position == 200
    assert Decimal(str(stock.avgCost)) == Decimal(str(itm.strike))
    assert not [p for p in ib.positions() if p.contract.secType == "OPT"]
    # As at IB, no execution reports the settlement: only positions and the account change.
    assert len(ib.fills()) == fills_before
    # Both puts left at no cost: the whole premium is realized (the sales paid the commissions).
    await wait_for_condition(lambda: _value(ib, "RealizedPnL") == premium, what="realized P&L")
    assert _value(ib, "OptionMarketValue") == 0
    assert not [i for i in ib.portfolio() if i.contract.secType == "OPT"]
