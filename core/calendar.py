"""The exchange's trading calendar: sessions, trading days and the time between them.

Pure: no I/O, no threads. All datetimes are timezone-aware in the exchange's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["TradingCalendar"]


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    """Weekday sessions from ``open_time`` to ``close_time`` in ``tz``, minus ``holidays``."""

    tz: ZoneInfo
    open_time: time = time(9, 30)
    close_time: time = time(16, 0)
    holidays: frozenset[date] = frozenset()

    @classmethod
    def build(
        cls, tz: ZoneInfo, open_time: time, close_time: time, holidays: Iterable[date] = ()
    ) -> TradingCalendar:
        return cls(tz=tz, open_time=open_time, close_time=close_time, holidays=frozenset(holidays))

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def session_open(self, day: date) -> datetime:
        return datetime.combine(day, self.open_time, tzinfo=self.tz)

    def session_close(self, day: date) -> datetime:
        return datetime.combine(day, self.close_time, tzinfo=self.tz)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def is_open(self, moment: datetime) -> bool:
        """True while a regular session is in progress (open inclusive, close exclusive)."""
        local = self.local(moment)
        day = local.date()
        return self.is_trading_day(day) and self.session_open(day) <= local < self.session_close(
            day
        )

    def trading_day(self, moment: datetime) -> date:
        """The exchange trading day a moment belongs to: the day of the latest session that has
        opened at or before ``moment`` (so Saturday belongs to Friday's day, and 08:00 on a
        Tuesday to Monday's). Daily counters and the daily loss limit reset when this changes."""
        local = self.local(moment)
        day = local.date()
        if self.is_trading_day(day) and local >= self.session_open(day):
            return day
        return self.previous_trading_day(day)

    def previous_trading_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_trading_day(day):
            day -= timedelta(days=1)
        return day

    def next_trading_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def next_open(self, moment: datetime) -> datetime:
        """The first session open at or after ``moment``."""
        local = self.local(moment)
        day = local.date()
        if self.is_trading_day(day) and local <= self.session_open(day):
            return self.session_open(day)
        return self.session_open(self.next_trading_day(day))

    def latest_open(self, moment: datetime) -> datetime:
        """The open of the latest trading day at ``moment`` (today's if it has opened)."""
        return self.session_open(self.trading_day(moment))

    def minutes_since_open(self, moment: datetime) -> float:
        local = self.local(moment)
        return (local - self.session_open(local.date())).total_seconds() / 60.0

    def minutes_to_close(self, moment: datetime) -> float:
        local = self.local(moment)
        return (self.session_close(local.date()) - local).total_seconds() / 60.0
