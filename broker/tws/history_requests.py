"""``reqHistoricalData`` (20) and ``reqHeadTimeStamp`` (87) of the simulated TWS: parse the
request, apply IB's pacing rules, and answer with bars from ``PriceHistory``.

Threads: event-loop thread only.

Answers, at server version 178 (ib_async ``decoder.historicalData``; IB's
``processHistoricalDataMsg`` before ``MIN_SERVER_VER_HISTORICAL_DATA_END``):
``17, reqId, startDateStr, endDateStr, barCount, (date, open, high, low, close, volume, wap,
count) x n``. Dates: ``YYYYMMDD`` for daily bars; intraday ``YYYYMMDD HH:MM:SS <tz>`` (formatDate
1, the exchange's zone) or epoch seconds (formatDate 2). ``headTimestamp`` is ``88, reqId, date``.

What is served: stocks; bar sizes 1/2/3/5/10/15/20/30 mins, 1/2/3/4/8 hours and 1 day;
durations ``N S|D|W|M|Y`` (``D`` counts trading sessions back from the end, including the
end's own session once it has opened: our reading of IB's "N D", under which "2 D" on a
Monday gives Friday and Monday; more than 365 D must be asked in years, 321, as at IB;
``W``/``M``/``Y`` are calendar weeks, months and years);
whatToShow TRADES (= ADJUSTED_LAST: the simulated stocks pay no dividends), MIDPOINT and BID_ASK
(IB's definition: open = time-average bid, high = max ask, low = min bid, close = time-average
ask). MIDPOINT and BID_ASK bars carry volume, WAP and count -1 as IB sends them.
``keepUpToDate`` streams the forming bar after the bars (``broker.tws.history_streams``); it
needs an empty endDateTime, as at IB. Validation failures (a bad duration, an end date with
``keepUpToDate``) are IB's error 321 "Error validating request" (the cause text is ours); note
that ib_async counts 321 as a warning (``wrapper.py`` ``warningCodes``) and leaves such a
request to its own timeout, exactly as against TWS.

Pacing (IB "Historical Data Limitations", TWS API docs, paraphrased): a pacing violation occurs
when a client (1) makes identical historical data requests within 15 seconds; (2) makes six or
more historical data requests for the same contract, exchange and tick type within two seconds;
(3) makes more than 60 requests within any ten-minute period; a BID_ASK request counts twice.
The violating request is answered with error 162 "Historical Market Data Service error
message:Historical data request pacing violation" and no bars (refused requests do not count).
Times are the simulator's clock (at speed 1 the same as IB's wall clock). The rules apply to the
whole simulated TWS, across client ids, as IB applies them per session.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broker.tws import messages as msg
from broker.tws.codec import Field, FieldReader
from broker.tws.combos import is_combo
from broker.tws.contracts import ContractQuery, InstrumentRegistry, read_contract
from broker.tws.history import PriceHistory
from broker.tws.history_bars import bar_fields, group_bars, stamp
from broker.tws.history_streams import HistoryStreams
from broker.tws.market_data import MessageSink
from core.calendar import TradingCalendar

__all__ = ["HistoryDesk", "HistoryRequest", "read_history_request"]

_HMDS = "Historical Market Data Service error message:"
_PACING = f"{_HMDS}Historical data request pacing violation"
_BAR_SECONDS = {
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900,
    "20 mins": 1200, "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800,
    "4 hours": 14400, "8 hours": 28800, "1 day": 0,
}  # fmt: skip
_WHAT = frozenset({"TRADES", "ADJUSTED_LAST", "MIDPOINT", "BID_ASK"})
_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")
#: Trading minutes an intraday request may span: about three months (0.5 s of work on the
#: event loop at most); longer intraday requests get 162 "Time length exceed max." and must be
#: split, as IB's own per-bar-size duration limits require. Daily bars may span the whole
#: history (``HISTORY_YEARS``).
_MAX_MINUTES = 30_000
_TRADING_SHARE = (390 / 1440) * (5 / 7)  # trading minutes per calendar minute, roughly
_IDENTICAL_S = 15.0
_BURST_S, _BURST_MAX = 2.0, 5  # six or more within two seconds is a violation
_WINDOW_S, _WINDOW_MAX = 600.0, 60


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """A parsed ``reqHistoricalData``."""

    req_id: int
    contract: ContractQuery
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what: str
    format_date: int
    keep_up_to_date: bool


def read_history_request(r: FieldReader) -> HistoryRequest:
    """Parse ``reqHistoricalData`` after its message id (no version field at 178)."""
    req_id = r.integer()
    contract = read_contract(r)
    r.skip()  # includeExpired
    end, bar_size, duration = r.text(), r.text(), r.text()
    use_rth = r.boolean()
    what = r.text().strip().upper()
    format_date = r.integer(1)
    if is_combo(contract.sec_type):
        r.skip(4 * r.integer())
    keep = r.boolean()
    return HistoryRequest(
        req_id,
        contract,
        end.strip(),
        " ".join(bar_size.lower().split()),
        duration.strip().upper(),
        use_rth,
        what,
        format_date,
        keep,
    )


class _Pacing:
    """IB's three historical-data pacing rules (see the module docstring)."""

    def __init__(self) -> None:
        self._log: deque[tuple[datetime, tuple[object, ...], tuple[object, ...], int]] = deque()

    def admit(self, key: tuple[object, ...], family: tuple[object, ...], weight: int,
              now: datetime) -> bool:  # fmt: skip
        while self._log and (now - self._log[0][0]).total_seconds() > _WINDOW_S:
            self._log.popleft()
        recent = [(t, k, f) for t, k, f, _ in self._log]
        if any(k == key and (now - t).total_seconds() < _IDENTICAL_S for t, k, _ in recent):
            return False
        burst = sum(1 for t, _, f in recent if f == family and (now - t).total_seconds() < _BURST_S)
        if burst >= _BURST_MAX:
            return False
        if sum(w for *_, w in self._log) + weight > _WINDOW_MAX:
            return False
        self._log.append((now, key, family, weight))
        return True


