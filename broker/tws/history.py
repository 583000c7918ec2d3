"""The simulated TWS's price history: what ``reqHistoricalData`` bars are built from.

Threads: event-loop thread only (the hub feeds quotes; the request handler reads).

Two sources, joined at the simulator's start (``anchor``, where the simulator's own path begins
at the symbol's configured price):

* **Recorded** (from the start on): every stock quote the simulator streams is folded into a
  one-minute record (mid, last, bid and ask), so bars of the simulated session agree with the
  quotes a client saw; the newest bar closes at the current quote.
* **Synthetic** (before the start): a deterministic random walk of one-minute log returns per
  regular session minute plus an overnight gap per trading day, drawn from
  ``random.Random(crc32(seed, symbol, day))`` with the symbol's volatility (per minute
  ``vol / sqrt(252 * 390)``, per night half a day's), walked *backwards* from the anchor so the
  last synthetic minute closes exactly at the configured price. The same seed gives the same
  past in every run and whatever was requested before.

Only regular trading hours exist (the simulator has no extended session), so ``useRTH`` 0 and 1
give the same bars. ``PriceHistory.minutes`` yields ``Minute`` records oldest first for a time
range; ``PriceHistory.sessions`` yields one record per session (what daily bars need, without a
year of minute records).
"""

from __future__ import annotations

import math
import random
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from broker.sim import SimSymbol
from core.calendar import TradingCalendar
from core.domain import Quote

__all__ = ["HISTORY_YEARS", "Minute", "PriceHistory"]

_MINUTES_PER_YEAR = 252 * 390
_GAP_SHARE = 0.5  # the night's volatility as a share of one trading day's
_WICK = 0.6  # a minute's high/low reach beyond its open/close, in minute sigmas (at most)
_DAY_CACHE = 800  # synthetic days kept (LRU): three years of sessions
#: How far back the history goes before the anchor (``reqHeadTimeStamp`` reports it).
HISTORY_YEARS = 3


@dataclass(frozen=True, slots=True)
class Minute:
    """One minute of one symbol (prices in dollars; ``start`` is UTC).

    ``mid`` and ``last`` are (open, high, low, close); ``bid``/``ask`` are time averages;
    ``low_bid``/``high_ask`` the extremes; ``volume`` shares; ``count`` trades."""

    start: datetime
    mid: tuple[float, float, float, float]
    last: tuple[float, float, float, float]
    bid: float
    ask: float
    low_bid: float
    high_ask: float
    volume: int
    count: int


class _Acc:
    """A minute being recorded from quotes (mutable; loop thread only)."""

    __slots__ = ("ask", "bid", "high_ask", "last", "low_bid", "mid", "n", "volume")

    def __init__(self, quote: Quote) -> None:
        mid, last = quote.mid, quote.last
        self.mid = [mid, mid, mid, mid]
        self.last = [last, last, last, last]
        self.bid = quote.bid
        self.ask = quote.ask
        self.low_bid = quote.bid
        self.high_ask = quote.ask
        self.n = 1
        self.volume = max(quote.bid_size + quote.ask_size, 2) // 2

    def add(self, quote: Quote) -> None:
        for ohlc, price in ((self.mid, quote.mid), (self.last, quote.last)):
            ohlc[1] = max(ohlc[1], price)
            ohlc[2] = min(ohlc[2], price)
            ohlc[3] = price
        self.bid += quote.bid
        self.ask += quote.ask
        self.low_bid = min(self.low_bid, quote.bid)
        self.high_ask = max(self.high_ask, quote.ask)
        self.n += 1
        self.volume += max(quote.bid_size + quote.ask_size, 2) // 2

    def minute(self, start: datetime) -> Minute:
        m, t = self.mid, self.last
        return Minute(
            start,
            (m[0], m[1], m[2], m[3]),
            (t[0], t[1], t[2], t[3]),
            self.bid / self.n,
            self.ask / self.n,
            self.low_bid,
            self.high_ask,
            self.volume,
            self.n,
        )


@dataclass(frozen=True, slots=True)
class _Day:
    """One synthetic session: the night's gap and, per minute, log offsets from the day's
    first open (closes, highs, lows) and a volume."""

    gap: float
    closes: array[float]
    highs: array[float]
    lows: array[float]
    volumes: array[int]


