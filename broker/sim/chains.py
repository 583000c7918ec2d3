"""Simulated option chains: listed expirations and strikes, skewed implied volatility, and
quotes with greeks, spreads, sizes and open interest derived from the underlying's mid.

Pure functions plus ``OptionMarket``, a plain object owned by ``SimBroker`` (called under its
lock, on whichever thread holds it). Prices decay with the clock: time to expiry is measured
from ``now`` to the session close of the expiration day, in calendar years.

* Expirations: the next ``weekly_expirations`` Fridays, the third Fridays of the next
  ``monthly_expirations`` months, and LEAPS: the January third Fridays of the
  ``leaps_expirations`` years after the last listed monthly, as US equity option chains list
  them (weeklies for a few weeks, monthlies for about a year, January LEAPS two to three years
  out; Cboe "LEAPS" product page and OCC's expiration calendar). An expiration on an exchange
  holiday moves to the trading day before it.
* Strikes: multiples of ``strike_step(spot)`` within ``strike_range_pct`` of the spot.
* Implied volatility: the underlying's volatility times ``iv_premium``, with a skew (puts below
  the spot are richer) and a smile, floored at half the at-the-money level.
* Spread: ``spread_pct`` of the mid (at least ``min_spread``), wider away from the money and for
  short expirations. Open interest peaks at the money and is doubled for monthlies.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from broker.sim.market import CENT, MarketModel
from broker.sim.options import DAYS_PER_YEAR, bs_greeks
from core.calendar import TradingCalendar
from core.domain import Contract, Quote

__all__ = [
    "OptionMarket",
    "OptionSpec",
    "expirations",
    "implied_vol",
    "is_monthly",
    "listed_expiry",
    "option_spread",
    "plain_strike",
    "strike_step",
    "strikes_around",
    "third_friday",
]

_FRIDAY = 4
_SECONDS_PER_YEAR = DAYS_PER_YEAR * 86_400.0
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """The simulated option market's parameters (``[sim.options]``).

    Attributes:
        rate: risk-free rate, annual fraction.
        iv_premium: at-the-money implied volatility over the underlying's volatility.
        skew: IV grows by this times the log-moneyness below the spot (puts richer below).
        smile: IV grows by this times the squared log-moneyness (both wings).
        weekly_expirations / monthly_expirations: how many of each are listed.
        leaps_expirations: January expirations listed beyond the last monthly (one a year).
        strike_range_pct: strikes listed within this percent of the spot.
        spread_pct: bid/ask spread as percent of the mid, at the money, 30+ days out.
        min_spread: the narrowest spread quoted, dollars.
        otm_widening: the spread grows by this times |ln(strike / spot)| (0.1 -> +50 % at 5).
        short_dte_widening: the spread grows by this divided by the days to expiry (min 1).
        display_size: typical contracts shown at the bid and at the ask.
        open_interest_atm: open interest of an at-the-money weekly, contracts.
    """

    rate: float = 0.04
    iv_premium: float = 1.10
    skew: float = 1.0
    smile: float = 2.0
    weekly_expirations: int = 6
    monthly_expirations: int = 12
    leaps_expirations: int = 2
    strike_range_pct: float = 20.0
    spread_pct: float = 4.0
    min_spread: float = 0.05
    otm_widening: float = 5.0
    short_dte_widening: float = 3.0
    display_size: int = 50
    open_interest_atm: int = 5000


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month: the standard monthly expiration."""
    first = date(year, month, 1)
    offset = (_FRIDAY - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def listed_expiry(calendar: TradingCalendar, friday: date) -> date:
    """The expiration day for a Friday: the Friday, or the trading day before a holiday."""
    return friday if calendar.is_trading_day(friday) else calendar.previous_trading_day(friday)


def is_monthly(calendar: TradingCalendar, expiry: date) -> bool:
    """Whether ``expiry`` is its month's standard (third-Friday) expiration."""
    return listed_expiry(calendar, third_friday(expiry.year, expiry.month)) == expiry


def expirations(
    calendar: TradingCalendar,
    now: datetime,
    *,
    weeklies: int,
    monthlies: int,
    leaps: int = 0,
) -> list[date]:
    """The expirations listed at ``now``, soonest first: one that has reached its session
    close is gone. ``leaps`` January expirations follow the last monthly (the next Januaries
    after it, one per year)."""
    local = calendar.local(now)
    today = local.date()

    def alive(expiry: date) -> bool:
        return expiry > today or (expiry == today and local < calendar.session_close(expiry))

    out: set[date] = set()
    friday = today + timedelta(days=(_FRIDAY - today.weekday()) % 7)
    while len(out) < weeklies:
        expiry = listed_expiry(calendar, friday)
        if alive(expiry):
            out.add(expiry)
        friday += timedelta(days=7)
    year, month, found = today.year, today.month, 0
    while found < monthlies:
        expiry = listed_expiry(calendar, third_friday(year, month))
        if alive(expiry):
            out.add(expiry)
            found += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    # (year, month) is now the month after the last monthly: LEAPS are the Januaries after it.
    first_leap_year = year if month == 1 else year + 1
    for offset in range(leaps):
        out.add(listed_expiry(calendar, third_friday(first_leap_year + offset, 1)))
    return sorted(out)


def strike_step(spot: float) -> Decimal:
    """The strike increment listed around ``spot``."""
    if spot < 25:
        return Decimal("0.5")
    if spot < 100:
        return Decimal(1)
    if spot < 250:
        return Decimal("2.5")
    return Decimal(5)


def plain_strike(value: Decimal) -> Decimal:
    """A strike as contract keys spell it: no trailing zeros, no exponent (150, 152.5)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def strikes_around(spot: float, range_pct: float) -> list[Decimal]:
    """Every listed strike within ``range_pct`` percent of ``spot``, ascending."""
    step = strike_step(spot)
    low = Decimal(repr(spot * (1 - range_pct / 100)))
    high = Decimal(repr(spot * (1 + range_pct / 100)))
    first = max((low / step).to_integral_value(rounding=ROUND_CEILING), Decimal(1))
    last = (high / step).to_integral_value(rounding=ROUND_FLOOR)
    count = int(last - first) + 1
    return [plain_strike((first + i) * step) for i in range(max(count, 0))]


def implied_vol(spec: OptionSpec, base_vol: float, spot: float, strike: float) -> float:
    """The skewed implied volatility of ``strike`` (puts below the spot are richer)."""
    atm = base_vol * spec.iv_premium
    moneyness = math.log(strike / spot)
    return atm * max(0.5, 1.0 - spec.skew * moneyness + spec.smile * moneyness * moneyness)


def option_spread(spec: OptionSpec, mid: float, spot: float, strike: float, dte: int) -> float:
    """The quoted width in dollars: wider away from the money and for short expirations."""
    widen = 1.0 + spec.otm_widening * abs(math.log(strike / spot))
    widen *= 1.0 + spec.short_dte_widening / max(dte, 1)
    return max(spec.min_spread, mid * spec.spread_pct / 100.0 * widen)


def _open_interest(spec: OptionSpec, key: str, spot: float, strike: float, monthly: bool) -> int:
    moneyness = math.log(strike / spot)
    scale = math.exp(-0.5 * (moneyness / 0.08) ** 2) * (2.0 if monthly else 1.0)
    jitter = 0.5 + (zlib.crc32(key.encode()) % 1000) / 1000.0  # stable per contract
    return int(spec.open_interest_atm * scale * jitter)


class OptionMarket:
    """Option quotes derived from a ``MarketModel``'s mids. Not thread-safe: the owner
    serialises calls (``SimBroker`` holds its lock).

    Args:
        market: the underlyings' mids and volatilities.
        calendar: expirations, sessions and the expiry moment (the expiration day's close).
        spec: the option market's parameters.
        seed: seeds the generator of displayed sizes (independent of the stock paths).
    """

    def __init__(
        self, market: MarketModel, calendar: TradingCalendar, spec: OptionSpec, *, seed: int
    ) -> None:
        self._market = market
        self._calendar = calendar
        self.spec = spec
        self._rng = random.Random(seed ^ 0x0F7105)
        self._quotes: dict[str, Quote] = {}

    def expiry_moment(self, expiry: date) -> datetime:
        """When options of ``expiry`` stop trading and are settled: that day's close."""
        return self._calendar.session_close(expiry)

    def listing_problem(self, contract: Contract, now: datetime) -> str | None:
        """Why ``contract`` is not a tradable listed option now, or None if it is."""
        if contract.symbol not in self._market:
            return f"unknown underlying {contract.symbol!r}: not one of the simulated symbols"
        if contract.right not in ("P", "C"):
            return f"option right must be P or C (got {contract.right!r})"
        if contract.strike is None or contract.strike <= 0:
            return f"option strike must be > 0 (got {contract.strike})"
        if contract.multiplier != 100:
            return f"option multiplier must be 100 (got {contract.multiplier})"
        expiry = contract.expiry
        if expiry is None:
            return "option expiry missing"
        friday = expiry + timedelta(days=(_FRIDAY - expiry.weekday()) % 7)
        if listed_expiry(self._calendar, friday) != expiry:
            return f"{expiry} is not an expiration day"
        if now >= self.expiry_moment(expiry):
            return f"{contract.key} has expired"
        return None

    def last_quote(self, contract_key: str) -> Quote | None:
        return self._quotes.get(contract_key)

    def forget(self, contract_key: str) -> None:
        """Drop the stored quote of an expired contract."""
        self._quotes.pop(contract_key, None)

    def quote(self, contract: Contract, now: datetime) -> Quote:
        """Quote ``contract`` at ``now`` (stored as its latest quote)."""
        size = max(1, self.spec.display_size)
        quote = self._make(
            contract,
            now,
            bid_size=self._rng.randint(max(1, size // 2), size * 3 // 2 + 1),
            ask_size=self._rng.randint(max(1, size // 2), size * 3 // 2 + 1),
        )
        self._quotes[contract.key] = quote
        return quote

    def mark(self, contract: Contract, now: datetime) -> Decimal:
        """The value of one share of ``contract``: its latest quote's mid, else a fresh one's."""
        quote = self._quotes.get(contract.key) or self._make(contract, now, 1, 1)
        return (_cents(quote.bid) + _cents(quote.ask)) / 2

    def chain(
        self,
        symbol: str,
        now: datetime,
        *,
        right: str | None = None,
        min_expiry: date | None = None,
        max_expiry: date | None = None,
    ) -> list[Quote]:
        """Every listed contract of ``symbol`` (filtered) quoted at ``now``, by expiry, right
        and strike. A snapshot: nothing is stored and no random draw is taken."""
        spot = self._market.mid(symbol)
        spec = self.spec
        rights = ("C", "P") if right is None else (right,)
        out: list[Quote] = []
        for expiry in expirations(
            self._calendar,
            now,
            weeklies=spec.weekly_expirations,
            monthlies=spec.monthly_expirations,
            leaps=spec.leaps_expirations,
        ):
            if (min_expiry and expiry < min_expiry) or (max_expiry and expiry > max_expiry):
                continue
            for kind in rights:
                for strike in strikes_around(spot, spec.strike_range_pct):
                    contract = Contract.option(symbol, expiry, strike, kind)
                    out.append(self._make(contract, now, spec.display_size, spec.display_size))
        return out

    def _make(self, contract: Contract, now: datetime, bid_size: int, ask_size: int) -> Quote:
        assert contract.expiry is not None and contract.strike is not None
        assert contract.right is not None
        symbol = contract.symbol
        spot = self._market.mid(symbol)
        strike = float(contract.strike)
        t_years = (self.expiry_moment(contract.expiry) - now).total_seconds() / _SECONDS_PER_YEAR
        vol = implied_vol(self.spec, self._market.volatility(symbol), spot, strike)
        greeks = bs_greeks(
            spot=spot,
            strike=strike,
            t_years=t_years,
            rate=self.spec.rate,
            vol=vol,
            right=contract.right,
        )
        dte = (contract.expiry - self._calendar.local(now).date()).days
        half = option_spread(self.spec, greeks.price, spot, strike, dte) / 2.0
        # Quoted on the class's ticks (a nickel class quotes 1.05 / 1.20, never 1.07), as
        # exchanges do: the bid rounded down, the ask up, the ask at least one tick up.
        ticks = self._market.tick_rule(contract)
        bid = max(ticks.floor(Decimal(repr(greeks.price - half))), _ZERO)
        ask = max(ticks.ceil(Decimal(repr(greeks.price + half))), ticks.smallest)
        if ask <= bid:
            ask = ticks.ceil(bid + ticks.increment_at(bid))
        monthly = is_monthly(self._calendar, contract.expiry)
        return Quote(
            contract=contract,
            bid=float(bid),
            ask=float(ask),
            bid_size=bid_size,
            ask_size=ask_size,
            last=float(ticks.floor((bid + ask) / 2)),
            time=now,
            iv=vol,
            delta=greeks.delta,
            gamma=greeks.gamma,
            theta=greeks.theta,
            vega=greeks.vega,
            open_interest=_open_interest(self.spec, contract.key, spot, strike, monthly),
        )


def _cents(price: float) -> Decimal:
    return Decimal(repr(price)).quantize(CENT)
