"""Folding and rate limiting (``Outbox``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.notify.notices import Notice
from engine.notify.outbox import MAX_LINES, Outbox

T0 = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def notice(key: str, text: str, kind: str = "trading_state") -> Notice:
    return Notice(kind, key, text, T0)


def test_repeats_become_one_line_with_a_count_showing_the_latest() -> None:
    box = Outbox(name="main", min_interval_s=0)
    for n in range(4):
        box.add(notice("state:HALTED", f"halt {n}"))
    box.add(notice("fill:x", "FILL", kind="fill"))
    message = box.due(0.0)
    assert message is not None
    assert message.body.splitlines() == ["halt 3 (x4, repeats folded)", "FILL"]
    assert message.title == "engine main: 5 notices (trading_state, fill)"
    assert box.folded == 3


def test_a_storm_costs_one_message_per_interval() -> None:
    box = Outbox(name="main", min_interval_s=10)
    box.add(notice("a", "first"))
    assert box.due(100.0) is not None
    for n in range(50):
        box.add(notice(f"k{n}", f"line {n}"))
        assert box.due(100.0 + n * 0.1) is None
    message = box.due(110.0)
    assert message is not None
    lines = message.body.splitlines()
    assert len(lines) == MAX_LINES + 1 and lines[-1] == f"(+{50 - MAX_LINES} more not shown)"
    assert box.due(200.0) is None, "nothing left"


def test_notices_lost_at_the_intake_are_said_in_the_next_message() -> None:
    box = Outbox(name="main", min_interval_s=0)
    box.lost(7)
    message = box.take()
    assert message is not None and "7 older notice(s) dropped" in message.body
