"""The wheel's rules: which option exits apply to its puts and covered calls, and when a wheel
VA may write a covered call (its own limits: pause, drawdown, cooldown; not max positions)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.config.accounts import AccountLimits
from core.domain import Contract, Side
from core.rules.exits import OptionExitRules, evaluate_option_exit
from core.rules.va_rules import VABook
from core.rules.wheel import check_covered_call_entry, held_call, wheel_exit_rules
from core.ticks import PENNY_ALL
from tests.core.rules.test_va_rules import fill

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
RULES = OptionExitRules(profit_take_pct=50.0, stop_loss_multiple=3.0, time_exit_dte=3)
CALL = Contract.option("AAA", date(2026, 1, 16), Decimal(105), "C")


def test_a_wheel_option_has_its_profit_target_but_no_stop_and_no_time_exit() -> None:
    rules = wheel_exit_rules(RULES)
    assert rules.profit_take_pct == 50.0
    assert math.isinf(rules.stop_loss_multiple) and rules.time_exit_dte == 0

    def judge(ask: str, mark: str, dte: int) -> str | None:
        return evaluate_option_exit(
            quantity=-1,
            credit=Decimal("1.00"),
            ask=Decimal(ask),
            mark=Decimal(mark),
            dte=dte,
            rules=rules,
            tick=PENNY_ALL,
        )

    assert judge("0.50", "0.48", 10) == "profit_target"
    assert judge("9.10", "9.00", 10) is None  # nine times the credit: no stop
    assert judge("0.80", "0.78", 1) is None  # a day to expiry: left to expire or be assigned


def _stock_book(shares: int = 300) -> VABook:
    book = VABook("w", Decimal(100_000))
    book.apply_fill(fill(Side.BUY, shares, "100", contract=Contract.stock("AAA"), at=NOW))
    return book


def test_a_covered_call_may_be_written_on_each_uncovered_lot_despite_max_open_positions() -> None:
    limits = AccountLimits(max_open_positions=1)
    book = _stock_book()
    assert check_covered_call_entry(book, "AAA", limits, NOW)
    book.apply_fill(fill(Side.SELL, 2, "1.00", contract=CALL, at=NOW))
    assert held_call(book, "AAA") == -2
    assert check_covered_call_entry(book, "AAA", limits, NOW)  # a third lot is uncovered
    book.apply_fill(fill(Side.SELL, 1, "1.00", contract=CALL, at=NOW + timedelta(seconds=1)))
    assert check_covered_call_entry(book, "AAA", limits, NOW).rule == "covered"


def test_no_call_without_a_lot_while_paused_with_an_entry_working_or_past_the_drawdown() -> None:
    limits = AccountLimits(max_drawdown_pct=10.0, cooldown_losses=1, cooldown_s=60)
    assert check_covered_call_entry(_stock_book(50), "AAA", limits, NOW).rule == "no_stock"
    paused = _stock_book()
    paused.paused_reason = "max_drawdown 12.00% >= 10.00%"
    assert check_covered_call_entry(paused, "AAA", limits, NOW).rule == "paused"
    working = _stock_book()
    working.working_entries["o1"] = CALL.key
    assert check_covered_call_entry(working, "AAA", limits, NOW).rule == "entry_working"
    fallen = _stock_book()
    fallen.mark("AAA", Decimal(60))  # 300 shares 40 lower: 12 % of 100,000
    assert check_covered_call_entry(fallen, "AAA", limits, NOW).rule == "max_drawdown"
    cooling = _stock_book()
    cooling.cooldown_until = NOW + timedelta(seconds=30)
    assert check_covered_call_entry(cooling, "AAA", limits, NOW).rule == "cooldown"
