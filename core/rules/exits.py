"""Exit rules evaluated by the PositionMonitor on every mark. Priority: profit > stop > time.

Stocks: ``evaluate_stock_exit`` (their attached protective stop order is the first protection).
Short options: ``evaluate_option_exit``; an option entry has no attached stop, so the stop
rule here is its only stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.calendar import TradingCalendar
from core.domain import Side
from core.rules.marks import MarkAge, exit_policy
from core.ticks import TickRule, round_to_tick

__all__ = [
    "EXIT_RETRY_S",
    "OptionExitLevels",
    "OptionExitRules",
    "StockExitRules",
    "evaluate_option_exit",
    "evaluate_stock_exit",
    "option_exit_levels",
    "option_exit_on_mark",
    "option_exit_waits",
    "profit_target_price",
    "stock_exit_on_mark",
    "stock_exit_waits",
    "stock_target_price",
]

#: Clock seconds before an exit request is sent again (it may have been refused: halted,
#: paced): asked again after a while, not on every mark.
EXIT_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class StockExitRules:
    profit_target_pct: float
    max_holding_min: int
    exit_before_close_min: int


def evaluate_stock_exit(
    *,
    quantity: int,
    avg_price: Decimal,
    mark: Decimal,
    stop_price: Decimal | None,
    opened_at: datetime | None,
    now: datetime,
    rules: StockExitRules,
    calendar: TradingCalendar,
) -> str | None:
    """The reason to exit now, or None. ``stop`` fires only if the mark is through the
    protective stop and the broker's stop has not taken the position out (a gap, a rejected
    stop): the attached stop order is the primary protection."""
    if quantity == 0 or avg_price <= 0:
        return None
    direction = 1 if quantity > 0 else -1
    move_pct = float((mark - avg_price) / avg_price * 100) * direction
    if move_pct >= rules.profit_target_pct:
        return "profit_target"
    if stop_price is not None and (mark - stop_price) * direction <= 0:
        return "stop"
    if opened_at is not None and rules.max_holding_min > 0:
        held_min = (now - opened_at).total_seconds() / 60.0
        if held_min >= rules.max_holding_min:
            return "time"
    if (
        rules.exit_before_close_min > 0
        and calendar.is_open(now)
        and calendar.minutes_to_close(now) <= rules.exit_before_close_min
    ):
        return "session_close"
    return None


@dataclass(frozen=True, slots=True)
class OptionExitRules:
    """``profit_take_pct``: buy back once the price is at or below (100 - this) percent of the
    credit (50: at half the credit). ``stop_loss_multiple``: once the mark is at or above this
    many times the credit (3: the loss is 200 % of the premium). ``time_exit_dte``: at or below
    this many calendar days to expiry (0 disables)."""

    profit_take_pct: float
    stop_loss_multiple: float
    time_exit_dte: int


def profit_target_price(credit: Decimal, rules: OptionExitRules, tick: TickRule) -> Decimal:
    """The highest price a profit-target buy-back pays, per share: the credit times
    (1 - ``profit_take_pct`` / 100), rounded down onto the option's ``tick`` rule (a buy:
    ``round_to_tick``), and at least its smallest tick."""
    keep = Decimal(str(rules.profit_take_pct)) / 100
    return round_to_tick(credit * (1 - keep), tick, side=Side.BUY)


@dataclass(frozen=True, slots=True)
class OptionExitLevels:
    """Where a short option's exits fire, per share: the buy-back price of the profit target,
    the mark of the stop, and the date of the time exit (None: disabled)."""

    target: Decimal
    stop: Decimal
    time_exit: date | None


def option_exit_levels(
    *, credit: Decimal, expiry: date, rules: OptionExitRules, tick: TickRule
) -> OptionExitLevels:
    """The levels ``evaluate_option_exit`` judges a short option sold at ``credit`` by: the
    profit target's buy-back price (``profit_target_price``), the stop at
    ``stop_loss_multiple`` x credit, and the first day with ``time_exit_dte`` calendar days or
    fewer to ``expiry``."""
    time_exit = expiry - timedelta(days=rules.time_exit_dte) if rules.time_exit_dte > 0 else None
    return OptionExitLevels(
        target=profit_target_price(credit, rules, tick),
        stop=credit * Decimal(str(rules.stop_loss_multiple)),
        time_exit=time_exit,
    )


def stock_target_price(
    *, quantity: int, avg_price: Decimal, rules: StockExitRules
) -> Decimal | None:
    """The mark at which ``evaluate_stock_exit`` takes the profit (``profit_target_pct`` away
    from ``avg_price`` in the position's favour); None when flat or the target is disabled."""
    if quantity == 0 or not math.isfinite(rules.profit_target_pct):
        return None
    move = Decimal(str(rules.profit_target_pct)) / 100
    return avg_price * (1 + move) if quantity > 0 else avg_price * (1 - move)


def evaluate_option_exit(
    *,
    quantity: int,
    credit: Decimal,
    ask: Decimal,
    mark: Decimal,
    dte: int,
    rules: OptionExitRules,
    tick: TickRule,
) -> str | None:
    """The reason to close an option position now, or None.

    For a short position (``quantity`` < 0) sold at ``credit`` per share: ``profit_target``
    when the ``ask`` (what buying back costs) is at or below ``profit_target_price`` (on the
    option's ``tick`` rule: the price the buy-back is sent at); ``stop`` when the ``mark``
    (the mid, so a wide ask alone does not stop it out) is at or above ``stop_loss_multiple``
    x credit. For any position: ``time`` at ``time_exit_dte`` days to expiry or fewer.
    """
    if quantity == 0 or credit <= 0:
        return None
    if quantity < 0:
        if ask <= profit_target_price(credit, rules, tick):
            return "profit_target"
        if mark >= credit * Decimal(str(rules.stop_loss_multiple)):
            return "stop"
    if rules.time_exit_dte > 0 and dte <= rules.time_exit_dte:
        return "time"
    return None


def stock_exit_on_mark(
    *,
    quantity: int,
    avg_price: Decimal,
    mark: Decimal,
    stop_price: Decimal | None,
    opened_at: datetime | None,
    now: datetime,
    rules: StockExitRules,
    calendar: TradingCalendar,
    age: MarkAge,
) -> str | None:
    """``evaluate_stock_exit`` on a mark of age ``age``: on a stale mark the profit target
    cannot fire (it waits for a fresh mark, ``core.rules.marks``); the stop and the time rules
    still run."""
    judged = replace(rules, profit_target_pct=math.inf) if age.stale else rules
    reason = evaluate_stock_exit(
        quantity=quantity,
        avg_price=avg_price,
        mark=mark,
        stop_price=stop_price,
        opened_at=opened_at,
        now=now,
        rules=judged,
        calendar=calendar,
    )
    return exit_policy(reason, age)


def option_exit_on_mark(
    *,
    quantity: int,
    credit: Decimal,
    ask: float,
    mark: Decimal,
    dte: int,
    rules: OptionExitRules,
    tick: TickRule,
    age: MarkAge,
) -> str | None:
    """``evaluate_option_exit`` on a mark of age ``age``: on a stale mark the profit target
    waits (an infinite ask never reaches it); stop and time still fire."""
    reason = evaluate_option_exit(
        quantity=quantity,
        credit=credit,
        ask=Decimal("Infinity") if age.stale else Decimal(repr(ask)),
        mark=mark,
        dte=dte,
        rules=rules,
        tick=tick,
    )
    return exit_policy(reason, age)


def stock_exit_waits(
    requested_at: datetime | None, now: datetime, *, retry_s: float = EXIT_RETRY_S
) -> bool:
    """A stock position with an exit requested less than ``retry_s`` ago is not judged again
    (whatever the reason)."""
    return requested_at is not None and (now - requested_at).total_seconds() < retry_s


def option_exit_waits(
    reason: str,
    *,
    requested_reason: str,
    requested_at: datetime | None,
    now: datetime,
    retry_s: float = EXIT_RETRY_S,
) -> bool:
    """An option exit for the reason already requested less than ``retry_s`` ago waits; a
    different (more urgent) reason goes out at once."""
    return reason == requested_reason and stock_exit_waits(requested_at, now, retry_s=retry_s)
