"""The pure mappers between ib_async's objects and our domain types: no network, no threads."""

from __future__ import annotations

import math
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
    OptionChain,
    OptionComputation,
    Order,
    Position,
    Stock,
    Ticker,
    Trade,
)
from ib_async import Contract as IbContract
from ib_async import OrderStatus as IbOrderStatus

from broker.ib.parsing.account import account_snapshot, broker_position
from broker.ib.parsing.contracts import from_ib_contract, plain_strike, to_ib_contract
from broker.ib.parsing.market import ChainWindow, chain_contracts, quote_from_ticker
from broker.ib.parsing.orders import (
    OCA_REDUCE,
    client_order_id,
    execution_event,
    money,
    order_status,
    request_from_trade,
    status_event,
    status_of_trade,
    to_ib_order,
)
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Side

NY = ZoneInfo("America/New_York")
T = datetime(2026, 1, 6, 10, 0, tzinfo=NY)
PUT = Contract.option("SPY", date(2026, 2, 20), Decimal("565"), "P")


# -- contracts ---------------------------------------------------------------------------------
def test_a_stock_becomes_a_smart_routed_ib_stock_and_back() -> None:
    ib = to_ib_contract(Contract.stock("AAPL"))
    assert (ib.secType, ib.symbol, ib.exchange, ib.currency) == ("STK", "AAPL", "SMART", "USD")
    qualified = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
    assert from_ib_contract(qualified) == Contract.stock("AAPL")


def test_an_option_keeps_expiry_strike_right_and_multiplier_both_ways() -> None:
    ib = to_ib_contract(PUT)
    assert isinstance(ib, Option)
    assert (ib.lastTradeDateOrContractMonth, ib.strike, ib.right, ib.multiplier) == (
        "20260220",
        565.0,
        "P",
        "100",
    )
    back = from_ib_contract(Option("SPY", "20260220", 565.0, "PUT", "SMART", "100", "USD"))
    assert back == PUT
    assert back is not None and back.key == "SPY 20260220 P 565"


def test_strikes_are_spelled_like_our_contract_keys() -> None:
    assert str(plain_strike(152.5)) == "152.5"
    assert str(plain_strike(150.0)) == "150"
    assert str(plain_strike(Decimal("150.00"))) == "150"


def test_instruments_we_do_not_trade_map_to_none_or_raise() -> None:
    assert from_ib_contract(IbContract(secType="FUT", symbol="ES")) is None
    assert from_ib_contract(Option("SPY", "202602", 565.0, "P")) is None  # a month, no day
    with pytest.raises(ValueError, match="unsupported instrument"):
        to_ib_contract(Contract("ES", "FUT"))


# -- orders ------------------------------------------------------------------------------------
def request(order_type: OrderType = OrderType.LMT, **kw: object) -> OrderRequest:
    values: dict[str, object] = {
        "client_order_id": "va1-abc-1",
        "contract": Contract.stock("AAPL"),
        "side": Side.BUY,
        "order_type": order_type,
        "quantity": 100,
        "limit_price": Decimal("190.05") if order_type is OrderType.LMT else None,
        "stop_price": Decimal("186.20") if order_type is OrderType.STP else None,
    }
    values.update(kw)
    return OrderRequest(**values)  # type: ignore[arg-type]


def test_a_limit_order_carries_our_id_as_order_ref_and_its_transmit_flag() -> None:
    order = to_ib_order(request(), account="DU1234567", transmit=False)
    assert (order.action, order.totalQuantity, order.orderType, order.lmtPrice) == (
        "BUY",
        100,
        "LMT",
        190.05,
    )
    assert (order.orderRef, order.account, order.transmit, order.tif) == (
        "va1-abc-1",
        "DU1234567",
        False,
        "DAY",
    )
    assert order.orderId == 0  # ib_async assigns it


