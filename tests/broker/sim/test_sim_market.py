"""The pure price process and quote generation (broker/sim/market.py)."""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from broker.sim.market import (
    TRADING_SECONDS_PER_YEAR,
    MarketModel,
    SimSymbol,
    gbm_step,
    quote_prices,
    round_lot_size,
    to_cents,
    years_of_trading,
)

TZ = ZoneInfo("America/New_York")
T0 = datetime(2024, 3, 13, 9, 30, tzinfo=TZ)
SYMBOLS = {
    "AAA": SimSymbol("AAA", price=100.0, volatility=0.30, spread_bps=5.0),
    "BBB": SimSymbol("BBB", price=20.0, volatility=0.50, spread_bps=1.0, display_size=300),
}
DT = years_of_trading(1.0)


def run(model: MarketModel, steps: int) -> list[tuple[str, float, float, int, int, float]]:
    out = []
    for i in range(steps):
        for q in model.step(dt_years=DT, time=T0 + timedelta(seconds=i)):
            out.append((q.contract.symbol, q.bid, q.ask, q.bid_size, q.ask_size, q.last))
    return out


def test_the_same_seed_gives_identical_quotes_and_another_seed_different_ones() -> None:
    first = run(MarketModel(SYMBOLS, seed=42), 200)
    again = run(MarketModel(SYMBOLS, seed=42), 200)
    other = run(MarketModel(SYMBOLS, seed=43), 200)
    assert first == again
    assert first != other


def test_one_trading_year_is_252_sessions_of_six_and_a_half_hours() -> None:
    assert TRADING_SECONDS_PER_YEAR == 252 * 6.5 * 3600
    assert years_of_trading(6.5 * 3600) == pytest.approx(1 / 252)


def test_quotes_are_on_cents_with_the_ask_above_the_bid_and_round_lot_sizes() -> None:
    model = MarketModel(SYMBOLS, seed=1)
    for i in range(2000):
        for q in model.step(dt_years=DT, time=T0 + timedelta(seconds=i)):
            bid, ask, last = to_cents(q.bid), to_cents(q.ask), to_cents(q.last)
            assert Decimal(repr(q.bid)) == bid
            assert Decimal(repr(q.ask)) == ask
            assert ask > bid
            assert bid <= last <= ask
            assert q.bid_size >= 100 and q.bid_size % 100 == 0
            assert q.ask_size >= 100 and q.ask_size % 100 == 0
            assert q.time == T0 + timedelta(seconds=i)


def test_the_spread_is_its_bps_of_the_mid_rounded_outwards_to_cents() -> None:
    # 10 bps of 100.00 is 0.10: 99.95 / 100.05 exactly.
    assert quote_prices(100.0, 10.0) == (Decimal("99.95"), Decimal("100.05"))
    # 5 bps of 100.003 is 0.05: 99.978 rounds down, 100.028 up.
    assert quote_prices(100.003, 5.0) == (Decimal("99.97"), Decimal("100.03"))


def test_a_spread_below_one_cent_is_quoted_at_least_one_cent_wide() -> None:
    bid, ask = quote_prices(20.0, 1.0)  # 1 bps of 20 is 0.002
    assert ask - bid >= Decimal("0.01")
    assert bid <= Decimal("20.00") <= ask
    bid, ask = quote_prices(50.0, 0.0)
    assert Decimal("0.01") <= ask - bid <= Decimal("0.02")


def test_a_tiny_price_is_still_quoted_with_a_bid_of_at_least_one_cent() -> None:
    bid, ask = quote_prices(0.001, 10.0)
    assert bid == Decimal("0.01")
    assert ask > bid


def test_displayed_sizes_stay_within_half_to_one_and_a_half_of_the_display_size() -> None:
    rng = random.Random(3)
    sizes = {round_lot_size(500, rng) for _ in range(1000)}
    assert min(sizes) >= 200
    assert max(sizes) <= 800
    assert len(sizes) > 3
    assert round_lot_size(100, random.Random(0)) >= 100


def test_a_gbm_step_of_no_time_leaves_the_mid_and_zero_volatility_grows_by_the_drift() -> None:
    assert gbm_step(100.0, drift_annual=0.1, volatility=0.3, dt_years=0.0, z=2.0) == 100.0
    grown = gbm_step(100.0, drift_annual=0.1, volatility=0.0, dt_years=1.0, z=5.0)
    assert grown == pytest.approx(100.0 * math.exp(0.1))
    assert gbm_step(100.0, drift_annual=0.0, volatility=0.3, dt_years=DT, z=1.0) > 100.0


def test_log_returns_have_the_symbols_volatility() -> None:
    spec = {"VOL": SimSymbol("VOL", price=50.0, volatility=0.40, spread_bps=1.0)}
    model = MarketModel(spec, seed=11)
    dt = years_of_trading(60.0)
    mids = [model.mid("VOL")]
    for _ in range(5000):
        model.step(dt_years=dt, time=T0)
        mids.append(model.mid("VOL"))
    returns = [math.log(b / a) for a, b in itertools.pairwise(mids)]
    mean = sum(returns) / len(returns)
    var = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    assert math.sqrt(var / dt) == pytest.approx(0.40, rel=0.05)


def test_set_mid_quotes_around_exactly_that_mid_and_leaves_other_symbols_paths_alone() -> None:
    pinned = MarketModel(SYMBOLS, seed=5)
    free = MarketModel(SYMBOLS, seed=5)
    pinned.set_mid("AAA", 90.0)
    a = {q.contract.symbol: q for q in pinned.step(dt_years=DT, time=T0)}
    b = {q.contract.symbol: q for q in free.step(dt_years=DT, time=T0)}
    assert (Decimal(repr(a["AAA"].bid)), Decimal(repr(a["AAA"].ask))) == quote_prices(90.0, 5.0)
    assert a["BBB"] == b["BBB"]
    assert pinned.mark("AAA") == (Decimal("89.97") + Decimal("90.03")) / 2


def test_set_mid_refuses_an_unknown_symbol_and_a_non_positive_price() -> None:
    model = MarketModel(SYMBOLS, seed=5)
    with pytest.raises(ValueError, match="unknown symbol 'ZZZ'"):
        model.set_mid("ZZZ", 10.0)
    with pytest.raises(ValueError, match="must be > 0"):
        model.set_mid("AAA", 0.0)


def test_a_model_marks_at_the_starting_price_before_its_first_quote() -> None:
    model = MarketModel(SYMBOLS, seed=5)
    assert model.last_quote("AAA") is None
    assert model.mark("AAA") == Decimal("100.00")
    assert model.symbols == ("AAA", "BBB")


def test_bad_symbol_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="price must be > 0"):
        SimSymbol("X", price=0.0, volatility=0.2, spread_bps=1.0)
    with pytest.raises(ValueError, match="display_size"):
        SimSymbol("X", price=1.0, volatility=0.2, spread_bps=1.0, display_size=50)
    with pytest.raises(ValueError, match=r"differs from SimSymbol\.symbol"):
        MarketModel({"Y": SYMBOLS["AAA"]}, seed=1)
    with pytest.raises(ValueError, match="at least one symbol"):
        MarketModel({}, seed=1)
