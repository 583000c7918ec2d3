"""How old a position's mark is, and what an exit decision may do with an old one (pure).

A mark is the mid of the latest quote of the position's contract. When quotes stop (IB answered
a resubscription with 200 after a reconnect, a line limit, an entitlement, a silent feed after
1102) the mark freezes, and nothing on screen said so. Here every mark carries its age, and a
mark older than ``stale_mark_s`` while the market is open is *stale*.

What a stale mark may decide (``exit_policy``):

* A **protective stop** exit goes out, labelled. The mark was through the stop when last seen;
  the market has had time to move either way since, but waiting for a quote that may never
  come (the feed is the broken part) leaves a losing position unmanaged, and the exit order is
  worked at IB against the live book (a marketable limit re-priced to market), not at our
  frozen price. Closing late on old news is the smaller harm.
* A **time** or **session-close** exit goes out, labelled: it depends on the clock, not on the
  mark.
* A **profit target** waits for a fresh mark: it is an opportunity, not a protection, and a
  target seen on a frozen price may be one the market has long left (the buy-back limit would
  then sit unfilled, or fill at a price the engine never saw). Missing it costs only profit.

Delayed data (``Quote.data_type``) is labelled the same way on every exit it decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ACTS_ON_STALE", "MarkAge", "exit_note", "exit_policy", "mark_age"]

#: Exit reasons a stale mark may still trigger (labelled).
ACTS_ON_STALE = frozenset({"stop", "time", "session_close"})


@dataclass(frozen=True, slots=True)
class MarkAge:
    """``age_s``: clock seconds since the mark's quote (None: no mark yet); ``stale``: older
    than the limit while the market is open (counted from the session's open at the
    earliest, so yesterday's closing mark is not stale in the first minutes of the day)."""

    age_s: float | None
    stale: bool


def mark_age(
    mark_time: datetime | None,
    now: datetime,
    *,
    limit_s: float,
    market_open: bool,
    session_open: datetime,
) -> MarkAge:
    """The age of a mark taken at ``mark_time`` (None: never marked, which is not stale: there
    is no number on screen to mistrust)."""
    if mark_time is None:
        return MarkAge(None, False)
    age_s = max(0.0, (now - mark_time).total_seconds())
    since = max(mark_time, session_open)
    stale = market_open and (now - since).total_seconds() >= limit_s
    return MarkAge(age_s, stale)


def exit_policy(reason: str | None, age: MarkAge) -> str | None:
    """The exit to act on: ``reason`` unless the mark is stale and ``reason`` is not one a
    stale mark may trigger (then None: wait for a fresh mark)."""
    if reason is None or not age.stale or reason in ACTS_ON_STALE:
        return reason
    return None


def exit_note(age: MarkAge, *, delayed: bool) -> str:
    """What an exit decision must say about its mark ("" when it was fresh and live)."""
    parts = []
    if age.stale and age.age_s is not None:
        parts.append(f"stale mark, {age.age_s:.0f}s old")
    if delayed:
        parts.append("delayed data")
    return "; ".join(parts)