def test_an_attached_stop_names_its_parent_and_joins_a_reducing_oca_group() -> None:
    stop = request(
        OrderType.STP,
        client_order_id="va1-abc-1.stop",
        side=Side.SELL,
        parent_id="va1-abc-1",
        reduce_only=True,
        tif="GTC",
        oca_group="oca-va1-abc-1",
    )
    order = to_ib_order(stop, account="DU1", parent_id=41)
    assert (order.orderType, order.auxPrice, order.parentId, order.transmit) == (
        "STP",
        186.2,
        41,
        True,
    )
    assert (order.ocaGroup, order.ocaType, order.tif) == ("oca-va1-abc-1", OCA_REDUCE, "GTC")


def test_a_market_order_has_no_price_and_a_priceless_limit_is_refused() -> None:
    order = to_ib_order(request(OrderType.MKT), account="DU1")
    assert order.orderType == "MKT" and order.ocaGroup == "" and order.ocaType == 0
    with pytest.raises(ValueError, match="no limit price"):
        to_ib_order(request(limit_price=None), account="DU1")


@pytest.mark.parametrize(
    ("ib_status", "filled", "ours"),
    [
        ("PendingSubmit", 0, None),
        ("ApiPending", 0, None),
        ("PreSubmitted", 0, OrderStatus.SUBMITTED),
        ("Submitted", 0, OrderStatus.SUBMITTED),
        ("Submitted", 40, OrderStatus.PARTIALLY_FILLED),
        ("PendingCancel", 40, None),
        ("ApiCancelled", 0, OrderStatus.CANCELLED),
        ("Cancelled", 40, OrderStatus.CANCELLED),
        ("Filled", 100, OrderStatus.FILLED),
        ("Inactive", 0, OrderStatus.INACTIVE),
        ("ValidationError", 0, None),
        ("SomethingNew", 0, None),
    ],
)
def test_ib_statuses_map_to_ours(ib_status: str, filled: int, ours: OrderStatus | None) -> None:
    assert order_status(ib_status, filled) is ours


def test_a_status_event_carries_fill_progress_and_the_average_price_only_once_filled() -> None:
    event = status_event(
        client_order_id="x",
        ib_status="Submitted",
        filled=40.0,
        remaining=60.0,
        avg_fill_price=190.0300001,
        time=T,
        order_id=7,
    )
    assert event is not None
    assert (event.status, event.filled, event.remaining, event.avg_fill_price) == (
        OrderStatus.PARTIALLY_FILLED,
        40,
        60,
        Decimal("190.0300001"),
    )
    assert event.broker_order_id == 7
    fresh = status_event(
        client_order_id="x",
        ib_status="Submitted",
        filled=0,
        remaining=100,
        avg_fill_price=0.0,
        time=T,
    )
    assert fresh is not None and fresh.avg_fill_price is None


def test_money_has_no_binary_noise_and_refuses_nan() -> None:
    assert money(190.54) == Decimal("190.54") and str(money(190.54)) == "190.54"
    assert str(money(0.35)) == "0.35"
    with pytest.raises(ValueError):
        money(math.nan)


def fill(**kw: object) -> Fill:
    execution = Execution(
        execId=str(kw.get("exec_id", "0001.01")),
        time=datetime(2026, 1, 6, 15, 0, 5, tzinfo=UTC),
        side=str(kw.get("side", "BOT")),
        shares=float(kw.get("shares", 120.0)),  # type: ignore[arg-type]
        price=190.54,
        permId=1804289384,
        clientId=17,
        orderId=5,
        orderRef=str(kw.get("order_ref", "va1-abc-1")),
    )
    return Fill(Stock("AAPL", "SMART", "USD", conId=1), execution, CommissionReport(), T)


def test_an_execution_is_keyed_by_exec_id_in_exchange_time_with_commission_left_to_its_report() -> (
    None
):
    event = execution_event(fill(), tz=NY)
    assert event is not None
    assert (event.exec_id, event.client_order_id, event.side, event.quantity) == (
        "0001.01",
        "va1-abc-1",
        Side.BUY,
        120,
    )
    assert event.price == Decimal("190.54") and event.commission == 0
    assert event.time == datetime(2026, 1, 6, 10, 0, 5, tzinfo=NY)
    assert event.time.tzinfo == NY
    sold = execution_event(fill(side="SLD"), tz=NY)
    assert sold is not None and sold.side is Side.SELL


