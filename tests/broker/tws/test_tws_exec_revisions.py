"""Execution corrections, late commission reports, today's executions and early assignment in
the simulated TWS, seen by the real ib_async client."""

from __future__ import annotations

import time as _time
from datetime import datetime, timedelta
from decimal import Decimal

from ib_async import ExecutionFilter, MarketOrder, Option, Trade
from tws_support import TZ, Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer

#: A Thursday half an hour before the close: the next session is a new day.
THURSDAY_LATE = datetime(2024, 3, 14, 15, 59, tzinfo=TZ)


async def _filled(trade: Trade) -> None:
    await wait_for_condition(trade.isDone, what="the order to finish")
    assert trade.orderStatus.status == "Filled"


def _position(ib: object, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)  # type: ignore[attr-defined]


async def test_a_corrected_execution_follows_with_the_next_revision_and_the_account_books_it(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    tws.correct_next_execution(price=150.5, quantity=60)
    trade = ib.placeOrder(contract, MarketOrder("BUY", 100, orderRef="fix-me"))
    await _filled(trade)
    await wait_for_condition(lambda: len(trade.fills) == 2, what="the correction")
    first, fixed = (f.execution for f in trade.fills)
    assert first.execId.endswith(".01") and first.shares == 100
    assert fixed.execId == first.execId[:-3] + ".02"
    assert (fixed.shares, fixed.price, fixed.orderRef) == (60, 150.5, "fix-me")
    await wait_for_condition(
        lambda: _position(ib, contract.conId) == 60, what="the corrected position"
    )
    (held,) = [p for p in ib.positions() if p.contract.conId == contract.conId]
    assert Decimal(str(held.avgCost)) == Decimal("150.5")
    listed = await bounded(ib.reqExecutionsAsync())
    assert [f.execution.execId for f in listed] == [first.execId, fixed.execId]


async def test_a_delayed_commission_report_comes_after_its_execution(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    tws.delay_next_commission(1.0)
    reports: list[float] = []
    ib.commissionReportEvent += lambda trade, fill, report: reports.append(_time.monotonic())
    details: list[float] = []
    ib.execDetailsEvent += lambda trade, fill: details.append(_time.monotonic())
    trade = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await _filled(trade)
    await wait_for_condition(lambda: bool(reports), what="the late commission report")
    assert reports[0] - details[0] >= 0.9
    assert trade.fills[0].commissionReport.commission == 0.35


async def test_req_executions_lists_only_the_current_day(
    make_server: object, connect: Connect
) -> None:
    tws = make_server(start=THURSDAY_LATE, speed=30.0)  # type: ignore[operator]
    ib = await connect(server=tws)
    contract = await qualified(ib)
    yesterday = ib.placeOrder(contract, MarketOrder("BUY", 100, orderRef="thursday"))
    await _filled(yesterday)
    assert len(await bounded(ib.reqExecutionsAsync())) == 1
    await wait_for_condition(
        lambda: tws.now() >= THURSDAY_LATE + timedelta(hours=12), what="the next session"
    )
    assert await bounded(ib.reqExecutionsAsync()) == []
    today = ib.placeOrder(contract, MarketOrder("SELL", 100, orderRef="friday"))
    await _filled(today)
    listed = await bounded(ib.reqExecutionsAsync(ExecutionFilter()))
    assert [f.execution.orderRef for f in listed] == ["friday"]
    # The order itself is still among the completed orders.
    completed = await bounded(ib.reqCompletedOrdersAsync(False))
    assert {t.order.orderRef for t in completed} >= {"thursday", "friday"}


async def test_assign_early_turns_every_short_put_of_a_symbol_into_stock(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    stock = await qualified(ib)
    (chain,) = await bounded(ib.reqSecDefOptParamsAsync("AAPL", "", "STK", stock.conId))
    quote = tws.last_quote("AAPL")
    assert quote is not None
    strike = min(chain.strikes, key=lambda s: abs(s - quote.mid))
    put = Option("AAPL", chain.expirations[2], strike, "P", "SMART", multiplier="100")
    (put,) = await bounded(ib.qualifyContractsAsync(put))
    await _filled(ib.placeOrder(put, MarketOrder("SELL", 2, orderRef="put")))
    await wait_for_condition(lambda: _position(ib, put.conId) == -2, what="the short put")
    fills_before = len(ib.fills())

    assert tws.assign_early("AAPL") == 2

    await wait_for_condition(
        lambda: _position(ib, put.conId) == 0 and _position(ib, stock.conId) == 200,
        what="the assignment",
    )
    (held,) = [p for p in ib.positions() if p.contract.conId == stock.conId]
    assert Decimal(str(held.avgCost)) == Decimal(str(strike))
    assert len(ib.fills()) == fills_before  # no execution reports it, as at IB
    assert tws.assign_early("AAPL") == 0
