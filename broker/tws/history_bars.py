"""Historical bars from one-minute history: grouping minutes into bars and spelling a bar's
fields as IB's ``historicalData`` and ``historicalDataUpdate`` carry them.

Pure: no I/O, no threads. Intraday bars are aligned to the clock from midnight, exchange time
(a session's first bar is labelled with the open, as IB labels it: 09:30 for the hourly bar of
09:30-10:00); daily bars are labelled ``YYYYMMDD``. TRADES bars are the last prices with volume,
WAP and trade count; MIDPOINT bars the mids with -1 for those three; BID_ASK bars IB's way:
open = time-average bid, high = max ask, low = min bid, close = time-average ask.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from broker.tws.codec import Field
from broker.tws.history import Minute
from core.calendar import TradingCalendar

__all__ = ["BarSpec", "bar_fields", "bar_label", "group_bars", "stamp"]


class BarSpec(Protocol):
    """What a bar's spelling depends on (a ``HistoryRequest``)."""

    @property
    def what(self) -> str: ...

    @property
    def format_date(self) -> int: ...


def stamp(moment: datetime, calendar: TradingCalendar) -> str:
    local = calendar.local(moment)
    return f"{local:%Y%m%d %H:%M:%S} {calendar.tz.key}"


def bar_label(moment: datetime, calendar: TradingCalendar, step: int) -> datetime:
    """The label (exchange time) of the bar of ``step`` seconds holding ``moment``; ``step``
    0 is a daily bar (labelled at midnight)."""
    local = calendar.local(moment)
    return _label(local, step, calendar.session_open(local.date()))


def _label(local: datetime, step: int, session_open: datetime) -> datetime:
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if step == 0:
        return midnight
    offset = int((local - midnight).total_seconds()) // step * step
    return max(midnight + timedelta(seconds=offset), session_open)


def group_bars(
    minutes: Iterable[Minute], calendar: TradingCalendar, step: int
) -> list[tuple[datetime, list[Minute]]]:
    """Minutes grouped into bars of ``step`` seconds (0: daily), oldest first."""
    bars: dict[datetime, list[Minute]] = {}
    # One zone conversion and one session look-up per UTC hour, not per minute.
    hours: dict[datetime, tuple[datetime, datetime]] = {}
    for minute in minutes:
        hour = minute.start.replace(minute=0, second=0, microsecond=0)
        known = hours.get(hour)
        if known is None:
            local_hour = calendar.local(hour)
            known = hours[hour] = (local_hour, calendar.session_open(local_hour.date()))
        local = known[0] + (minute.start - hour)
        bars.setdefault(_label(local, step, known[1]), []).append(minute)
    return list(bars.items())


def bar_fields(
    label: datetime,
    group: list[Minute],
    req: BarSpec,
    *,
    daily: bool,
    calendar: TradingCalendar,
) -> list[Field]:
    """One bar's eight fields (date, open, high, low, close, volume, wap, count)."""
    what = req.what
    if daily:
        date_text = f"{label:%Y%m%d}"
    elif req.format_date == 2:
        date_text = str(int(label.timestamp()))
    else:
        date_text = f"{label:%Y%m%d %H:%M:%S} {calendar.tz.key}"
    if what == "BID_ASK":
        n = len(group)
        bid = sum(m.bid for m in group) / n
        ask = sum(m.ask for m in group) / n
        high = max(m.high_ask for m in group)
        low = min(m.low_bid for m in group)
        return [date_text, _px(bid), _px(high), _px(low), _px(ask), -1, -1, -1]
    trades = what in ("TRADES", "ADJUSTED_LAST")
    ohlc = [m.last if trades else m.mid for m in group]
    o, c = ohlc[0][0], ohlc[-1][3]
    h, lo = max(x[1] for x in ohlc), min(x[2] for x in ohlc)
    if not trades:
        return [date_text, _px(o, 3), _px(h, 3), _px(lo, 3), _px(c, 3), -1, -1, -1]
    volume = sum(m.volume for m in group)
    wap = sum(x[3] * m.volume for x, m in zip(ohlc, group, strict=True)) / max(volume, 1)
    count = sum(m.count for m in group)
    return [date_text, _px(o), _px(h), _px(lo), _px(c), volume, round(wap, 4), count]


def _px(value: float, places: int = 2) -> float:
    return round(value, places)
