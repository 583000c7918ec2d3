"""The governor and the broker's link (ConnectionEvent): a lost link closes the gate, stale
market data freezes entries only (exits, stops and flatten still pass). Also the entry the
OrderManager hands a broker names its attached stop (``has_attached``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.messages.snapshots import RiskStatus
from core.domain import OrderRequest, Side
from core.events import ConnectionEvent, ConnectionState
from core.gate import GateState
from engine.engine import Engine
from tests.support.engine import SimEngine, start_engine


def _link(sim: SimEngine, state: ConnectionState, detail: str) -> None:
    sim.engine.book.tell("governor", ConnectionEvent(state, detail, sim.engine.clock.now()))
    sim.idle()


def _held(sim: SimEngine, va_id: str, symbol: str) -> int:
    for position in sim.ledger.open_positions():
        if (position.va_id, position.contract_key) == (va_id, symbol):
            return int(position.quantity)
    return 0


def test_stale_market_data_freezes_entries_while_exits_and_stops_still_pass(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    entry = sim.signal("va1", "AAPL")
    sim.advance(5)
    assert _held(sim, "va1", "AAPL") > 0
    _link(sim, ConnectionState.DATA_STALE, "market data stale: no quotes for 61s")
    gate = sim.engine.gate
    assert (gate.state, gate.reason) == (GateState.EXITS_ONLY, "market data stale")
    assert gate.allows(reduce_only=True) and not gate.allows(reduce_only=False)
    event = sim.ledger.latest_risk_event("connection")
    assert event is not None and event.reason.startswith("DATA_STALE: market data stale")
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus) and status.connected  # orders still reach it
    assert status.data_stale  # the header shows DATA STALE
    refused = sim.signal("va2", "JPM")
    decision = sim.decisions()[refused]
    assert not decision.accepted and "market data stale" in decision.detail
    # Refused by the governor's own rule, before it spends the entry's pacing slots.
    assert (decision.stage, decision.rule) == ("governor", "data_stale")
    stop = sim.ledger.order(f"{entry}.stop")
    assert stop.status.is_working  # the protective stop stays
    sim.signal("va1", "AAPL", Side.SELL, close=True)
    sim.advance(5)
    assert _held(sim, "va1", "AAPL") == 0  # the exit went out and filled


def test_a_lost_link_closes_the_gate_and_the_link_back_reopens_it(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    _link(sim, ConnectionState.DATA_STALE, "market data stale: no quotes for 61s")
    _link(sim, ConnectionState.DISCONNECTED, "connection to TWS lost")
    gate = sim.engine.gate
    assert (gate.state, gate.reason) == (GateState.CLOSED, "broker disconnected")
    assert not gate.allows(reduce_only=True)
    _link(sim, ConnectionState.DATA_STALE, "reconnected, no quotes yet")
    assert gate.state is GateState.EXITS_ONLY
    _link(sim, ConnectionState.CONNECTED, "market data flowing again")
    assert gate.state is GateState.OPEN
    accepted = sim.signal("va2", "JPM")
    assert sim.decisions()[accepted].accepted


def test_a_halt_while_data_is_stale_keeps_the_gate_closed_and_a_resume_reopens_it_for_exits(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    _link(sim, ConnectionState.DATA_STALE, "market data stale: no quotes for 61s")
    sim.engine.halt("test halt")
    sim.idle()
    assert sim.engine.gate.state is GateState.CLOSED
    sim.engine.resume("back")
    sim.idle()
    assert sim.engine.gate.state is GateState.EXITS_ONLY


def _recording(sent: list[OrderRequest]) -> Any:
    def factory(engine: Engine) -> Any:
        broker = engine.broker
        original = broker.place_order

        def place_order(order: OrderRequest) -> bool:
            sent.append(order)
            return original(order)

        broker.place_order = place_order  # type: ignore[method-assign]
        return broker

    return factory


def test_an_entry_is_handed_to_the_broker_marked_as_having_its_stop_attached(
    tmp_path: Path,
) -> None:
    sent: list[OrderRequest] = []
    sim = start_engine(tmp_path, broker_factory=_recording(sent))
    entry = sim.signal("va1", "AAPL")
    requests = {r.client_order_id: r for r in sent}
    assert requests[entry].has_attached
    stop = requests[f"{entry}.stop"]
    assert stop.parent_id == entry and not stop.has_attached
    sim.advance(5)
    sim.signal("va1", "AAPL", Side.SELL, close=True)
    exits = [r for r in sent if r.reduce_only and r.parent_id is None]
    assert exits and not any(r.has_attached for r in exits)
