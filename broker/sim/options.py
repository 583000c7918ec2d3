"""Black-Scholes prices and greeks of European options on a stock without dividends.

Pure: no I/O, no threads, floats only (prices become ``Decimal`` cents where they are quoted).
Units: ``spot`` and ``strike`` in dollars, ``t_years`` in calendar years (365 days),
``rate`` and ``vol`` annual fractions (0.04 = 4 %, 0.25 = 25 %). Greeks are per share:
``delta`` per $1 of the underlying, ``gamma`` per $1, ``theta`` in dollars per calendar day
(annual theta / 365), ``vega`` in dollars per volatility point (one percentage point).

At or after expiry (``t_years`` <= 0) or with no volatility the price is the discounted
intrinsic value and the greeks are those of the payoff (delta 0 or +-1, the rest 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DAYS_PER_YEAR", "Greeks", "bs_greeks", "bs_price", "norm_cdf", "norm_pdf"]

#: Calendar days in the year time to expiry is measured in.
DAYS_PER_YEAR = 365.0
_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and sensitivities of one option, per share (see the module docstring for units)."""

    price: float
    delta: float
    gamma: float
    theta: float
    vega: float


def norm_cdf(x: float) -> float:
    """The standard normal cumulative distribution function."""
    return 0.5 * (1.0 + math.erf(x / _SQRT_2))


def norm_pdf(x: float) -> float:
    """The standard normal density."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _check(spot: float, strike: float, right: str) -> None:
    if not spot > 0 or not strike > 0:
        raise ValueError(f"spot and strike must be > 0 (got {spot}, {strike})")
    if right not in ("P", "C"):
        raise ValueError(f"right must be 'P' or 'C' (got {right!r})")


def _intrinsic(spot: float, strike: float, t_years: float, rate: float, right: str) -> Greeks:
    discounted = strike * math.exp(-rate * max(t_years, 0.0))
    if right == "C":
        value = max(spot - discounted, 0.0)
        delta = 1.0 if spot > discounted else 0.0
    else:
        value = max(discounted - spot, 0.0)
        delta = -1.0 if spot < discounted else 0.0
    return Greeks(price=value, delta=delta, gamma=0.0, theta=0.0, vega=0.0)


def bs_greeks(
    *, spot: float, strike: float, t_years: float, rate: float, vol: float, right: str
) -> Greeks:
    """Black-Scholes price and greeks of a European call (``right`` "C") or put ("P").

    Raises:
        ValueError: a spot or strike that is not > 0, or an unknown right.
    """
    _check(spot, strike, right)
    if t_years <= 0 or vol <= 0:
        return _intrinsic(spot, strike, t_years, rate, right)
    sqrt_t = math.sqrt(t_years)
    vol_sqrt_t = vol * sqrt_t
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t_years) / vol_sqrt_t
    d2 = d1 - vol_sqrt_t
    discount = math.exp(-rate * t_years)
    pdf_d1 = norm_pdf(d1)
    gamma = pdf_d1 / (spot * vol_sqrt_t)
    vega = spot * pdf_d1 * sqrt_t / 100.0
    decay = -spot * pdf_d1 * vol / (2.0 * sqrt_t)
    if right == "C":
        nd1, nd2 = norm_cdf(d1), norm_cdf(d2)
        price = spot * nd1 - strike * discount * nd2
        delta = nd1
        theta_annual = decay - rate * strike * discount * nd2
    else:
        nmd1, nmd2 = norm_cdf(-d1), norm_cdf(-d2)
        price = strike * discount * nmd2 - spot * nmd1
        delta = -nmd1
        theta_annual = decay + rate * strike * discount * nmd2
    return Greeks(
        price=max(price, 0.0),
        delta=delta,
        gamma=gamma,
        theta=theta_annual / DAYS_PER_YEAR,
        vega=vega,
    )


def bs_price(
    *, spot: float, strike: float, t_years: float, rate: float, vol: float, right: str
) -> float:
    """The Black-Scholes price of a European call or put, per share.

    Raises:
        ValueError: as ``bs_greeks``.
    """
    return bs_greeks(
        spot=spot, strike=strike, t_years=t_years, rate=rate, vol=vol, right=right
    ).price
