"""``keepUpToDate`` historical data: after the bars, the newest bar again on every quote.

Threads: event-loop thread only (the hub calls ``on_quote`` after the history recorded the
quote; requests and cancels come from the router; a closed session is dropped).

TWS answers ``reqHistoricalData(..., keepUpToDate=True)`` with the bars, then keeps sending
``historicalDataUpdate`` (90) with the bar that is forming (the same label again while it
forms, then the next one) until ``cancelHistoricalData`` (25). The fields, as ib_async's
``decoder.historicalDataUpdate`` and IB's ``processHistoricalDataUpdateMsg`` read them:
``90, reqId, barCount, date, open, close, high, low, WAP, volume``. IB requires an empty
endDateTime for it (the request handler refuses one with 321).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from broker.tws.codec import Field
from broker.tws.history import PriceHistory
from broker.tws.history_bars import BarSpec, bar_fields, bar_label
from broker.tws.market_data import MessageSink
from core.calendar import TradingCalendar
from core.domain import Quote

__all__ = ["HistoryStreams"]


@dataclass(frozen=True, slots=True)
class _Stream:
    session: MessageSink
    req_id: int
    symbol: str
    step: int  # bar seconds; 0 = daily
    spec: BarSpec


class HistoryStreams:
    """Open ``keepUpToDate`` requests (event-loop thread only)."""

    def __init__(self, history: PriceHistory, calendar: TradingCalendar) -> None:
        self._history = history
        self._calendar = calendar
        self._streams: dict[tuple[int, int], _Stream] = {}

    def open(
        self, session: MessageSink, req_id: int, symbol: str, step: int, spec: BarSpec
    ) -> None:
        self._streams[(session.session_id, req_id)] = _Stream(session, req_id, symbol, step, spec)

    def cancel(self, session_id: int, req_id: int) -> None:
        """``cancelHistoricalData``: no more updates for that request."""
        self._streams.pop((session_id, req_id), None)

    def drop_session(self, session_id: int) -> None:
        for key in [k for k in self._streams if k[0] == session_id]:
            del self._streams[key]

    def count(self) -> int:
        return len(self._streams)

    def on_quote(self, quote: Quote) -> None:
        """Send the forming bar of ``quote``'s symbol to each of its streams."""
        if not self._streams or not self._calendar.is_open(quote.time):
            return
        for stream in [s for s in self._streams.values() if s.symbol == quote.contract.symbol]:
            update = self._update(stream, quote.time)
            if update is not None:
                stream.session.send(update)

    def _update(self, stream: _Stream, now: datetime) -> list[Field] | None:
        label = bar_label(now, self._calendar, stream.step)
        start = self._calendar.session_open(label.date()) if stream.step == 0 else label
        minutes = list(
            self._history.minutes(stream.symbol, start, now + timedelta(minutes=1))
        )  # the forming minute included
        if not minutes:
            return None
        date_text, o, h, lo, c, volume, wap, count = bar_fields(
            label, minutes, stream.spec, daily=stream.step == 0, calendar=self._calendar
        )
        return [90, stream.req_id, count, date_text, o, c, h, lo, wap, volume]