def test_an_order_without_order_ref_gets_an_id_the_ledger_never_has() -> None:
    assert client_order_id("", 1804289384) == "ib-1804289384"
    event = execution_event(fill(order_ref=""), tz=NY)
    assert event is not None and event.client_order_id == "ib-1804289384"


def test_an_order_learned_from_ib_becomes_the_request_it_stands_for() -> None:
    order = Order(
        orderId=9,
        clientId=17,
        permId=77,
        action="SELL",
        totalQuantity=100,
        orderType="STP",
        auxPrice=186.2,
        tif="GTC",
        orderRef="va1-abc-1.stop",
        ocaGroup="oca-va1-abc-1",
    )
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, IbOrderStatus(9, "PreSubmitted"), [], [])
    learned = request_from_trade(trade)
    assert learned is not None
    assert (learned.client_order_id, learned.side, learned.order_type, learned.quantity) == (
        "va1-abc-1.stop",
        Side.SELL,
        OrderType.STP,
        100,
    )
    assert (learned.stop_price, learned.limit_price, learned.oca_group) == (
        Decimal("186.2"),
        None,
        "oca-va1-abc-1",
    )
    trade.order.orderType = "TRAIL"
    assert request_from_trade(trade) is None


# -- market data -------------------------------------------------------------------------------
def make_ticker(**values: object) -> Ticker:
    """A ticker as ib_async fills it (its constructor resets prices to unset)."""
    ticker = Ticker(contract=Stock("AAPL", "SMART", "USD"))
    for name, value in values.items():
        setattr(ticker, name, value)
    return ticker


def test_a_ticker_becomes_a_quote_stamped_when_it_was_received() -> None:
    ticker = make_ticker(bid=189.85, ask=189.88, bidSize=300.0, askSize=600.0, last=189.86)
    quote = quote_from_ticker(ticker, Contract.stock("AAPL"), time=T)
    assert quote is not None
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size, quote.last, quote.time) == (
        189.85,
        189.88,
        300,
        600,
        189.86,
        T,
    )
    assert quote.iv is None and quote.open_interest == 0


def test_a_one_sided_or_empty_ticker_is_no_quote_and_a_missing_last_is_the_mid() -> None:
    stock = Contract.stock("AAPL")
    assert quote_from_ticker(make_ticker(bid=189.85), stock, time=T) is None
    assert quote_from_ticker(make_ticker(bid=-1.0, ask=189.9), stock, time=T) is None
    assert quote_from_ticker(make_ticker(bid=190.0, ask=189.0), stock, time=T) is None
    quote = quote_from_ticker(make_ticker(bid=10.0, ask=10.2, bidSize=math.nan), stock, time=T)
    assert quote is not None and quote.last == pytest.approx(10.1) and quote.bid_size == 0


def test_an_option_quote_carries_ib_model_greeks_and_open_interest() -> None:
    greeks = OptionComputation(
        0, impliedVol=0.21, delta=-0.31, optPrice=5.6, gamma=0.01, vega=0.5, theta=-0.04
    )
    ticker = make_ticker(
        bid=5.5, ask=5.7, bidSize=50, askSize=50, putOpenInterest=4800.0, modelGreeks=greeks
    )
    quote = quote_from_ticker(ticker, PUT, time=T)
    assert quote is not None
    assert (quote.iv, quote.delta, quote.gamma, quote.theta, quote.vega) == (
        0.21,
        -0.31,
        0.01,
        -0.04,
        0.5,
    )
    assert quote.open_interest == 4800


def test_the_chain_is_cut_to_the_window_and_the_strikes_near_the_spot() -> None:
    chains = [
        OptionChain("CBOE", 1, "SPY", "100", ["20260220"], [500.0, 565.0]),
        OptionChain(
            "SMART",
            1,
            "SPY",
            "100",
            ["20260116", "20260220", "20260320", "202604"],
            [400.0, 550.0, 560.0, 565.0, 570.0, 700.0],
        ),
    ]
    window = ChainWindow(
        right="P",
        min_expiry=date(2026, 2, 1),
        max_expiry=date(2026, 3, 31),
        strike_range_pct=10.0,
        max_contracts=5,
    )
    picked = chain_contracts(chains, "SPY", 563.0, window)
    assert [c.key for c in picked] == [
        "SPY 20260220 P 565",
        "SPY 20260320 P 565",
        "SPY 20260220 P 560",
        "SPY 20260320 P 560",
        "SPY 20260220 P 570",
    ]
    assert chain_contracts([], "SPY", 563.0, window) == []


