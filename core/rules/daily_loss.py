"""Which day P&L the daily-loss breaker judges. Pure: Decimal in, Decimal out (dollars).

Two figures describe the account's day:

* the broker's own daily P&L: IB's ``reqPnL`` ``dailyPnL``, sent about once a second (the
  simulator sends the same figure from its account with every market step);
* net liquidation now less net liquidation at the start of the day: IB refreshes the account
  values behind it only about every three minutes (tws-api account_updates.html), so on an
  adverse move it can lag the market by that much.

The breaker is driven by the broker's figure and cross-checked by net liquidation: it judges
the lower (worse) of the two it has, so a P&L stream that stalled cannot hide a loss the
account values already show, and a stale net liquidation cannot hide one the stream shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.domain import TradingState
from core.rules.risk_rules import daily_loss_limit, daily_loss_tripped

__all__ = [
    "BROKER_PNL",
    "DAILY_LOSS",
    "NET_LIQUIDATION",
    "DayPnL",
    "daily_loss_latch_released",
    "daily_loss_trip_reason",
    "judged_day_pnl",
]

#: How a daily-loss trip's reason starts (the REDUCING latch it set is known by it).
DAILY_LOSS = "daily_loss"

BROKER_PNL = "broker daily P&L"
NET_LIQUIDATION = "net liquidation"
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DayPnL:
    """The figure the breaker judges and which source gave it."""

    value: Decimal
    source: str


def judged_day_pnl(
    *, net_liquidation: Decimal, day_start_net_liquidation: Decimal, broker_pnl: Decimal | None
) -> DayPnL:
    """The worse of the broker's daily P&L (None: not reported today) and the net liquidation
    change since the day's start (unknown while either net liquidation is not > 0); zero from
    net liquidation when neither is known."""
    by_net_liq: Decimal | None = None
    if day_start_net_liquidation > 0 and net_liquidation > 0:
        by_net_liq = net_liquidation - day_start_net_liquidation
    if broker_pnl is None:
        return DayPnL(by_net_liq if by_net_liq is not None else _ZERO, NET_LIQUIDATION)
    if by_net_liq is not None and by_net_liq < broker_pnl:
        return DayPnL(by_net_liq, NET_LIQUIDATION)
    return DayPnL(broker_pnl, BROKER_PNL)


def daily_loss_trip_reason(
    day_pnl: DayPnL,
    *,
    day_start_net_liquidation: Decimal,
    limit_pct: float,
    state: TradingState,
    tripped_today: bool,
) -> str | None:
    """The reason to trip the daily-loss breaker now, or None. It trips once a trading day
    (``tripped_today``: it already did), only while ACTIVE, when the judged ``day_pnl`` is at
    or below the limit (``limit_pct`` of the day's starting net liquidation)."""
    if (
        state is not TradingState.ACTIVE
        or tripped_today
        or not daily_loss_tripped(day_pnl.value, day_start_net_liquidation, limit_pct)
    ):
        return None
    limit = daily_loss_limit(day_start_net_liquidation, limit_pct)
    return f"{DAILY_LOSS} {day_pnl.value:.2f} <= {limit:.2f} (by {day_pnl.source})"


def daily_loss_latch_released(state: TradingState, reason: str) -> bool:
    """Whether a new trading day releases the state: REDUCING set by the daily-loss breaker
    (a halt or a flatten stays until someone resumes)."""
    return state is TradingState.REDUCING and DAILY_LOSS in reason