class HistoryDesk:
    """Answers historical data requests (event-loop thread only).

    Args:
        registry: the simulated stocks (what a request may name).
        calendar: sessions and the exchange's time zone.
        history: the recorded and synthetic minutes.
        now: the simulated time.
    """

    def __init__(
        self,
        registry: InstrumentRegistry,
        calendar: TradingCalendar,
        history: PriceHistory,
        now: Callable[[], datetime],
    ) -> None:
        self._registry = registry
        self._calendar = calendar
        self._history = history
        self._now = now
        self._pacing = _Pacing()
        self.streams = HistoryStreams(history, calendar)

    def request(self, session: MessageSink, req: HistoryRequest) -> None:
        """Answer ``req`` on ``session``; a ``keepUpToDate`` request that got bars then streams
        its forming bar."""
        reply = self.historical_data(req)
        session.send(reply)
        if req.keep_up_to_date and reply[0] == 17:
            (instrument,) = self._registry.match(req.contract)
            step = _BAR_SECONDS[req.bar_size]
            self.streams.open(session, req.req_id, instrument.symbol, step, req)

    def historical_data(self, req: HistoryRequest) -> list[Field]:
        """The answer to one request: bars, or an error carrying its request id."""
        req_id = req.req_id
        if is_combo(req.contract.sec_type):
            return msg.error(req_id, 162, f"{_HMDS}combo (BAG) history is not simulated")
        matches = self._registry.match(req.contract)
        if len(matches) != 1:
            return msg.error(req_id, 200)
        symbol = matches[0].symbol
        problem = self._problem(req)
        if problem is not None:
            return msg.error(req_id, *problem)
        now = self._now()
        key = (symbol, req.end, req.bar_size, req.duration, req.use_rth, req.what)
        family = (symbol, req.contract.exchange.upper(), req.what)
        if not self._pacing.admit(key, family, 2 if req.what == "BID_ASK" else 1, now):
            return msg.error(req_id, 162, _PACING)
        end = _parse_end(req.end, self._calendar, now)
        if end is None:
            return msg.error(req_id, 10314, "End Date/Time: The date, time, or time-zone entered "
                             f"is invalid ({req.end!r}).")  # fmt: skip
        end = min(end, now)
        start = self._start(end, req.duration)
        step = _BAR_SECONDS[req.bar_size]
        if step and (end - start).total_seconds() / 60 * _TRADING_SHARE > _MAX_MINUTES:
            return msg.error(req_id, 162, f"{_HMDS}Time length exceed max.")
        source = self._history.sessions if step == 0 else self._history.minutes
        minutes = source(symbol, start, end)
        bars = group_bars(minutes, self._calendar, step)
        if not bars:
            return msg.error(req_id, 162, f"{_HMDS}HMDS query returned no data: {symbol}")
        rows: list[Field] = []
        for label, group in bars:
            rows += bar_fields(label, group, req, daily=step == 0, calendar=self._calendar)
        return [17, req_id, stamp(start, self._calendar), stamp(end, self._calendar),
                len(bars), *rows]  # fmt: skip

    def head_timestamp(self, req_id: int, contract: ContractQuery, format_date: int) -> list[Field]:
        """``headTimestamp``: the first moment of the history (error 200 for an unknown
        contract)."""
        if len(self._registry.match(contract)) != 1:
            return msg.error(req_id, 200)
        head = self._history.head
        text = str(int(head.timestamp())) if format_date == 2 else stamp(head, self._calendar)
        return [88, req_id, text]

    def _problem(self, req: HistoryRequest) -> tuple[int, str] | None:
        if req.keep_up_to_date and req.end:
            cause = "keepUpToDate requires an empty endDateTime"
            return 321, f"Error validating request:-'bP' : cause - {cause}"
        if req.bar_size not in _BAR_SECONDS:
            sizes = ", ".join(_BAR_SECONDS)
            return 162, f"{_HMDS}bar size {req.bar_size!r} is not simulated ({sizes})"
        if req.what not in _WHAT:
            shown = ", ".join(sorted(_WHAT))
            return 162, f"{_HMDS}whatToShow {req.what} is not simulated ({shown})"
        match = _DURATION.match(req.duration)
        if match is None:
            cause = f"Invalid duration {req.duration!r} (an integer and S, D, W, M or Y)"
            return 321, f"Error validating request:-'bP' : cause - {cause}"
        if match.group(2) == "D" and int(match.group(1)) > 365:
            cause = (
                "Historical data requests for durations longer than 365 days must be made in years"
            )
            return 321, f"Error validating request:-'bP' : cause - {cause}"
        return None

    def _start(self, end: datetime, duration: str) -> datetime:
        match = _DURATION.match(duration)
        assert match is not None
        count, unit = int(match.group(1)), match.group(2)
        if unit == "S":
            return end - timedelta(seconds=count)
        if unit == "W":
            return end - timedelta(weeks=count)
        if unit == "M":
            return _months_back(end, count)
        if unit == "Y":
            return _months_back(end, 12 * count)
        cal = self._calendar  # "D": trading sessions back, the end's own once it has opened
        day = cal.local(end).date()
        if not cal.is_trading_day(day) or end <= cal.session_open(day):
            day = cal.previous_trading_day(day)
        for _ in range(max(count, 1) - 1):
            day = cal.previous_trading_day(day)
        return cal.session_open(day)


def _months_back(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, 28)
    return moment.replace(year=year, month=month + 1, day=day)


def _parse_end(text: str, calendar: TradingCalendar, now: datetime) -> datetime | None:
    """IB's endDateTime: empty (now), ``YYYYMMDD HH:MM:SS [zone]``, ``YYYYMMDD-HH:MM:SS`` (UTC)
    or ``YYYYMMDD`` (that day's end, exchange time). None when malformed."""
    if not text:
        return now
    try:
        if "-" in text and " " not in text:
            return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        parts = text.split()
        if len(parts) == 1 and len(parts[0]) == 8:
            day = datetime.strptime(f"{parts[0]} 23:59:59", "%Y%m%d %H:%M:%S")  # noqa: DTZ007
            return day.replace(tzinfo=calendar.tz)
        moment = datetime.strptime(f"{parts[0]} {parts[1]}", "%Y%m%d %H:%M:%S")  # noqa: DTZ007
        zone = calendar.tz if len(parts) == 2 else ZoneInfo(parts[2])
        return moment.replace(tzinfo=zone)
    except (ValueError, IndexError, ZoneInfoNotFoundError):
        return None
