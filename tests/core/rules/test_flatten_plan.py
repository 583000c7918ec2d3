"""Flatten planning: opposite positions in one contract cross internally; the rest closes."""

from __future__ import annotations

from core.rules.flatten import Cross, plan_flatten


def test_opposite_positions_in_one_contract_cross_and_the_net_is_closed() -> None:
    plan = plan_flatten([("a", "AAPL", 300), ("b", "AAPL", -100), ("c", "AAPL", 50)])
    assert plan.crosses == (Cross("AAPL", "a", "b", 100),)
    assert plan.closes == (("a", "AAPL", 200), ("c", "AAPL", 50))


def test_one_short_crosses_against_several_longs_in_va_order() -> None:
    plan = plan_flatten([("z", "X", -250), ("b", "X", 100), ("a", "X", 100)])
    assert plan.crosses == (Cross("X", "a", "z", 100), Cross("X", "b", "z", 100))
    assert plan.closes == (("z", "X", -50),)


def test_contracts_never_cross_each_other_and_flat_rows_are_ignored() -> None:
    plan = plan_flatten([("a", "AAPL", 10), ("b", "MSFT", -10), ("c", "JPM", 0)])
    assert plan.crosses == ()
    assert plan.closes == (("a", "AAPL", 10), ("b", "MSFT", -10))


def test_exactly_offsetting_positions_need_no_broker_order() -> None:
    plan = plan_flatten([("a", "AAPL", 70), ("b", "AAPL", -70)])
    assert plan.crosses == (Cross("AAPL", "a", "b", 70),)
    assert plan.closes == ()
