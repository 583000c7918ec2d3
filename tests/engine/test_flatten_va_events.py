"""Flattening one VA on a real engine: the events say what happened in the order it happened
(the flatten, the VA's pause, then the fill that closed its position), the pause stored once."""

from __future__ import annotations

from pathlib import Path

from actors.messages.events import EngineEvent
from actors.messages.snapshots import VASnapshot
from tests.support.engine import start_engine


def test_a_flattened_vas_pause_is_published_before_the_fill_that_closes_it(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)
    before = len(sim.published)

    sim.engine.flatten("manual", "va1")
    sim.idle()
    sim.advance(10)

    events = [e for e in sim.published[before:] if isinstance(e, EngineEvent)]
    assert [(e.kind, e.text.split(" ")[0]) for e in events] == [
        ("risk", "flatten_va:"),
        ("risk", "va_paused:"),
        ("fill", "SELL"),
    ]
    assert [e.time for e in events] == sorted(e.time for e in events)
    stored = [e for e in sim.ledger.risk_events() if e.kind == "va_paused"]
    assert [e.reason for e in stored] == ["va1 flattened: manual"], "stored once, by the governor"
    va1 = sim.snapshot("va:va1")
    assert isinstance(va1, VASnapshot) and va1.state == "paused"
