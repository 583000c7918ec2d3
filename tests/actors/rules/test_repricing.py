"""Bounded re-pricing: from the mid toward the natural price, never past it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.rules.repricing import RepricePlan, plan_done, repriced_limit
from broker.base import Side


def test_a_sell_walks_from_the_mid_down_to_the_bid_in_equal_steps() -> None:
    limits = [repriced_limit(side=Side.SELL, bid=2.00, ask=2.40, step=k, steps=4) for k in range(6)]
    assert limits == [Decimal(p) for p in ("2.2", "2.15", "2.1", "2.05", "2", "2")]


def test_a_buy_walks_from_the_mid_up_to_the_ask_and_never_past_it() -> None:
    limits = [
        repriced_limit(side=Side.BUY, bid=1.00, ask=1.25, step=k, steps=2) for k in (0, 1, 2, 9)
    ]
    # the mid 1.125 rounds down for a buy; every step rounds toward the mid.
    assert limits == [Decimal("1.12"), Decimal("1.18"), Decimal("1.25"), Decimal("1.25")]


def test_no_steps_means_the_natural_price_at_once() -> None:
    assert repriced_limit(side=Side.BUY, bid=3.1, ask=3.3, step=0, steps=0) == Decimal("3.3")
    assert repriced_limit(side=Side.SELL, bid=3.1, ask=3.3, step=0, steps=0) == Decimal("3.1")


def test_a_limit_is_never_below_one_cent() -> None:
    assert repriced_limit(side=Side.SELL, bid=0.0, ask=0.01, step=4, steps=4) == Decimal("0.01")


def test_a_plan_ends_after_its_reprices_or_never() -> None:
    assert not plan_done(RepricePlan(1.0, max_reprices=3), 2)
    assert plan_done(RepricePlan(1.0, max_reprices=3), 3)
    assert plan_done(RepricePlan(1.0, max_reprices=0), 0)
    assert not plan_done(RepricePlan(1.0), 1000)
    with pytest.raises(ValueError, match="interval_s"):
        RepricePlan(0.0)
