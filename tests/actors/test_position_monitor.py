"""PositionMonitor through its messages: marks, exit rules, exit requests through the VA."""

from __future__ import annotations

from pathlib import Path

from db.report import build_report
from tests.support.engine import NY, make_config, start_engine


def test_the_profit_target_exits_through_the_va_with_its_reason(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(exits="profit_target_pct = 1.0"))
    sim.signal("va1", "AAPL")
    sim.broker.set_mid("AAPL", 102.0)
    sim.advance(10)
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert [(o.reason, o.status.value) for o in exits] == [("profit_target", "filled")]
    trades = build_report(sim.ledger, tz=NY)["trades"]
    assert [t["exit_reason"] for t in trades] == ["profit_target"]
    assert trades[0]["pnl"] > 0


def test_a_position_held_too_long_exits_on_time(tmp_path: Path) -> None:
    sim = start_engine(tmp_path, make_config(exits="max_holding_min = 2"))
    sim.signal("va1", "AAPL")
    sim.advance(60)
    assert not [o for o in sim.ledger.orders() if o.purpose == "exit"]
    sim.advance(70)
    exits = [o for o in sim.ledger.orders() if o.purpose == "exit"]
    assert [o.reason for o in exits] == ["time"]


def test_marks_are_published_with_unrealized_pnl(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=100)
    sim.broker.set_mid("AAPL", 101.0)
    sim.advance(5)
    [position] = sim.snapshot("position_monitor")
    assert position.mark == 101.0
    assert position.unrealized_pnl > 0
    assert position.stop_price is not None
