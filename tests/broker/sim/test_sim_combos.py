"""Combo (BAG) orders on the simulator: both legs fill or neither, at the net of the legs'
touches, one execution per leg under the combo's id, the account booking each leg."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.domain import ComboLeg, Contract, OrderRequest, OrderStatus, OrderType, Side
from core.rules.combos import net_price
from tests.broker.sim.conftest import MakeSim

NEAR = Contract.option("AAA", date(2024, 3, 15), Decimal(100), "P")
FAR = Contract.option("AAA", date(2024, 4, 19), Decimal(100), "P")
ROLL = (ComboLeg(NEAR, 1, Side.BUY), ComboLeg(FAR, 1, Side.SELL))


def roll(cid: str, limit: Decimal | None, quantity: int = 2) -> OrderRequest:
    order_type = OrderType.MKT if limit is None else OrderType.LMT
    combo = Contract.combo("AAA")
    return OrderRequest(cid, combo, Side.BUY, order_type, quantity, limit, legs=ROLL)


def test_a_combo_fills_both_legs_at_the_net_price_with_commission_per_leg(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.step()
    assert sim.broker.place_order(roll("r1", None))
    sim.step()  # the legs' first quotes with size
    near, far = sim.listener.executions("r1")
    assert (near.contract, near.side, near.quantity) == (NEAR, Side.BUY, 2)
    assert (far.contract, far.side, far.quantity) == (FAR, Side.SELL, 2)
    assert near.commission == far.commission == Decimal("1.30")  # 2 x 0.65 per leg
    (done,) = [e for e in sim.listener.status_events("r1") if e.status is OrderStatus.FILLED]
    assert done.filled == 2
    assert done.avg_fill_price == net_price(ROLL, (near.price, far.price))
    positions = {p.contract.key: p.quantity for p in sim.broker.positions()}
    assert positions == {NEAR.key: 2, FAR.key: -2}


def test_a_combo_whose_net_limit_the_market_does_not_reach_fills_no_leg(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.step()
    assert sim.broker.place_order(roll("r1", Decimal("-50.00")))  # a $50 credit: never
    sim.step(3)
    assert sim.listener.executions("r1") == []
    assert sim.broker.positions() == []
    (working,) = sim.broker.open_orders()
    assert (working.contract.key, working.filled) == ("AAA BAG", 0)
    sim.broker.cancel_order("r1")
    assert sim.listener.statuses("r1")[-1] is OrderStatus.CANCELLED


def test_a_resting_combo_fills_once_its_limit_is_modified_to_the_market(
    make_sim: MakeSim,
) -> None:
    sim = make_sim()
    sim.step()
    assert sim.broker.place_order(roll("r1", Decimal("-50.00"), quantity=1))
    sim.step()
    assert sim.listener.executions("r1") == []
    sim.broker.modify_order("r1", limit_price=Decimal("10.00"))  # pays up to a 10.00 debit
    near, far = sim.listener.executions("r1")
    assert (near.quantity, far.quantity) == (1, 1)


def test_a_combo_with_an_unlisted_leg_is_rejected_with_the_leg_named(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.step()
    bad = Contract.option("AAA", date(2024, 4, 17), Decimal(100), "P")  # a Wednesday
    order = OrderRequest(
        "r1",
        Contract.combo("AAA"),
        Side.BUY,
        OrderType.MKT,
        1,
        legs=(ComboLeg(NEAR, 1, Side.BUY), ComboLeg(bad, 1, Side.SELL)),
    )
    assert sim.broker.place_order(order)
    (rejected,) = sim.listener.status_events("r1")
    assert rejected.status is OrderStatus.REJECTED
    assert bad.key in rejected.reason


def test_a_combo_limit_off_the_cent_is_refused(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.step()
    assert sim.broker.place_order(roll("r1", Decimal("-1.005")))
    (rejected,) = sim.listener.status_events("r1")
    assert rejected.status is OrderStatus.REJECTED and "110" in rejected.reason
