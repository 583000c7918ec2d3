"""Every VA shows who it is from the start: its snapshot, strategy named, is published when
its actor starts, before any quote or option chain reached it (a naked-put VA's first chain
scan can take seconds over IB; the dashboard showed ``-`` as its strategy meanwhile)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from actors.messages.snapshots import VASnapshot
from tests.actors.test_naked_put_engine import config
from tests.support.engine import NY, start_engine

#: A Saturday: the market is closed, no quote comes and no chain is read.
SATURDAY_10 = datetime(2026, 11, 14, 10, 0, tzinfo=NY)


def test_a_naked_put_va_publishes_its_snapshot_with_its_strategy_before_any_quote(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path, config(b_enabled=True), start=SATURDAY_10, warmup_s=1)
    try:
        first = {}
        for item in list(sim.published):
            if isinstance(item, VASnapshot):
                first.setdefault(item.va_id, item)
        assert {va: s.strategy for va, s in first.items()} == {
            "puts-a": "naked_put",
            "puts-b": "naked_put",
        }
        assert all(s.state == "idle" and s.symbol is None for s in first.values())
    finally:
        sim.engine.stop()
