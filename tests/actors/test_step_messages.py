"""What one market step tells the governor at ``--speed max`` (issue 18, item 3): each message is
a thread hand-off and a wait before the clock moves on, so a step sends only what someone acts
on. The PositionMonitor's per-batch unrealized P&L, which the governor ignored (it takes the day's
P&L from the broker), is no longer sent."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from core.config import EngineConfig
from core.domain import Side
from engine.engine import Engine
from engine.options import RunOptions
from tests.support.engine import MONDAY_10, STARTED, SimEngine, make_config


def counting_engine(
    tmp_path: Path, config: EngineConfig, address: str, *, speed: float | None = None
) -> tuple[Engine, Counter[str]]:
    """An engine (not started) whose tells to ``address`` are counted by message type."""
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    engine = STARTED.track(
        Engine(config, RunOptions(database_url=url, speed=speed, start=MONDAY_10))
    )
    told: Counter[str] = Counter()
    tell = engine.book.tell

    def counting_tell(name: str, message: object) -> bool:
        if name == address:
            told[type(message).__name__] += 1
        return tell(name, message)

    engine.book.tell = counting_tell  # type: ignore[method-assign]
    return engine, told


def test_with_a_position_open_a_step_tells_the_governor_only_the_brokers_account_reports(
    tmp_path: Path,
) -> None:
    config = make_config(filters="max_quote_age_ms = 6000")
    engine, told = counting_engine(tmp_path, config, "governor")
    sim = SimEngine(engine)
    engine.start(drive_clock=False)
    sim.advance(5)
    sim.signal("va1", "AAPL", Side.BUY, quantity=10)
    sim.advance(10)
    assert sim.ledger.open_positions(), "the entry filled: a position is open"
    told.clear()
    sim.advance(60)  # twelve market steps, the position marked at each
    told.pop("DayRollDue", None)  # the governor's own timer, once a minute
    assert told == {"AccountUpdate": 12, "AccountPnL": 12}, told


@pytest.mark.parametrize(
    ("speed", "drive_clock", "inline"),
    [(None, True, True), (None, False, False), (60.0, True, False)],
    ids=["max-speed-run", "test-stepped", "paced"],
)
def test_reconcile_reads_are_made_inline_only_when_the_engine_drives_a_max_speed_simulator(
    tmp_path: Path, speed: float | None, drive_clock: bool, inline: bool
) -> None:
    engine, told = counting_engine(tmp_path, make_config(), "order_manager", speed=speed)
    engine.start(drive_clock=drive_clock)
    assert engine.ctx.inline_reads is inline
    if not inline:
        return
    passed = threading.Event()
    engine.clock.call_at(MONDAY_10 + timedelta(seconds=60), passed.set, name="test")
    assert passed.wait(30), "the max-speed clock did not pass a simulated minute"
    assert told["ReconcileDue"] >= 10, told
    assert told["BrokerReadDone"] == 0, "a reconcile read went through the worker"
