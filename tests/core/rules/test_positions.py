"""Average-cost position arithmetic shared by the VA's book and the OrderManager's."""

from __future__ import annotations

from decimal import Decimal as D

from core.rules.positions import apply_execution


def test_opening_and_adding_average_the_cost() -> None:
    step = apply_execution(0, D(0), 100, D("10"), 1)
    assert (step.quantity, step.avg_price, step.realized, step.opened) == (100, D("10"), 0, True)
    step = apply_execution(100, D("10"), 100, D("12"), 1)
    assert (step.quantity, step.avg_price, step.opened) == (200, D("11"), False)


def test_reducing_realizes_at_the_average_cost_and_keeps_it() -> None:
    step = apply_execution(200, D("11"), -50, D("13"), 1)
    assert (step.quantity, step.avg_price, step.realized) == (150, D("11"), D("100"))


def test_a_short_realizes_when_bought_back_lower_with_the_multiplier() -> None:
    step = apply_execution(-2, D("3.00"), 2, D("1.50"), 100)
    assert (step.quantity, step.avg_price, step.realized) == (0, D(0), D("300.00"))


def test_crossing_through_zero_opens_the_rest_at_the_fill_price() -> None:
    step = apply_execution(100, D("10"), -150, D("9"), 1)
    assert (step.quantity, step.avg_price, step.realized, step.opened) == (
        -50,
        D("9"),
        D("-100"),
        True,
    )
