"""The protective stop price: on the stock's ticks and rounded toward the market (a SELL stop
up, a BUY stop down), from an entry's touch or a position's average price."""

from __future__ import annotations

from decimal import Decimal

from core.domain import Side
from core.rules.stops import protective_stop_price, stop_distance
from core.ticks import STOCK

D = Decimal


def replacement_stop(avg: Decimal, side: Side, pct: Decimal) -> Decimal:
    """The reconcile's replacement: ``pct`` of the average price away from it."""
    return protective_stop_price(avg, stop_distance(avg, pct), side, STOCK)


def test_a_long_positions_stop_from_a_sub_cent_average_is_on_tick_and_rounded_up() -> None:
    # 100.0233 x 0.98 = 98.022834: a SELL stop rounds up, toward a market above it.
    assert replacement_stop(D("100.0233"), Side.SELL, D("0.02")) == D("98.03")


def test_a_short_positions_stop_is_rounded_down_toward_the_market() -> None:
    # 100.0233 x 1.02 = 102.023766: a BUY stop above the market rounds down.
    assert replacement_stop(D("100.0233"), Side.BUY, D("0.02")) == D("102.02")


def test_a_sub_dollar_stocks_stop_keeps_its_sub_penny_ticks() -> None:
    assert replacement_stop(D("0.8567"), Side.SELL, D("0.05")) == D("0.8139")
    assert STOCK.on_tick(replacement_stop(D("0.8567"), Side.SELL, D("0.05")))


def test_an_entrys_stop_is_the_sized_distance_from_the_touch() -> None:
    # A BUY entry at 50.00 with a 1.00 distance: the SELL stop at 49.00, already on tick.
    assert protective_stop_price(D("50.00"), D("1.00"), Side.SELL, STOCK) == D("49.00")
    # A SELL entry at 50.005 (a sub-cent touch): the BUY stop 51.005 rounds down to 51.00.
    assert protective_stop_price(D("50.005"), D("1.00"), Side.BUY, STOCK) == D("51.00")


def test_the_distance_is_a_fraction_of_the_reference() -> None:
    assert stop_distance(D("200"), D("0.02")) == D("4.00")
