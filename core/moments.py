"""What a moment typed on the command line may be: a year a market could have traded in, and
where a ``--start`` with no session (a weekend, a holiday, after the close) really starts.

``datetime`` accepts years 1 to 9999, and the clock, the calendar and the ledger then overflow
(``9999-12-31T23:59`` plus a tick) or trade with fills dated year 1. The commands that take a
moment (``run --start/--until``, ``tws-sim --start``) refuse one outside ``FIRST_YEAR`` to
``LAST_YEAR`` in one line. Pure: no I/O, any thread.
"""

from __future__ import annotations

from datetime import datetime

from core.calendar import TradingCalendar

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_SPEED",
    "moment_out_of_range",
    "session_start",
    "speed_out_of_range",
]

FIRST_YEAR = 1990
LAST_YEAR = 2100
MAX_SPEED = 100_000.0
"""The fastest ``--speed`` (x real time) a simulated clock runs at."""


def moment_out_of_range(option: str, moment: datetime) -> str | None:
    """Why ``moment`` (given as ``option``) cannot be used, in one line; None when it can."""
    if FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    return (
        f"{option}: {moment.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR} "
        "(a typo in the year?)"
    )


def speed_out_of_range(option: str, speed: float) -> str | None:
    """Why ``speed`` cannot be used (not a finite number in (0, ``MAX_SPEED``]); None when it
    can."""
    if 0 < speed <= MAX_SPEED:  # also false for nan; inf is above the maximum
        return None
    return f"{option}: must be > 0 and <= {MAX_SPEED:.0f} (got {speed:g})"


def session_start(calendar: TradingCalendar, start: datetime) -> tuple[datetime, str | None]:
    """Where a run asked to start at ``start`` starts: ``start`` itself on a trading day before
    its close (before the open it waits for the open), else the next session open, with the
    one line that says why (a weekend, a holiday, after the close)."""
    local = calendar.local(start)
    day = local.date()
    if calendar.is_trading_day(day) and local < calendar.session_close(day):
        return start, None
    opens = calendar.next_open(local)
    if day.weekday() >= 5:
        why = f"no session on {day} ({local:%A})"
    elif day in calendar.holidays:
        why = f"no session on {day} (a holiday in engine.holidays)"
    else:
        why = f"no session after the close on {day} ({calendar.close_time:%H:%M})"
    return opens, f"{why}: the run starts at the next open {opens:%Y-%m-%dT%H:%M}"
