"""Black-Scholes prices and greeks against known values (Hull, Options, Futures and Other
Derivatives), put-call parity, and the payoff at expiry."""

from __future__ import annotations

import math

import pytest

from broker.sim.options import DAYS_PER_YEAR, bs_greeks, bs_price, norm_cdf


def test_the_normal_cdf_has_its_textbook_values() -> None:
    assert norm_cdf(0.0) == pytest.approx(0.5)
    assert norm_cdf(1.96) == pytest.approx(0.9750, abs=1e-4)
    assert norm_cdf(-1.0) == pytest.approx(0.1587, abs=1e-4)


def test_a_call_and_a_put_match_hulls_example_on_a_42_dollar_stock() -> None:
    # Hull: S = 42, K = 40, r = 10 %, sigma = 20 %, T = 0.5 -> c = 4.76, p = 0.81.
    args = {"spot": 42.0, "strike": 40.0, "t_years": 0.5, "rate": 0.10, "vol": 0.20}
    assert bs_price(**args, right="C") == pytest.approx(4.76, abs=0.005)
    assert bs_price(**args, right="P") == pytest.approx(0.81, abs=0.005)


def test_the_greeks_match_hulls_example_on_a_49_dollar_stock() -> None:
    # Hull: S = 49, K = 50, r = 5 %, sigma = 20 %, T = 20 weeks: delta 0.522, gamma 0.066,
    # theta -4.31 a year, vega 12.1 per unit of volatility.
    call = bs_greeks(spot=49.0, strike=50.0, t_years=20 / 52, rate=0.05, vol=0.20, right="C")
    assert call.price == pytest.approx(2.40, abs=0.005)
    assert call.delta == pytest.approx(0.522, abs=0.0005)
    assert call.gamma == pytest.approx(0.066, abs=0.0005)
    assert call.theta * DAYS_PER_YEAR == pytest.approx(-4.31, abs=0.005)
    assert call.vega * 100 == pytest.approx(12.1, abs=0.05)


def test_put_call_parity_holds_and_put_delta_is_call_delta_minus_one() -> None:
    spot, strike, t, r = 580.0, 560.0, 31 / 365, 0.04
    call = bs_greeks(spot=spot, strike=strike, t_years=t, rate=r, vol=0.18, right="C")
    put = bs_greeks(spot=spot, strike=strike, t_years=t, rate=r, vol=0.18, right="P")
    assert call.price - put.price == pytest.approx(spot - strike * math.exp(-r * t), abs=1e-9)
    assert put.delta == pytest.approx(call.delta - 1.0, abs=1e-12)
    assert put.gamma == pytest.approx(call.gamma) and put.vega == pytest.approx(call.vega)


def test_an_out_of_the_money_put_loses_value_every_day_and_is_worth_its_payoff_at_expiry() -> None:
    prices = [
        bs_price(spot=100.0, strike=95.0, t_years=d / 365, rate=0.04, vol=0.3, right="P")
        for d in (30, 20, 10, 1)
    ]
    assert prices == sorted(prices, reverse=True)
    assert bs_price(spot=100.0, strike=95.0, t_years=0.0, rate=0.04, vol=0.3, right="P") == 0.0
    at_expiry = bs_greeks(spot=90.0, strike=95.0, t_years=0.0, rate=0.04, vol=0.3, right="P")
    assert (at_expiry.price, at_expiry.delta, at_expiry.gamma) == (5.0, -1.0, 0.0)


def test_a_bad_strike_or_right_is_refused() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        bs_price(spot=100.0, strike=0.0, t_years=0.1, rate=0.0, vol=0.2, right="P")
    with pytest.raises(ValueError, match="right"):
        bs_price(spot=100.0, strike=90.0, t_years=0.1, rate=0.0, vol=0.2, right="X")
