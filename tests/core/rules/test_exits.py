"""Stock exit rules: profit target, stop, time and session close, in that priority."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.calendar import TradingCalendar
from core.rules.exits import (
    OptionExitRules,
    StockExitRules,
    evaluate_option_exit,
    evaluate_stock_exit,
    option_exit_levels,
    profit_target_price,
    stock_target_price,
)
from core.ticks import NICKEL, PENNY, TickRule

NY = ZoneInfo("America/New_York")
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0))
OPENED = datetime(2026, 3, 11, 10, 0, tzinfo=NY)
NOW = OPENED + timedelta(minutes=10)
RULES = StockExitRules(profit_target_pct=2.0, max_holding_min=60, exit_before_close_min=15)


def exit_reason(
    *,
    quantity: int = 100,
    avg: str = "100",
    mark: str = "100",
    stop: str | None = None,
    opened_at: datetime | None = OPENED,
    now: datetime = NOW,
    rules: StockExitRules = RULES,
) -> str | None:
    return evaluate_stock_exit(
        quantity=quantity,
        avg_price=Decimal(avg),
        mark=Decimal(mark),
        stop_price=Decimal(stop) if stop is not None else None,
        opened_at=opened_at,
        now=now,
        rules=rules,
        calendar=CALENDAR,
    )


def test_nothing_fires_for_a_quiet_position() -> None:
    assert exit_reason(mark="101", stop="98") is None


def test_nothing_fires_without_a_position() -> None:
    assert exit_reason(quantity=0, mark="200") is None


# -- profit target ---------------------------------------------------------------------------


def test_the_profit_target_fires_exactly_at_the_target() -> None:
    assert exit_reason(mark="102") == "profit_target"


def test_the_profit_target_does_not_fire_one_cent_short() -> None:
    assert exit_reason(mark="101.99") is None


def test_a_short_reaches_its_profit_target_when_the_mark_falls() -> None:
    assert exit_reason(quantity=-100, mark="98") == "profit_target"
    assert exit_reason(quantity=-100, mark="98.01") is None
    assert exit_reason(quantity=-100, mark="102") is None


# -- stop ------------------------------------------------------------------------------------


def test_the_stop_fires_when_the_mark_is_through_the_stop() -> None:
    assert exit_reason(mark="97.50", stop="98") == "stop"


def test_the_stop_fires_when_the_mark_touches_the_stop() -> None:
    assert exit_reason(mark="98", stop="98") == "stop"


def test_the_stop_does_not_fire_one_cent_above_a_long_stop() -> None:
    assert exit_reason(mark="98.01", stop="98") is None


def test_a_short_stop_fires_when_the_mark_rises_through_it() -> None:
    assert exit_reason(quantity=-100, mark="102.50", stop="102") == "stop"
    assert exit_reason(quantity=-100, mark="101.99", stop="102") is None


def test_no_stop_price_means_no_stop_exit() -> None:
    assert exit_reason(mark="50") is None


# -- time ------------------------------------------------------------------------------------


def test_the_time_exit_fires_at_exactly_max_holding() -> None:
    assert exit_reason(now=OPENED + timedelta(minutes=60)) == "time"


def test_the_time_exit_does_not_fire_a_second_before_max_holding() -> None:
    assert exit_reason(now=OPENED + timedelta(minutes=60) - timedelta(seconds=1)) is None


def test_no_time_exit_when_max_holding_is_zero_or_the_open_time_unknown() -> None:
    late = OPENED + timedelta(hours=3)
    no_time = StockExitRules(profit_target_pct=2.0, max_holding_min=0, exit_before_close_min=15)
    assert exit_reason(now=late, rules=no_time) is None
    assert exit_reason(now=late, opened_at=None) is None


# -- session close ---------------------------------------------------------------------------


def test_the_session_close_exit_fires_exactly_n_minutes_before_the_close() -> None:
    no_time = StockExitRules(profit_target_pct=2.0, max_holding_min=0, exit_before_close_min=15)
    assert exit_reason(now=datetime(2026, 3, 11, 15, 45, tzinfo=NY), rules=no_time) == (
        "session_close"
    )


def test_the_session_close_exit_does_not_fire_a_second_earlier() -> None:
    no_time = StockExitRules(profit_target_pct=2.0, max_holding_min=0, exit_before_close_min=15)
    assert exit_reason(now=datetime(2026, 3, 11, 15, 44, 59, tzinfo=NY), rules=no_time) is None


def test_the_session_close_exit_is_off_when_the_market_is_closed_or_n_is_zero() -> None:
    no_time = StockExitRules(profit_target_pct=2.0, max_holding_min=0, exit_before_close_min=15)
    never = StockExitRules(profit_target_pct=2.0, max_holding_min=0, exit_before_close_min=0)
    assert exit_reason(now=datetime(2026, 3, 11, 16, 0, tzinfo=NY), rules=no_time) is None
    assert exit_reason(now=datetime(2026, 3, 11, 15, 59, tzinfo=NY), rules=never) is None


# -- priority --------------------------------------------------------------------------------


def test_profit_wins_over_stop_and_time() -> None:
    # A stop ratcheted above the entry, a mark past the target and below the stop, held long.
    late = OPENED + timedelta(minutes=90)
    assert exit_reason(mark="103", stop="104", now=late) == "profit_target"


def test_stop_wins_over_time_and_session_close() -> None:
    close = datetime(2026, 3, 11, 15, 50, tzinfo=NY)
    assert exit_reason(mark="97", stop="98", now=close) == "stop"


def test_time_wins_over_session_close() -> None:
    close = datetime(2026, 3, 11, 15, 50, tzinfo=NY)
    assert exit_reason(opened_at=close - timedelta(minutes=60), now=close) == "time"


# -- short options: profit > stop > time ------------------------------------------------------

OPTION_RULES = OptionExitRules(profit_take_pct=50.0, stop_loss_multiple=3.0, time_exit_dte=3)


def option_exit(
    *,
    quantity: int = -2,
    credit: str = "2.00",
    ask: str = "2.10",
    mark: str = "2.00",
    dte: int = 20,
    rules: OptionExitRules = OPTION_RULES,
    tick: TickRule = PENNY,
) -> str | None:
    return evaluate_option_exit(
        quantity=quantity,
        credit=Decimal(credit),
        ask=Decimal(ask),
        mark=Decimal(mark),
        dte=dte,
        rules=rules,
        tick=tick,
    )


def test_a_quiet_short_put_stays_open() -> None:
    assert option_exit() is None


def test_the_option_profit_target_fires_when_the_ask_reaches_half_the_credit() -> None:
    assert profit_target_price(Decimal("2.00"), OPTION_RULES, PENNY) == Decimal("1.00")
    assert option_exit(ask="1.00", mark="0.95") == "profit_target"


def test_the_option_profit_target_does_not_fire_one_cent_above() -> None:
    assert option_exit(ask="1.01", mark="0.95") is None


def test_the_profit_target_price_rounds_down_to_the_cent() -> None:
    assert profit_target_price(Decimal("2.15"), OPTION_RULES, PENNY) == Decimal("1.07")


def test_the_profit_target_price_rounds_down_onto_a_nickel_class_ticks() -> None:
    assert profit_target_price(Decimal("2.15"), OPTION_RULES, NICKEL) == Decimal("1.05")
    assert profit_target_price(Decimal("7.30"), OPTION_RULES, NICKEL) == Decimal("3.60")
    assert profit_target_price(Decimal("7.30"), OPTION_RULES, PENNY) == Decimal("3.65")


def test_on_a_nickel_class_the_target_fires_at_the_price_the_buy_back_is_sent_at() -> None:
    assert option_exit(credit="2.15", ask="1.07", mark="1.00", tick=NICKEL) is None
    assert option_exit(credit="2.15", ask="1.05", mark="1.00", tick=NICKEL) == "profit_target"


def test_the_option_stop_fires_when_the_mark_reaches_three_times_the_credit() -> None:
    assert option_exit(ask="6.20", mark="6.00") == "stop"


def test_the_option_stop_does_not_fire_one_cent_below_and_ignores_a_wide_ask() -> None:
    assert option_exit(ask="6.50", mark="5.99") is None


def test_the_time_exit_fires_at_three_days_to_expiry_not_four() -> None:
    assert option_exit(dte=3) == "time"
    assert option_exit(dte=4) is None


def test_a_time_exit_of_zero_days_is_disabled() -> None:
    rules = OptionExitRules(profit_take_pct=50.0, stop_loss_multiple=3.0, time_exit_dte=0)
    assert option_exit(dte=0, rules=rules) is None


def test_profit_wins_over_time_and_stop_wins_over_time() -> None:
    assert option_exit(ask="0.90", mark="0.85", dte=1) == "profit_target"
    assert option_exit(ask="7.00", mark="6.80", dte=1) == "stop"


def test_a_long_option_only_has_the_time_exit() -> None:
    assert option_exit(quantity=2, ask="0.10", mark="0.05") is None
    assert option_exit(quantity=2, dte=2) == "time"


def test_a_short_options_exit_levels_are_the_prices_and_date_its_rules_fire_at() -> None:
    rules = OptionExitRules(profit_take_pct=50, stop_loss_multiple=3, time_exit_dte=21)
    levels = option_exit_levels(
        credit=Decimal("4.23"), expiry=date(2026, 4, 17), rules=rules, tick=PENNY
    )
    assert (levels.target, levels.stop, levels.time_exit) == (
        Decimal("2.11"),  # half the credit (2.115), rounded down onto the tick a buy pays
        Decimal("12.69"),
        date(2026, 3, 27),
    )
    # The levels are where evaluate_option_exit fires: at the target ask, at the stop mark.
    fires = {
        "target": evaluate_option_exit(
            quantity=-1,
            credit=Decimal("4.23"),
            ask=levels.target,
            mark=Decimal(3),
            dte=30,
            rules=rules,
            tick=PENNY,
        ),
        "stop": evaluate_option_exit(
            quantity=-1,
            credit=Decimal("4.23"),
            ask=Decimal(13),
            mark=levels.stop,
            dte=30,
            rules=rules,
            tick=PENNY,
        ),
        "time": evaluate_option_exit(
            quantity=-1,
            credit=Decimal("4.23"),
            ask=Decimal(4),
            mark=Decimal(4),
            dte=(date(2026, 4, 17) - levels.time_exit).days,
            rules=rules,
            tick=PENNY,
        ),
    }
    assert fires == {"target": "profit_target", "stop": "stop", "time": "time"}
    no_time = OptionExitRules(profit_take_pct=50, stop_loss_multiple=3, time_exit_dte=0)
    assert (
        option_exit_levels(
            credit=Decimal(1), expiry=date(2026, 4, 17), rules=no_time, tick=PENNY
        ).time_exit
        is None
    )


def test_a_stocks_profit_target_is_the_mark_that_takes_it() -> None:
    assert stock_target_price(quantity=100, avg_price=Decimal(100), rules=RULES) == Decimal(102)
    assert stock_target_price(quantity=-100, avg_price=Decimal(100), rules=RULES) == Decimal(98)
    assert exit_reason(mark="102") == "profit_target"
    assert stock_target_price(quantity=0, avg_price=Decimal(100), rules=RULES) is None
