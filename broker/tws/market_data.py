"""Market data for the simulated TWS: the latest book per contract, daily statistics, and the
``reqMktData`` subscriptions that turn them into ticks.

Threads: everything here runs on the server's event-loop thread (quotes from the simulator are
handed over with ``call_soon_threadsafe``), so nothing is locked.

The path is generic over instruments: subscriptions and books are keyed by conId, and what a
book sends is decided by ``MarketState.ticks``. A stock book sends bid/ask/last with sizes,
volume, high/low and the last timestamp (plus open and previous close on the first send);
options publish an ``OptionBook`` (``broker.tws.options``) that adds ``tickOptionComputation``
messages, and the hub needs no change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from broker.sim.market import to_cents
from broker.tws import messages as msg
from broker.tws.codec import Field
from broker.tws.contracts import Instrument, InstrumentRegistry
from broker.tws.entitlements import (
    DEFAULT_MAX_LINES,
    DELAYED_LAG_S,
    DelayLine,
    Entitlement,
    Grant,
    delayed_fields,
    grant,
)
from core.calendar import TradingCalendar
from core.domain import Quote

__all__ = ["DailyStats", "MarketDataHub", "MarketState", "MessageSink", "StockBook"]

#: Shares reported for each simulated print (the simulator does not model trade sizes).
PRINT_SIZE = 100

# Tick types (ib_async asserts that every type it receives is one it knows).
_BID, _ASK, _LAST, _HIGH, _LOW, _CLOSE, _OPEN = 1, 2, 4, 6, 7, 9, 14
_BID_SIZE, _ASK_SIZE, _LAST_SIZE, _VOLUME = 0, 3, 5, 8
_LAST_TIMESTAMP = 45


class MessageSink(Protocol):
    """Where a subscription's messages go (a client session)."""

    @property
    def session_id(self) -> int: ...

    def send(self, fields: list[Field]) -> None: ...


class MarketState(Protocol):
    """What one instrument's market looks like now, able to describe itself as ticks."""

    def ticks(self, req_id: int, *, first: bool) -> list[list[Field]]: ...


@dataclass(slots=True)
class DailyStats:
    """One symbol's trading-day statistics (mutable; owned by the hub)."""

    day: date | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: int = 0
    close: Decimal | None = None  # the previous session's last price
    last: Decimal | None = None

    def update(self, day: date, last: Decimal, size: int) -> None:
        """A print of ``size`` at ``last`` on trading day ``day`` (a new day rolls the stats
        and makes the previous last the close)."""
        if self.day is not None and day != self.day:
            self.close = self.last
            self.open = self.high = self.low = None
            self.volume = 0
        self.day = day
        if self.open is None:
            self.open = last
        self.high = last if self.high is None else max(self.high, last)
        self.low = last if self.low is None else min(self.low, last)
        self.volume += size
        self.last = last


@dataclass(frozen=True, slots=True)
class StockBook:
    """A stock's top of book and its day, as ticks."""

    quote: Quote
    stats: DailyStats

    def ticks(self, req_id: int, *, first: bool) -> list[list[Field]]:
        q, s = self.quote, self.stats
        bid, ask, last = to_cents(q.bid), to_cents(q.ask), to_cents(q.last)
        out = [
            msg.tick_price(req_id, _BID, bid, q.bid_size),
            msg.tick_price(req_id, _ASK, ask, q.ask_size),
            msg.tick_price(req_id, _LAST, last, PRINT_SIZE),
            msg.tick_size(req_id, _BID_SIZE, q.bid_size),
            msg.tick_size(req_id, _ASK_SIZE, q.ask_size),
            msg.tick_size(req_id, _LAST_SIZE, PRINT_SIZE),
            msg.tick_size(req_id, _VOLUME, s.volume),
        ]
        if s.high is not None and s.low is not None:
            out.append(msg.tick_price(req_id, _HIGH, s.high, 0))
            out.append(msg.tick_price(req_id, _LOW, s.low, 0))
        out.append(msg.tick_string(req_id, _LAST_TIMESTAMP, str(int(q.time.timestamp()))))
        if first:
            if s.open is not None:
                out.append(msg.tick_price(req_id, _OPEN, s.open, 0))
            if s.close is not None:
                out.append(msg.tick_price(req_id, _CLOSE, s.close, 0))
        return out


