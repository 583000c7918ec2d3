"""VirtualAccount through its messages: signals in, proposals out, fills back in."""

from __future__ import annotations

from pathlib import Path

from actors.messages.snapshots import VASnapshot
from core.domain import OrderStatus, Side
from tests.support.engine import start_engine


def test_a_signal_travels_from_the_va_to_a_stored_fill_and_back(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sid = sim.signal("va1", "AAPL")
    entry = sim.ledger.order(sid)
    stop = sim.ledger.order(f"{sid}.stop")
    assert entry is not None and entry.status is OrderStatus.FILLED
    assert stop is not None and stop.parent_id == sid and stop.status.is_working
    assert stop.side is Side.SELL and stop.quantity == entry.quantity
    assert stop.stop_price is not None and stop.stop_price < entry.avg_fill_price
    executions = sim.ledger.executions(va_id="va1")
    assert sum(e.quantity for e in executions) == entry.quantity
    snap = sim.snapshot("va:va1")
    assert isinstance(snap, VASnapshot)
    assert snap.symbol == "AAPL" and snap.open_positions == 1 and snap.state == "in_position"
    positions = sim.snapshot("position_monitor")
    assert [(p.va_id, p.contract.key, p.quantity) for p in positions] == [
        ("va1", "AAPL", entry.quantity)
    ]
    assert sim.decisions()[sid].accepted


def test_a_second_symbol_is_refused_while_the_va_holds_one(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL")
    refused = sim.signal("va1", "MSFT")
    decision = sim.decisions()[refused]
    assert not decision.accepted
    assert decision.rule == "one_symbol"
    assert "AAPL" in decision.detail
    assert sim.ledger.order(refused) is None


def test_the_symbol_is_released_only_when_the_position_is_flat(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL")
    sim.signal("va1", "AAPL", Side.SELL, close=True)
    assert sim.snapshot("va:va1").symbol is None
    accepted = sim.signal("va1", "MSFT")
    assert sim.decisions()[accepted].accepted
    assert sim.snapshot("va:va1").symbol == "MSFT"


def test_a_symbol_outside_the_universe_is_refused(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    refused = sim.signal("va1", "JPM")
    assert sim.decisions()[refused].rule == "universe"


def test_the_va_rebuilds_its_position_from_the_ledger_after_a_crash(tmp_path: Path) -> None:
    from actors.messages.events import Crash

    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL")
    before = sim.snapshot("va:va1")
    sim.engine.book.tell("va:va1", Crash("test"))
    sim.idle()
    after = sim.snapshot("va:va1")
    assert after.open_positions == before.open_positions == 1
    assert after.symbol == "AAPL"
    kinds = [e.kind for e in sim.ledger.risk_events()]
    assert "actor_crash" in kinds
