"""Stock delivered by an early assignment is closed even when the first try cannot pass: the
naked-put VA keeps it to close until an exit can reach the broker (found by the every-fault
drill, tests/broker/ib/test_ib_every_fault.py: the close was refused while TWS restarted and the
stock stayed, with no stop, until a reconnect's reconcile put one on it)."""

from __future__ import annotations

from pathlib import Path

from core.gate import GateState
from tests.actors.test_naked_put_engine import config, orders, running, sold_put


def test_assigned_stock_is_closed_once_the_gate_opens_after_a_disconnect(tmp_path: Path) -> None:
    with running(tmp_path, config()) as sim:
        put = sold_put(sim)
        sim.engine.gate.set(GateState.CLOSED, "broker disconnected")  # as a link loss closes it
        assert sim.broker.assign_early("AAA") == put.quantity
        sim.advance(300)  # five market steps: quotes come, no exit may pass
        [stock] = [p for p in sim.ledger.open_positions() if p.contract_key == "AAA"]
        assert stock.quantity == 100 * put.quantity
        assert not [o for o in orders(sim, "puts-a", purpose="exit") if o.symbol == "AAA"]
        refused = [s for s in sim.ledger.signals(va_id="puts-a") if s.contract_key == "AAA"]
        assert not refused  # kept for later, not proposed to be refused at every quote

        sim.engine.gate.set(GateState.OPEN, "reconnected")
        sim.advance(120)
        [close] = [o for o in orders(sim, "puts-a", purpose="exit") if o.symbol == "AAA"]
        assert (close.reason, close.status.value) == ("assignment", "filled")
        assert all(p.contract_key != "AAA" for p in sim.ledger.open_positions())
