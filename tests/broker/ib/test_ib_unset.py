"""IB's unset sentinels (``UNSET_DOUBLE`` 1.7976931348623157e308, ``UNSET_INTEGER`` 2**31 - 1)
never get past the parsing boundary: portfolio and position rows, executions, commission
reports, order statuses, orders learned from IB and account values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from ib_async import (
    AccountValue,
    CommissionReport,
    Execution,
    Fill,
    Option,
    Order,
    PnL,
    Position,
    Stock,
    Trade,
)
from ib_async import OrderStatus as IbOrderStatus
from ib_async.util import UNSET_DOUBLE as IB_UNSET_DOUBLE
from ib_async.util import UNSET_INTEGER as IB_UNSET_INTEGER

from broker.ib.parsing.account import account_pnl, account_snapshot, broker_position
from broker.ib.parsing.orders import (
    commission_amount,
    execution_event,
    money,
    request_from_trade,
    status_event,
    status_of_trade,
)
from broker.ib.parsing.unset import (
    UNSET_DOUBLE,
    UNSET_INTEGER,
    amount_or_none,
    count_or_none,
    is_unset,
)
from core.domain import OrderStatus

NY = ZoneInfo("America/New_York")
T = datetime(2026, 1, 6, 10, 0, tzinfo=NY)
UNSET_TEXT = "1.7976931348623157E308"


def test_our_sentinels_are_ib_asyncs() -> None:
    assert UNSET_DOUBLE == IB_UNSET_DOUBLE == 1.7976931348623157e308
    assert UNSET_INTEGER == IB_UNSET_INTEGER == 2**31 - 1


@pytest.mark.parametrize(
    "value", [UNSET_DOUBLE, -UNSET_DOUBLE, UNSET_TEXT, float("nan"), float("inf"), None, "", "x"]
)
def test_an_unset_or_unreadable_amount_is_none(value: object) -> None:
    assert is_unset(value)  # type: ignore[arg-type]
    assert amount_or_none(value) is None  # type: ignore[arg-type]


def test_real_amounts_and_counts_pass_unchanged() -> None:
    assert amount_or_none(190.54) == Decimal("190.54")
    assert amount_or_none("-1234.50") == Decimal("-1234.50")
    assert amount_or_none(0.0) == Decimal(0)
    assert count_or_none(100.0) == 100 and count_or_none(-3) == -3
    assert count_or_none(UNSET_INTEGER) is None and count_or_none(UNSET_DOUBLE) is None
    assert count_or_none(2.5) is None  # no fractional shares or contracts


def test_money_refuses_the_unset_double() -> None:
    with pytest.raises(ValueError, match="not a finite amount"):
        money(UNSET_DOUBLE)


def test_a_position_with_an_unset_average_cost_reports_zero_not_the_sentinel() -> None:
    put = Option("SPY", "20260220", 565.0, "P", "SMART", "100")
    position = broker_position(Position("DU1", put, -2.0, UNSET_DOUBLE))
    assert position is not None
    assert (position.quantity, position.avg_cost) == (-2, Decimal(0))


def test_a_position_with_an_unset_quantity_is_dropped() -> None:
    assert broker_position(Position("DU1", Stock("AAPL"), UNSET_DOUBLE, 190.0)) is None
    assert broker_position(Position("DU1", Stock("AAPL"), float(UNSET_INTEGER), 190.0)) is None


def test_an_unset_account_value_is_left_out_of_the_snapshot() -> None:
    rows = [
        AccountValue("DU1", "NetLiquidation", "100000.00", "USD", ""),
        AccountValue("DU1", "MaintMarginReq", UNSET_TEXT, "USD", ""),
        AccountValue("DU1", "AvailableFunds", UNSET_TEXT, "USD", ""),
    ]
    snapshot = account_snapshot(rows, account="DU1", time=T)
    assert snapshot is not None
    assert (snapshot.maint_margin, snapshot.available_funds) == (Decimal(0), Decimal(0))
    unset_net_liq = [AccountValue("DU1", "NetLiquidation", UNSET_TEXT, "USD", "")]
    assert account_snapshot(unset_net_liq, account="DU1", time=T) is None


def _fill(*, price: float = 190.54, shares: float = 100.0) -> Fill:
    execution = Execution(
        execId="0001.01",
        time=datetime(2026, 1, 6, 15, 0, 5, tzinfo=UTC),
        side="BOT",
        shares=shares,
        price=price,
        permId=7,
        clientId=17,
        orderId=5,
        orderRef="va1-abc-1",
    )
    return Fill(Stock("AAPL", "SMART", "USD", conId=1), execution, CommissionReport(), T)


def test_an_execution_with_an_unset_price_or_quantity_is_not_booked() -> None:
    assert execution_event(_fill(), tz=NY) is not None
    assert execution_event(_fill(price=UNSET_DOUBLE), tz=NY) is None
    assert execution_event(_fill(shares=UNSET_DOUBLE), tz=NY) is None


def test_an_unset_commission_is_no_commission_yet() -> None:
    assert commission_amount(1.0) == Decimal("1")
    assert commission_amount(UNSET_DOUBLE) is None
    report = CommissionReport("0001.01", commission=UNSET_DOUBLE, realizedPNL=UNSET_DOUBLE)
    assert commission_amount(report.commission) is None


def test_a_status_with_unset_figures_has_no_average_and_nothing_remaining() -> None:
    event = status_event(
        client_order_id="e1",
        ib_status="Submitted",
        filled=0.0,
        remaining=UNSET_DOUBLE,
        avg_fill_price=UNSET_DOUBLE,
        time=T,
    )
    assert event is not None
    assert (event.status, event.filled, event.remaining, event.avg_fill_price) == (
        OrderStatus.SUBMITTED,
        0,
        0,
        None,
    )
    filled = status_event(
        client_order_id="e1",
        ib_status="Filled",
        filled=100.0,
        remaining=0.0,
        avg_fill_price=UNSET_DOUBLE,
        time=T,
    )
    assert filled is not None and filled.filled == 100 and filled.avg_fill_price is None


def test_a_completed_order_with_an_unset_filled_quantity_uses_the_executions() -> None:
    order = Order(orderId=0, permId=5, action="BUY", totalQuantity=100, orderType="LMT")
    order.orderRef, order.filledQuantity = "e1", UNSET_DOUBLE
    trade = Trade(Stock("AAPL"), order, IbOrderStatus(0, "Filled"), [], [])
    event = status_of_trade(trade, "e1", executed=60, time=T)
    assert event is not None and (event.filled, event.remaining) == (60, 40)


def test_an_order_learned_from_ib_with_unset_fields_keeps_none_of_them() -> None:
    put = Option("SPY", "20260220", 565.0, "P", "SMART", "100", conId=9)
    order = Order(orderId=3, action="SELL", totalQuantity=1, orderType="LMT", lmtPrice=UNSET_DOUBLE)
    order.orderRef = "p1"
    request = request_from_trade(Trade(put, order, IbOrderStatus(3, "Submitted"), [], []))
    assert request is not None and request.limit_price is None
    assert request.contract.expiry == date(2026, 2, 20)
    unset_qty = Order(orderId=4, action="BUY", totalQuantity=UNSET_DOUBLE, orderType="MKT")
    assert request_from_trade(Trade(put, unset_qty, IbOrderStatus(4, "Submitted"), [], [])) is None


def test_an_unset_daily_pnl_is_no_event_and_unset_parts_are_none() -> None:
    empty_account = PnL("DU1", "", dailyPnL=-12.5, unrealizedPnL=UNSET_DOUBLE, realizedPnL=0.0)
    event = account_pnl(empty_account, account="DU1", time=T)
    assert event is not None
    assert (event.daily_pnl, event.unrealized_pnl, event.realized_pnl) == (
        Decimal("-12.5"),
        None,
        Decimal(0),
    )
    assert account_pnl(PnL("DU1", "", dailyPnL=UNSET_DOUBLE), account="DU1", time=T) is None
    assert account_pnl(PnL("DU2", "", dailyPnL=1.0), account="DU1", time=T) is None
