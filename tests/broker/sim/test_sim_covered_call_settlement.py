"""A covered call at the simulator, as IB reports it (position changes, no execution): in the
money at expiry it calls the stock away at the strike, assigned early it does the same on any
day; either way the call and the stock leave the account together, cash comes in at the strike,
no commission is charged and no execution is reported for the delivery."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from broker.sim.broker import SimBroker
from core.domain import Contract, OrderRequest, OrderType, Side
from core.events import AssignmentEvent, ExecutionEvent, ExpiryEvent
from tests.broker.sim.conftest import TZ, MakeSim

FRIDAY = date(2024, 3, 15)
FRIDAY_1530 = datetime(2024, 3, 15, 15, 30, tzinfo=TZ)
FRIDAY_CLOSE = datetime(2024, 3, 15, 16, 0, tzinfo=TZ)


def _trade(broker: SimBroker, cid: str, contract: Contract, side: Side, quantity: int) -> None:
    assert broker.place_order(OrderRequest(cid, contract, side, OrderType.MKT, quantity))


def _covered(sim_broker: SimBroker, call: Contract) -> None:
    _trade(sim_broker, "stk", Contract.stock("AAA"), Side.BUY, 200)
    _trade(sim_broker, "call", call, Side.SELL, 2)


def test_a_covered_call_in_the_money_at_expiry_calls_the_stock_away(make_sim: MakeSim) -> None:
    sim = make_sim(tick_interval_s=60.0)
    call = Contract.option("AAA", FRIDAY, Decimal(95), "C")
    sim.broker.subscribe_quotes([call])
    sim.step()
    _covered(sim.broker, call)
    sim.clock.advance(60)
    assert {p.contract.key: p.quantity for p in sim.broker.positions()} == {
        "AAA": 200,
        call.key: -2,
    }
    executions = len(sim.listener.of(ExecutionEvent))
    sim.clock.run_until(FRIDAY_1530)
    sim.broker.set_mid("AAA", 110.0)
    sim.clock.advance(60)
    cash = sim.broker.account().cash
    sim.clock.run_until(FRIDAY_CLOSE + timedelta(minutes=1))

    (assigned,) = [e for e in sim.listener.events if isinstance(e, AssignmentEvent)]
    assert (assigned.contract, assigned.quantity) == (call, -2)
    assert (assigned.stock.key, assigned.stock_quantity, assigned.price) == (
        "AAA",
        -200,
        Decimal(95),
    )
    assert not [e for e in sim.listener.events if isinstance(e, ExpiryEvent)]
    assert sim.broker.positions() == []
    assert sim.broker.account().cash == cash + Decimal(95) * 200  # at the strike, no fee
    assert len(sim.listener.of(ExecutionEvent)) == executions  # no execution for it


def test_a_covered_call_assigned_early_delivers_the_stock_at_the_strike(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(tick_interval_s=60.0)
    call = Contract.option("AAA", date(2024, 4, 19), Decimal(105), "C")
    sim.broker.subscribe_quotes([call])
    sim.step()
    _covered(sim.broker, call)
    sim.clock.advance(60)
    executions = len(sim.listener.of(ExecutionEvent))
    cash = sim.broker.account().cash

    assert sim.broker.assign_early("AAA") == 2

    (assigned,) = [e for e in sim.listener.events if isinstance(e, AssignmentEvent)]
    assert (assigned.quantity, assigned.stock_quantity, assigned.price) == (-2, -200, 105)
    assert sim.broker.positions() == []
    assert sim.broker.account().cash == cash + Decimal(105) * 200
    assert len(sim.listener.of(ExecutionEvent)) == executions
