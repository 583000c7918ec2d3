"""The simulated price process and quote generation.

Pure: no I/O, no threads, no clock. ``MarketModel`` is a plain object owned by whoever holds it
(``SimBroker`` keeps it under its lock and steps it on the clock thread); every random draw
comes from one ``random.Random(seed)``, in symbol order, so a seed gives the same path whatever
the wall speed.

Prices follow geometric Brownian motion per symbol::

    mid' = mid * exp((drift - vol**2 / 2) * dt + vol * sqrt(dt) * z),   z ~ N(0, 1)

with ``dt`` in years of *trading* time (``TRADING_SECONDS_PER_YEAR``: 252 sessions of 6.5 h).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.domain import Contract, Quote
from core.ticks import OPTION_CLASSES, STOCK, TickRule, default_rule

__all__ = [
    "CENT",
    "TRADING_DAY_YEARS",
    "TRADING_SECONDS_PER_YEAR",
    "MarketModel",
    "SimSymbol",
    "gbm_step",
    "quote_prices",
    "round_lot_size",
    "to_cents",
    "years_of_trading",
]

CENT = Decimal("0.01")
#: Seconds of trading in a year: 252 sessions of 6.5 hours.
TRADING_SECONDS_PER_YEAR: float = 252 * 6.5 * 3600
#: One trading day in years; the simulator's dt for a night or weekend gap.
TRADING_DAY_YEARS: float = 1.0 / 252
_LOT = 100


@dataclass(frozen=True, slots=True)
class SimSymbol:
    """One simulated stock.

    Attributes:
        symbol: the ticker (also the key in ``SimBroker``'s ``symbols`` mapping).
        price: the starting mid, dollars.
        volatility: annual volatility as a fraction (0.30 for 30 %).
        spread_bps: the quoted spread as basis points of the mid (at least one cent is quoted).
        display_size: the typical size shown at the bid and at the ask, shares (>= 100).
        option_ticks: the tick class of its options (``core.ticks.OPTION_CLASSES``):
            ``penny``, ``penny_all`` or ``nickel`` (the default, as for most US classes).
    """

    symbol: str
    price: float
    volatility: float
    spread_bps: float
    display_size: int = 500
    option_ticks: str = "nickel"

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("SimSymbol.symbol must not be empty")
        if not self.price > 0:
            raise ValueError(f"{self.symbol}: price must be > 0 (got {self.price})")
        if self.volatility < 0:
            raise ValueError(f"{self.symbol}: volatility must be >= 0 (got {self.volatility})")
        if self.spread_bps < 0:
            raise ValueError(f"{self.symbol}: spread_bps must be >= 0 (got {self.spread_bps})")
        if self.option_ticks not in OPTION_CLASSES:
            raise ValueError(
                f"{self.symbol}: option_ticks must be one of {', '.join(OPTION_CLASSES)} "
                f"(got {self.option_ticks!r})"
            )
        if self.display_size < _LOT:
            raise ValueError(
                f"{self.symbol}: display_size must be >= {_LOT} (got {self.display_size})"
            )


def years_of_trading(seconds: float) -> float:
    """``seconds`` of trading time expressed in years of trading time."""
    return seconds / TRADING_SECONDS_PER_YEAR


def gbm_step(
    mid: float, *, drift_annual: float, volatility: float, dt_years: float, z: float
) -> float:
    """One geometric-Brownian-motion step of ``dt_years`` driven by the standard normal ``z``."""
    if dt_years <= 0:
        return mid
    exponent = (drift_annual - 0.5 * volatility * volatility) * dt_years
    return mid * math.exp(exponent + volatility * math.sqrt(dt_years) * z)


def to_cents(price: float) -> Decimal:
    """A float price that is a whole number of cents (a quote's bid/ask/last) as a Decimal."""
    return Decimal(repr(price)).quantize(CENT)


def quote_prices(mid: float, spread_bps: float) -> tuple[Decimal, Decimal]:
    """Bid and ask around ``mid``: half the spread each side, bid rounded down and ask up to
    cents. The spread is ``spread_bps`` of the mid but at least one cent; the bid is at least one
    cent and the ask always above the bid."""
    half = max(mid * spread_bps / 20_000.0, 0.005)
    bid = max(Decimal(repr(mid - half)).quantize(CENT, rounding=ROUND_FLOOR), CENT)
    ask = Decimal(repr(mid + half)).quantize(CENT, rounding=ROUND_CEILING)
    if ask <= bid:
        ask = bid + CENT
    return bid, ask


def round_lot_size(display_size: int, rng: random.Random) -> int:
    """A displayed size drawn uniformly within +-50 % of ``display_size``, in round lots of 100
    shares and never below one lot."""
    lots = display_size / _LOT * rng.uniform(0.5, 1.5)
    return max(1, round(lots)) * _LOT


class MarketModel:
    """Mids and the latest quote of every simulated symbol.

    Not thread-safe: the owner serialises calls (``SimBroker`` holds its lock).

    Args:
        symbols: the simulated stocks by ticker; keys must equal ``SimSymbol.symbol``.
        seed: seeds the one random generator every draw comes from.
        drift_annual: the GBM drift shared by every symbol, per year (0.0 = driftless).

    Raises:
        ValueError: no symbols, or a key that differs from its ``SimSymbol.symbol``.
    """

    def __init__(
        self, symbols: Mapping[str, SimSymbol], *, seed: int, drift_annual: float = 0.0
    ) -> None:
        if not symbols:
            raise ValueError("the simulator needs at least one symbol")
        for key, spec in symbols.items():
            if key != spec.symbol:
                raise ValueError(
                    f"symbols key {key!r} differs from SimSymbol.symbol {spec.symbol!r}"
                )
        self._specs = {key: symbols[key] for key in sorted(symbols)}
        self._rng = random.Random(seed)
        self._drift = drift_annual
        self._mids = {key: spec.price for key, spec in self._specs.items()}
        self._contracts = {key: Contract.stock(key) for key in self._specs}
        self._quotes: dict[str, Quote] = {}
        self._pinned: set[str] = set()

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every simulated ticker, in symbol order."""
        return tuple(self._specs)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._specs

    def check_stock(self, contract: Contract) -> None:
        """Raises ValueError naming why ``contract`` is not a simulated stock."""
        if contract.sec_type != "STK":
            raise ValueError(
                f"unsupported instrument {contract.key!r}: the simulator quotes stocks "
                f"(STK) and listed options (OPT), not {contract.sec_type}"
            )
        if contract.symbol not in self._specs:
            raise ValueError(
                f"unknown symbol {contract.symbol!r}: simulated symbols are "
                f"{', '.join(self.symbols)}"
            )

    def contract(self, symbol: str) -> Contract:
        """The canonical stock contract of ``symbol`` (KeyError if unknown)."""
        return self._contracts[symbol]

    def mid(self, symbol: str) -> float:
        """The current mid of ``symbol`` (moves at once on ``set_mid``)."""
        return self._mids[symbol]

    def volatility(self, symbol: str) -> float:
        """The annual volatility ``symbol``'s mid moves with (KeyError if unknown)."""
        return self._specs[symbol].volatility

    def tick_rule(self, contract: Contract) -> TickRule:
        """The price increments of ``contract``: its symbol's option class for an option,
        the stock rule otherwise (and for a symbol that is not simulated)."""
        spec = self._specs.get(contract.symbol)
        if not contract.is_option:
            return STOCK
        return OPTION_CLASSES[spec.option_ticks] if spec is not None else default_rule(contract)

    def last_quote(self, symbol: str) -> Quote | None:
        """The latest quote of ``symbol``, None before the first step."""
        return self._quotes.get(symbol)

    def mark(self, symbol: str) -> Decimal:
        """The price positions are valued at: the latest quote's mid (exact, in half cents), or
        the current mid rounded to cents before any quote."""
        quote = self._quotes.get(symbol)
        if quote is None:
            return Decimal(repr(self._mids[symbol])).quantize(CENT)
        return (to_cents(quote.bid) + to_cents(quote.ask)) / 2

    def set_mid(self, symbol: str, price: float) -> None:
        """Move ``symbol``'s mid to ``price`` now; the next ``step`` quotes around exactly this mid
        (its random move is drawn but not applied, so other symbols' paths do not change).

        Raises:
            ValueError: unknown symbol or a price that is not > 0.
        """
        if symbol not in self._specs:
            raise ValueError(f"unknown symbol {symbol!r}: not one of the simulated symbols")
        if not price > 0:
            raise ValueError(f"{symbol}: price must be > 0 (got {price})")
        self._mids[symbol] = float(price)
        self._pinned.add(symbol)

    def step(self, *, dt_years: float, time: datetime) -> list[Quote]:
        """Advance every symbol by one GBM step of ``dt_years`` and quote it at ``time``.

        Returns:
            One new quote per symbol, in symbol order.
        """
        quotes: list[Quote] = []
        for symbol, spec in self._specs.items():
            z = self._rng.gauss(0.0, 1.0)
            if symbol in self._pinned:
                self._pinned.discard(symbol)
            else:
                self._mids[symbol] = gbm_step(
                    self._mids[symbol],
                    drift_annual=self._drift,
                    volatility=spec.volatility,
                    dt_years=dt_years,
                    z=z,
                )
            quote = self._make_quote(symbol, spec, time)
            self._quotes[symbol] = quote
            quotes.append(quote)
        return quotes

    def _make_quote(self, symbol: str, spec: SimSymbol, time: datetime) -> Quote:
        bid, ask = quote_prices(self._mids[symbol], spec.spread_bps)
        bid_size = round_lot_size(spec.display_size, self._rng)
        ask_size = round_lot_size(spec.display_size, self._rng)
        # The last trade printed somewhere inside the spread, on a cent.
        last = to_cents(self._rng.uniform(float(bid), float(ask)))
        last = min(max(last, bid), ask)
        return Quote(
            contract=self._contracts[symbol],
            bid=float(bid),
            ask=float(ask),
            bid_size=bid_size,
            ask_size=ask_size,
            last=float(last),
            time=time,
        )
