"""The simulated TWS's account cadence, ``reqPnL`` and what-if margins, through a real ib_async
client: account values every 180 simulated seconds (as TWS: about every three minutes),
``pnl`` about once a simulated second, Reg-T initial margin (50 % of a stock's value) apart
from maintenance, and IB's naked-put rule for a short put's what-if."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from ib_async import IB, AccountValue, LimitOrder, MarketOrder, Option, PnL
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


async def _put(ib: IB, tws: TwsSimServer, *, offset: float, right: str = "P") -> Option:
    """A qualified AAPL put (or call) of the third listed expiration, strike nearest spot +
    ``offset``."""
    stock = await qualified(ib)
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - (quote.mid + offset)))
    put = Option("AAPL", chain.expirations[2], strike, right, "SMART", "100", "USD")
    (found,) = await bounded(ib.qualifyContractsAsync(put))
    assert found is not None
    return found


async def test_account_values_come_every_180_simulated_seconds_and_pnl_about_every_second(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(speed=60.0)
    ib = await connect(server=tws)
    net_liq_at: list[datetime] = []
    pnl_at: list[datetime] = []

    def on_value(value: AccountValue) -> None:
        if value.tag == "NetLiquidation" and value.currency == "USD":
            net_liq_at.append(tws.now())

    def on_pnl(pnl: PnL) -> None:
        pnl_at.append(tws.now())

    ib.accountValueEvent += on_value
    ib.pnlEvent += on_pnl
    pnl = ib.reqPnL(tws.account)
    began = tws.now()
    await wait_for_condition(
        lambda: tws.now() >= began + timedelta(seconds=200), what="200 simulated seconds"
    )
    # reqPnL: answered at once, then with (nearly) every one-second market step.
    assert len(pnl_at) >= 60, len(pnl_at)
    gaps = [later - earlier for earlier, later in pairwise(pnl_at)]
    assert max(gaps) < timedelta(seconds=30)
    assert pnl.dailyPnL == pnl.dailyPnL  # a number, not NaN
    # Account values: one periodic push in 200 simulated seconds (none while nothing fills).
    assert 1 <= len(net_liq_at) <= 2, net_liq_at
    ib.cancelPnL(tws.account)


async def test_a_shorter_push_interval_refreshes_the_account_values_more_often(
    make_server: Callable[..., TwsSimServer], connect: Connect
) -> None:
    tws = make_server(speed=60.0, account_push_interval_s=10.0)
    ib = await connect(server=tws)
    seen: list[datetime] = []
    ib.accountValueEvent += lambda v: (
        seen.append(tws.now()) if v.tag == "NetLiquidation" and v.currency == "USD" else None
    )
    began = tws.now()
    await wait_for_condition(
        lambda: tws.now() >= began + timedelta(seconds=60), what="60 simulated seconds"
    )
    assert len(seen) >= 4


async def test_pnl_daily_follows_the_account_after_a_fill(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    pnl = ib.reqPnL(tws.account)
    await wait_for_condition(lambda: pnl.dailyPnL == pnl.dailyPnL, what="the first P&L")
    trade = ib.placeOrder(contract, MarketOrder("BUY", 1000))
    await wait_for_condition(trade.isDone, what="the buy")
    # Bought at the ask: the position marked at the mid is worth less than it cost, and the
    # commission is gone, so the day is down by about half a spread and $3.50 at first.
    await wait_for_condition(lambda: pnl.dailyPnL < 0, what="a daily P&L below 0")
    await wait_for_condition(lambda: pnl.unrealizedPnL != 0, what="unrealized P&L")
    ib.cancelPnL(tws.account)


async def test_a_stock_what_if_asks_regt_initial_margin_twice_the_maintenance(
    connect: Connect,
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    state = await bounded(ib.whatIfOrderAsync(contract, MarketOrder("BUY", 100)))
    init, maint = Decimal(state.initMarginChange), Decimal(state.maintMarginChange)
    assert Decimal(8000) < init < Decimal(11000)  # 50 % of about $19,000
    assert abs(init - 2 * maint) <= Decimal("0.02")
    equity = Decimal(state.equityWithLoanBefore)
    assert Decimal(state.initMarginAfter) == Decimal(state.initMarginBefore) + init
    assert equity == Decimal(1_000_000)


async def test_a_short_put_what_if_asks_ibs_naked_put_margin(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    put = await _put(ib, tws, offset=-5)
    limit = Decimal("2.00")
    state = await bounded(ib.whatIfOrderAsync(put, LimitOrder("SELL", 2, float(limit))))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    spot, strike = Decimal(str(quote.mid)), Decimal(str(put.strike))
    # IBKR's US options margin, short put in a Reg-T account: premium + max(20 % of the
    # underlying - out-of-the-money amount, 10 % of the strike), times 100, per contract.
    per_share = max(Decimal("0.20") * spot - max(spot - strike, Decimal(0)), strike / 10) + limit
    expected = 2 * per_share * 100
    change = Decimal(state.initMarginChange)
    assert abs(change - expected) < Decimal(5), (change, expected)  # the spot moves a little
    assert Decimal(state.maintMarginChange) == change
    assert ib.openTrades() == []  # nothing was placed


async def test_a_call_written_on_held_shares_asks_no_margin_and_one_more_is_naked(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib)
    bought = ib.placeOrder(stock, MarketOrder("BUY", 100))
    await wait_for_condition(bought.isDone, what="the buy")
    call = await _put(ib, tws, offset=10, right="C")
    limit = Decimal("1.00")
    covered = await bounded(ib.whatIfOrderAsync(call, LimitOrder("SELL", 1, float(limit))))
    # A covered call: the 100 shares are its cover, no margin of its own (Reg-T, IB).
    assert Decimal(covered.initMarginChange) == 0
    assert Decimal(covered.maintMarginChange) == 0
    two = await bounded(ib.whatIfOrderAsync(call, LimitOrder("SELL", 2, float(limit))))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    spot, strike = Decimal(str(quote.mid)), Decimal(str(call.strike))
    # The second contract is naked: max(20 % of spot - OTM amount, 10 % of spot) + premium.
    naked = (max(Decimal("0.20") * spot - max(strike - spot, Decimal(0)), spot / 10) + limit) * 100
    assert abs(Decimal(two.initMarginChange) - naked) < Decimal(5)
