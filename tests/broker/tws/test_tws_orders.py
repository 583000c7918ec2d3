"""Orders through the simulated TWS with the real ib_async client: fills, executions and
commissions, resting limits, cancel, modify, partial fills, brackets, OCA groups, rejections,
what-if, and the account, executions and completed orders they leave behind."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ib_async import (
    IB,
    ExecutionFilter,
    LimitOrder,
    MarketOrder,
    Order,
    StopOrder,
    Trade,
)
from tws_support import Connect, bounded, qualified, wait_for_condition

from broker.tws.server import TwsSimServer


def mid(tws: TwsSimServer, symbol: str = "AAPL") -> float:
    quote = tws.last_quote(symbol)
    assert quote is not None
    return round((quote.bid + quote.ask) / 2, 2)


async def until_done(trade: Trade) -> None:
    await wait_for_condition(trade.isDone, what=f"order {trade.order.orderId} to finish")


async def until_status(trade: Trade, status: str) -> None:
    await wait_for_condition(
        lambda: trade.orderStatus.status == status,
        what=f"order {trade.order.orderId} to be {status} (is {trade.orderStatus.status})",
    )


def statuses(trade: Trade) -> list[str]:
    """The trade's log of statuses, consecutive repeats removed."""
    out: list[str] = []
    for entry in trade.log:
        if not out or out[-1] != entry.status:
            out.append(entry.status)
    return out


