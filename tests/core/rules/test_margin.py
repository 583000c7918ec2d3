"""Reg-T margin of naked short options and the assignment value concentration counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.domain import Contract
from core.rules.margin import (
    assignment_value,
    option_position_margin,
    positions_margin,
    short_option_margin,
    short_put_margin,
)

PUT = Contract.option("SPY", date(2026, 2, 20), Decimal(560), "P")


def test_an_out_of_the_money_put_needs_20_percent_of_the_underlying_less_the_otm_amount() -> None:
    # max(0.20 x 580 - 20, 0.10 x 560) = 96; + premium 5 -> 101 a share, 10,100 a contract.
    margin = short_put_margin(
        underlying=Decimal(580), strike=Decimal(560), premium=Decimal(5), contracts=1
    )
    assert margin == Decimal(10100)


def test_a_far_out_of_the_money_put_needs_at_least_10_percent_of_the_strike() -> None:
    # 0.20 x 100 - 40 = -20 < 0.10 x 60 = 6; + premium 0.10 -> 6.10 a share, x 3 contracts.
    margin = short_put_margin(
        underlying=Decimal(100), strike=Decimal(60), premium=Decimal("0.10"), contracts=3
    )
    assert margin == Decimal("1830")


def test_an_in_the_money_put_has_no_otm_amount_to_subtract() -> None:
    margin = short_put_margin(
        underlying=Decimal(90), strike=Decimal(100), premium=Decimal(11), contracts=2
    )
    assert margin == (Decimal(18) + 11) * 100 * 2


def test_a_short_call_floors_at_10_percent_of_the_underlying() -> None:
    margin = short_option_margin(
        right="C",
        underlying=Decimal(100),
        strike=Decimal(150),
        premium=Decimal("0.05"),
        contracts=1,
    )
    assert margin == Decimal("1005")


def test_only_short_option_positions_need_margin() -> None:
    spot, premium = Decimal(580), Decimal(5)
    assert option_position_margin(PUT, 2, underlying=spot, premium=premium) == 0
    assert option_position_margin(PUT, -2, underlying=spot, premium=premium) == Decimal(20200)
    with pytest.raises(ValueError, match="not an option"):
        option_position_margin(Contract.stock("SPY"), -2, underlying=spot, premium=premium)


def test_a_short_put_counts_its_assignment_value_for_concentration() -> None:
    assert assignment_value(PUT, -3) == Decimal(168000)


def test_an_unknown_right_is_refused() -> None:
    one = Decimal(1)
    with pytest.raises(ValueError, match="right"):
        short_option_margin(right="X", underlying=one, strike=one, premium=one, contracts=1)


def test_short_calls_covered_by_shares_need_no_margin_and_the_cover_goes_to_the_dearest() -> None:
    low = Contract.option("SPY", date(2026, 2, 20), Decimal(550), "C")
    high = Contract.option("SPY", date(2026, 2, 20), Decimal(600), "C")
    stock = Contract.stock("SPY")

    def margin(*positions: tuple[Contract, int]) -> Decimal:
        return positions_margin(
            positions,
            stock_margin=lambda _c, quantity: Decimal(quantity),  # 1 a share, to tell apart
            option_prices=lambda _c: (Decimal(560), Decimal(5)),
        )

    def naked(contract: Contract) -> Decimal:
        return option_position_margin(contract, -1, underlying=Decimal(560), premium=Decimal(5))

    assert margin((stock, 100), (low, -1)) == Decimal(100)  # covered: the stock's only
    assert margin((stock, 199), (low, -2)) == Decimal(199) + naked(low)  # one whole lot
    # One lot, two strikes: the cover goes to the in-the-money call (the dearer naked).
    assert naked(low) > naked(high)
    assert margin((stock, 100), (high, -1), (low, -1)) == Decimal(100) + naked(high)
    assert margin((high, -1)) == naked(high)  # no shares: naked
    other = Contract.stock("QQQ")
    assert margin((other, 100), (high, -1)) == Decimal(100) + naked(high)  # another symbol
