"""The tick rules and the one rounding function every price the engine sends goes through."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain import Contract, OrderRequest, OrderType, Side
from core.ticks import (
    NICKEL,
    OPTION_CLASSES,
    PENNY,
    PENNY_ALL,
    STOCK,
    TickRule,
    default_rule,
    on_tick_request,
    round_to_tick,
)

D = Decimal


@pytest.mark.parametrize(
    ("rule", "price", "increment"),
    [
        (PENNY, "0.50", "0.01"),
        (PENNY, "2.99", "0.01"),
        (PENNY, "3.00", "0.05"),
        (PENNY, "12.40", "0.05"),
        (PENNY_ALL, "45.00", "0.01"),
        (NICKEL, "2.99", "0.05"),
        (NICKEL, "3.00", "0.10"),
        (STOCK, "0.9999", "0.0001"),
        (STOCK, "1.00", "0.01"),
    ],
)
def test_each_band_gives_its_own_increment(rule: TickRule, price: str, increment: str) -> None:
    assert rule.increment_at(D(price)) == D(increment)


@pytest.mark.parametrize(
    ("rule", "price", "side", "expected"),
    [
        (PENNY, "1.234", Side.BUY, "1.23"),
        (PENNY, "1.231", Side.SELL, "1.24"),
        (PENNY, "3.02", Side.BUY, "3.00"),
        (PENNY, "3.02", Side.SELL, "3.05"),
        (PENNY, "2.995", Side.SELL, "3.00"),
        (NICKEL, "1.02", Side.BUY, "1.00"),
        (NICKEL, "1.02", Side.SELL, "1.05"),
        (NICKEL, "2.97", Side.SELL, "3.00"),
        (NICKEL, "3.04", Side.BUY, "3.00"),
        (NICKEL, "3.04", Side.SELL, "3.10"),
        (NICKEL, "4.60", Side.BUY, "4.60"),
        (PENNY_ALL, "7.123", Side.SELL, "7.13"),
        (STOCK, "0.50123", Side.BUY, "0.5012"),
        (STOCK, "0.50123", Side.SELL, "0.5013"),
        (STOCK, "0.99995", Side.SELL, "1.00"),
        (STOCK, "190.015", Side.BUY, "190.01"),
    ],
)
def test_buys_round_down_and_sells_round_up_within_the_band(
    rule: TickRule, price: str, side: Side, expected: str
) -> None:
    assert round_to_tick(D(price), rule, side=side) == D(expected)


def test_a_rounded_price_is_never_below_the_smallest_tick() -> None:
    assert round_to_tick(D("0.02"), NICKEL, side=Side.BUY) == D("0.05")
    assert round_to_tick(D("0"), PENNY, side=Side.BUY) == D("0.01")


def test_a_float_price_is_read_by_its_shortest_decimal_form() -> None:
    assert round_to_tick(1.15, NICKEL, side=Side.BUY) == D("1.15")  # not 1.10 from 1.1499999


def test_a_non_finite_price_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        round_to_tick(D("NaN"), PENNY, side=Side.SELL)


def test_protective_stops_round_toward_the_market() -> None:
    long_stop = OrderRequest(
        "s1", Contract.stock("X"), Side.SELL, OrderType.STP, 100, stop_price=D("0.98765")
    )
    short_stop = OrderRequest(
        "s2", Contract.stock("X"), Side.BUY, OrderType.STP, 100, stop_price=D("0.98765")
    )
    assert on_tick_request(long_stop, STOCK).stop_price == D("0.9877")  # up, nearer a market above
    assert on_tick_request(short_stop, STOCK).stop_price == D("0.9876")  # down, nearer one below


def test_an_order_request_keeps_a_missing_price_missing() -> None:
    market = OrderRequest("m", Contract.stock("X"), Side.BUY, OrderType.MKT, 1)
    assert on_tick_request(market, STOCK) == market


def test_a_rule_from_ib_increments_is_sorted_and_labelled() -> None:
    rule = TickRule.from_increments([(3.0, 0.05), (0.0, 0.01)], rule_id=32)
    assert [(b.low_edge, b.increment) for b in rule.bands] == [
        (D("0.0"), D("0.01")),
        (D("3.0"), D("0.05")),
    ]
    assert rule.rule_id == 32 and rule.name == "ib-32"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([], "at least one"),
        ([(1.0, 0.01)], "start at 0"),
        ([(0.0, 0.0)], "not > 0"),
        ([(0.0, 0.01), (0.0, 0.05)], "ascending"),
        ([(0.0, float("nan"))], "finite"),
        ([("x", 0.01)], "bad price band"),
    ],
)
def test_a_bad_market_rule_is_refused_with_its_id(
    rows: list[tuple[float, float]], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        TickRule.from_increments(rows, rule_id=77)
    assert "77" in str(caught.value)


def test_an_unknown_option_rule_defaults_to_nickel_which_every_class_accepts() -> None:
    put = Contract.option("XYZ", date(2030, 1, 18), D("50"), "P")
    assert default_rule(put) is NICKEL
    assert default_rule(Contract.stock("XYZ")) is STOCK
    nickel_prices = [D(n) / 100 for n in range(5, 2000, 5)]
    on_nickel = [p for p in nickel_prices if NICKEL.on_tick(p)]
    assert on_nickel and all(rule.on_tick(p) for rule in OPTION_CLASSES.values() for p in on_nickel)


_PRICES = st.decimals(min_value=D("0.0001"), max_value=D("500"), places=4)
_RULES = st.sampled_from([PENNY, PENNY_ALL, NICKEL, STOCK])
_SIDES = st.sampled_from([Side.BUY, Side.SELL])


@given(price=_PRICES, rule=_RULES, side=_SIDES)
def test_a_rounded_price_is_on_tick_and_on_the_safe_side(
    price: Decimal, rule: TickRule, side: Side
) -> None:
    rounded = round_to_tick(price, rule, side=side)
    assert rule.on_tick(rounded)
    if rounded != rule.smallest:
        assert rounded <= price if side is Side.BUY else rounded >= price
    # and the nearest such tick: the next tick back toward the price is past it
    tiny = D("0.0001")
    if side is Side.SELL and rounded > rule.smallest:
        assert rule.floor(rounded - tiny) < price
    if side is Side.BUY and rounded > rule.smallest:
        assert rule.ceil(rounded + tiny) > price


@given(price=_PRICES, rule=_RULES, side=_SIDES)
def test_an_on_tick_price_is_left_alone(price: Decimal, rule: TickRule, side: Side) -> None:
    tick = rule.floor(price)
    if tick >= rule.smallest:
        assert round_to_tick(tick, rule, side=side) == tick
