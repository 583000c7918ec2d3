"""What a moment typed on the command line may be: a year a market could have traded in.

``datetime`` accepts years 1 to 9999, and the clock, the calendar and the ledger then overflow
(``9999-12-31T23:59`` plus a tick) or trade with fills dated year 1. The commands that take a
moment (``run --start/--until``, ``tws-sim --start``) refuse one outside ``FIRST_YEAR`` to
``LAST_YEAR`` in one line. Pure: no I/O, any thread.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["FIRST_YEAR", "LAST_YEAR", "MAX_SPEED", "moment_out_of_range", "speed_out_of_range"]

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
