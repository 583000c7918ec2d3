"""Instruments the simulated TWS knows, how requests name them, and ``contractDetails``.

Pure: no I/O, no threads. Every simulated stock gets a stable contract id (a CRC of its symbol,
so the same config gives the same ids in every run), trades on SMART in USD with a primary
exchange, and is described by one ``contractDetails`` message. Requests name contracts with the
12 "C12" fields; ``InstrumentRegistry.match`` resolves them loosely, as TWS does (a conId wins;
otherwise symbol, security type, currency and exchange must agree where given).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from broker.sim.chains import plain_strike
from broker.sim.listings import primary_exchange as listed_on
from broker.sim.listings import primary_matches, routable
from broker.tws.codec import Field, FieldReader
from core.calendar import TradingCalendar
from core.domain import Contract
from core.ticks import NICKEL, OPTION_CLASSES, STOCK, TickRule

__all__ = [
    "MARKET_RULES",
    "SUPPORTED_ORDER_TYPES",
    "ContractQuery",
    "Instrument",
    "InstrumentMatcher",
    "InstrumentRegistry",
    "contract_details_fields",
    "market_rule_fields",
    "read_contract",
    "session_hours",
    "stock_con_id",
]

#: Order types the simulator executes (also advertised in contractDetails.orderTypes).
SUPPORTED_ORDER_TYPES = ("MKT", "LMT", "STP")
_SESSION_DAYS = 7  # calendar days of sessions listed in tradingHours / liquidHours


def stock_con_id(symbol: str) -> int:
    """A stable contract id for a simulated stock (same symbol, same id, every run)."""
    return 100_000_000 + zlib.crc32(f"STK:{symbol}".encode()) % 800_000_000


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract as TWS describes it.

    ``multiplier`` is ``""`` for stocks; options carry expiry, strike, right, "100" and their
    underlying's conId (see ``broker.tws.options``).
    """

    con_id: int
    symbol: str
    sec_type: str = "STK"
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    currency: str = "USD"
    local_symbol: str = ""
    trading_class: str = "NMS"
    long_name: str = ""
    industry: str = ""
    min_tick: Decimal = Decimal("0.01")
    under_con_id: int = 0  # options: the underlying stock's conId
    # The price increments orders must follow (error 110 otherwise), reported as its
    # marketRuleIds; for a stock, ``option_rule`` is the tick class of its options.
    tick_rule: TickRule = STOCK
    option_rule: TickRule = NICKEL

    def contract(self) -> Contract:
        """The simulator's contract for this instrument (an option's key matches the chain's,
        so positions, marks and orders meet under one key)."""
        if self.sec_type == "BAG":
            return Contract.combo(self.symbol)
        if self.sec_type != "OPT":
            return Contract.stock(self.symbol)
        day = self.last_trade_date
        return Contract.option(
            self.symbol,
            date(int(day[:4]), int(day[4:6]), int(day[6:8])),
            plain_strike(Decimal(repr(self.strike))),
            self.right,
            multiplier=int(self.multiplier or 100),
        )

    @property
    def multiplier_value(self) -> int:
        """Shares per contract: 1 for a stock, the option's multiplier (100) otherwise."""
        return int(self.multiplier) if self.multiplier else 1

    def contract_fields(self, exchange: str | None = None) -> list[Field]:
        """The 11-field contract block of openOrder, completedOrder, execDetails and position
        (no primaryExchange); ``exchange`` overrides the exchange field (``""`` for position)."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            self.strike,
            self.right,
            self.multiplier,
            self.exchange if exchange is None else exchange,
            self.currency,
            self.local_symbol or self.symbol,
            self.trading_class,
        ]

    def portfolio_fields(self) -> list[Field]:
        """The 11-field contract block of updatePortfolio (primaryExchange in place of
        exchange)."""
        fields = self.contract_fields()
        fields[7] = self.primary_exchange
        return fields


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """A contract as a request names it (the C12 fields; empty/zero = not given)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: Decimal | None = None
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    def describe(self) -> str:
        """A short human description for error texts."""
        parts = [self.sec_type or "?", self.symbol or f"conId {self.con_id}"]
        if self.exchange:
            parts.append(f"@{self.exchange}")
        if self.currency:
            parts.append(self.currency)
        return " ".join(parts)


