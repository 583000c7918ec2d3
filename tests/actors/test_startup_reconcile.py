"""Startup reconciliation: nothing trades until the ledger and the broker are compared; lost
orders are retired, lost stops replaced, missed fills taken in, mismatches halt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actors.messages.timers import StartupReconcileDue
from actors.order_manager.proofs import CHECK_HINT
from core.domain import TradingState
from core.events import ExecutionEvent
from core.gate import GateState
from engine.engine import Engine
from tests.support.engine import MONDAY_10, make_config, start_engine


def _reconciled(sim: Any) -> dict[str, Any]:
    [event] = [e for e in sim.ledger.risk_events() if e.kind == "reconciled"][-1:]
    return json.loads(event.detail)


def test_a_restart_keeps_the_position_and_replaces_the_lost_stop(
    tmp_path: Path, ledger_url: str
) -> None:
    first = start_engine(tmp_path, database_url=ledger_url)
    sid = first.signal("va1", "AAPL", quantity=50)
    old_stop = first.ledger.order(f"{sid}.stop")
    first.engine.stop()
    again = start_engine(tmp_path, start=MONDAY_10.replace(minute=30), database_url=ledger_url)
    detail = _reconciled(again)
    assert detail["mismatch"] is False
    assert detail["differences"] == [f"order {sid}.stop (stop) is not at the broker"]
    assert again.ledger.order(f"{sid}.stop").status.value == "cancelled"
    [new_stop] = [o for o in again.ledger.orders(working_only=True) if o.purpose == "stop"]
    assert new_stop.quantity == 50 and new_stop.stop_price == old_stop.stop_price
    assert again.engine.gate.state is GateState.OPEN
    assert again.snapshot("va:va1").open_positions == 1
    exit_id = again.signal("va1", "AAPL", close=True)
    assert again.ledger.order(exit_id).status.value == "filled"
    assert again.ledger.open_positions() == [] and again.engine.broker.positions() == []


def _forgetful(engine: Engine) -> Any:
    broker = engine.broker
    broker.restore_account = lambda fills: 0  # type: ignore[method-assign]
    return broker


def test_a_position_the_broker_does_not_have_halts_trading(tmp_path: Path, ledger_url: str) -> None:
    first = start_engine(tmp_path, database_url=ledger_url)
    first.signal("va1", "AAPL", quantity=50)
    first.engine.stop()
    again = start_engine(tmp_path, broker_factory=_forgetful, database_url=ledger_url)
    detail = _reconciled(again)
    assert detail["mismatch"] is True
    assert "position AAPL: ledger 50, broker 0" in detail["differences"]
    assert detail["check"] == CHECK_HINT  # what the trader should check
    status = again.snapshot("governor")
    assert status.state is TradingState.HALTED
    assert CHECK_HINT in status.reason
    assert again.engine.gate.state is GateState.CLOSED


def test_with_on_mismatch_trade_the_engine_reports_and_trades_on(tmp_path: Path) -> None:
    first = start_engine(tmp_path)
    first.signal("va1", "AAPL", quantity=50)
    first.engine.stop()
    config = make_config()
    config = config.model_copy(
        update={"engine": config.engine.model_copy(update={"on_mismatch": "trade"})}
    )
    again = start_engine(tmp_path, config, broker_factory=_forgetful)
    assert _reconciled(again)["mismatch"] is True
    assert again.snapshot("governor").state is TradingState.ACTIVE


def test_a_fill_the_ledger_missed_is_taken_in(tmp_path: Path) -> None:
    dropped: list[ExecutionEvent] = []

    def dropping(engine: Engine) -> Any:
        broker = engine.broker
        original = broker.start

        def start(listener: Any) -> None:
            class Lossy:
                def on_quote(self, quote: Any) -> None:
                    listener.on_quote(quote)

                def on_broker_event(self, event: Any) -> None:
                    # Everything about the first order is lost, as during a disconnect.
                    first = dropped[0].client_order_id if dropped else None
                    if isinstance(event, ExecutionEvent) and first is None:
                        dropped.append(event)
                        return
                    if getattr(event, "client_order_id", None) == first and first is not None:
                        return
                    listener.on_broker_event(event)

            original(Lossy())

        broker.start = start  # type: ignore[method-assign]
        return broker

    sim = start_engine(tmp_path, broker_factory=dropping)
    sid = sim.signal("va1", "AAPL", quantity=50)
    assert dropped and dropped[0].client_order_id == sid
    assert sim.ledger.executions(va_id="va1") == []
    sim.engine.book.tell("order_manager", StartupReconcileDue(sim.engine.clock.now()))
    sim.idle()
    [stored] = sim.ledger.executions(va_id="va1")
    assert stored.exec_id == dropped[0].exec_id
    assert sim.snapshot("va:va1").open_positions == 1
    order = sim.ledger.order(sid)
    assert (order.status.value, order.filled) == ("filled", 50)
