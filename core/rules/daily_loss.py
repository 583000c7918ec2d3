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

__all__ = ["BROKER_PNL", "NET_LIQUIDATION", "DayPnL", "judged_day_pnl"]

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
