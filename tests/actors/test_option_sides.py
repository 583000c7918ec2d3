"""The engine never has a BUY and a SELL working on one option in the account (IB refuses the
second order): an option entry is refused while an exit works on the other side of its
contract, and an exit placed while an entry still works is held until the entry's cancel is
confirmed. Watched at the broker: every order the simulator receives is checked against what
is working there on the other side of its contract."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.messages.commands import ExitRequest, OrderProposal, PlaceOrder
from broker.sim import SimBroker
from core.domain import OrderRequest, OrderType, Purpose, Side
from db.records import OrderRecord
from engine.engine import Engine
from tests.actors.test_naked_put_engine import config, orders, sold_put
from tests.support.engine import SimEngine, start_engine


class _SideWatch:
    """Wraps the simulator: records every order placed while an order on the other side of
    the same option works at the broker; with ``hold_cancels`` cancels wait for ``release``
    (a cancel still on its way, as at IB)."""

    def __init__(self, broker: SimBroker) -> None:
        self.broker = broker
        self.crossed: list[str] = []
        self.hold_cancels = False
        self.held: list[str] = []
        place, cancel = broker.place_order, broker.cancel_order

        def place_order(order: OrderRequest) -> bool:
            if order.contract.is_option:
                opposite = [
                    o.client_order_id
                    for o in broker.open_orders()
                    if o.contract.key == order.contract.key and o.side is order.side.opposite
                ]
                if opposite:
                    self.crossed.append(f"{order.client_order_id} vs {opposite}")
            return place(order)

        def cancel_order(client_order_id: str) -> None:
            if self.hold_cancels:
                self.held.append(client_order_id)
            else:
                cancel(client_order_id)

        self._cancel = cancel
        broker.place_order = place_order  # type: ignore[method-assign]
        broker.cancel_order = cancel_order  # type: ignore[method-assign]

    def release(self) -> None:
        self.hold_cancels = False
        held, self.held = self.held, []
        for order_id in held:
            self._cancel(order_id)


def _start(tmp_path: Path, *, b_enabled: bool = False) -> tuple[SimEngine, _SideWatch]:
    watches: list[_SideWatch] = []

    def factory(engine: Engine) -> SimBroker:
        broker = engine.broker
        assert isinstance(broker, SimBroker)
        watches.append(_SideWatch(broker))
        return broker

    cfg = config(b_enabled=b_enabled)
    sim = start_engine(tmp_path, cfg, broker_factory=factory, warmup_s=1)
    return sim, watches[0]


def _resting_entry(
    sim: SimEngine, entry: OrderRecord, proposal_id: str, va_id: str = "puts-a"
) -> None:
    """Another SELL of the same put, well above the market (it rests), straight to the
    OrderManager as the governor would send it, on a fresh quote (one market step a minute)."""
    sim.advance(60 - sim.engine.clock.now().second)  # to the next step: a quote of age 0
    now = sim.engine.clock.now()
    proposal = OrderProposal(
        proposal_id=proposal_id,
        va_id=va_id,
        contract=entry.contract,
        side=Side.SELL,
        quantity=1,
        order_type=OrderType.LMT,
        purpose=Purpose.ENTRY,
        reason="naked_put test",
        time=now,
        ref_price=Decimal("3.00"),
        limit_price=Decimal("3.00"),  # ~45 % above the ask: rests, inside the option collar
    )
    sim.engine.book.tell("order_manager", PlaceOrder(proposal))
    sim.idle()


def test_an_option_entry_is_refused_while_an_exit_works_on_the_other_side(
    tmp_path: Path,
) -> None:
    sim, watch = _start(tmp_path)
    entry = sold_put(sim)
    now = sim.engine.clock.now()
    resting = ExitRequest(
        "puts-a", entry.contract, "profit_target", now, OrderType.LMT, Decimal("0.01")
    )
    sim.engine.book.tell("va:puts-a", resting)
    sim.idle()
    [profit] = orders(sim, "puts-a", purpose="exit")
    assert profit.status.value == "submitted"
    _resting_entry(sim, entry, "t-second-sell")
    assert [o.id for o in orders(sim, "puts-a", purpose="entry")] == [entry.id]
    decision = sim.decisions()["t-second-sell"]
    assert (decision.accepted, decision.rule) == (False, "opposite_side")
    assert watch.crossed == []


def test_an_exit_waits_until_the_entry_on_the_other_side_is_cancelled(tmp_path: Path) -> None:
    sim, watch = _start(tmp_path)
    entry = sold_put(sim)
    _resting_entry(sim, entry, "t-resting-sell")
    assert sim.ledger.order("t-resting-sell").status.value == "submitted"
    watch.hold_cancels = True  # the entry's cancel is on its way
    now = sim.engine.clock.now()
    sim.engine.book.tell("va:puts-a", ExitRequest("puts-a", entry.contract, "stop", now))
    sim.advance(2)
    [exit_order] = orders(sim, "puts-a", purpose="exit")
    assert exit_order.status.value == "pending_submit"  # held: the SELL still works
    assert watch.held == ["t-resting-sell"]
    watch.release()
    sim.advance(5)
    assert sim.ledger.order("t-resting-sell").status.value == "cancelled"
    assert sim.ledger.order(exit_order.id).status.value == "filled"
    assert sim.ledger.open_positions() == []
    assert watch.crossed == []


def test_an_exit_cancels_another_vas_entry_on_the_other_side_first(tmp_path: Path) -> None:
    sim, watch = _start(tmp_path, b_enabled=True)
    entry = sold_put(sim)
    _resting_entry(sim, entry, "t-other-va-sell", va_id="puts-b")
    assert sim.ledger.order("t-other-va-sell").status.value == "submitted"
    now = sim.engine.clock.now()
    sim.engine.book.tell("va:puts-a", ExitRequest("puts-a", entry.contract, "stop", now))
    sim.advance(5)
    assert sim.ledger.order("t-other-va-sell").status.value == "cancelled"
    [exit_order] = orders(sim, "puts-a", purpose="exit")
    assert sim.ledger.order(exit_order.id).status.value == "filled"
    assert watch.crossed == []
