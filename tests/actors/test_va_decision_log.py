"""The VA's decisions, as its inspector lists them: every one, accepted too, with its reason
and numbers (an entry proposed with its size, prices and stop; its fill; the exit; a refusal)."""

from __future__ import annotations

import re
from pathlib import Path

from core.domain import Side
from tests.actors.test_naked_put_engine import config, running, sold_put
from tests.support.engine import start_engine


def decisions(sim: object, va_id: str) -> list[str]:
    """The VA's decisions, oldest first, without their time stamps."""
    snapshot = sim.snapshot(f"va:{va_id}")  # type: ignore[attr-defined]
    return [line.split(" ", 1)[1] for line in reversed(snapshot.last_decisions)]


def test_an_accepted_entry_and_its_exit_are_noted_with_their_numbers(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=10)
    sim.advance(10)
    sim.signal("va1", "AAPL", Side.SELL, close=True)
    sim.advance(10)
    sim.signal("va1", "AAPL", Side.SELL, close=True)  # nothing left to close: refused

    noted = decisions(sim, "va1")
    entry = re.compile(r"entry proposed: BUY 10 AAPL (LMT [\d.]+|MKT) stop [\d.]+( \(.+\))?")
    assert entry.fullmatch(noted[0]), noted
    assert re.fullmatch(r"entry filled: BUY 10 AAPL @ [\d.]+", noted[1]), noted
    assert noted[2] == "exit proposed: SELL 10 AAPL MKT (signal)", noted
    assert re.fullmatch(r"exit filled: SELL 10 AAPL @ [\d.]+", noted[3]), noted
    assert re.fullmatch(r"closed AAPL (win|loss) -?[\d.]+ \(signal\)", noted[4]), noted
    assert noted[5].startswith("SELL AAPL: "), noted  # the refusal, with its rule


def test_a_naked_puts_accepted_sale_is_noted_with_its_delta_and_decision_mid(
    tmp_path: Path,
) -> None:
    with running(tmp_path, config()) as sim:
        entry = sold_put(sim)
        noted = decisions(sim, "puts-a")
        [proposed] = [n for n in noted if n.startswith("entry proposed:")]
        assert proposed.startswith(
            f"entry proposed: SELL {entry.quantity} {entry.contract.key} LMT "
        )
        assert " delta -0." in proposed and "decision mid" in proposed
        assert any(n.startswith(f"entry filled: SELL {entry.quantity} ") for n in noted), noted
