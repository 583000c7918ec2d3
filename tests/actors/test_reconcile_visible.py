"""A reconciliation's differences reach the trader: in the ``reconciled`` event's text (the
events pane, the headless log), in the halt reason and in the governor's status (the resume
dialog, the inspector)."""

from __future__ import annotations

from pathlib import Path

from actors.messages.events import Crash, EngineEvent
from core.domain import TradingState
from core.events import ConnectionEvent, ConnectionState
from engine.broker_router import BrokerRouter
from tests.support.broker_truth import BrokerTruth
from tests.support.engine import start_engine


def test_a_mismatch_names_its_contracts_in_the_event_the_halt_and_the_status(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    truth = BrokerTruth(sim.engine)
    truth.extra_positions = lambda n: {"AAPL": -50}  # sold elsewhere while we were away
    router = BrokerRouter(sim.engine.book, sim.engine.quotes)
    now = sim.engine.clock.now()
    router.on_broker_event(ConnectionEvent(ConnectionState.DISCONNECTED, "lost", now))
    router.on_broker_event(ConnectionEvent(ConnectionState.CONNECTED, "back", now))
    sim.idle()
    sim.advance(5)  # the second look
    [event] = [e for e in sim.ledger.risk_events() if e.kind == "reconciled"][-1:]
    assert event.reason == (
        "reconnect reconciliation: 1 difference(s): position AAPL: ledger 50, broker 0"
    )
    shown = [e.text for e in sim.of_type(EngineEvent) if e.text.startswith("reconciled: ")]
    assert shown[-1] == f"reconciled: {event.reason}"
    status = sim.snapshot("governor")
    assert status.state is TradingState.HALTED
    assert "positions differ: position AAPL: ledger 50, broker 0;" in status.reason
    assert status.differences == ("position AAPL: ledger 50, broker 0",)
    sim.engine.book.tell("governor", Crash("test"))  # rebuilt from the ledger
    sim.idle()
    assert sim.snapshot("governor").differences == status.differences
