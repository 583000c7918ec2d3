"""The exchange calendar in America/New_York: trading days, opens, and the DST weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.calendar import TradingCalendar

NY = ZoneInfo("America/New_York")
MLK_DAY = date(2026, 1, 19)  # a Monday holiday
GOOD_FRIDAY = date(2026, 4, 3)
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0), [MLK_DAY, GOOD_FRIDAY])


def ny(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NY)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# -- trading days ----------------------------------------------------------------------------


def test_weekends_and_holidays_are_not_trading_days() -> None:
    assert CALENDAR.is_trading_day(date(2026, 3, 13))  # Friday
    assert not CALENDAR.is_trading_day(date(2026, 3, 14))  # Saturday
    assert not CALENDAR.is_trading_day(date(2026, 3, 15))  # Sunday
    assert not CALENDAR.is_trading_day(MLK_DAY)


def test_saturday_belongs_to_fridays_trading_day() -> None:
    assert CALENDAR.trading_day(ny(2026, 3, 14, 12)) == date(2026, 3, 13)


def test_monday_before_the_open_belongs_to_the_previous_friday() -> None:
    assert CALENDAR.trading_day(ny(2026, 3, 16, 8)) == date(2026, 3, 13)


def test_a_trading_day_starts_exactly_at_its_open() -> None:
    assert CALENDAR.trading_day(ny(2026, 3, 16, 9, 29, 59)) == date(2026, 3, 13)
    assert CALENDAR.trading_day(ny(2026, 3, 16, 9, 30)) == date(2026, 3, 16)


def test_after_the_close_and_until_the_next_open_is_still_the_same_trading_day() -> None:
    assert CALENDAR.trading_day(ny(2026, 3, 17, 23, 59)) == date(2026, 3, 17)
    assert CALENDAR.trading_day(ny(2026, 3, 18, 3, 0)) == date(2026, 3, 17)


def test_a_holiday_is_skipped_back_to_the_last_session() -> None:
    # MLK day and the Tuesday morning after it both belong to Friday 2026-01-16.
    assert CALENDAR.trading_day(ny(2026, 1, 19, 12)) == date(2026, 1, 16)
    assert CALENDAR.trading_day(ny(2026, 1, 20, 8)) == date(2026, 1, 16)
    assert CALENDAR.previous_trading_day(date(2026, 1, 20)) == date(2026, 1, 16)
    assert CALENDAR.next_trading_day(date(2026, 1, 16)) == date(2026, 1, 20)


# -- opens -----------------------------------------------------------------------------------


def test_next_open_after_fridays_close_is_mondays_open() -> None:
    assert CALENDAR.next_open(ny(2026, 3, 13, 16)) == ny(2026, 3, 16, 9, 30)
    assert CALENDAR.next_open(ny(2026, 3, 14, 12)) == ny(2026, 3, 16, 9, 30)


def test_next_open_skips_a_monday_holiday() -> None:
    assert CALENDAR.next_open(ny(2026, 1, 16, 17)) == ny(2026, 1, 20, 9, 30)


def test_next_open_skips_a_friday_holiday_and_the_weekend() -> None:
    assert CALENDAR.next_open(ny(2026, 4, 2, 16, 30)) == ny(2026, 4, 6, 9, 30)


def test_next_open_is_todays_open_before_it_and_at_it() -> None:
    assert CALENDAR.next_open(ny(2026, 3, 16, 6)) == ny(2026, 3, 16, 9, 30)
    assert CALENDAR.next_open(ny(2026, 3, 16, 9, 30)) == ny(2026, 3, 16, 9, 30)
    assert CALENDAR.next_open(ny(2026, 3, 16, 9, 30, 1)) == ny(2026, 3, 17, 9, 30)


def test_latest_open_is_todays_once_open_else_the_previous_sessions() -> None:
    assert CALENDAR.latest_open(ny(2026, 3, 16, 9, 30)) == ny(2026, 3, 16, 9, 30)
    assert CALENDAR.latest_open(ny(2026, 3, 16, 9, 29)) == ny(2026, 3, 13, 9, 30)
    assert CALENDAR.latest_open(ny(2026, 1, 19, 11)) == ny(2026, 1, 16, 9, 30)


def test_is_open_includes_the_open_and_excludes_the_close() -> None:
    assert not CALENDAR.is_open(ny(2026, 3, 16, 9, 29, 59))
    assert CALENDAR.is_open(ny(2026, 3, 16, 9, 30))
    assert CALENDAR.is_open(ny(2026, 3, 16, 15, 59, 59))
    assert not CALENDAR.is_open(ny(2026, 3, 16, 16, 0))


def test_is_open_is_false_all_day_on_weekends_and_holidays() -> None:
    assert not CALENDAR.is_open(ny(2026, 3, 14, 12))
    assert not CALENDAR.is_open(ny(2026, 1, 19, 12))


def test_minutes_since_open_and_to_close() -> None:
    moment = ny(2026, 3, 16, 10, 0)
    assert CALENDAR.minutes_since_open(moment) == 30.0
    assert CALENDAR.minutes_to_close(moment) == 360.0


# -- daylight saving time --------------------------------------------------------------------
# New York moves to EDT on Sunday 2026-03-08 and back to EST on Sunday 2026-11-01.


def test_the_open_is_1430_utc_before_the_spring_change_and_1330_utc_after() -> None:
    assert CALENDAR.is_open(utc(2026, 3, 6, 14, 30))
    assert not CALENDAR.is_open(utc(2026, 3, 6, 14, 29, 59))
    assert CALENDAR.is_open(utc(2026, 3, 9, 13, 30))
    assert not CALENDAR.is_open(utc(2026, 3, 9, 13, 29, 59))
    assert CALENDAR.next_open(utc(2026, 3, 7)) == utc(2026, 3, 9, 13, 30)


def test_the_close_is_2000_utc_in_the_daylight_saving_week() -> None:
    assert CALENDAR.is_open(utc(2026, 3, 9, 19, 59, 59))
    assert not CALENDAR.is_open(utc(2026, 3, 9, 20, 0))
    assert CALENDAR.minutes_to_close(utc(2026, 3, 9, 19, 30)) == 30.0


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        # 00:30 New York on Monday 2026-03-09 is 04:30 UTC (EDT): still Friday's trading day,
        # although the UTC date is already Monday.
        (utc(2026, 3, 9, 4, 30), date(2026, 3, 6)),
        # 00:30 New York on Friday 2026-03-06 is 05:30 UTC (EST): Thursday's trading day.
        (utc(2026, 3, 6, 5, 30), date(2026, 3, 5)),
        # Monday's day starts at 09:30 EDT = 13:30 UTC, not at UTC midnight.
        (utc(2026, 3, 9, 13, 29, 59), date(2026, 3, 6)),
        (utc(2026, 3, 9, 13, 30), date(2026, 3, 9)),
        # 23:30 New York on Monday is 03:30 UTC on Tuesday: still Monday's day.
        (utc(2026, 3, 10, 3, 30), date(2026, 3, 9)),
        # After the autumn change the open is 14:30 UTC again.
        (utc(2026, 11, 2, 14, 29, 59), date(2026, 10, 30)),
        (utc(2026, 11, 2, 14, 30), date(2026, 11, 2)),
    ],
)
def test_the_trading_day_rolls_at_the_new_york_open_across_dst(moment: datetime, day: date) -> None:
    assert CALENDAR.trading_day(moment) == day


def test_sessions_are_expressed_in_the_exchange_zone() -> None:
    opened = CALENDAR.session_open(date(2026, 3, 9))
    assert opened.tzinfo is NY
    assert opened.utcoffset() is not None
    assert opened.astimezone(UTC) == utc(2026, 3, 9, 13, 30)
    assert CALENDAR.local(utc(2026, 3, 9, 4, 30)) == ny(2026, 3, 9, 0, 30)
    assert CALENDAR.local(utc(2026, 3, 9, 4, 30)).hour == 0
