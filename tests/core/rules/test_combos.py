"""Combo (BAG) pricing rules: IB's net price sign, leg sides, the all-legs-or-none fill."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from core.domain import ComboLeg, Contract, OrderRequest, OrderType, Quote, Side
from core.rules.combos import combo_fill, combo_problem, leg_side, net_price

NEAR = Contract.option("AAA", date(2024, 3, 15), Decimal(95), "P")
FAR = Contract.option("AAA", date(2024, 4, 19), Decimal(95), "P")
ROLL = (ComboLeg(NEAR, 1, Side.BUY), ComboLeg(FAR, 1, Side.SELL))
T0 = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)


def combo(side: Side, limit: Decimal | None, quantity: int = 2, legs=ROLL) -> OrderRequest:
    order_type = OrderType.MKT if limit is None else OrderType.LMT
    return OrderRequest("c1", Contract.combo("AAA"), side, order_type, quantity, limit, legs=legs)


def quote(contract: Contract, bid: float, ask: float) -> Quote:
    return Quote(contract, bid, ask, 10, 10, (bid + ask) / 2, T0)


QUOTES = {NEAR.key: quote(NEAR, 0.40, 0.50), FAR.key: quote(FAR, 1.60, 1.75)}


def fill(order: OrderRequest, liquidity: int = 10):
    return combo_fill(
        order,
        limit=order.limit_price,
        units=order.quantity,
        quote_of=lambda leg: QUOTES.get(leg.contract.key),
        liquidity_of=lambda leg, side: liquidity,
    )


def test_a_roll_for_a_credit_is_a_buy_combo_at_a_negative_net_price() -> None:
    # buy back the near put at 0.50, sell the far one at 1.60: a 1.10 credit, IB's -1.10
    assert net_price(ROLL, (Decimal("0.50"), Decimal("1.60"))) == Decimal("-1.10")


def test_selling_a_combo_trades_every_leg_the_other_way() -> None:
    assert leg_side(ROLL[0], Side.BUY) is Side.BUY
    assert leg_side(ROLL[0], Side.SELL) is Side.SELL
    assert leg_side(ROLL[1], Side.SELL) is Side.BUY


def test_a_buy_combo_fills_both_legs_at_their_touches_when_the_net_is_within_the_limit() -> None:
    result = fill(combo(Side.BUY, Decimal("-1.05")))
    assert result is not None
    assert (result.units, result.net) == (2, Decimal("-1.10"))
    assert [(f.side, f.quantity, f.price) for f in result.legs] == [
        (Side.BUY, 2, Decimal("0.50")),
        (Side.SELL, 2, Decimal("1.60")),
    ]


def test_a_buy_combo_asking_more_credit_than_the_market_gives_fills_nothing() -> None:
    assert fill(combo(Side.BUY, Decimal("-1.15"))) is None


def test_a_sell_combo_receives_at_least_its_limit() -> None:
    # selling the roll: sell near at its bid 0.40, buy far at its ask 1.75: net -1.35
    assert fill(combo(Side.SELL, Decimal("-1.40"))) is not None
    assert fill(combo(Side.SELL, Decimal("-1.30"))) is None


def test_a_combo_fills_whole_units_only_as_far_as_every_leg_has_size() -> None:
    legs = (ComboLeg(NEAR, 1, Side.BUY), ComboLeg(FAR, 2, Side.SELL))
    result = fill(combo(Side.BUY, None, quantity=5, legs=legs), liquidity=7)
    assert result is not None
    assert result.units == 3  # the far leg's 7 contracts make 3 units of 2
    assert [f.quantity for f in result.legs] == [3, 6]
    assert fill(combo(Side.BUY, None, quantity=5, legs=legs), liquidity=1) is None


def test_a_combo_with_a_leg_unquoted_fills_nothing() -> None:
    other = Contract.option("AAA", date(2024, 5, 17), Decimal(95), "P")
    legs = (ComboLeg(NEAR, 1, Side.BUY), ComboLeg(other, 1, Side.SELL))
    assert fill(combo(Side.BUY, Decimal("5"), legs=legs)) is None


def test_malformed_combos_are_named() -> None:
    assert "at least two legs" in str(combo_problem(combo(Side.BUY, None, legs=ROLL[:1])))
    twice = (ROLL[0], ROLL[0])
    assert "twice" in str(combo_problem(combo(Side.BUY, None, legs=twice)))
    zero = (ROLL[0], ComboLeg(FAR, 0, Side.SELL))
    assert "ratio" in str(combo_problem(combo(Side.BUY, None, legs=zero)))
    bbb = Contract.option("BBB", date(2024, 4, 19), Decimal(20), "P")
    other = (ROLL[0], ComboLeg(bbb, 1, Side.SELL))
    assert "not on the combo's symbol" in str(combo_problem(combo(Side.BUY, None, legs=other)))
    assert combo_problem(combo(Side.BUY, Decimal("-1.10"))) is None
