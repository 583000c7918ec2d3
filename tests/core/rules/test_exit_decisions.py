"""Exit rules on a mark of known age, and when an exit request is repeated (pure)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.calendar import TradingCalendar
from core.rules.exits import (
    EXIT_RETRY_S,
    OptionExitRules,
    StockExitRules,
    option_exit_on_mark,
    option_exit_waits,
    stock_exit_on_mark,
    stock_exit_waits,
)
from core.rules.marks import MarkAge
from core.ticks import PENNY

NY = ZoneInfo("America/New_York")
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0))
OPENED = datetime(2026, 3, 11, 10, 0, tzinfo=NY)
NOW = OPENED + timedelta(minutes=10)
RULES = StockExitRules(profit_target_pct=2.0, max_holding_min=60, exit_before_close_min=15)
OPTION_RULES = OptionExitRules(profit_take_pct=50.0, stop_loss_multiple=3.0, time_exit_dte=3)
FRESH = MarkAge(1.0, False)
STALE = MarkAge(300.0, True)


def _stock(mark: str, age: MarkAge, *, stop: str | None = None) -> str | None:
    return stock_exit_on_mark(
        quantity=100,
        avg_price=Decimal(100),
        mark=Decimal(mark),
        stop_price=Decimal(stop) if stop else None,
        opened_at=OPENED,
        now=NOW,
        rules=RULES,
        calendar=CALENDAR,
        age=age,
    )


def _option(*, ask: float, mark: str, age: MarkAge, dte: int = 20) -> str | None:
    return option_exit_on_mark(
        quantity=-1,
        credit=Decimal("2.00"),
        ask=ask,
        mark=Decimal(mark),
        dte=dte,
        rules=OPTION_RULES,
        tick=PENNY,
        age=age,
    )


def test_a_stock_profit_target_fires_on_a_fresh_mark_and_waits_on_a_stale_one() -> None:
    assert _stock("103", FRESH) == "profit_target"
    assert _stock("103", STALE) is None


def test_a_stock_stop_fires_on_a_stale_mark() -> None:
    assert _stock("97", STALE, stop="98") == "stop"


def test_a_stale_mark_through_the_target_still_lets_the_stop_rule_run() -> None:
    # Past the target and through a (wrongly placed) stop: stale, the stop is what fires.
    assert _stock("103", STALE, stop="104") == "stop"


def test_an_option_profit_target_waits_on_a_stale_mark_but_its_stop_and_time_go_out() -> None:
    assert _option(ask=0.95, mark="0.90", age=FRESH) == "profit_target"
    assert _option(ask=0.95, mark="0.90", age=STALE) is None
    assert _option(ask=6.10, mark="6.00", age=STALE) == "stop"
    assert _option(ask=0.95, mark="0.90", age=STALE, dte=2) == "time"


def test_a_stock_exit_is_not_judged_again_within_the_retry_interval() -> None:
    assert not stock_exit_waits(None, NOW)
    assert stock_exit_waits(NOW - timedelta(seconds=EXIT_RETRY_S - 1), NOW)
    assert not stock_exit_waits(NOW - timedelta(seconds=EXIT_RETRY_S), NOW)


def test_an_option_exit_repeats_its_reason_only_after_the_interval_but_escalates_at_once() -> None:
    just_now = NOW - timedelta(seconds=1)
    assert option_exit_waits("time", requested_reason="time", requested_at=just_now, now=NOW)
    assert not option_exit_waits("stop", requested_reason="time", requested_at=just_now, now=NOW)
    long_ago = NOW - timedelta(seconds=EXIT_RETRY_S)
    assert not option_exit_waits("time", requested_reason="time", requested_at=long_ago, now=NOW)
