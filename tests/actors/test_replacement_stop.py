"""A protective stop replaced from a position's average price is on the stock's ticks and
rounded toward the market (a SELL stop up, a BUY stop down)."""

from __future__ import annotations

from decimal import Decimal

from actors.order_reconcile import replacement_stop
from broker.base import Side
from broker.ticks import STOCK

D = Decimal


def test_a_long_positions_stop_from_a_sub_cent_average_is_on_tick_and_rounded_up() -> None:
    # 100.0233 x 0.98 = 98.022834: a SELL stop rounds up, toward a market above it.
    assert replacement_stop(D("100.0233"), Side.SELL, D("0.02"), STOCK) == D("98.03")


def test_a_short_positions_stop_is_rounded_down_toward_the_market() -> None:
    # 100.0233 x 1.02 = 102.023766: a BUY stop above the market rounds down.
    assert replacement_stop(D("100.0233"), Side.BUY, D("0.02"), STOCK) == D("102.02")


def test_a_sub_dollar_stocks_stop_keeps_its_sub_penny_ticks() -> None:
    assert replacement_stop(D("0.8567"), Side.SELL, D("0.05"), STOCK) == D("0.8139")
    assert STOCK.on_tick(replacement_stop(D("0.8567"), Side.SELL, D("0.05"), STOCK))
