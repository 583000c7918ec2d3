"""Combo (BAG) orders through the simulated TWS with the real ib_async client: a two-leg roll
fills both legs at the net price (one execDetails per leg under the combo's orderId with its
own commission report, then the BAG's own), rests while its net limit is out of reach, is
cancelled, and reads back with its legs after a reconnect; reqExecutions lists every part."""

from __future__ import annotations

from ib_async import IB, Bag, ComboLeg, Contract, LimitOrder, MarketOrder, Option, Trade
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.combos import BAG_CON_ID
from broker.tws.server import TwsSimServer


async def _near_and_far(ib: IB, tws: TwsSimServer) -> tuple[Option, Option]:
    """Two AAPL puts of the strike nearest the spot: the second listed expiry and a later one."""
    stock = await qualified(ib, "AAPL")
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    near, far = await bounded(
        ib.qualifyContractsAsync(
            Option("AAPL", chain.expirations[1], strike, "P", "SMART", "100", "USD"),
            Option("AAPL", chain.expirations[4], strike, "P", "SMART", "100", "USD"),
        )
    )
    assert near is not None and far is not None
    return near, far


def _roll(near: Option, far: Option) -> Contract:
    """Buy back the near put, sell the far one: one BAG order."""
    return Bag(
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=near.conId, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=far.conId, ratio=1, action="SELL", exchange="SMART"),
        ],
    )


def _position(ib: IB, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)


async def test_a_two_leg_combo_fills_both_legs_at_the_net_price_with_a_fill_per_leg(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    near, far = await _near_and_far(ib, tws)
    trade: Trade = ib.placeOrder(_roll(near, far), MarketOrder("BUY", 2, orderRef="va-1:roll"))
    await wait_for_condition(trade.isDone, what="the combo to fill")
    assert trade.orderStatus.status == "Filled"
    legs = [f for f in trade.fills if f.contract.secType == "OPT"]
    (bag,) = [f for f in trade.fills if f.contract.secType == "BAG"]
    assert {(f.contract.conId, f.execution.side, f.execution.shares) for f in legs} == {
        (near.conId, "BOT", 2),
        (far.conId, "SLD", 2),
    }
    assert all(f.execution.orderId == trade.order.orderId for f in trade.fills)
    assert all(f.execution.orderRef == "va-1:roll" for f in trade.fills)
    await wait_for_condition(
        lambda: all(f.commissionReport.execId for f in legs), what="the legs' commission reports"
    )
    assert [f.commissionReport.commission for f in legs] == [1.30, 1.30]  # 2 x $0.65 per leg
    by_con = {f.contract.conId: f.execution.price for f in legs}
    net = round(by_con[near.conId] - by_con[far.conId], 4)
    assert (bag.contract.conId, bag.execution.shares) == (BAG_CON_ID, 2)
    assert round(bag.execution.price, 4) == net < 0  # a credit: IB's negative combo price
    assert round(trade.orderStatus.avgFillPrice, 4) == net
    await wait_for_condition(
        lambda: _position(ib, near.conId) == 2 and _position(ib, far.conId) == -2,
        what="both legs in positions",
    )
    # The day's executions list the two legs and the BAG, under one permId.
    listed = [f for f in await bounded(ib.reqExecutionsAsync()) if f.execution.orderId]
    assert sorted(f.contract.secType for f in listed) == ["BAG", "OPT", "OPT"]
    assert len({f.execution.permId for f in listed}) == 1


async def test_a_combo_out_of_reach_rests_with_its_legs_and_is_cancelled_with_no_leg_filled(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    near, far = await _near_and_far(ib, tws)
    trade = ib.placeOrder(_roll(near, far), LimitOrder("BUY", 1, -50.0))  # a $50 credit
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    # A second client reads the working combo back with its legs (openOrder's combo section).
    other = await connect(client_id=7)
    (seen,) = [t for t in await bounded(other.reqAllOpenOrdersAsync()) if t.order.permId]
    assert seen.contract.secType == "BAG"
    assert [(leg.conId, leg.ratio, leg.action) for leg in seen.contract.comboLegs] == [
        (near.conId, 1, "BUY"),
        (far.conId, 1, "SELL"),
    ]
    assert seen.order.lmtPrice == -50.0
    ib.cancelOrder(trade.order)
    await wait_for_condition(trade.isDone, what="the cancel")
    assert trade.orderStatus.status == "Cancelled"
    assert trade.fills == []
    assert _position(ib, near.conId) == 0 and _position(ib, far.conId) == 0


async def test_a_combo_modified_to_a_reachable_net_price_fills(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    near, far = await _near_and_far(ib, tws)
    order = LimitOrder("BUY", 1, -50.0)
    trade = ib.placeOrder(_roll(near, far), order)
    await wait_for_condition(lambda: trade.orderStatus.status == "Submitted", what="Submitted")
    order.lmtPrice = 25.0  # now pays up to a $25 debit: marketable
    ib.placeOrder(trade.contract, order)
    await wait_for_condition(trade.isDone, what="the modified combo to fill")
    assert trade.orderStatus.status == "Filled"
    assert sorted(f.contract.secType for f in trade.fills) == ["BAG", "OPT", "OPT"]


async def test_a_combo_with_an_unknown_leg_or_one_leg_is_refused_with_201(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda _req, code, text, _contract: errors.append((code, text))
    near, far = await _near_and_far(ib, tws)
    unknown = Bag(
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=near.conId, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=123, ratio=1, action="SELL", exchange="SMART"),
        ],
    )
    lone = Bag(symbol="AAPL", exchange="SMART", currency="USD")
    lone.comboLegs = _roll(near, far).comboLegs[:1]
    first = ib.placeOrder(unknown, LimitOrder("BUY", 1, -1.0))
    second = ib.placeOrder(lone, LimitOrder("BUY", 1, -1.0))
    await wait_for_condition(lambda: first.isDone() and second.isDone(), what="both refusals")
    texts = [text for code, text in errors if code == 201]
    assert any("conId 123 is not a known contract" in t for t in texts)
    assert any("at least two legs" in t for t in texts)
