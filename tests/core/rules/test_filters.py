"""Market filters on entries: spread, slippage, quote age and the trading window."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.calendar import TradingCalendar
from core.domain import Contract, Quote
from core.rules.filters import (
    check_quote_age,
    check_slippage,
    check_spread,
    check_trading_window,
    expected_slippage_bps,
)

NY = ZoneInfo("America/New_York")
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0))
T0 = datetime(2026, 3, 11, 10, 0, tzinfo=NY)


def quote(
    bid: float = 99.0,
    ask: float = 101.0,
    *,
    bid_size: int = 100,
    ask_size: int = 100,
    at: datetime = T0,
) -> Quote:
    """Default: mid 100, a 200 bps spread (exact in binary floating point)."""
    return Quote(Contract.stock("AAA"), bid, ask, bid_size, ask_size, (bid + ask) / 2, at)


def at_ny(hour: int, minute: int, second: int = 0, *, day: int = 11) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=NY)


# -- spread ----------------------------------------------------------------------------------


def test_a_spread_exactly_at_the_limit_passes() -> None:
    assert quote().spread_bps == 200.0
    assert check_spread(quote(), 200.0)


def test_a_spread_over_the_limit_is_refused() -> None:
    decision = check_spread(quote(), 199.9)
    assert not decision
    assert decision.rule == "spread"
    assert decision.detail == "200.0bps > 199.9bps"


def test_a_quote_without_a_positive_mid_has_an_infinite_spread() -> None:
    assert not check_spread(quote(0.0, 0.0), 1e9)


# -- slippage --------------------------------------------------------------------------------


def test_an_order_within_the_touch_costs_half_the_spread() -> None:
    assert expected_slippage_bps(quote(), 100, buy=True) == 100.0
    assert expected_slippage_bps(quote(), 1, buy=False) == 100.0


def test_each_further_displayed_size_walked_costs_one_more_spread() -> None:
    q = quote(ask_size=100)
    assert expected_slippage_bps(q, 101, buy=True) == 300.0
    assert expected_slippage_bps(q, 200, buy=True) == 300.0
    assert expected_slippage_bps(q, 201, buy=True) == 500.0


def test_slippage_uses_the_ask_size_for_buys_and_the_bid_size_for_sells() -> None:
    q = quote(bid_size=10, ask_size=1000)
    assert expected_slippage_bps(q, 500, buy=True) == 100.0
    assert expected_slippage_bps(q, 500, buy=False) == 100.0 + 49 * 200.0


def test_slippage_is_infinite_when_the_side_shows_no_size() -> None:
    assert math.isinf(expected_slippage_bps(quote(ask_size=0), 1, buy=True))
    assert not check_slippage(quote(ask_size=0), 1, buy=True, max_bps=1e9)


def test_slippage_exactly_at_the_limit_passes() -> None:
    assert check_slippage(quote(), 150, buy=True, max_bps=300.0)


def test_slippage_over_the_limit_is_refused_with_the_quantity() -> None:
    decision = check_slippage(quote(), 201, buy=True, max_bps=300.0)
    assert not decision
    assert decision.rule == "slippage"
    assert decision.detail == "500.0bps > 300.0bps for 201"


# -- quote age -------------------------------------------------------------------------------


def test_a_quote_exactly_max_age_old_passes() -> None:
    assert check_quote_age(quote(), T0 + timedelta(milliseconds=500), 500)


def test_a_quote_one_millisecond_over_max_age_is_refused() -> None:
    decision = check_quote_age(quote(), T0 + timedelta(milliseconds=501), 500)
    assert not decision
    assert decision.rule == "quote_age"
    assert decision.detail == "501ms > 500ms"


def test_a_missing_quote_is_refused() -> None:
    decision = check_quote_age(None, T0, 500)
    assert not decision
    assert decision.detail == "no quote"


def test_quote_age_compares_instants_across_time_zones() -> None:
    now_utc = (T0 + timedelta(milliseconds=400)).astimezone(UTC)
    assert check_quote_age(quote(), now_utc, 500)


# -- trading window --------------------------------------------------------------------------


def window(now: datetime) -> bool:
    return check_trading_window(now, CALENDAR, 5, 10).accepted


def test_the_window_is_closed_before_the_open() -> None:
    decision = check_trading_window(at_ny(9, 29, 59), CALENDAR, 5, 10)
    assert not decision
    assert decision.rule == "trading_window"
    assert decision.detail == "market closed at 09:29"


def test_the_window_refuses_entries_inside_the_open_margin() -> None:
    decision = check_trading_window(at_ny(9, 34, 59), CALENDAR, 5, 10)
    assert not decision
    assert "after open < 5" in decision.detail
    assert not window(at_ny(9, 30))


def test_the_window_opens_exactly_open_margin_minutes_after_the_open() -> None:
    assert window(at_ny(9, 35))


def test_the_window_is_open_mid_session() -> None:
    assert window(at_ny(12, 0))


def test_the_window_accepts_exactly_close_margin_minutes_before_the_close() -> None:
    assert window(at_ny(15, 50))


def test_the_window_refuses_entries_inside_the_close_margin() -> None:
    decision = check_trading_window(at_ny(15, 50, 1), CALENDAR, 5, 10)
    assert not decision
    assert "before close < 10" in decision.detail


def test_the_window_is_closed_at_and_after_the_close() -> None:
    assert not window(at_ny(16, 0))
    assert not window(at_ny(18, 0))


@pytest.mark.parametrize("day", [14, 15])
def test_the_window_is_closed_on_the_weekend(day: int) -> None:
    assert not window(at_ny(12, 0, day=day))


def test_the_window_is_judged_in_new_york_time_whatever_the_input_zone() -> None:
    # 13:35 UTC is 09:35 EDT on 2026-03-11 (open) but 08:35 EST a week earlier (closed).
    assert window(datetime(2026, 3, 11, 13, 35, tzinfo=UTC))
    assert not window(datetime(2026, 3, 4, 13, 35, tzinfo=UTC))
    assert window(datetime(2026, 3, 4, 14, 35, tzinfo=UTC))
