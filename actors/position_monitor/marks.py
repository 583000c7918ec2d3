"""How old a watched position's mark is (``core.rules.marks``: stale after ``exits.
stale_mark_s`` while the market is open, counted from the session's open at the earliest).

A part of the PositionMonitor, run on its actor thread.
"""

from __future__ import annotations

from datetime import datetime

from actors.position_monitor.positions import MonitorSettings, WatchedPosition
from core.calendar import TradingCalendar
from core.rules.marks import MarkAge, mark_age

__all__ = ["MarkAges"]


class MarkAges:
    def __init__(self, *, calendar: TradingCalendar, settings: MonitorSettings) -> None:
        self._calendar = calendar
        self._settings = settings

    def age(self, watched: WatchedPosition, now: datetime) -> MarkAge:
        calendar = self._calendar
        return mark_age(
            watched.mark_time,
            now,
            limit_s=self._settings.exits.stale_mark_s,
            market_open=calendar.is_open(now),
            session_open=calendar.session_open(calendar.trading_day(now)),
        )
