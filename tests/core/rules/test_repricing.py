"""Bounded re-pricing: from the mid toward the natural price, never past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.domain import Side
from core.rules.repricing import (
    PlanProgress,
    RepricePlan,
    plan_done,
    plan_progress,
    reprice_detail,
    repriced_limit,
    to_market_detail,
)
from core.ticks import NICKEL, PENNY, PENNY_ALL


def test_a_sell_walks_from_the_mid_down_to_the_bid_in_equal_steps() -> None:
    limits = [
        repriced_limit(side=Side.SELL, bid=2.00, ask=2.40, step=k, steps=4, tick=PENNY_ALL)
        for k in range(6)
    ]
    assert limits == [Decimal(p) for p in ("2.2", "2.15", "2.1", "2.05", "2", "2")]


def test_a_buy_walks_from_the_mid_up_to_the_ask_and_never_past_it() -> None:
    limits = [
        repriced_limit(side=Side.BUY, bid=1.00, ask=1.25, step=k, steps=2, tick=PENNY_ALL)
        for k in (0, 1, 2, 9)
    ]
    # the mid 1.125 rounds down for a buy; every step rounds toward the mid.
    assert limits == [Decimal("1.12"), Decimal("1.18"), Decimal("1.25"), Decimal("1.25")]


def test_no_steps_means_the_natural_price_at_once() -> None:
    assert repriced_limit(
        side=Side.BUY, bid=3.1, ask=3.3, step=0, steps=0, tick=PENNY_ALL
    ) == Decimal("3.3")
    assert repriced_limit(
        side=Side.SELL, bid=3.1, ask=3.3, step=0, steps=0, tick=PENNY_ALL
    ) == Decimal("3.1")


def test_a_sell_on_a_nickel_class_walks_in_nickels_and_never_below_the_bid() -> None:
    limits = [
        repriced_limit(side=Side.SELL, bid=1.10, ask=1.40, step=k, steps=3, tick=NICKEL)
        for k in range(5)
    ]
    # mid 1.25; steps of 0.05 toward the bid 1.10, each rounded up onto a nickel.
    assert limits == [Decimal(p) for p in ("1.25", "1.20", "1.15", "1.10", "1.10")]
    assert all(NICKEL.on_tick(limit) for limit in limits)


def test_a_buy_from_three_dollars_on_a_penny_class_walks_in_nickels() -> None:
    limits = [
        repriced_limit(side=Side.BUY, bid=3.10, ask=3.30, step=k, steps=4, tick=PENNY)
        for k in range(5)
    ]
    assert limits == [Decimal(p) for p in ("3.20", "3.20", "3.25", "3.25", "3.30")]
    assert all(PENNY.on_tick(limit) for limit in limits)


def test_a_limit_is_never_below_one_cent() -> None:
    assert repriced_limit(
        side=Side.SELL, bid=0.0, ask=0.01, step=4, steps=4, tick=PENNY_ALL
    ) == Decimal("0.01")


def test_a_plan_ends_after_its_reprices_or_never() -> None:
    assert not plan_done(RepricePlan(1.0, max_reprices=3), 2)
    assert plan_done(RepricePlan(1.0, max_reprices=3), 3)
    assert plan_done(RepricePlan(1.0, max_reprices=0), 0)
    assert not plan_done(RepricePlan(1.0), 1000)
    with pytest.raises(ValueError, match="interval_s"):
        RepricePlan(0.0)


T0 = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def test_a_plans_progress_is_read_back_from_its_last_stored_reprice() -> None:
    events = [
        (T0, "naked_put delta -0.30 31DTE credit 2.20"),
        (T0 + timedelta(seconds=1), ""),
        (T0 + timedelta(seconds=5), reprice_detail("naked_put", 1, 4, Decimal("2.15"))),
        (T0 + timedelta(seconds=10), reprice_detail("naked_put", 2, 4, Decimal("2.1"))),
        (T0 + timedelta(seconds=11), "partially filled"),
    ]
    assert plan_progress(events) == PlanProgress(2, Decimal("2.1"), T0 + timedelta(seconds=10))
    assert plan_progress(events[:2]) == PlanProgress()


def test_an_unbounded_plan_and_a_flatten_read_back_the_same_way() -> None:
    detail = reprice_detail("time", 7, None, Decimal("0.45"))
    assert detail == "time re-price 7/- to 0.45"
    assert plan_progress([(T0, detail)]).reprices == 7
    flatten = reprice_detail("flatten", 2, 5, Decimal("99.59"))
    assert flatten == "flatten re-price 2/5 to 99.59"  # the format the ledger has always had
    assert plan_progress([(T0, flatten)]).limit == Decimal("99.59")


def test_a_plan_cancelled_to_go_to_market_stays_so() -> None:
    events = [
        (T0, reprice_detail("stop", 1, 3, Decimal("1.5"))),
        (T0 + timedelta(seconds=3), to_market_detail("stop", 3)),
    ]
    progress = plan_progress(events)
    assert (progress.to_market, progress.reprices, progress.limit) == (True, 3, Decimal("1.5"))
    assert not plan_progress(events[:1]).to_market


def test_a_detail_that_only_looks_like_a_reprice_is_ignored() -> None:
    assert plan_progress([(T0, "x re-price 3/4 to nowhere")]) == PlanProgress()
