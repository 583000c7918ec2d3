"""SimBroker OCA groups (reducing, IB ``ocaType`` 2): a fill reduces the other members, and an
order placed into a group after a fill is admitted as IB admits it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from broker.sim.matching import OCA_ALREADY_FILLED, oca_admission
from core.domain import OrderRequest, OrderStatus, OrderType, Side

if TYPE_CHECKING:
    from conftest import MakeSim, Sim

MakeOrder = Callable[..., OrderRequest]


def in_group(order: OrderRequest, group: str = "oca-1") -> OrderRequest:
    return replace(order, oca_group=group)


def stop_below(sim: Sim) -> Decimal:
    return Decimal(repr(sim.quote().bid)) - Decimal("1.00")


def test_an_order_placed_into_a_group_whose_stop_has_filled_is_rejected_and_never_fills(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("long", 100))
    stop = stop_below(sim)
    sim.broker.place_order(in_group(make_order("stp", 100, Side.SELL, OrderType.STP, stop=stop)))
    sim.broker.set_mid("AAA", float(stop) - 0.50)
    sim.step()
    assert sim.listener.statuses("stp")[-1] is OrderStatus.FILLED
    assert sim.broker.positions() == []
    assert sim.broker.place_order(in_group(make_order("late-exit", 100, Side.SELL)))
    [refused] = sim.listener.status_events("late-exit")
    assert refused.status is OrderStatus.REJECTED and OCA_ALREADY_FILLED in refused.reason
    assert sim.listener.executions("late-exit") == []
    assert sim.broker.positions() == []  # the exit did not open a short


def test_an_order_joining_a_group_after_a_partial_fill_is_cut_to_what_the_group_has_left(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("long", 2000))
    while sim.listener.statuses("long")[-1] is not OrderStatus.FILLED:
        sim.step()
    stop = stop_below(sim)
    sim.broker.place_order(in_group(make_order("stp", 2000, Side.SELL, OrderType.STP, stop=stop)))
    sim.broker.set_mid("AAA", float(stop) - 0.50)
    sim.step()
    filled = sum(f.quantity for f in sim.listener.executions("stp"))
    assert 0 < filled < 2000  # the displayed size allowed a part
    far = Decimal(repr(sim.quote().ask)) + Decimal("50.00")
    late = make_order("late-exit", 2000, Side.SELL, OrderType.LMT, limit=far)
    sim.broker.place_order(in_group(late))
    [admitted] = sim.listener.status_events("late-exit")
    assert admitted.status is OrderStatus.SUBMITTED and admitted.remaining == 2000 - filled


def test_a_group_whose_members_ended_without_a_fill_takes_a_new_order(
    make_sim: MakeSim, make_order: MakeOrder
) -> None:
    sim = make_sim()
    sim.broker.place_order(make_order("long", 100))
    stop = stop_below(sim)
    sim.broker.place_order(in_group(make_order("stp", 100, Side.SELL, OrderType.STP, stop=stop)))
    sim.broker.cancel_order("stp")
    sim.broker.place_order(in_group(make_order("exit", 100, Side.SELL)))
    assert sim.listener.statuses("exit") == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert sim.broker.positions() == []


def test_oca_admission_refuses_after_a_fill_and_otherwise_cuts_to_the_most_still_open() -> None:
    assert oca_admission(100, []) == (None, 100)
    assert oca_admission(100, [(0, 100, True), (0, 0, False)]) == (None, 100)
    assert oca_admission(100, [(100, 0, False)]) == (OCA_ALREADY_FILLED, 100)
    assert oca_admission(100, [(40, 0, False), (0, 0, False)]) == (OCA_ALREADY_FILLED, 100)
    assert oca_admission(100, [(40, 60, True)]) == (None, 60)
    assert oca_admission(50, [(40, 60, True)]) == (None, 50)
    # Cancel-type groups (ocaType 1) take no one after a fill.
    assert oca_admission(100, [(40, 60, True)], reduce=False) == (OCA_ALREADY_FILLED, 100)