# -- account -----------------------------------------------------------------------------------
def test_account_values_make_a_snapshot_in_usd() -> None:
    rows = [
        AccountValue("DU1", "NetLiquidation", "1000004.65", "USD", ""),
        AccountValue("DU1", "NetLiquidation", "999999.00", "BASE", ""),
        AccountValue("DU1", "TotalCashValue", "981011.65", "USD", ""),
        AccountValue("DU1", "MaintMarginReq", "4748.25", "USD", ""),
        AccountValue("DU1", "AvailableFunds", "995256.40", "USD", ""),
        AccountValue("DU1", "BuyingPower", "4000000", "USD", ""),
        AccountValue("DU2", "NetLiquidation", "5", "USD", ""),
    ]
    snapshot = account_snapshot(rows, account="DU1", time=T)
    assert snapshot is not None
    assert (
        snapshot.net_liquidation,
        snapshot.cash,
        snapshot.maint_margin,
        snapshot.available_funds,
    ) == (Decimal("1000004.65"), Decimal("981011.65"), Decimal("4748.25"), Decimal("995256.40"))
    assert account_snapshot(rows[2:4], account="DU1", time=T) is None  # no NetLiquidation yet


def test_an_account_snapshot_carries_buying_power_and_the_account_code() -> None:
    rows = [
        AccountValue("DU7", "NetLiquidation", "1000004.65", "USD", ""),
        AccountValue("DU7", "BuyingPower", "4000000", "USD", ""),
        AccountValue("DU7", "ExcessLiquidity", "990000.50", "USD", ""),
    ]
    asked = account_snapshot(rows, account="DU7", time=T)
    only = account_snapshot(rows, account="", time=T)  # the login's only account
    assert asked is not None and only is not None
    assert (asked.buying_power, asked.excess_liquidity) == (
        Decimal(4_000_000),
        Decimal("990000.50"),
    )
    assert (asked.account, only.account) == ("DU7", "DU7")


def test_positions_map_with_option_cost_per_share_and_flat_ones_dropped() -> None:
    stock = broker_position(Position("DU1", Stock("AAPL", "SMART", "USD"), 100.0, 189.88))
    assert stock is not None and (stock.quantity, stock.avg_cost) == (100, Decimal("189.88"))
    put = broker_position(
        Position("DU1", Option("SPY", "20260220", 565.0, "P", "SMART", "100"), -3.0, 560.0)
    )
    assert put is not None and (put.contract, put.quantity, put.avg_cost) == (
        PUT,
        -3,
        Decimal("5.6"),
    )
    assert broker_position(Position("DU1", Stock("AAPL"), 0.0, 0.0)) is None


def test_a_completed_order_reports_its_fill_from_the_order_and_an_open_one_from_its_status() -> (
    None
):
    order = Order(orderId=0, permId=5, action="BUY", totalQuantity=100, orderType="LMT")
    order.orderRef, order.filledQuantity = "e1", 100.0
    completed = Trade(Stock("AAPL"), order, IbOrderStatus(0, "Filled"), [], [])
    event = status_of_trade(completed, "e1", executed=0, time=T)
    assert event is not None and (event.status, event.filled, event.remaining) == (
        OrderStatus.FILLED,
        100,
        0,
    )
    working = Trade(
        Stock("AAPL"),
        Order(orderId=3, action="BUY", totalQuantity=100, orderType="LMT"),
        IbOrderStatus(3, "Submitted", filled=40.0, remaining=60.0, avgFillPrice=190.0),
        [],
        [],
    )
    event = status_of_trade(working, "e2", executed=40, time=T, reason="ignored")
    assert event is not None and (event.status, event.filled, event.reason) == (
        OrderStatus.PARTIALLY_FILLED,
        40,
        "",
    )