@dataclass(frozen=True, slots=True)
class _Subscription:
    sink: MessageSink
    req_id: int
    instrument: Instrument
    delayed: bool = False  # ticks go out as their delayed types (66-76, 80-83, 88)

    def send(self, fields: list[Field]) -> None:
        self.sink.send(delayed_fields(fields) if self.delayed else fields)


class MarketDataHub:
    """Books by conId and the streaming subscriptions fed from them (event-loop thread only).

    Args:
        registry: resolves the simulator's symbols to instruments.
        calendar: gives the trading day a quote belongs to (daily statistics roll on it).
        reference_prices: each symbol's starting price, reported as the previous close until a
            session has closed.
        entitlement: what the account may see (``broker.tws.entitlements``).
        max_lines: concurrent streams allowed over every session (IB's default 100); the next
            request gets error 101.
        delayed_lag_s: how late a delayed stream's market is (simulated seconds).
    """

    def __init__(
        self,
        registry: InstrumentRegistry,
        calendar: TradingCalendar,
        reference_prices: Mapping[str, Decimal],
        *,
        entitlement: Entitlement = "live",
        max_lines: int = DEFAULT_MAX_LINES,
        delayed_lag_s: float = DELAYED_LAG_S,
    ) -> None:
        self._registry = registry
        self._calendar = calendar
        self._stats = {
            inst.con_id: DailyStats(close=reference_prices.get(inst.symbol)) for inst in registry
        }
        self._books: dict[int, MarketState] = {}
        self._subs: dict[tuple[int, int], _Subscription] = {}
        self.quoting = True  # False: no ticks are sent (fault: stop quoting)
        # Symbols (a stock and its options) or option keys whose ticks are held back (fault).
        self.silent: set[str] = set()
        self.outage = False  # True between a 1100 notice and its 1101/1102
        self.entitlement: Entitlement = entitlement
        self.max_lines = max_lines
        self._requested: dict[int, int] = {}  # session id -> reqMarketDataType (default 1)
        self._delay: DelayLine[MarketState] = DelayLine(delayed_lag_s)
        #: Called with the instrument of every streaming subscription that ends.
        self.on_release: Callable[[Instrument], None] | None = None

    @property
    def live(self) -> bool:
        """Whether ticks go out now."""
        return self.quoting and not self.outage

    def on_quote(self, quote: Quote) -> None:
        """A new quote from the simulator: update the book and stream it to subscribers."""
        instrument = self._registry.by_symbol(quote.contract.symbol)
        stats = self._stats[instrument.con_id]
        stats.update(self._calendar.trading_day(quote.time), to_cents(quote.last), PRINT_SIZE)
        self.publish(instrument.con_id, StockBook(quote=quote, stats=stats))

    def publish(self, con_id: int, book: MarketState) -> None:
        """Make ``book`` the market of ``con_id`` and stream it to its subscribers (a delayed
        stream gets the market of ``delayed_lag_s`` ago)."""
        self._books[con_id] = book
        when = _time_of(book)
        if self.entitlement == "delayed" and when is not None:
            self._delay.record(con_id, when, book)
        if not self.live:
            return
        for sub in list(self._subs.values()):
            if sub.instrument.con_id == con_id and not self._silenced(sub.instrument):
                shown = self._delayed(con_id, book) if sub.delayed else book
                for fields in shown.ticks(sub.req_id, first=False):
                    sub.send(fields)

    def _delayed(self, con_id: int, book: MarketState) -> MarketState:
        when = _time_of(book)
        old = self._delay.as_of(con_id, when) if when is not None else None
        return old if old is not None else book

    def stop_quotes(self, symbol: str | None) -> None:
        """No more ticks for every contract (None), or for a stock and its options, or one
        option's contract key; until ``resume_quotes``."""
        if symbol is None:
            self.quoting = False
        else:
            self.silent.add(symbol)

    def resume_quotes(self, symbol: str | None) -> None:
        """Ticks again for everything (None also clears every per-symbol stop), or ``symbol``."""
        if symbol is None:
            self.quoting = True
            self.silent.clear()
        else:
            self.silent.discard(symbol)

    def _silenced(self, instrument: Instrument) -> bool:
        if not self.silent:
            return False
        return instrument.symbol in self.silent or instrument.contract().key in self.silent

    # -- entitlements ----------------------------------------------------------------------------
    def set_data_type(self, session_id: int, data_type: int) -> None:
        """``reqMarketDataType`` (message 59): the type the session's next requests ask for."""
        self._requested[session_id] = data_type

    def set_entitlement(self, entitlement: Entitlement) -> None:
        """Switch what the account may see; every open stream is granted again (a stream the
        new entitlement refuses gets the refusal's error and ends)."""
        self.entitlement = entitlement
        for key, sub in list(self._subs.items()):
            granted = grant(entitlement, self._requested.get(key[0], 1))
            if granted.refused:
                sub.sink.send(msg.error(sub.req_id, granted.error))
                del self._subs[key]
                self._released([sub])
            elif granted.delayed != sub.delayed:
                self._announce(sub.sink, sub.req_id, granted)
                self._subs[key] = _Subscription(
                    sub.sink, sub.req_id, sub.instrument, granted.delayed
                )

    @staticmethod
    def _announce(sink: MessageSink, req_id: int, granted: Grant) -> None:
        sink.send(msg.market_data_type(req_id, granted.data_type))
        if granted.notice:
            sink.send(msg.error(req_id, granted.notice))

    def has_book(self, con_id: int) -> bool:
        return con_id in self._books

    def stock_mid(self, symbol: str) -> float | None:
        """The mid of a stock's latest quote, None before it has one (or if unknown)."""
        try:
            book = self._books.get(self._registry.by_symbol(symbol).con_id)
        except KeyError:
            return None
        return book.quote.mid if isinstance(book, StockBook) else None

    def subscribe(
        self, sink: MessageSink, req_id: int, instrument: Instrument, *, snapshot: bool
    ) -> bool:
        """Answer ``reqMktData``: refused with the entitlement's error (354, 10089, 10168) or,
        beyond ``max_lines`` streams, 101; else market data type (and 10167 when delayed) and
        tick parameters, the current ticks (when quoting), then ``tickSnapshotEnd`` for a
        snapshot or a stream from here on. False when refused."""
        granted = grant(self.entitlement, self._requested.get(sink.session_id, 1))
        if granted.refused:
            sink.send(msg.error(req_id, granted.error))
            return False
        if not snapshot and len(self._subs) >= self.max_lines:
            sink.send(msg.error(req_id, 101))
            return False
        sub = _Subscription(sink, req_id, instrument, granted.delayed)
        self._announce(sink, req_id, granted)
        sink.send(msg.tick_req_params(req_id, instrument.min_tick))
        book = self._books.get(instrument.con_id)
        if book is not None and granted.delayed:
            book = self._delayed(instrument.con_id, book)
        quoting = self.live and not self._silenced(instrument)
        if book is not None and quoting:
            for fields in book.ticks(req_id, first=True):
                sub.send(fields)
        elif quoting:  # no quote yet (before the open): the previous close only
            stats = self._stats.get(instrument.con_id)
            close = stats.close if stats is not None else None
            if close is not None:
                sub.send(msg.tick_price(req_id, _CLOSE, close, 0))
        if snapshot:
            sink.send(msg.tick_snapshot_end(req_id))
            return True
        self._subs[(sink.session_id, req_id)] = sub
        return True

    def cancel(self, session_id: int, req_id: int) -> None:
        """``cancelMktData``: stop the stream (no answer; unknown ids are ignored)."""
        sub = self._subs.pop((session_id, req_id), None)
        if sub is not None:
            self._released([sub])

    def drop_session(self, session_id: int) -> None:
        """Forget every subscription of a closed session."""
        self._requested.pop(session_id, None)
        self._released([self._subs.pop(k) for k in [k for k in self._subs if k[0] == session_id]])

    def drop_all(self) -> int:
        """Forget every subscription (1101 "data lost": clients must resubscribe); the count."""
        subs = list(self._subs.values())
        self._subs.clear()
        self._released(subs)
        return len(subs)

    def _released(self, subs: list[_Subscription]) -> None:
        if self.on_release is not None:
            for sub in subs:
                self.on_release(sub.instrument)

    def subscription_count(self, session_id: int | None = None) -> int:
        """Active streams, of one session or of all."""
        if session_id is None:
            return len(self._subs)
        return sum(1 for k in self._subs if k[0] == session_id)

    def latest_time(self) -> datetime | None:
        """The time of the latest quote seen, None before the first."""
        times = [b.quote.time for b in self._books.values() if isinstance(b, StockBook)]
        return max(times) if times else None


def _time_of(book: MarketState) -> datetime | None:
    """The simulated time of a book's quote (stock and option books carry one)."""
    quote = getattr(book, "quote", None)
    return quote.time if isinstance(quote, Quote) else None
