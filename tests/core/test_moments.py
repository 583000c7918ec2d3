"""Moments typed on the command line (``core.moments``): the years a market traded in, the
speeds a clock runs at, and where a ``--start`` with no session really starts (issue 15,
items 10 and 11)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.calendar import TradingCalendar
from core.moments import moment_out_of_range, session_start, speed_out_of_range

NY = ZoneInfo("America/New_York")
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0), [date(2026, 11, 26)])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


@pytest.mark.parametrize(
    ("start", "line"),
    [
        (
            "2026-12-05T09:30",
            "no session on 2026-12-05 (Saturday): the run starts at the next open 2026-12-07T09:30",
        ),
        (
            "2026-12-06T23:00",
            "no session on 2026-12-06 (Sunday): the run starts at the next open 2026-12-07T09:30",
        ),
        (
            "2026-11-26T10:00",
            "no session on 2026-11-26 (a holiday in engine.holidays): the run starts at the next "
            "open 2026-11-27T09:30",
        ),
        (
            "2026-11-16T16:00",
            "no session after the close on 2026-11-16 (16:00): the run starts at the next open "
            "2026-11-17T09:30",
        ),
        (
            "2026-12-04T20:00",
            "no session after the close on 2026-12-04 (16:00): the run starts at the next open "
            "2026-12-07T09:30",
        ),
    ],
)
def test_a_start_with_no_session_moves_to_the_next_open_and_says_so(start: str, line: str) -> None:
    moved, said = session_start(CALENDAR, at(start))
    assert said == line
    assert moved == at(line.rsplit(" ", 1)[1])


@pytest.mark.parametrize("start", ["2026-11-16T08:00", "2026-11-16T09:30", "2026-11-16T15:59"])
def test_a_start_on_a_trading_day_before_its_close_is_kept(start: str) -> None:
    assert session_start(CALENDAR, at(start)) == (at(start), None)


def test_years_outside_1990_to_2100_and_speeds_no_clock_runs_at_are_named() -> None:
    assert moment_out_of_range("--start", at("2026-11-16T09:30")) is None
    assert moment_out_of_range("--until", at("9999-12-31T23:59")) == (
        "--until: 9999-12-31T23:59:00-05:00 is outside the years 1990 to 2100 (a typo in the year?)"
    )
    assert speed_out_of_range("--speed", 100_000.0) is None
    for speed in (0.0, -1.0, float("inf"), float("nan"), 1e12):
        assert speed_out_of_range("--speed", speed) == (
            f"--speed: must be > 0 and <= 100000 (got {speed:g})"
        )
