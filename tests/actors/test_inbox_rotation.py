"""The signal inbox as operators and rotation tools handle its file: truncated, deleted and
recreated, a new file renamed over it, lines left unread in a file rotated away; and ids that
belong to something no inbox line made. Every line gets one decision, none two."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from tests.actors.test_inbox import _append, _engine, _line_id


def _line(record_id: str, **extra: object) -> str:
    return json.dumps(
        {"id": record_id, "va": "va2", "symbol": "JPM", "side": "BUY", "quantity": 1, **extra}
    )


def _decided(sim: object) -> list[str]:
    return sorted(sim.decisions())  # type: ignore[attr-defined]


def test_lines_appended_after_a_truncation_are_read_from_the_start(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(inbox, _line("t-1"), "first bad line")
    sim.advance(2)
    assert _decided(sim) == sorted(["t-1", _line_id("first bad line")])
    os.truncate(inbox, 0)  # `: > inbox.jsonl`, logrotate's copytruncate
    _append(inbox, _line("t-2"))
    sim.advance(2)
    assert sim.decisions()["t-2"].source == "inbox"
    # Truncated and refilled past the old read position before the next poll: the bytes
    # before that position changed, so the file is read from its start again.
    os.truncate(inbox, 0)
    _append(inbox, _line("t-3", limit_price=1.5), _line("t-4", limit_price=2.5), "bad {")
    sim.advance(2)
    decided = _decided(sim)
    assert {"t-3", "t-4", _line_id("bad {")} <= set(decided)
    assert len(decided) == len(set(decided)) == 6
    assert sim.snapshot("inbox")["skipped"] == 0


def test_a_deleted_and_recreated_inbox_is_read_from_its_start(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(inbox, _line("d-1"), "bad line one")
    sim.advance(2)
    inbox.unlink()
    sim.advance(2)
    _append(inbox, _line("d-2"), "bad line two")  # line 2 again, another line: its own id
    sim.advance(2)
    assert _decided(sim) == sorted(
        ["d-1", "d-2", _line_id("bad line one"), _line_id("bad line two")]
    )


def test_a_new_file_renamed_over_the_inbox_is_read_and_its_old_lines_are_not_doubled(
    tmp_path: Path,
) -> None:
    """An editor's save or a tool writing the whole file anew: the lines it kept are the same
    lines (same id), the new ones are read."""
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(inbox, _line("r-1"), _line("r-2"))
    sim.advance(2)
    new = tmp_path / "inbox.jsonl.tmp"
    _append(new, _line("r-1"), _line("r-2"), _line("r-3"))
    os.replace(new, inbox)
    sim.advance(2)
    assert _decided(sim) == ["r-1", "r-2", "r-3"]
    assert sim.snapshot("inbox")["skipped"] == 2  # r-1 and r-2: seen, not handled again


def test_the_unread_tail_of_a_file_rotated_away_is_read_before_the_new_file(
    tmp_path: Path,
) -> None:
    """logrotate's default (rename, then a new file): lines appended to the old file after the
    last read are still read, from the file the inbox holds open, before the new one."""
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(inbox, _line("o-1"))
    sim.advance(2)
    _append(inbox, _line("o-2"), _line("o-3"))  # not read yet ...
    inbox.rename(tmp_path / "inbox.jsonl.1")  # ... when the file is rotated away
    _append(inbox, _line("n-1"))
    with (tmp_path / "inbox.jsonl.1").open("a") as old:
        old.write(_line("o-4"))  # an unterminated last line: that file is finished, it counts
    sim.advance(2)
    assert _decided(sim) == ["n-1", "o-1", "o-2", "o-3", "o-4"]


def test_a_line_reusing_a_protective_stops_id_is_refused_in_the_journal(tmp_path: Path) -> None:
    """The id of an order no inbox line made (an entry's stop, ``<id>.stop``) or of another
    source's signal: refused with the reason, not skipped in silence; once across a restart."""
    inbox = tmp_path / "inbox.jsonl"
    sim = _engine(tmp_path)
    _append(inbox, _line("hi1"))
    sim.advance(2)
    assert sim.ledger.order("hi1.stop") is not None
    other = sim.signal("va1", "AAPL")  # a signal from another source (a test's)
    _append(inbox, _line("hi1.stop"), _line(other))
    sim.advance(2)
    decisions = sim.decisions()
    assert decisions["hi1.stop"].detail == (
        "line 2: id: 'hi1.stop' is already used in the ledger by an order of signal 'hi1': "
        "give the line a new id"
    )
    assert decisions[f"{other}#L3"].detail == (
        f"line 3: id: {other!r} is already used in the ledger by a signal from 'engine': "
        "give the line a new id"
    )
    assert not decisions["hi1.stop"].accepted and decisions["hi1.stop"].rule == "bad_signal"
    count = len(decisions)
    back = sim.engine.clock.now() + timedelta(seconds=1)
    sim.engine.stop()
    again = _engine(tmp_path, start=back)  # the file read again from the top
    again.advance(2)
    assert len(again.decisions()) == count
    assert again.snapshot("inbox")["rejected"] == 0
