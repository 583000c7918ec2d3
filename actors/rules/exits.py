"""Exit rules evaluated by the PositionMonitor on every mark. Priority: profit > stop > time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from actors.calendar import TradingCalendar

__all__ = ["StockExitRules", "evaluate_stock_exit"]


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
