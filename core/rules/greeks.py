"""Position-level greeks and margin, and their sums per VA and for the portfolio. Pure: no
I/O, no threads.

Greeks come per share of one contract on the option's quote (``broker.base.Quote``); a
position's figures multiply them by its signed quantity and the multiplier:

* ``delta_dollars``: the dollar change of the position per 1.00 (100 %) move of the
  underlying, i.e. delta x quantity x multiplier x underlying price (a stock: its market
  value);
* ``theta_per_day``: dollars the position gains (> 0) or loses per calendar day;
* ``vega``: dollars the position gains per volatility point (1 % of implied volatility);
* ``margin``: Reg-T for short options, the maintenance percentage of a stock's value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.domain import Contract, Quote
from core.rules.margin import option_position_margin

__all__ = ["PositionRisk", "days_to_expiry", "position_risk", "total_risk"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PositionRisk:
    delta_dollars: float
    theta_per_day: float
    margin: Decimal
    positions: int = 1
    vega: float = 0.0


def days_to_expiry(expiry: date, today: date) -> int:
    """Calendar days from ``today`` to ``expiry`` (0 on the expiration day)."""
    return (expiry - today).days


def _mid(quote: Quote) -> Decimal:
    return (Decimal(repr(quote.bid)) + Decimal(repr(quote.ask))) / 2


def position_risk(
    contract: Contract,
    quantity: int,
    *,
    quote: Quote | None,
    underlying: Decimal | None,
    long_margin_pct: float,
    short_margin_pct: float,
) -> PositionRisk:
    """The delta in dollars, theta per day, margin and vega of one signed position.

    Without a quote (an option) or an underlying price the figures that need it are 0.
    """
    if not contract.is_option:
        price = underlying if underlying is not None else (_mid(quote) if quote else _ZERO)
        value = price * quantity
        pct = long_margin_pct if quantity > 0 else short_margin_pct
        return PositionRisk(float(value), 0.0, abs(value) * Decimal(str(pct)) / 100)
    if quote is None or underlying is None:
        return PositionRisk(0.0, 0.0, _ZERO)
    size = quantity * contract.multiplier
    delta = (quote.delta or 0.0) * size * float(underlying)
    theta = (quote.theta or 0.0) * size
    vega = (quote.vega or 0.0) * size
    margin = option_position_margin(contract, quantity, underlying=underlying, premium=_mid(quote))
    return PositionRisk(delta, theta, margin, vega=vega)


def total_risk(risks: Iterable[PositionRisk]) -> PositionRisk:
    """The sum of several positions' figures (``positions`` counts them)."""
    delta = theta = vega = 0.0
    margin = _ZERO
    count = 0
    for risk in risks:
        delta += risk.delta_dollars
        theta += risk.theta_per_day
        vega += risk.vega
        margin += risk.margin
        count += risk.positions
    return PositionRisk(delta, theta, margin, count, vega)
