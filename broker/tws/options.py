"""Option chains of the simulated TWS: listed options as instruments, contract look-ups, the
``reqSecDefOptParams`` answer, and option books that stream as ticks with model greeks.

Threads: ``OptionListing`` belongs to the server's event-loop thread (it caches instruments
without a lock); ``OptionSource`` is the simulator (``SimBroker``, which locks itself).

Listed options come from the simulator's chains (``SimBroker.option_chain``): expirations,
strikes around the spot, Black-Scholes quotes and greeks. Each option gets a stable contract id
(a CRC of its key), so the same option has the same id in every run.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Protocol

from broker.sim.chains import plain_strike
from broker.sim.market import to_cents
from broker.tws import messages as msg
from broker.tws.codec import Field
from broker.tws.contracts import ContractQuery, Instrument, InstrumentRegistry
from core.domain import Contract, Quote

__all__ = [
    "InstrumentResolver",
    "OptionBook",
    "OptionListing",
    "OptionSource",
    "option_con_id",
    "option_instrument",
    "sec_def_opt_params",
]

#: Exchanges an option request may name besides SMART (US option venues).
OPTION_EXCHANGES = frozenset(
    {
        "SMART",
        "CBOE",
        "CBOE2",
        "ISE",
        "PHLX",
        "AMEX",
        "BOX",
        "MIAX",
        "PSE",
        "BATS",
        "NASDAQOM",
        "EDGX",
        "GEMINI",
        "MERCURY",
        "PEARL",
    }
)
_MULTIPLIER = 100
_RIGHTS = {"P": "P", "PUT": "P", "C": "C", "CALL": "C"}

# Tick types (see market_data.py for the stock ones).
_BID, _ASK, _LAST = 1, 2, 4
_BID_SIZE, _ASK_SIZE, _LAST_SIZE = 0, 3, 5
_MODEL_OPTION = 13
_CALL_OPEN_INTEREST, _PUT_OPEN_INTEREST = 27, 28
_LAST_TIMESTAMP = 45
_NOT_COMPUTED = -1.0  # impliedVol / optPrice / pvDividend / undPrice sentinel
_NOT_COMPUTED_GREEK = -2.0  # delta / gamma / vega / theta sentinel


class OptionSource(Protocol):
    """The simulator's option side (``SimBroker``; any thread)."""

    def option_chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]: ...

    def subscribe_quotes(self, contracts: Iterable[Contract]) -> None: ...

    def unsubscribe_quotes(self, contracts: Iterable[Contract]) -> None: ...


def option_con_id(contract: Contract) -> int:
    """A stable contract id for a listed option (disjoint from the stocks' 1e8..9e8 range)."""
    return 1_000_000_000 + zlib.crc32(f"OPT:{contract.key}".encode()) % 1_000_000_000


def option_instrument(contract: Contract, underlying: Instrument) -> Instrument:
    """The instrument TWS describes for the listed option ``contract`` on ``underlying``."""
    assert contract.expiry is not None and contract.strike is not None
    assert contract.right is not None
    strike = plain_strike(contract.strike)
    occ = f"{contract.symbol:<6}{contract.expiry:%y%m%d}{contract.right}"
    occ += f"{int(strike * 1000):08d}"
    return Instrument(
        con_id=option_con_id(contract),
        symbol=contract.symbol,
        sec_type="OPT",
        last_trade_date=f"{contract.expiry:%Y%m%d}",
        strike=float(strike),
        right=contract.right,
        multiplier=str(contract.multiplier),
        # An equity option's primaryExchange is reported as its underlying's listing (not one
        # option venue for every class), so a client that qualifies the underlying as
        # Stock(symbol, "SMART", primaryExchange=<option's>) finds it.
        primary_exchange=underlying.primary_exchange,
        currency=contract.currency,
        local_symbol=occ,
        trading_class=contract.symbol,
        long_name=underlying.long_name,
        industry=underlying.industry,
        under_con_id=underlying.con_id,
        min_tick=underlying.option_rule.smallest,
        tick_rule=underlying.option_rule,
    )


