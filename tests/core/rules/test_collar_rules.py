"""The fat-finger guard: an entry's limit near the quote and on a tick that is not zero."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.domain import Contract, Quote, Side
from core.rules.price_collar import check_limit_on_tick, check_price_collar, quote_range
from core.ticks import NICKEL, STOCK

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)


def quote(bid: float = 189.9, ask: float = 190.1, last: float = 190.0) -> Quote:
    return Quote(Contract.stock("AAPL"), bid, ask, 100, 100, last, T0)


def test_a_limit_between_bid_and_ask_or_within_the_collar_of_them_passes() -> None:
    for limit in ("190.00", "189.90", "190.10", "209.10", "170.92"):
        assert check_price_collar(Decimal(limit), quote(), max_pct=10.0), limit


def test_a_fat_finger_buy_is_refused_with_the_numbers() -> None:
    decision = check_price_collar(Decimal("1E+15"), quote(), max_pct=10.0)
    assert not decision
    assert decision.rule == "price_collar"
    assert decision.detail == (
        "limit 1E+15 is 5.26e+14% above the quote (bid 189.90, ask 190.10); the collar is 10%"
    )


def test_a_limit_just_past_the_collar_is_refused_below_as_well_as_above() -> None:
    above = check_price_collar(Decimal("209.12"), quote(), max_pct=10.0)
    below = check_price_collar(Decimal("170.90"), quote(), max_pct=10.0)
    assert not above and not below
    assert above.detail.startswith("limit 209.12 is 10.0% above the quote (bid 189.90")
    assert below.detail.startswith("limit 170.90 is 10.0% below the quote (bid 189.90")


def test_a_one_sided_quote_is_measured_from_its_side_and_no_price_refuses() -> None:
    no_bid = quote(bid=0.0, ask=0.05, last=0.0)  # a cheap option nobody bids for
    assert quote_range(no_bid) == (0.0, 0.05)
    assert check_price_collar(Decimal("0.01"), no_bid, max_pct=50.0)
    assert not check_price_collar(Decimal("0.10"), no_bid, max_pct=50.0)
    no_ask = quote(bid=50.0, ask=0.0, last=0.0)
    assert quote_range(no_ask) == (50.0, 50.0)
    last_only = quote(bid=0.0, ask=0.0, last=50.0)
    assert check_price_collar(Decimal("54"), last_only, max_pct=10.0)
    assert not check_price_collar(Decimal("56"), last_only, max_pct=10.0)
    nothing = check_price_collar(Decimal("5"), quote(bid=0.0, ask=0.0, last=0.0), max_pct=10.0)
    assert not nothing and nothing.detail == "limit 5: no quote price to check it against"


def test_an_options_wider_collar_lets_through_what_a_stocks_refuses() -> None:
    option = quote(bid=1.99, ask=2.07, last=2.0)
    assert check_price_collar(Decimal("3.00"), option, max_pct=50.0)
    assert not check_price_collar(Decimal("3.00"), option, max_pct=10.0)
    assert not check_price_collar(Decimal("50.00"), option, max_pct=50.0)


def test_a_limit_that_rounds_to_zero_at_the_tick_is_refused_never_raised() -> None:
    decision = check_limit_on_tick(Decimal("1E-9"), STOCK, side=Side.BUY)
    assert not decision
    assert decision.rule == "limit_price"
    assert decision.detail == "limit 1E-9 rounds to 0 at the tick 0.0001: not a price"
    refused = check_limit_on_tick(Decimal("0.04"), NICKEL, side=Side.BUY)
    assert not refused and refused.detail.endswith("at the tick 0.05: not a price")
    assert check_limit_on_tick(Decimal("0.04"), NICKEL, side=Side.SELL)  # rounds up to 0.05
    assert check_limit_on_tick(Decimal("0.0001"), STOCK, side=Side.BUY)