class PriceHistory:
    """Recorded and synthetic one-minute history of every simulated stock.

    Args:
        symbols: the simulated stocks (price at the start, volatility, spread, display size).
        calendar: sessions and time zone.
        anchor: the simulator's start (its path begins at each symbol's price there).
        seed: the market seed (the synthetic past is a function of it).
    """

    def __init__(
        self,
        symbols: Mapping[str, SimSymbol],
        calendar: TradingCalendar,
        anchor: datetime,
        seed: int,
    ) -> None:
        self._symbols = dict(symbols)
        self._calendar = calendar
        self.anchor = anchor.astimezone(UTC)
        self._seed = seed
        self._recorded: dict[str, dict[datetime, _Acc]] = {s: {} for s in symbols}
        self._days: OrderedDict[tuple[str, date], _Day] = OrderedDict()
        self._anchor_day, self._anchor_minutes = self._anchor_position()
        first = calendar.local(anchor).date().replace(day=1) - timedelta(days=365 * HISTORY_YEARS)
        while not calendar.is_trading_day(first):
            first += timedelta(days=1)
        #: The first moment with data (the open of the first session of the history).
        self.head = calendar.session_open(first).astimezone(UTC)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._symbols

    # -- recording -------------------------------------------------------------------------------
    def on_quote(self, quote: Quote) -> None:
        """Fold a stock quote into its minute (quotes outside the session are not bars)."""
        book = self._recorded.get(quote.contract.symbol)
        if book is None or quote.time < self.anchor or not self._calendar.is_open(quote.time):
            return
        start = quote.time.astimezone(UTC).replace(second=0, microsecond=0)
        acc = book.get(start)
        if acc is None:
            book[start] = _Acc(quote)
        else:
            acc.add(quote)

    # -- reading ---------------------------------------------------------------------------------
    def minutes(self, symbol: str, start: datetime, end: datetime) -> Iterator[Minute]:
        """Every minute of ``symbol`` that starts in [start, end), oldest first."""
        start, end = max(start.astimezone(UTC), self.head), end.astimezone(UTC)
        if start < self.anchor:
            yield from self._synthetic(symbol, start, min(end, self.anchor))
        if end > self.anchor:
            book = self._recorded[symbol]
            for moment in sorted(k for k in book if start <= k < end):
                yield book[moment].minute(moment)

    def _anchor_position(self) -> tuple[date, int]:
        """The trading day whose first ``n`` minutes are the last synthetic ones (n may be the
        whole session: the anchor is at or after that day's close)."""
        cal = self._calendar
        local = cal.local(self.anchor)
        day = local.date()
        if cal.is_trading_day(day) and self.anchor > cal.session_open(day):
            opens, closes = cal.session_open(day), cal.session_close(day)
            if self.anchor >= closes:
                return day, _session_minutes(cal, day)
            return day, int((self.anchor - opens).total_seconds() // 60)
        return cal.previous_trading_day(day), _session_minutes(cal, cal.previous_trading_day(day))

    def _spans(
        self, symbol: str, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, float, _Day, int, int]]:
        """Per synthetic session touching [start, end), oldest first: its open (UTC), the log
        price at its first minute's open, its draws, and the minute indexes [k_from, k_to)
        inside the range."""
        spec = self._symbols[symbol]
        cal = self._calendar
        first_day = cal.local(start).date()
        # Walk back from the anchor: the log open of each day down to the first one asked.
        log_close = math.log(spec.price)  # the close of the last synthetic minute
        day, count = self._anchor_day, self._anchor_minutes
        opens: list[tuple[date, float, int]] = []  # (day, log open of its first minute, minutes)
        while day >= first_day:
            drawn = self._day(symbol, day)
            log_open = log_close - (drawn.closes[count - 1] if count else 0.0)
            opens.append((day, log_open, count))
            log_close = log_open - drawn.gap
            day = cal.previous_trading_day(day)
            count = _session_minutes(cal, day)
        for day, log_open, count in reversed(opens):
            session_open = cal.session_open(day).astimezone(UTC)
            k_from = max(0, math.ceil((start - session_open).total_seconds() / 60))
            k_to = min(count, math.ceil((end - session_open).total_seconds() / 60))
            if k_from < k_to:
                yield session_open, log_open, self._day(symbol, day), k_from, k_to

    def _synthetic(self, symbol: str, start: datetime, end: datetime) -> Iterator[Minute]:
        half = max(self._symbols[symbol].spread_bps / 20_000.0, 0.0)
        for session_open, log_open, drawn, k_from, k_to in self._spans(symbol, start, end):
            previous = log_open + (drawn.closes[k_from - 1] if k_from else 0.0)
            for k in range(k_from, k_to):
                o = math.exp(previous)
                c = math.exp(log_open + drawn.closes[k])
                h = math.exp(log_open + drawn.highs[k])
                lo = math.exp(log_open + drawn.lows[k])
                previous = log_open + drawn.closes[k]
                spread = max(c * half, 0.005)
                volume = drawn.volumes[k]
                yield Minute(
                    session_open + timedelta(minutes=k),
                    (o, h, lo, c),
                    (o, h, lo, c),
                    c - spread,
                    c + spread,
                    lo - spread,
                    h + spread,
                    volume,
                    max(volume // 100, 1),
                )

    def sessions(self, symbol: str, start: datetime, end: datetime) -> Iterator[Minute]:
        """Like ``minutes`` but one record per synthetic session part and per recorded
        session (its ``start`` is its first minute): what daily bars are built from, without a
        year of minute records."""
        start, end = max(start.astimezone(UTC), self.head), end.astimezone(UTC)
        if start < self.anchor:
            half = max(self._symbols[symbol].spread_bps / 20_000.0, 0.0)
            for session_open, log_open, drawn, k_from, k_to in self._spans(
                symbol, start, min(end, self.anchor)
            ):
                o = math.exp(log_open + (drawn.closes[k_from - 1] if k_from else 0.0))
                c = math.exp(log_open + drawn.closes[k_to - 1])
                h = math.exp(log_open + max(drawn.highs[k_from:k_to]))
                lo = math.exp(log_open + min(drawn.lows[k_from:k_to]))
                mid = (o + c) / 2
                spread = max(mid * half, 0.005)
                volume = sum(drawn.volumes[k_from:k_to])
                yield Minute(
                    session_open + timedelta(minutes=k_from),
                    (o, h, lo, c),
                    (o, h, lo, c),
                    mid - spread,
                    mid + spread,
                    lo - spread,
                    h + spread,
                    volume,
                    max(volume // 100, 1),
                )
        if end > self.anchor:
            day: date | None = None
            group: list[Minute] = []
            for minute in self.minutes(symbol, max(start, self.anchor), end):
                local_day = self._calendar.local(minute.start).date()
                if group and local_day != day:
                    yield _merge(group)
                    group = []
                day = local_day
                group.append(minute)
            if group:
                yield _merge(group)

    def _day(self, symbol: str, day: date) -> _Day:
        key = (symbol, day)
        cached = self._days.get(key)
        if cached is not None:
            self._days.move_to_end(key)
            return cached
        spec = self._symbols[symbol]
        sigma = spec.volatility / math.sqrt(_MINUTES_PER_YEAR)
        rng = random.Random(zlib.crc32(f"{self._seed}:{symbol}:{day.isoformat()}".encode()))
        gap = rng.gauss(0.0, spec.volatility / math.sqrt(252) * _GAP_SHARE)
        n = _session_minutes(self._calendar, day)
        closes, highs, lows = array("d"), array("d"), array("d")
        volumes = array("q")
        gauss, uniform = rng.gauss, rng.random
        level = 0.0
        for _ in range(n):
            after = level + gauss(0.0, sigma)
            highs.append(max(level, after) + uniform() * _WICK * sigma)
            lows.append(min(level, after) - uniform() * _WICK * sigma)
            closes.append(after)
            volumes.append(int(spec.display_size * (2 + 4 * uniform())))
            level = after
        drawn = _Day(gap, closes, highs, lows, volumes)
        self._days[key] = drawn
        if len(self._days) > _DAY_CACHE:
            self._days.popitem(last=False)
        return drawn


def _merge(group: list[Minute]) -> Minute:
    """Consecutive minutes as one record (time-averaged bid and ask)."""
    n = len(group)
    return Minute(
        group[0].start,
        (group[0].mid[0], max(m.mid[1] for m in group), min(m.mid[2] for m in group),
         group[-1].mid[3]),
        (group[0].last[0], max(m.last[1] for m in group), min(m.last[2] for m in group),
         group[-1].last[3]),
        sum(m.bid for m in group) / n,
        sum(m.ask for m in group) / n,
        min(m.low_bid for m in group),
        max(m.high_ask for m in group),
        sum(m.volume for m in group),
        sum(m.count for m in group),
    )  # fmt: skip


def _session_minutes(calendar: TradingCalendar, day: date) -> int:
    seconds = (calendar.session_close(day) - calendar.session_open(day)).total_seconds()
    return int(seconds // 60)