def sec_def_opt_params(
    req_id: int, underlying: Instrument, expirations: Iterable[date], strikes: Iterable[Decimal]
) -> list[Field]:
    """``securityDefinitionOptionParameter`` (75) for the SMART exchange."""
    exps = sorted({f"{e:%Y%m%d}" for e in expirations})
    strike_list = sorted(set(strikes))
    fields: list[Field] = [75, req_id, "SMART", underlying.con_id, underlying.symbol]
    fields += [str(_MULTIPLIER), len(exps), *exps, len(strike_list)]
    fields += [float(s) for s in strike_list]
    return fields


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class OptionBook:
    """An option's latest quote with its model greeks, as ticks (a ``MarketState``)."""

    quote: Quote
    und_price: float | None

    def ticks(self, req_id: int, *, first: bool) -> list[list[Field]]:
        q = self.quote
        out: list[list[Field]] = [
            msg.tick_price(req_id, _BID, to_cents(q.bid), q.bid_size),
            msg.tick_price(req_id, _ASK, to_cents(q.ask), q.ask_size),
            msg.tick_price(req_id, _LAST, to_cents(q.last), 1),
            msg.tick_size(req_id, _BID_SIZE, q.bid_size),
            msg.tick_size(req_id, _ASK_SIZE, q.ask_size),
            msg.tick_size(req_id, _LAST_SIZE, 1),
            self.model_greeks(req_id),
        ]
        interest = _CALL_OPEN_INTEREST if q.contract.right == "C" else _PUT_OPEN_INTEREST
        out.append(msg.tick_size(req_id, interest, q.open_interest))
        out.append(msg.tick_string(req_id, _LAST_TIMESTAMP, str(int(q.time.timestamp()))))
        return out

    def model_greeks(self, req_id: int) -> list[Field]:
        """``tickOptionComputation`` (21, no version at 178), tick type 13 (model), attribute
        0: impliedVol, delta, optPrice, pvDividend, gamma, vega, theta, undPrice."""
        q = self.quote
        return [
            21,
            req_id,
            _MODEL_OPTION,
            0,
            round(_or(q.iv, _NOT_COMPUTED), 6),
            round(_or(q.delta, _NOT_COMPUTED_GREEK), 6),
            round(q.mid, 4),
            0.0,  # pvDividend: the simulated stocks pay none
            round(_or(q.gamma, _NOT_COMPUTED_GREEK), 6),
            round(_or(q.vega, _NOT_COMPUTED_GREEK), 6),
            round(_or(q.theta, _NOT_COMPUTED_GREEK), 6),
            round(_or(self.und_price, _NOT_COMPUTED), 4),
        ]


