"""Simulated option chains: listed expirations and strikes, skew, spreads, open interest and
quotes that decay with the clock."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from broker.sim import SimSymbol
from broker.sim.chains import (
    OptionMarket,
    OptionSpec,
    expirations,
    implied_vol,
    option_spread,
    strike_step,
    strikes_around,
    third_friday,
)
from broker.sim.market import MarketModel
from core.calendar import TradingCalendar
from core.domain import Contract

NY = ZoneInfo("America/New_York")
GOOD_FRIDAY = date(2026, 4, 3)
CALENDAR = TradingCalendar.build(NY, time(9, 30), time(16, 0), [GOOD_FRIDAY])
MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
SPEC = OptionSpec()


def market(price: float = 100.0) -> OptionMarket:
    stocks = MarketModel({"AAA": SimSymbol("AAA", price, 0.25, 2.0)}, seed=1)
    return OptionMarket(stocks, CALENDAR, SPEC, seed=1)


def test_the_third_friday_is_the_monthly_expiration() -> None:
    assert third_friday(2026, 1) == date(2026, 1, 16)
    assert third_friday(2026, 5) == date(2026, 5, 15)


def test_weeklies_and_monthlies_are_listed_soonest_first() -> None:
    listed = expirations(CALENDAR, MONDAY, weeklies=6, monthlies=3)
    assert listed == [
        date(2026, 1, 9),
        date(2026, 1, 16),
        date(2026, 1, 23),
        date(2026, 1, 30),
        date(2026, 2, 6),
        date(2026, 2, 13),
        date(2026, 2, 20),
        date(2026, 3, 20),
    ]


def test_a_year_of_monthlies_is_followed_by_january_leaps() -> None:
    listed = expirations(CALENDAR, MONDAY, weeklies=6, monthlies=12, leaps=2)
    monthlies = [d for d in listed if d == third_friday(d.year, d.month) and d.year == 2026]
    assert len(monthlies) == 12 and monthlies[-1] == date(2026, 12, 18)  # January to December
    assert listed[-2:] == [date(2027, 1, 15), date(2028, 1, 21)]  # the LEAPS
    # Later in the year the monthlies reach into January: the LEAPS are the Januaries after.
    june = datetime(2026, 6, 1, 10, 0, tzinfo=NY)
    later = expirations(CALENDAR, june, weeklies=6, monthlies=12, leaps=2)
    assert later[-3:] == [date(2027, 5, 21), date(2028, 1, 21), date(2029, 1, 19)]


def test_a_leaps_put_is_priced_with_time_value_and_a_moderate_delta() -> None:
    leap = Contract.option("AAA", date(2028, 1, 21), Decimal(100), "P")
    quote = market().quote(leap, MONDAY)
    assert 8.0 < quote.mid < 25.0  # two years of a 27 % IV at the money
    assert quote.delta is not None and -0.45 < quote.delta < -0.2
    assert 0 < quote.bid < quote.ask


def test_an_expiration_on_a_holiday_moves_to_the_day_before_and_is_gone_after_its_close() -> None:
    before_close = datetime(2026, 4, 2, 15, 59, tzinfo=NY)
    assert expirations(CALENDAR, before_close, weeklies=1, monthlies=0) == [date(2026, 4, 2)]
    after_close = datetime(2026, 4, 2, 16, 0, tzinfo=NY)
    assert expirations(CALENDAR, after_close, weeklies=1, monthlies=0) == [date(2026, 4, 10)]


def test_strikes_sit_on_increments_that_grow_with_the_price() -> None:
    assert [strike_step(p) for p in (20.0, 80.0, 150.0, 580.0)] == [
        Decimal("0.5"),
        Decimal(1),
        Decimal("2.5"),
        Decimal(5),
    ]
    strikes = strikes_around(99.0, 5.0)  # 94.05 .. 103.95 in steps of 1
    assert strikes == [Decimal(s) for s in range(95, 104)]
    assert [str(s) for s in strikes_around(150.0, 2.0)] == ["147.5", "150", "152.5"]


def test_puts_below_the_spot_are_richer_in_volatility() -> None:
    below = implied_vol(SPEC, 0.20, 100.0, 85.0)
    at = implied_vol(SPEC, 0.20, 100.0, 100.0)
    above = implied_vol(SPEC, 0.20, 100.0, 110.0)
    assert below > at > above
    assert at == pytest.approx(0.20 * SPEC.iv_premium)


def test_spreads_widen_away_from_the_money_and_for_short_expirations() -> None:
    at_the_money = option_spread(SPEC, 5.0, 100.0, 100.0, 30)
    assert option_spread(SPEC, 5.0, 100.0, 85.0, 30) > at_the_money
    assert option_spread(SPEC, 5.0, 100.0, 100.0, 2) > at_the_money
    assert option_spread(SPEC, 0.10, 100.0, 100.0, 30) == pytest.approx(SPEC.min_spread)


def test_a_chain_quotes_every_listed_put_with_greeks_and_open_interest() -> None:
    options = market()
    chain = options.chain("AAA", MONDAY, right="P", max_expiry=date(2026, 1, 16))
    assert {q.contract.expiry for q in chain} == {date(2026, 1, 9), date(2026, 1, 16)}
    assert all(q.contract.right == "P" and q.contract.multiplier == 100 for q in chain)
    for quote in chain:
        assert 0 <= quote.bid < quote.ask
        assert quote.delta is not None and -1.0 <= quote.delta <= 0.0
        assert quote.iv is not None and quote.theta is not None and quote.vega is not None
    by_strike = {q.contract.strike: q for q in chain if q.contract.expiry == date(2026, 1, 16)}
    assert by_strike[Decimal(100)].open_interest > by_strike[Decimal(85)].open_interest


def test_the_same_put_is_worth_less_later_at_the_same_spot() -> None:
    options = market()
    put = Contract.option("AAA", date(2026, 2, 20), Decimal(95), "P")
    early = options.quote(put, MONDAY)
    later = options.quote(put, datetime(2026, 1, 26, 10, 0, tzinfo=NY))
    assert later.bid + later.ask < early.bid + early.ask
    assert options.mark(put, MONDAY) > 0


def test_only_listed_unexpired_options_are_tradable() -> None:
    options = market()
    listed = Contract.option("AAA", date(2026, 1, 16), Decimal(95), "P")
    assert options.listing_problem(listed, MONDAY) is None
    wednesday = Contract.option("AAA", date(2026, 1, 14), Decimal(95), "P")
    assert "not an expiration day" in (options.listing_problem(wednesday, MONDAY) or "")
    gone = Contract.option("AAA", date(2026, 1, 2), Decimal(95), "P")
    assert "expired" in (options.listing_problem(gone, MONDAY) or "")
    unknown = Contract.option("ZZZ", date(2026, 1, 16), Decimal(95), "P")
    assert "unknown underlying" in (options.listing_problem(unknown, MONDAY) or "")