async def test_a_market_order_fills_with_exec_details_a_commission_report_and_its_order_ref(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    reports = []
    ib.commissionReportEvent += lambda trade, fill, report: reports.append(report)
    order = MarketOrder("BUY", 100, orderRef="va-1:order-42")
    trade = ib.placeOrder(contract, order)
    await until_done(trade)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 100
    (fill,) = trade.fills
    assert fill.execution.orderRef == "va-1:order-42"
    assert fill.execution.side == "BOT"
    assert fill.execution.shares == 100
    assert fill.execution.permId == trade.order.permId > 0
    await wait_for_condition(lambda: len(reports) == 1, what="the commission report")
    assert reports[0].execId == fill.execution.execId
    assert fill.commissionReport.commission == 0.35  # the per-order minimum
    assert fill.execution.time.year == 2024  # simulated time
    assert statuses(trade) == ["PendingSubmit", "Submitted", "Filled"]


async def test_a_limit_order_away_from_the_market_rests_submitted_until_cancelled(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    trade = ib.placeOrder(contract, LimitOrder("BUY", 100, round(mid(tws) - 20, 2)))
    await until_status(trade, "Submitted")
    await bounded(ib.reqOpenOrdersAsync())
    assert [t.order.orderId for t in ib.openTrades()] == [trade.order.orderId]
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, c: codes.append(code)
    ib.cancelOrder(trade.order)
    await until_status(trade, "Cancelled")
    assert trade.orderStatus.filled == 0
    assert 202 in codes
    assert not trade.fills


async def test_modifying_a_limit_changes_its_price_and_a_marketable_one_fills(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    order = LimitOrder("BUY", 100, round(mid(tws) - 20, 2))
    trade = ib.placeOrder(contract, order)
    await until_status(trade, "Submitted")
    order.lmtPrice = round(mid(tws) - 10, 2)
    ib.placeOrder(contract, order)
    await wait_for_condition(
        lambda: any(e.message == "Modified" for e in trade.log), what="the modification"
    )
    assert trade.orderStatus.status == "Submitted"
    order.lmtPrice = round(mid(tws) + 1, 2)
    ib.placeOrder(contract, order)
    await until_status(trade, "Filled")
    assert trade.fills[0].execution.price <= order.lmtPrice


async def test_an_order_larger_than_the_displayed_size_fills_in_parts(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    trade = ib.placeOrder(contract, MarketOrder("BUY", 3000))
    await until_done(trade)
    assert trade.orderStatus.status == "Filled"
    assert len(trade.fills) >= 3  # at most 750 shares show at the ask per step
    cumulative = [f.execution.cumQty for f in trade.fills]
    assert cumulative == sorted(cumulative) and cumulative[-1] == 3000
    assert len({f.execution.execId for f in trade.fills}) == len(trade.fills)
    partial = [e for e in trade.log if e.status == "Submitted" and e.message.startswith("Fill")]
    assert partial, "the first fills arrive while the order is still Submitted"


async def test_a_bracket_child_is_held_until_its_parent_fills(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    price = mid(tws)
    parent = LimitOrder("BUY", 100, round(price - 5, 2), transmit=False)
    parent_trade = ib.placeOrder(contract, parent)
    stop = StopOrder("SELL", 100, round(price - 10, 2), parentId=parent.orderId, transmit=True)
    # Nothing is sent for an untransmitted parent: it stays PendingSubmit until its child.
    await asyncio.sleep(0.2)
    assert parent_trade.orderStatus.status == "PendingSubmit"
    stop_trade = ib.placeOrder(contract, stop)
    await until_status(parent_trade, "Submitted")
    await until_status(stop_trade, "PreSubmitted")
    tws.set_mid("AAPL", price - 6)  # the parent's limit becomes marketable
    await until_status(parent_trade, "Filled")
    await until_status(stop_trade, "Submitted")
    tws.set_mid("AAPL", price - 12)  # the stop triggers
    await until_status(stop_trade, "Filled")
    assert statuses(stop_trade) == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"]
    assert stop_trade.orderStatus.parentId == parent.orderId
    await wait_for_condition(
        lambda: [p.position for p in ib.positions()] in ([], [0.0]), what="a flat position"
    )


async def test_bracket_children_cancel_each_other(tws: TwsSimServer, connect: Connect) -> None:
    ib = await connect()
    contract = await qualified(ib)
    price = mid(tws)
    bracket = ib.bracketOrder("BUY", 100, round(price + 1, 2), round(price + 3, 2), price - 3)
    parent, take_profit, stop_loss = (ib.placeOrder(contract, o) for o in bracket)
    await until_status(parent, "Filled")
    await until_status(stop_loss, "Submitted")
    tws.set_mid("AAPL", price + 5)
    await until_status(take_profit, "Filled")
    await until_status(stop_loss, "Cancelled")
    assert not stop_loss.fills


async def test_an_oca_group_cancels_the_other_orders_when_one_fills(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    price = mid(tws)
    far, near = ib.oneCancelsAll(
        [LimitOrder("BUY", 100, round(price - 20, 2)), LimitOrder("BUY", 100, price + 1)],
        "oca-cancel",
        1,
    )
    far_trade = ib.placeOrder(contract, far)
    await until_status(far_trade, "Submitted")
    near_trade = ib.placeOrder(contract, near)
    await until_status(near_trade, "Filled")
    await until_status(far_trade, "Cancelled")


async def test_an_oca_group_of_type_2_reduces_the_other_orders(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    far, now = ib.oneCancelsAll(
        [LimitOrder("BUY", 300, round(mid(tws) - 20, 2)), MarketOrder("BUY", 100)],
        "oca-reduce",
        2,
    )
    far_trade = ib.placeOrder(contract, far)
    await until_status(far_trade, "Submitted")
    now_trade = ib.placeOrder(contract, now)
    await until_status(now_trade, "Filled")
    await wait_for_condition(
        lambda: far_trade.orderStatus.remaining == 200, what="the reduced remaining"
    )
    assert far_trade.order.totalQuantity == 200
    assert far_trade.orderStatus.status == "Submitted"


async def test_positions_portfolio_and_account_values_follow_a_fill(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)

    def value(tag: str) -> float:
        found = [v.value for v in ib.accountValues() if v.tag == tag and v.currency == "USD"]
        return float(found[0]) if found else float("nan")

    assert value("NetLiquidation") == 1_000_000.0
    trade = ib.placeOrder(contract, MarketOrder("BUY", 200))
    await until_done(trade)
    await wait_for_condition(lambda: [p.position for p in ib.positions()] == [200.0])
    (position,) = ib.positions()
    assert position.contract.conId == contract.conId
    assert position.avgCost == trade.orderStatus.avgFillPrice
    await wait_for_condition(lambda: value("TotalCashValue") < 1_000_000, what="cash to move")

    def consistent() -> bool:
        # Values and portfolio rows arrive in separate messages; marks move every step, so
        # check them together once a whole push has landed.
        (item,) = ib.portfolio()
        net_liq, maint = value("NetLiquidation"), value("MaintMarginReq")
        return (
            item.position == 200
            and abs(net_liq - (value("TotalCashValue") + item.marketValue)) < 0.02
            and abs(maint - 0.25 * item.marketValue) < 0.02
            # Reg-T: 50 % initial margin; AvailableFunds = equity with loan - initial margin.
            and abs(value("InitMarginReq") - 0.5 * item.marketValue) < 0.02
            and abs(value("AvailableFunds") - (net_liq - value("InitMarginReq"))) < 0.02
            and abs(value("ExcessLiquidity") - (net_liq - maint)) < 0.02
        )

    await wait_for_condition(consistent, what="net liquidation = cash + market value")


async def test_a_closing_fill_reports_its_realized_pnl(connect: Connect) -> None:
    ib = await connect()
    contract = await qualified(ib)
    buy = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await until_done(buy)
    sell = ib.placeOrder(contract, MarketOrder("SELL", 100))
    await until_done(sell)
    await wait_for_condition(lambda: sell.fills[0].commissionReport.execId != "")
    report = sell.fills[0].commissionReport
    expected = 100 * (sell.orderStatus.avgFillPrice - buy.orderStatus.avgFillPrice) - 0.35
    assert abs(report.realizedPNL - expected) < 0.01
    assert buy.fills[0].commissionReport.realizedPNL == 0.0  # opening fill: unset


async def test_executions_and_completed_orders_survive_a_reconnect(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect(client_id=5)
    contract = await qualified(ib)
    filled = ib.placeOrder(contract, MarketOrder("BUY", 100, orderRef="keep-me"))
    await until_done(filled)
    resting = ib.placeOrder(contract, LimitOrder("BUY", 100, round(mid(tws) - 20, 2)))
    await until_status(resting, "Submitted")
    cancelled = ib.placeOrder(contract, LimitOrder("BUY", 50, round(mid(tws) - 30, 2)))
    await until_status(cancelled, "Submitted")
    ib.cancelOrder(cancelled.order)
    await until_status(cancelled, "Cancelled")
    exec_id = filled.fills[0].execution.execId
    ib.disconnect()
    await wait_for_condition(lambda: tws.connected_client_ids() == [], what="the disconnect")

    again = await connect(client_id=5)
    assert [f.execution.execId for f in again.fills()] == [exec_id]
    assert [t.order.orderId for t in again.openTrades()] == [resting.order.orderId]
    assert again.openTrades()[0].orderStatus.status == "Submitted"
    matching = await bounded(again.reqExecutionsAsync(ExecutionFilter(symbol="AAPL")))
    assert [f.execution.orderRef for f in matching] == ["keep-me"]
    assert await bounded(again.reqExecutionsAsync(ExecutionFilter(symbol="MSFT"))) == []
    completed = await bounded(again.reqCompletedOrdersAsync(False))
    by_perm = {t.order.permId: t.orderStatus.status for t in completed}
    assert by_perm == {filled.order.permId: "Filled", cancelled.order.permId: "Cancelled"}
    assert again.client.getReqId() > resting.order.orderId


async def test_global_cancel_cancels_every_working_order_of_every_client(
    tws: TwsSimServer, connect: Connect
) -> None:
    first = await connect(client_id=1)
    second = await connect(client_id=2)
    trades: list[Trade] = []
    for ib in (first, second):
        contract = await qualified(ib)
        trades.append(ib.placeOrder(contract, LimitOrder("SELL", 100, round(mid(tws) + 20, 2))))
    for trade in trades:
        await until_status(trade, "Submitted")
    first.reqGlobalCancel()
    for trade in trades:
        await until_status(trade, "Cancelled")


async def test_an_unsupported_order_type_is_rejected_with_201_and_a_reason(
    connect: Connect,
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, c: errors.append((code, text))
    order = Order(action="BUY", totalQuantity=100, orderType="TRAIL", trailingPercent=1.0)
    trade = ib.placeOrder(contract, order)
    await until_status(trade, "Cancelled")
    (rejection,) = [text for code, text in errors if code == 201]
    assert rejection.startswith("Order rejected - reason:")
    assert "TRAIL is not simulated" in rejection


async def test_a_limit_off_the_tick_grid_is_refused_with_110(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, c: codes.append(code)
    trade = ib.placeOrder(contract, LimitOrder("BUY", 100, mid(tws) - 10.005))
    await until_status(trade, "Cancelled")
    assert 110 in codes


async def test_what_if_reports_the_margin_change_without_placing_anything(
    connect: Connect,
) -> None:
    ib: IB = await connect()
    contract = await qualified(ib)
    state = await bounded(ib.whatIfOrderAsync(contract, MarketOrder("BUY", 100)))
    change = Decimal(state.maintMarginChange)
    assert Decimal(4000) < change < Decimal(5500)  # 25 % of about $19,000
    assert state.commission == 0.35
    assert ib.openTrades() == []


async def test_cancelling_an_unknown_order_and_reusing_a_finished_id_are_errors(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, c: errors.append((req_id, code))
    ib.client.cancelOrder(4242)
    await wait_for_condition(lambda: (4242, 10147) in errors, what="10147")
    done = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await until_done(done)
    ib.client.placeOrder(done.order.orderId, contract, MarketOrder("BUY", 100))
    # IB: 104 "Can't modify a filled order" (103 for an id of another ended order)
    await wait_for_condition(lambda: (done.order.orderId, 104) in errors, what="104")
    assert len(done.fills) == 1


async def test_account_summary_and_pnl_subscriptions_are_answered_and_kept_current(
    tws: TwsSimServer, connect: Connect
) -> None:
    ib = await connect()
    contract = await qualified(ib)
    summary = await bounded(ib.accountSummaryAsync())
    tags = {v.tag: v.value for v in summary if v.currency in ("USD", "")}
    assert float(tags["NetLiquidation"]) == 1_000_000.0
    assert {"AvailableFunds", "MaintMarginReq", "BuyingPower", "ExcessLiquidity"} <= set(tags)
    pnl = ib.reqPnL(tws.account)
    await wait_for_condition(lambda: pnl.dailyPnL == pnl.dailyPnL, what="the first P&L")
    trade = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await until_done(trade)
    await wait_for_condition(lambda: pnl.unrealizedPnL != 0, what="unrealized P&L")
    ib.cancelPnL(tws.account)
