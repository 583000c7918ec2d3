"""RiskGovernor through its messages: trading states, the gate, global limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from actors.messages.snapshots import RiskStatus
from core.domain import OrderStatus, TradingState
from core.events import OrderStatusEvent
from core.gate import GateState
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import STARTED, make_config, start_engine
from tests.support.fake_broker import (
    BrokerCall,
    FakeBroker,
    default_answer,
    funded_account,
    stock_quote,
)


def test_halt_closes_the_gate_at_once_and_is_stored_with_its_reason(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    assert sim.engine.gate.state is GateState.OPEN
    sim.engine.halt("test halt")
    assert sim.engine.gate.state is GateState.CLOSED  # before any actor ran
    sim.idle()
    status = sim.snapshot("governor")
    assert isinstance(status, RiskStatus) and status.state is TradingState.HALTED
    event = sim.ledger.latest_risk_event("state")
    assert event is not None and event.state == "HALTED" and event.reason == "test halt"
    refused = sim.signal("va1", "AAPL")
    decision = sim.decisions()[refused]
    assert not decision.accepted and decision.rule == "trading_state"


def test_halt_is_acknowledged_by_every_va(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.engine.halt("ack test")
    sim.idle()
    governor = sim.engine.actor("governor")
    assert governor is not None
    assert governor.halt_acks == {"va1", "va2"}  # type: ignore[attr-defined]


def test_resume_reopens_the_gate_and_entries_pass_again(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.engine.halt("pause")
    sim.idle()
    sim.engine.resume("back")
    sim.idle()
    assert sim.engine.gate.state is GateState.OPEN
    accepted = sim.signal("va1", "AAPL")
    assert sim.decisions()[accepted].accepted


def test_max_trades_per_day_refuses_the_trade_over_the_limit(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(risk="max_trades_per_day = 1"))
    first = sim.signal("va1", "AAPL")
    second = sim.signal("va2", "JPM")
    decisions = sim.decisions()
    assert decisions[first].accepted
    assert not decisions[second].accepted
    assert decisions[second].rule == "max_trades_per_day"
    assert decisions[second].detail == "1/1"
    assert ("trades", "1/1") in sim.snapshot("governor").limits


def test_a_halt_survives_a_restart(tmp_path: Path, ledger_url: str) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sim.engine.halt("before restart")
    sim.idle()
    back = sim.engine.clock.now() + timedelta(seconds=1)  # time in a ledger moves forward
    sim.engine.stop()
    config = make_config()
    again = STARTED.track(
        Engine(config, RunOptions(database_url=ledger_url, speed=None, start=back))
    )
    again.start(drive_clock=False)
    assert again.ask_snapshot("governor", timeout_s=5).state is TradingState.HALTED
    assert again.gate.state is GateState.CLOSED


def test_flatten_closes_every_position_and_ends_halted(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL")
    sim.signal("va2", "JPM")
    sim.engine.flatten("test flatten")
    sim.advance(10)
    assert sim.snapshot("governor").state is TradingState.HALTED
    assert sim.ledger.open_positions() == []
    assert sim.ledger.orders(working_only=True) == []
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert {o.va_id for o in exits} == {"va1", "va2"}
    assert all(o.reason == "flatten" for o in exits)


def test_an_entry_rejected_by_the_broker_is_not_counted_as_a_trade(tmp_path: Path) -> None:
    def handler(call: BrokerCall) -> object:
        """The venue rejects every entry."""
        if call.method == "place_order":
            order = call.order
            if order.parent_id is None and not order.reduce_only:
                now = sim.engine.clock.now()
                rejected = OrderStatusEvent(
                    order.client_order_id, OrderStatus.REJECTED, 0, 0, None, now, "no entries"
                )
                fake.deliver(rejected)
        return default_answer(call)

    fake = FakeBroker(handler)
    sim = start_engine(
        tmp_path, make_config(risk="max_trades_per_day = 1"), broker_factory=lambda e: fake
    )
    fake.deliver(funded_account(sim.engine.clock.now()))
    fake.quote(stock_quote("AAPL", 100.0, sim.engine.clock.now()))
    first = sim.signal("va1", "AAPL")
    assert sim.ledger.order(first).status.value == "rejected"
    assert ("trades", "0/1") in sim.snapshot("governor").limits
    assert sim.snapshot("va:va1").symbol is None  # released


def test_a_paused_va_is_still_paused_after_a_restart(tmp_path: Path, ledger_url: str) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sim.engine.pause_va("va1", paused=True, reason="trader pause")
    sim.idle()
    assert sim.snapshot("va:va1").state == "paused"
    back = sim.engine.clock.now() + timedelta(seconds=1)  # time in a ledger moves forward
    sim.engine.stop()
    again = STARTED.track(
        Engine(make_config(), RunOptions(database_url=ledger_url, speed=None, start=back))
    )
    again.start(drive_clock=False)
    assert again.ask_snapshot("va:va1", timeout_s=5).state == "paused"
    assert again.ask_snapshot("va:va2", timeout_s=5).state != "paused"
    again.pause_va("va1", paused=False, reason="back")
    assert again.wait_idle(5)
    assert again.ask_snapshot("va:va1", timeout_s=5).state != "paused"
