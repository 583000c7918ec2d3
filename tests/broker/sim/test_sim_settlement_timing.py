"""The simulator's settlement timing as tws-sim uses it: expired options settle overnight (the
morning after the expiration day, as IB processes them), and a short option can be assigned
early on any day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from broker.sim.broker import SimBroker
from core.domain import Contract, OrderRequest, OrderType, Side
from core.events import AssignmentEvent, ExpiryEvent
from tests.broker.sim.conftest import TZ, MakeSim

FRIDAY = date(2024, 3, 15)
FRIDAY_CLOSE = datetime(2024, 3, 15, 16, 0, tzinfo=TZ)
SATURDAY_0230 = datetime(2024, 3, 16, 2, 30, tzinfo=TZ)


def _sell(sim_broker: SimBroker, cid: str, contract: Contract, quantity: int) -> None:
    request = OrderRequest(cid, contract, Side.SELL, OrderType.MKT, quantity)
    assert sim_broker.place_order(request)


def test_an_expired_put_stays_held_after_the_close_and_settles_overnight(
    make_sim: MakeSim,
) -> None:
    sim = make_sim(tick_interval_s=60.0, settlement_time=time(2, 30))
    contract = Contract.option("AAA", FRIDAY, Decimal(80), "P")
    sim.broker.subscribe_quotes([contract])
    sim.step()
    _sell(sim.broker, "p1", contract, 2)
    sim.clock.advance(60)
    assert sim.listener.executions("p1")
    # The clock skips the night at the close: run the timers one by one and look at the
    # settlement's moment.
    sim.clock.run_until(FRIDAY_CLOSE)
    assert not [e for e in sim.listener.events if isinstance(e, ExpiryEvent)]
    assert [p.quantity for p in sim.broker.positions()] == [-2]
    sim.clock.run_until(FRIDAY_CLOSE + timedelta(days=3))
    (expired,) = [e for e in sim.listener.events if isinstance(e, ExpiryEvent)]
    assert expired.quantity == -2 and expired.time >= SATURDAY_0230
    assert sim.broker.positions() == []


def test_every_short_option_of_a_symbol_can_be_assigned_early(make_sim: MakeSim) -> None:
    sim = make_sim(tick_interval_s=60.0)
    april = Contract.option("AAA", date(2024, 4, 19), Decimal(95), "P")
    may = Contract.option("AAA", date(2024, 5, 17), Decimal(90), "P")
    other = Contract.option("BBB", date(2024, 4, 19), Decimal(20), "P")
    sim.broker.subscribe_quotes([april, may, other])
    sim.step()
    for cid, contract, quantity in (("a", april, 2), ("m", may, 1), ("o", other, 1)):
        _sell(sim.broker, cid, contract, quantity)
    sim.clock.advance(60)
    cash = sim.broker.account().cash

    assert sim.broker.assign_early("AAA") == 3

    assigned = [e for e in sim.listener.events if isinstance(e, AssignmentEvent)]
    assert sorted((e.contract.key, e.quantity, e.stock_quantity) for e in assigned) == [
        (april.key, -2, 200),
        (may.key, -1, 100),
    ]
    held = {p.contract.key: p.quantity for p in sim.broker.positions()}
    assert held == {"AAA": 300, other.key: -1}
    assert sim.broker.account().cash == cash - Decimal(95) * 200 - Decimal(90) * 100
    assert sim.broker.assign_early("AAA") == 0