class OptionListing:
    """Resolves option contracts against the simulator's chains (event-loop thread only).

    Args:
        registry: the simulated stocks (the underlyings).
        source: the simulator's chains and option quote subscriptions.
    """

    def __init__(self, registry: InstrumentRegistry, source: OptionSource) -> None:
        self._registry = registry
        self.source = source
        self._by_con_id: dict[int, tuple[Instrument, Contract]] = {}

    def underlying(self, symbol: str) -> Instrument | None:
        try:
            return self._registry.by_symbol(symbol.upper())
        except KeyError:
            return None

    def by_con_id(self, con_id: int) -> tuple[Instrument, Contract] | None:
        """An option seen before (listed, qualified or quoted), by contract id."""
        return self._by_con_id.get(con_id)

    def remember(self, contract: Contract) -> Instrument | None:
        """The instrument of ``contract`` (cached by conId); None for an unknown underlying."""
        known = self._by_con_id.get(option_con_id(contract))
        if known is not None:
            return known[0]
        underlying = self.underlying(contract.symbol)
        if underlying is None:
            return None
        instrument = option_instrument(contract, underlying)
        self._by_con_id[instrument.con_id] = (instrument, contract)
        return instrument

    def chain(
        self,
        symbol: str,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """The simulator's listed options of ``symbol`` now (empty before its first quote)."""
        try:
            return self.source.option_chain(
                symbol, right=right, min_expiry=min_expiry, max_expiry=max_expiry
            )
        except ValueError:
            return []

    def sec_def_params(self, req_id: int, symbol: str, con_id: int) -> list[Field] | None:
        """The ``securityDefinitionOptionParameter`` message for an underlying (by symbol, or
        by conId when the symbol is empty); None if it lists no options."""
        underlying: Instrument | None = None
        if con_id > 0:
            underlying = self._registry.by_con_id(con_id)
        if underlying is None:
            underlying = self.underlying(symbol)
        if underlying is None or (symbol and symbol.upper() != underlying.symbol):
            return None
        quotes = self.chain(underlying.symbol, right="C")
        if not quotes:
            return None
        expirations = {q.contract.expiry for q in quotes if q.contract.expiry is not None}
        strikes = {q.contract.strike for q in quotes if q.contract.strike is not None}
        return sec_def_opt_params(req_id, underlying, expirations, strikes)

    def match(self, query: ContractQuery) -> list[tuple[Instrument, Quote | None]]:
        """Every listed option ``query`` may mean, with its quote now (None for a conId hit of
        an option no longer in the chain window)."""
        if query.con_id > 0:
            known = self._by_con_id.get(query.con_id)
            if known is None:
                return []
            instrument, contract = known
            quotes = self.chain(
                contract.symbol,
                right=contract.right,
                min_expiry=contract.expiry,
                max_expiry=contract.expiry,
            )
            quote = next((q for q in quotes if q.contract.key == contract.key), None)
            return [(instrument, quote)]
        if not _query_agrees(query):
            return []
        right = _RIGHTS.get(query.right.upper()) if query.right else None
        if query.right and right is None:
            return []
        day = _expiry(query.last_trade_date)
        quotes = self.chain(
            (query.symbol or query.trading_class).upper(),
            right=right,
            min_expiry=day,
            max_expiry=day,
        )
        month = query.last_trade_date[:6] if len(query.last_trade_date) == 6 else ""
        out: list[tuple[Instrument, Quote | None]] = []
        for quote in quotes:
            contract = quote.contract
            if query.strike is not None and contract.strike != query.strike:
                continue
            if month and f"{contract.expiry:%Y%m}" != month:
                continue
            found = self.remember(contract)
            if found is not None:
                out.append((found, quote))
        return out


class InstrumentResolver:
    """Stocks from the registry, then listed options from the listing: what an order or a
    contract look-up may name (an ``InstrumentMatcher``; event-loop thread only)."""

    def __init__(self, registry: InstrumentRegistry, listing: OptionListing | None) -> None:
        self._registry = registry
        self._listing = listing

    def match(self, query: ContractQuery) -> list[Instrument]:
        matches = self._registry.match(query)
        if matches or self._listing is None:
            return matches
        if query.sec_type.upper() == "OPT" or query.con_id > 0:
            return [instrument for instrument, _ in self._listing.match(query)]
        return []


def _expiry(text: str) -> date | None:
    if len(text) < 8:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _query_agrees(query: ContractQuery) -> bool:
    """Whether the fields an option query gives besides symbol/expiry/strike/right fit."""
    if query.sec_type.upper() != "OPT" or not (query.symbol or query.trading_class):
        return False
    if query.last_trade_date and len(query.last_trade_date) not in (6, 8):
        return False
    if len(query.last_trade_date) == 8 and _expiry(query.last_trade_date) is None:
        return False
    if query.multiplier:
        try:
            if Decimal(query.multiplier) != _MULTIPLIER:
                return False
        except InvalidOperation:
            return False
    checks = (
        (query.currency, "USD"),
        (query.trading_class, query.symbol or query.trading_class),
    )
    if any(given and given.upper() != actual.upper() for given, actual in checks):
        return False
    return not query.exchange or query.exchange.upper() in OPTION_EXCHANGES
