"""What the notifier reads off a real engine's bus: a fill's numbers (quantity, purpose, the
position after it, the P&L it realized) and a risk event's stored kind and trading state, in
``EngineEvent.extra`` beside the unchanged text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from actors.messages.events import EngineEvent
from tests.support.engine import start_engine


def test_fills_carry_their_numbers_and_risk_events_their_kind(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)
    sim.engine.flatten("manual", "va1")
    sim.idle()
    sim.advance(10)

    events = [e for e in sim.published if isinstance(e, EngineEvent)]
    fills = [dict(e.extra) for e in events if e.kind == "fill"]
    assert [(f["quantity"], f["purpose"], f["position"]) for f in fills] == [
        ("10", "entry", "10"),
        ("10", "exit", "0"),
    ]
    realized = sum(Decimal(f["realized_pnl"]) for f in fills)
    trades = sim.engine.closed_trades()
    assert realized == trades.pnl, "entry and exit together realized the closed trade's P&L"
    kinds = [dict(e.extra).get("risk_kind") for e in events if e.kind == "risk"]
    assert "flatten_va" in kinds and "va_paused" in kinds
    assert all(dict(e.extra).get("state") for e in events if e.kind == "risk")
