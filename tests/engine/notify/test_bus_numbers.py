"""What the notifier reads off a real engine's bus: a fill's numbers (quantity, purpose, the
position after it, the P&L it realized), a risk event's stored kind and trading state, and the
counts a notice depends on (a reconciliation's differences, an actor's crash count), in
``EngineEvent.extra`` beside the unchanged text."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from actors.messages.events import Crash, EngineEvent
from engine.engine import Engine
from engine.notify.notices import NoticeMaker
from tests.support.engine import SimEngine, start_engine


def _risk_extras(sim: SimEngine, kind: str) -> list[dict[str, str]]:
    events = [e for e in sim.published if isinstance(e, EngineEvent) and e.kind == "risk"]
    return [dict(e.extra) for e in events if dict(e.extra).get("risk_kind") == kind]


def _maker() -> NoticeMaker:
    return NoticeMaker(
        tz=ZoneInfo("America/New_York"),
        min_fill_quantity=1,
        disconnect_after_s=60,
        max_margin_pct=50,
        margin_near_pct=80,
        excess_liquidity_min_pct=10,
    )


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


def _forgetful(engine: Engine) -> Any:
    broker = engine.broker
    broker.restore_account = lambda fills: 0  # type: ignore[method-assign]
    return broker


def test_a_reconciliation_carries_its_difference_count_and_is_told(tmp_path: Path) -> None:
    first = start_engine(tmp_path)
    assert _risk_extras(first, "reconciled")[-1]["differences"] == "0"
    first.signal("va1", "AAPL", quantity=50)
    first.engine.stop()
    again = start_engine(tmp_path, broker_factory=_forgetful)
    [stored] = [e for e in again.ledger.risk_events() if e.kind == "reconciled"][-1:]
    listed = json.loads(stored.detail)["differences"]
    assert "position AAPL: ledger 50, broker 0" in listed
    assert _risk_extras(again, "reconciled")[-1]["differences"] == str(len(listed))
    make = _maker()
    notices = [n for item in again.published for n in make.from_item(item)]
    [told] = [n for n in notices if n.kind == "reconcile" and "difference" in n.text]
    assert "position AAPL: ledger 50, broker 0" in told.text


def test_an_actor_crash_carries_the_actor_and_its_count_and_the_second_is_told(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    for _ in range(2):
        sim.engine.book.tell("position_monitor", Crash("poisoned"))
    sim.idle()
    crashes = _risk_extras(sim, "actor_crash")
    assert [(c["actor"], c["crash_count"]) for c in crashes] == [
        ("position_monitor", "1"),
        ("position_monitor", "2"),
    ]
    make = _maker()
    [told] = [n for item in sim.published for n in make.from_item(item) if n.kind == "crash"]
    assert told.key == "crash:position_monitor" and "(#2)" in told.text
