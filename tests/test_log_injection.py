"""Issue 15, item 5: a newline or an ANSI escape in a string from outside (an inbox line's
unknown key, a signal's reason) forges no line and sends no escape to stderr (the log's
console sink and ``main.py run --headless``'s printer), to engine.log, or to the TUI's text."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from loguru import logger

import main
from actors.messages.commands import Signal
from actors.messages.events import EngineEvent
from core.domain import Contract, OrderType, Side
from engine.engine import Engine
from engine.logging_setup import setup_logging, shutdown_logging
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, STARTED, SimEngine, make_config
from tui.formatting import event_line

FORGED = "\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\n\x1b[31m"
SHOWN = "\\n...fill ext BUY 999999 AAPL @ 0.01 (entry: FORGED)\\n\\x1b[31m"
_SESSION_STDERR = sys.stderr


def _assert_nothing_forged(text: str, where: str) -> None:
    assert "\x1b" not in text, f"an ESC reached {where}"
    forged = [line for line in text.splitlines() if line.startswith("...fill")]
    assert not forged, f"a forged line in {where}: {forged}"
    assert SHOWN in text, f"the text from outside is not shown, escaped, in {where}"


def test_a_forged_key_and_a_forged_reason_reach_no_log_terminal_or_tui_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox.jsonl"
    config = make_config(filters="max_quote_age_ms = 6000")
    config = config.model_copy(
        update={"inbox": config.inbox.model_copy(update={"path": str(inbox)})}
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging(tmp_path / "logs", console=True)
    events: list[EngineEvent] = []
    try:
        url = f"sqlite:///{tmp_path / 'engine.db'}"
        engine = STARTED.track(
            Engine(config, RunOptions(database_url=url, speed=None, start=MONDAY_10))
        )
        engine.bus.subscribe(main._print_event)  # what `run --headless` prints
        engine.bus.subscribe(
            lambda item: events.append(item) if isinstance(item, EngineEvent) else None
        )
        sim = SimEngine(engine)
        engine.start(drive_clock=False)
        sim.advance(5)
        line = {"id": "k1", "va": "va1", "symbol": "AAPL", "side": "BUY", FORGED: 1}
        inbox.write_text(json.dumps(line) + "\n")
        engine.book.tell(
            "va:va2",
            Signal(
                signal_id="r1",
                va_id="va2",
                contract=Contract.stock("JPM"),
                side=Side.BUY,
                time=engine.clock.now(),
                source="test",
                reason=FORGED,
                quantity=10,
                order_type=OrderType.MKT,
            ),
        )
        sim.advance(10)
        logger.info("inbox decisions: {}", sorted(sim.decisions()))
        engine.stop()
        logger.complete()
    finally:
        shutdown_logging()
        logger.add(_SESSION_STDERR, level="DEBUG")
        root.handlers[:] = handlers
        root.setLevel(level)
    decisions = sim.decisions()
    assert decisions["k1"].detail == f"line 1: {SHOWN}: unknown key"
    assert decisions["r1"].accepted
    stderr = capsys.readouterr().err
    _assert_nothing_forged(stderr, "stderr")
    assert any(" fill va2 BUY 10 JPM @ " in line for line in stderr.splitlines())
    _assert_nothing_forged((tmp_path / "logs" / "engine.log").read_text(), "engine.log")
    shown = "\n".join(event_line(event).plain for event in events)
    _assert_nothing_forged(shown, "the TUI's event lines")
    assert len(shown.splitlines()) == len(events)
