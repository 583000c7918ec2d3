"""The inbox poll at ``--speed max`` (issue 18, item 3): once the ``Inbox`` has read its file
to the end, a poll reaches it only when the file changed since (``actors/inbox_quiet.py``), so
a backtest does not send and wait for a message every simulated second; live and paced runs
read at every poll."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from actors.inbox_quiet import InboxQuiet
from actors.messages.timers import InboxReadDue
from core.clock import VirtualClock, WallClock
from engine import build
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, NY, STARTED, SimEngine, make_config

CONFIG = make_config(filters="max_quote_age_ms = 6000")


def _settled(quiet: InboxQuiet) -> InboxQuiet:
    quiet.settle(quiet.signature())
    return quiet


def test_a_file_read_to_its_end_has_news_only_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    quiet = InboxQuiet(path)
    assert quiet.has_news(), "nothing settled yet: the first poll reads"
    _settled(quiet)
    assert not quiet.has_news(), "no file, still none"
    path.write_text('{"id": "a"}\n')
    assert quiet.has_news(), "a new file"
    _settled(quiet)
    assert not quiet.has_news()
    with path.open("a") as handle:
        handle.write('{"id": "b"')
    assert quiet.has_news(), "an append, even of a partial line"
    _settled(quiet)
    path.write_text("")
    assert quiet.has_news(), "a truncation"
    _settled(quiet)
    replacement = tmp_path / "other.jsonl"
    replacement.write_text("")
    os.replace(replacement, path)
    assert quiet.has_news(), "another file at the path"
    _settled(quiet)
    path.unlink()
    assert quiet.has_news(), "the file gone"
    _settled(quiet)
    quiet.unsettle()
    assert quiet.has_news(), "unsettled (a recovered Inbox): read at the next poll"


def test_only_a_max_speed_virtual_clock_skips_polls() -> None:
    start = datetime(2026, 11, 16, 10, 0, tzinfo=NY)
    assert build.inbox_quiet(CONFIG, VirtualClock(NY, start, speed=None)) is not None
    assert build.inbox_quiet(CONFIG, VirtualClock(NY, start, speed=60.0)) is None
    assert build.inbox_quiet(CONFIG, WallClock(NY)) is None
    disabled = CONFIG.model_copy(
        update={"inbox": CONFIG.inbox.model_copy(update={"enabled": False})}
    )
    assert build.inbox_quiet(disabled, VirtualClock(NY, start, speed=None)) is None


def _engine(tmp_path: Path, inbox: Path) -> tuple[SimEngine, list[Any]]:
    """A max-speed engine whose polls of the inbox are counted as they are told."""
    config = CONFIG.model_copy(
        update={"inbox": CONFIG.inbox.model_copy(update={"path": str(inbox)})}
    )
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    engine = STARTED.track(
        Engine(config, RunOptions(database_url=url, speed=None, start=MONDAY_10))
    )
    polls: list[Any] = []
    tell = engine.book.tell

    def counting_tell(name: str, message: object) -> bool:
        if isinstance(message, InboxReadDue):
            polls.append(message.time)
        return tell(name, message)

    engine.book.tell = counting_tell  # type: ignore[method-assign]
    sim = SimEngine(engine)
    engine.start(drive_clock=False)
    return sim, polls


def test_at_max_speed_an_unchanged_inbox_is_not_polled_and_a_new_line_is_read(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("")
    sim, polls = _engine(tmp_path, inbox)
    sim.advance(5)
    assert len(polls) == 1, "the first poll reads the file to its end; the others are skipped"
    line = {"id": "x-1", "va": "va1", "symbol": "AAPL", "side": "BUY", "quantity": 10}
    with inbox.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    sim.advance(2)
    # The line changed the file: the next poll reads it, the one after finds nothing left
    # (once the VA took the line) and settles the file again.
    assert len(polls) == 3
    assert sim.decisions()["x-1"].accepted
    sim.advance(10)
    assert len(polls) == 3, "unchanged since: no poll"
