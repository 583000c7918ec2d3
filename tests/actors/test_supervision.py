"""Supervision: an exception in any actor is stored as a risk event and the actor restarts
from the ledger at the same address; the gate stays closed while the governor or the order
manager rebuilds; a VA that keeps crashing is paused."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from actors.messages.events import Crash
from actors.messages.timers import ReconcileDue
from core.domain import TradingState
from core.gate import GateState
from engine.engine import Engine
from tests.support.engine import SimEngine, make_config, start_engine


def _crash(sim: SimEngine, address: str) -> None:
    sim.engine.book.tell(address, Crash("test"))
    sim.idle()


def _crash_events(sim: SimEngine, address: str) -> list[str]:
    return [
        e.reason
        for e in sim.ledger.risk_events()
        if e.kind == "actor_crash" and e.reason.startswith(address)
    ]


def test_a_crashed_governor_restarts_with_its_stored_state_and_gate(
    tmp_path: Path, ledger_url: str
) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sim.engine.halt("before crash")
    sim.idle()
    _crash(sim, "governor")
    assert len(_crash_events(sim, "governor")) == 1
    assert sim.snapshot("governor").state is TradingState.HALTED
    assert sim.engine.gate.state is GateState.CLOSED
    sim.engine.resume("after crash")
    sim.idle()
    assert sim.engine.gate.state is GateState.OPEN
    sid = sim.signal("va1", "AAPL")
    assert sim.decisions()[sid].accepted


def test_a_crashed_order_manager_keeps_its_orders_and_reopens_the_gate(
    tmp_path: Path, ledger_url: str
) -> None:
    sim = start_engine(tmp_path, database_url=ledger_url)
    sid = sim.signal("va1", "AAPL", quantity=10)
    sim.engine._on_crash("order_manager", RuntimeError("seen by the supervisor"))
    assert sim.engine.gate.state is GateState.CLOSED  # closed while it rebuilds
    sim.idle()
    _crash(sim, "order_manager")  # the actor's own crash and restart
    assert sim.engine.gate.state is GateState.OPEN  # reopened once it is back
    assert len(_crash_events(sim, "order_manager")) == 2
    snap = sim.snapshot("order_manager")
    assert f"{sid}.stop" in snap["working"] and snap["positions"]["va1|AAPL"] == 10
    exit_id = sim.signal("va1", "AAPL", close=True)
    assert sim.ledger.order(exit_id).status.value == "filled"
    assert sim.ledger.open_positions() == []


def test_a_crashed_position_monitor_still_watches_the_open_positions(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    _crash(sim, "position_monitor")
    assert len(_crash_events(sim, "position_monitor")) == 1
    [position] = sim.snapshot("position_monitor")
    assert (position.va_id, position.contract.key, position.quantity) == ("va1", "AAPL", 10)
    assert position.stop_price is not None


def test_a_va_that_keeps_crashing_is_paused(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    for _ in range(3):
        _crash(sim, "va:va1")
    assert len(_crash_events(sim, "va:va1")) == 3
    assert sim.snapshot("va:va1").state == "paused"
    sid = sim.signal("va1", "AAPL")
    assert sim.decisions()[sid].rule == "paused"
    assert sim.snapshot("va:va2").state == "idle"


def test_the_working_orders_can_be_asked_for_at_start(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sid = sim.signal("va1", "AAPL", quantity=10)
    [stop] = sim.engine.working_orders(timeout_s=5)
    assert (stop.order_id, stop.quantity, stop.status.value) == (f"{sid}.stop", 10, "submitted")


def test_a_stop_while_an_actor_waits_on_the_broker_ends_in_time_and_restarts_nothing(
    tmp_path: Path,
) -> None:
    """Bug F: the OrderManager's reconcile reader is inside a broker read when the engine stops
    (the OrderManager waits for it in ``on_stop``). The other actors stop meanwhile; the
    broker's stop then fails the read, whose answer nobody takes (no crash, no rebuild from the
    ledger), and the whole stop stays within its bound."""
    inside = threading.Event()
    broker_stopped = threading.Event()
    armed = threading.Event()

    def stuck_reads(engine: Engine) -> Any:
        broker = engine.broker
        stop, open_orders = broker.stop, broker.open_orders

        def blocking_open_orders() -> Any:
            if not armed.is_set():
                return open_orders()
            inside.set()
            broker_stopped.wait(10)
            raise RuntimeError("ib-loop is not running")  # what the IB adapter raises then

        def stopping() -> None:
            broker_stopped.set()
            stop()

        broker.open_orders = blocking_open_orders
        broker.stop = stopping
        return broker

    sim = start_engine(tmp_path, broker_factory=stuck_reads)
    manager, va = sim.engine.book.get("order_manager"), sim.engine.book.get("va:va1")
    assert manager is not None and va is not None
    armed.set()
    sim.engine.book.tell("order_manager", ReconcileDue(sim.engine.clock.now()))
    assert inside.wait(5), "the OrderManager's reader never reached the broker read"
    started = time.monotonic()
    sim.engine.stop(timeout_s=3.0)
    assert time.monotonic() - started < 3.0 + 1.0  # the bound, with room for a loaded machine
    assert not manager.is_alive() and not va.is_alive()
    assert sim.engine.crashes == {}, "an error while stopping is not a crash to recover from"


def test_a_governor_crash_during_a_flatten_lets_the_flatten_finish(tmp_path: Path) -> None:
    # 100 shares shown at the touch: a 300-share close takes more than one market step.
    config = make_config(filters="max_slippage_bps = 50", display_size=100)
    sim = start_engine(tmp_path, config)
    sim.signal("va1", "AAPL", quantity=300)
    sim.advance(15)
    assert sum(p.quantity for p in sim.ledger.open_positions()) == 300
    sim.engine.flatten("test")
    sim.idle()  # the closing order is out and partly filled; the market has not moved
    assert sim.snapshot("governor").state is TradingState.FLATTENING
    _crash(sim, "governor")
    assert sim.snapshot("governor").state is TradingState.FLATTENING
    sim.advance(30)
    assert sim.ledger.open_positions() == []
    assert sim.snapshot("governor").state is TradingState.HALTED  # by the flatten's end
