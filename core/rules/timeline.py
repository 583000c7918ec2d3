"""One timeline per ledger (pure): time in a ledger only moves forward.

A run starts after the ledger's last record or not at all. A simulated run without ``--start``
on a ledger with records continues at the next session open after its last record (an empty
ledger: the open of the latest trading day, as before); a ``--start`` at or before the last
record is refused, saying what to do. A run whose clock comes from the broker (``--broker ib``,
anchored at TWS's current time) is refused when that clock is behind the ledger: a clock error.

No I/O: the engine reads the ledger's last record (``Ledger.last_record_time``) and turns a
refusal into ``db.refusals.TimelineRefused``. Called once, on the thread building the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.calendar import TradingCalendar

__all__ = ["BROKER_TIME_RESOLUTION", "TimelineRefusal", "broker_start", "sim_start"]

#: IB's current time (``reqCurrentTime``) is whole seconds: a broker clock read up to this much
#: behind the ledger's last record may be the same moment, and is not a clock error.
BROKER_TIME_RESOLUTION = timedelta(seconds=1)

_AFTER = timedelta(microseconds=1)  # the ledger keeps microseconds


@dataclass(frozen=True, slots=True)
class TimelineRefusal:
    """The run may not start on this ledger; ``reason`` is one line saying why and what to do."""

    reason: str


def sim_start(
    *,
    last_record: datetime | None,
    requested: datetime | None,
    calendar: TradingCalendar,
    now: datetime,
    ledger: str,
) -> datetime | TimelineRefusal:
    """Where a simulated run starts, or why it may not.

    Args:
        last_record: the ledger's latest record time (None: the ledger has no records).
        requested: ``--start`` (None: the ledger decides).
        calendar: the exchange's sessions (the answer's zone is ``calendar.tz``).
        now: the wall clock, for an empty ledger's default (the latest session open).
        ledger: how the refusal names the ledger (its URL, without a password).
    """
    if last_record is None:
        return requested if requested is not None else calendar.latest_open(now)
    last = calendar.local(last_record)
    following = calendar.next_open(last + _AFTER)
    if requested is None:
        return following
    if requested > last:
        return requested
    return TimelineRefusal(
        f"--start {calendar.local(requested).isoformat()} is not after the last record of the "
        f"ledger {ledger} ({last.isoformat()}): time in a ledger only moves forward; use a new "
        f"--db, or a --start after {last.isoformat()}, or no --start to continue at "
        f"{following.isoformat()}"
    )


def broker_start(
    *, last_record: datetime | None, broker_now: datetime, ledger: str
) -> datetime | TimelineRefusal:
    """The moment an engine whose clock the broker set (``broker_now``) runs from: the broker's
    time, or the ledger's last record when the broker's whole-second time is within
    ``BROKER_TIME_RESOLUTION`` behind it (so that no record goes before it); a refusal when
    the broker's clock is further behind the ledger."""
    if last_record is None or broker_now >= last_record:
        return broker_now
    last = last_record.astimezone(broker_now.tzinfo)
    if last - broker_now <= BROKER_TIME_RESOLUTION:
        return last
    return TimelineRefusal(
        f"the broker's clock says {broker_now.isoformat()} but the ledger {ledger} already "
        f"holds a record at {last.isoformat()}: a clock error on this machine or at the "
        "broker; nothing was sent (check the clocks, or use a new --db)"
    )
