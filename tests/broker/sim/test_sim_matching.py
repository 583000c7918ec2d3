"""Pure order matching against a quote (broker/sim/matching.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.sim.matching import (
    SimOrder,
    match_order,
    modify_problem,
    open_quantity,
    rejection_reason,
    stop_triggered,
    target_quantity,
    tick_problem,
)
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Quote, Side
from core.ticks import NICKEL, STOCK

T0 = datetime(2024, 3, 13, 10, 0, tzinfo=ZoneInfo("America/New_York"))
AAA = Contract.stock("AAA")
QUOTE = Quote(AAA, bid=99.98, ask=100.02, bid_size=300, ask_size=400, last=100.0, time=T0)
KNOWN = {"AAA"}


def order(
    side: Side,
    order_type: OrderType,
    quantity: int = 100,
    *,
    limit: str | None = None,
    stop: str | None = None,
    parent_id: str | None = None,
    contract: Contract = AAA,
) -> SimOrder:
    request = OrderRequest(
        client_order_id="c1",
        contract=contract,
        side=side,
        order_type=order_type,
        quantity=quantity,
        limit_price=Decimal(limit) if limit else None,
        stop_price=Decimal(stop) if stop else None,
        parent_id=parent_id,
    )
    return SimOrder(
        request=request,
        broker_order_id=1,
        quantity=quantity,
        limit_price=request.limit_price,
        stop_price=request.stop_price,
    )


def test_a_market_order_fills_at_the_touch_up_to_the_displayed_size() -> None:
    buy = order(Side.BUY, OrderType.MKT, 1000)
    m = match_order(buy, QUOTE, open_qty=1000, liquidity=QUOTE.ask_size)
    assert (m.quantity, m.price) == (400, Decimal("100.02"))
    sell = order(Side.SELL, OrderType.MKT, 100)
    m = match_order(sell, QUOTE, open_qty=100, liquidity=QUOTE.bid_size)
    assert (m.quantity, m.price) == (100, Decimal("99.98"))


def test_nothing_fills_when_the_displayed_size_is_used_up() -> None:
    m = match_order(order(Side.BUY, OrderType.MKT), QUOTE, open_qty=100, liquidity=0)
    assert m.quantity == 0 and m.price is None


def test_a_limit_buy_fills_at_the_ask_only_once_the_ask_is_at_or_below_the_limit() -> None:
    below = order(Side.BUY, OrderType.LMT, limit="100.01")
    assert match_order(below, QUOTE, open_qty=100, liquidity=400).quantity == 0
    at = order(Side.BUY, OrderType.LMT, limit="100.02")
    assert match_order(at, QUOTE, open_qty=100, liquidity=400).price == Decimal("100.02")
    above = order(Side.BUY, OrderType.LMT, limit="101.00")
    assert match_order(above, QUOTE, open_qty=100, liquidity=400).price == Decimal("100.02")


def test_a_limit_sell_fills_at_the_bid_only_once_the_bid_is_at_or_above_the_limit() -> None:
    above = order(Side.SELL, OrderType.LMT, limit="99.99")
    assert match_order(above, QUOTE, open_qty=100, liquidity=300).quantity == 0
    lower = order(Side.SELL, OrderType.LMT, limit="99.00")
    assert match_order(lower, QUOTE, open_qty=100, liquidity=300).price == Decimal("99.98")


def test_a_sell_stop_triggers_when_the_bid_reaches_it_and_then_fills_at_the_bid() -> None:
    assert not stop_triggered(Side.SELL, Decimal("99.97"), QUOTE)
    assert stop_triggered(Side.SELL, Decimal("99.98"), QUOTE)
    resting = order(Side.SELL, OrderType.STP, stop="99.00")
    m = match_order(resting, QUOTE, open_qty=100, liquidity=300)
    assert (m.triggered, m.quantity) == (False, 0)
    hit = order(Side.SELL, OrderType.STP, stop="99.98")
    m = match_order(hit, QUOTE, open_qty=100, liquidity=300)
    assert (m.triggered, m.quantity, m.price) == (True, 100, Decimal("99.98"))


def test_a_buy_stop_triggers_when_the_ask_reaches_it() -> None:
    assert not stop_triggered(Side.BUY, Decimal("100.03"), QUOTE)
    assert stop_triggered(Side.BUY, Decimal("100.02"), QUOTE)


def test_a_triggered_stop_stays_triggered_when_the_price_moves_back() -> None:
    stop = order(Side.SELL, OrderType.STP, 500, stop="99.00")
    stop.triggered = True
    m = match_order(stop, QUOTE, open_qty=500, liquidity=300)
    assert (m.triggered, m.quantity, m.price) == (True, 300, Decimal("99.98"))


def test_a_triggered_stop_without_displayed_size_stays_triggered() -> None:
    stop = order(Side.SELL, OrderType.STP, stop="99.98")
    m = match_order(stop, QUOTE, open_qty=100, liquidity=0)
    assert (m.triggered, m.quantity) == (True, 0)


def test_a_child_is_held_until_its_parent_fills_and_then_covers_what_the_parent_filled() -> None:
    parent = order(Side.BUY, OrderType.MKT, 1000)
    child = order(Side.SELL, OrderType.STP, 1000, stop="99.98", parent_id="p")
    assert open_quantity(child, parent) == 0
    held = match_order(child, QUOTE, open_qty=open_quantity(child, parent), liquidity=300)
    assert (held.triggered, held.quantity) == (False, 0)
    parent.filled = 300
    assert open_quantity(child, parent) == 300
    assert target_quantity(child, parent) == 1000  # the parent is still working
    parent.status = OrderStatus.CANCELLED
    assert target_quantity(child, parent) == 300


def test_the_venue_rejects_options_unknown_symbols_bad_quantities_and_missing_prices() -> None:
    option = Contract("AAA", "OPT", date(2024, 4, 19), Decimal("90"), "P", 100)
    reasons = [
        rejection_reason(
            order(Side.BUY, OrderType.MKT, contract=option).request, known_symbols=KNOWN
        ),
        rejection_reason(
            order(Side.BUY, OrderType.MKT, contract=Contract.stock("ZZZ")).request,
            known_symbols=KNOWN,
        ),
        rejection_reason(order(Side.BUY, OrderType.MKT, 0).request, known_symbols=KNOWN),
        rejection_reason(order(Side.BUY, OrderType.LMT).request, known_symbols=KNOWN),
        rejection_reason(order(Side.SELL, OrderType.STP).request, known_symbols=KNOWN),
    ]
    assert reasons[0] is not None and "unsupported instrument" in reasons[0]
    assert reasons[1] is not None and "unknown symbol 'ZZZ'" in reasons[1]
    assert reasons[2] is not None and "quantity must be > 0" in reasons[2]
    assert reasons[3] is not None and "limit price" in reasons[3]
    assert reasons[4] is not None and "stop price" in reasons[4]
    ok = order(Side.BUY, OrderType.LMT, limit="1").request
    assert rejection_reason(ok, known_symbols=KNOWN) is None


def test_an_off_tick_price_is_refused_with_the_110_text_and_an_on_tick_one_passes() -> None:
    option = Contract.option("AAA", date(2024, 3, 15), Decimal("100"), "P")
    problem = tick_problem(option, NICKEL, Decimal("3.12"), None)
    assert problem is not None and problem.startswith("110 price 3.12 does not conform")
    assert tick_problem(option, NICKEL, Decimal("3.10"), None) is None


def test_a_modify_below_the_filled_quantity_or_of_a_price_the_type_lacks_is_refused() -> None:
    sim = order(Side.BUY, OrderType.LMT, 100, limit="100.00")
    sim.filled = 40
    assert modify_problem(sim, STOCK, 30, None, None) == (
        "quantity 30 is not > 0 or is below the 40 filled"
    )
    assert modify_problem(sim, STOCK, None, None, Decimal("99")) == (
        "stop price 99 is <= 0 or not for a LMT order"
    )
    assert modify_problem(sim, STOCK, 50, Decimal("100.01"), None) is None
