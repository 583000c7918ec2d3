"""The wheel's covered call: the call nearest the target delta in the first expiration in the
window, with enough credit and a strike at or above the stock's cost (unless allowed below);
one call a lot; puts sized so that an assignment is paid for by the VA's capital."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.config_errors import ConfigError
from core.domain import Contract, Quote
from core.strategies.naked_put import NakedPut, NakedPutStrategy
from core.strategies.wheel import cash_secured_contracts, covered_contracts, select_call

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 1, 5)
AT = datetime(2026, 1, 5, 10, 0, tzinfo=NY)
NEAR = date(2026, 2, 6)  # 32 days
FAR = date(2026, 2, 13)  # 39 days


def call(expiry: date, strike: int, delta: float, mid: float = 1.0) -> Quote:
    contract = Contract.option("SPY", expiry, Decimal(strike), "C")
    return Quote(
        contract, mid - 0.05, mid + 0.05, 10, 10, mid, AT, 0.2, delta, 0.01, -0.05, 0.3, 500
    )


def pick(chain: list[Quote], *, min_strike: Decimal | None = Decimal(560)) -> Quote | str:
    return select_call(
        chain,
        today=TODAY,
        target_delta=0.30,
        target_dte=30,
        max_dte=45,
        min_credit=Decimal("0.20"),
        min_strike=min_strike,
    )


def test_the_call_nearest_the_target_delta_at_or_above_the_cost_in_the_first_expiration() -> None:
    chain = [
        call(NEAR, 555, 0.31),  # nearest the delta, but below the cost of 560
        call(NEAR, 565, 0.36),
        call(NEAR, 575, 0.24),
        call(FAR, 570, 0.30),
        Quote(Contract.option("SPY", NEAR, Decimal(570), "P"), 1, 1.1, 1, 1, 1, AT, delta=-0.3),
    ]
    picked = pick(chain)
    assert isinstance(picked, Quote)
    assert picked.contract.key == "SPY 20260206 C 575"


def test_a_strike_below_the_cost_is_chosen_only_when_allowed() -> None:
    chain = [call(NEAR, 540, 0.30), call(NEAR, 550, 0.25)]
    assert pick(chain) == "no call with credit >= 0.20 and strike >= basis 560.00"
    picked = pick(chain, min_strike=None)
    assert isinstance(picked, Quote) and picked.contract.strike == 540


def test_a_call_below_the_minimum_credit_is_not_written() -> None:
    assert str(pick([call(NEAR, 600, 0.05, mid=0.10)])).startswith("no call with credit >= 0.20")
    assert pick([call(date(2026, 3, 30), 600, 0.3)]) == "no call expiration 30-45 DTE"


def test_one_call_a_whole_lot_less_the_calls_already_written() -> None:
    assert covered_contracts(350, 0, 100) == 3
    assert covered_contracts(350, 2, 100) == 1
    assert covered_contracts(99, 0, 100) == 0
    assert covered_contracts(300, 4, 100) == 0


def test_a_wheel_sells_only_the_puts_whose_assignment_its_capital_pays_for() -> None:
    assert (
        cash_secured_contracts(
            capital=Decimal(100_000),
            equity=Decimal(120_000),
            strike=Decimal("97.5"),
            multiplier=100,
        )
        == 10
    )
    assert (
        cash_secured_contracts(
            capital=Decimal(100_000), equity=Decimal(50_000), strike=Decimal("97.5"), multiplier=100
        )
        == 5
    )
    spot_chain = [
        Quote(
            Contract.option("SPY", NEAR, Decimal(500), "P"),
            2.0,
            2.1,
            10,
            10,
            2.05,
            AT,
            0.2,
            -0.3,
            0.01,
            -0.05,
            0.3,
            1000,
        )
    ]
    wheel = NakedPut(NakedPutStrategy(on_assignment="wheel", max_margin_pct=100))
    plain = NakedPut(NakedPutStrategy(max_margin_pct=100))
    kwargs = {"spot": Decimal(520), "today": TODAY, "capital": Decimal(120_000)}
    wheeled = wheel.choose(spot_chain, equity=Decimal(120_000), **kwargs)  # type: ignore[arg-type]
    naked = plain.choose(spot_chain, equity=Decimal(120_000), **kwargs)  # type: ignore[arg-type]
    assert not isinstance(wheeled, str) and not isinstance(naked, str)
    assert (wheeled.contracts, naked.contracts) == (2, 10)  # 2 x 50,000 fits 120,000
    assert wheel.choose(spot_chain, equity=Decimal(40_000), **kwargs) == (  # type: ignore[arg-type]
        "wheel: assignment 50000.00 a contract exceeds capital"
    )


def test_the_strategy_writes_one_call_a_lot_on_the_stock_it_holds() -> None:
    wheel = NakedPut(NakedPutStrategy(on_assignment="wheel"))
    chain = [call(NEAR, 565, 0.30, mid=1.234)]
    choice = wheel.choose_call(chain, today=TODAY, shares=300, written=1, basis=Decimal(560))
    assert not isinstance(choice, str)
    assert (choice.contracts, choice.credit, choice.margin_per_contract) == (
        2,
        Decimal("1.24"),
        0,
    )
    request = wheel.call_request("SPY", TODAY)
    assert (request.right, request.min_expiry, request.max_expiry) == (
        "C",
        date(2026, 2, 4),
        date(2026, 2, 19),
    )
    assert wheel.wheels_stock and not wheel.closes_assigned_stock
    assert NakedPutStrategy(on_assignment="wheel").wheels_stock()
    assert not NakedPutStrategy(on_assignment="keep").wheels_stock()


def test_a_call_window_that_ends_before_it_starts_is_one_clear_problem() -> None:
    with pytest.raises((ConfigError, ValueError), match="call_max_dte"):
        NakedPutStrategy(on_assignment="wheel", call_target_dte=30, call_max_dte=10)
