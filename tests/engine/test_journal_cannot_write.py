"""A journal that cannot write stops the engine (issue 15, item 4): a decision that cannot be
stored is a decision not taken, so the engine halts trading and ends its run instead of
restarting the journal into the same failure again and again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from actors.messages.events import InboxRejected
from core.domain import Side
from core.gate import GateState
from tests.support.engine import start_engine

ALTERATIONS = {
    "table renamed": "ALTER TABLE signal RENAME TO signal_old",
    "column renamed": "ALTER TABLE signal RENAME COLUMN detail TO detail_old",
}


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
def test_a_journal_whose_table_changed_under_it_stops_the_engine_once(
    tmp_path: Path, alteration: str
) -> None:
    sim = start_engine(tmp_path)
    engine = sim.engine
    with sqlite3.connect(tmp_path / "engine.db") as other:  # another program alters the ledger
        other.execute(ALTERATIONS[alteration])
    for n in range(5):  # five decisions: the first stops the engine, none restarts the journal
        engine.book.tell(
            "journal",
            InboxRejected(f"bad-{n}", "ext", "AAPL", Side.BUY, "bad line", engine.clock.now()),
        )
    assert engine.done.wait(5.0), "the engine did not end its run"
    reason = engine.stopped_because
    assert reason is not None
    assert reason.startswith("the journal cannot write to the ledger (signal 'bad-0' not stored: ")
    assert reason.endswith(
        "a decision that cannot be stored is not taken; trading halted and the engine stopped"
    )
    assert engine.gate.state is GateState.CLOSED
    engine.stop()
    assert engine.crashes["journal"] == 1, "the journal was restarted into the same failure"