def read_contract(reader: FieldReader) -> ContractQuery:
    """Read the 12 C12 fields every contract-bearing request carries."""
    con_id = reader.integer()
    symbol = reader.text()
    sec_type = reader.text()
    last_trade = reader.text()
    strike = reader.decimal()
    return ContractQuery(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date=last_trade,
        strike=strike if strike else None,
        right=reader.text(),
        multiplier=reader.text(),
        exchange=reader.text(),
        primary_exchange=reader.text(),
        currency=reader.text(),
        local_symbol=reader.text(),
        trading_class=reader.text(),
    )


class InstrumentMatcher(Protocol):
    """Resolves a contract a request names (``InstrumentRegistry`` for stocks; the hub's
    resolver adds the listed options)."""

    def match(self, query: ContractQuery) -> list[Instrument]: ...


class InstrumentRegistry:
    """Every simulated instrument, by conId and by symbol.

    Immutable after construction, so any thread may read it.

    Args:
        symbols: the simulated stock tickers.
        primary_exchange: the primary listing exchange reported for every stock; ``""`` (the
            default) reports each symbol's real listing (``broker.sim.listings``).
        industries: optional sector/industry name per symbol (contractDetails.industry).
        primary_exchanges: per-symbol listing overrides (win over the table).
        option_ticks: the tick class of each symbol's options (``core.ticks``
            ``OPTION_CLASSES`` names); ``nickel`` for a symbol not listed.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        primary_exchange: str = "",
        industries: Mapping[str, str] | None = None,
        primary_exchanges: Mapping[str, str] | None = None,
        option_ticks: Mapping[str, str] | None = None,
    ) -> None:
        industries = industries or {}
        option_ticks = option_ticks or {}
        by_con_id: dict[int, Instrument] = {}
        by_symbol: dict[str, Instrument] = {}
        for symbol in sorted(set(symbols)):
            con_id = stock_con_id(symbol)
            listing = primary_exchange or listed_on(symbol, primary_exchanges)
            while con_id in by_con_id:  # a CRC collision: the later symbol (sorted) moves up
                con_id += 1
            instrument = Instrument(
                con_id=con_id,
                symbol=symbol,
                primary_exchange=listing,
                local_symbol=symbol,
                trading_class="NMS" if listing == "NASDAQ" else symbol,
                long_name=f"{symbol} SIMULATED STOCK",
                industry=industries.get(symbol, ""),
                option_rule=OPTION_CLASSES[option_ticks.get(symbol, "nickel")],
            )
            by_con_id[con_id] = instrument
            by_symbol[symbol] = instrument
        self._by_con_id = by_con_id
        self._by_symbol = by_symbol

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def by_symbol(self, symbol: str) -> Instrument:
        """The stock ``symbol`` (KeyError if it is not simulated)."""
        return self._by_symbol[symbol]

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_con_id.get(con_id)

    def match(self, query: ContractQuery) -> list[Instrument]:
        """Every instrument ``query`` may mean: by conId when it has one, else by the fields it
        gives (symbol or localSymbol, security type, currency, exchange, trading class)."""
        if query.con_id > 0:
            found = self._by_con_id.get(query.con_id)
            return [found] if found is not None else []
        name = (query.symbol or query.local_symbol).upper()
        instrument = self._by_symbol.get(name)
        if instrument is None or not _fields_agree(query, instrument):
            return []
        return [instrument]


def _fields_agree(query: ContractQuery, instrument: Instrument) -> bool:
    checks = (
        (query.sec_type, instrument.sec_type),
        (query.currency, instrument.currency),
        (query.local_symbol, instrument.local_symbol),
        (query.trading_class, instrument.trading_class),
    )
    for given, actual in checks:
        if given and given.upper() != actual.upper():
            return False
    # primaryExchange filters by listing, independent of the route (broker.sim.listings).
    if not primary_matches(query.primary_exchange, instrument.primary_exchange):
        return False
    return routable(query.exchange, instrument.primary_exchange)


def session_hours(calendar: TradingCalendar, today: date, days: int = _SESSION_DAYS) -> str:
    """TWS's ``tradingHours`` text for ``days`` calendar days from ``today``:
    ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` per session, ``YYYYMMDD:CLOSED`` otherwise, ``;``-joined."""
    parts: list[str] = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        if not calendar.is_trading_day(day):
            parts.append(f"{day:%Y%m%d}:CLOSED")
            continue
        opens = calendar.session_open(day)
        closes = calendar.session_close(day)
        parts.append(f"{opens:%Y%m%d:%H%M}-{closes:%Y%m%d:%H%M}")
    return ";".join(parts)


def contract_details_fields(
    req_id: int,
    instrument: Instrument,
    *,
    calendar: TradingCalendar,
    now: datetime,
    exchange: str = "",
) -> list[Field]:
    """The ``contractDetails`` message (id 10, no version field at 178) for one instrument.

    Args:
        req_id: the request's id.
        instrument: what matched.
        calendar: supplies the time zone and the session hours.
        now: the simulated moment (the hours start at its exchange-local date).
        exchange: the exchange the request named (echoed; SMART when empty).
    """
    hours = session_hours(calendar, calendar.local(now).date())
    option = instrument.sec_type == "OPT"
    venues = ["CBOE", "ISE", "PHLX"] if option else [instrument.primary_exchange, "ISLAND"]
    valid_exchanges = ["SMART", *venues]
    valid_exchanges = list(dict.fromkeys(valid_exchanges))
    rules = ",".join(str(instrument.tick_rule.rule_id) for _ in valid_exchanges)
    return [
        10,
        req_id,
        instrument.symbol,
        instrument.sec_type,
        instrument.last_trade_date,
        instrument.strike,
        instrument.right,
        exchange or instrument.exchange,
        instrument.currency,
        instrument.local_symbol or instrument.symbol,
        instrument.trading_class,  # marketName
        instrument.trading_class,
        instrument.con_id,
        instrument.min_tick,
        instrument.multiplier,
        ",".join(SUPPORTED_ORDER_TYPES),
        ",".join(valid_exchanges),
        1,  # priceMagnifier
        instrument.under_con_id,  # underConId
        instrument.long_name,
        instrument.primary_exchange,
        instrument.last_trade_date[:6],  # contractMonth
        instrument.industry,
        instrument.industry,  # category
        "",  # subcategory
        calendar.tz.key,
        hours,
        hours,  # liquidHours: the regular session
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList count
        1,  # aggGroup
        instrument.symbol if option else "",  # underSymbol
        "STK" if option else "",  # underSecType
        rules,
        instrument.last_trade_date,  # realExpirationDate
        "COMMON" if instrument.sec_type == "STK" else "",
        1,  # minSize
        1,  # sizeIncrement
        100,  # suggestedSizeIncrement
    ]


#: The market rules the simulated TWS answers ``reqMarketRule`` with, by id.
MARKET_RULES: dict[int, TickRule] = {
    rule.rule_id: rule for rule in (STOCK, *OPTION_CLASSES.values()) if rule.rule_id is not None
}


def market_rule_fields(rule_id: int) -> list[Field] | None:
    """The ``marketRule`` message (93) for ``rule_id``: its price bands as (lowEdge,
    increment) pairs; None for an id the simulator does not define."""
    rule = MARKET_RULES.get(rule_id)
    if rule is None:
        return None
    fields: list[Field] = [93, rule_id, len(rule.bands)]
    for band in rule.bands:
        fields += [float(band.low_edge), float(band.increment)]
    return fields
