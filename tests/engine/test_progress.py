"""``engine.progress``: the progress line's numbers, when plain lines are written, and which
display a stream gets (the bar itself is drawn in a real terminal by test_main_run_progress)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loguru import logger

from actors.messages.events import EngineEvent
from engine.logging_setup import setup_logging, shutdown_logging
from engine.progress import (
    FillCounter,
    PeriodicLines,
    ProgressPoint,
    TerminalBar,
    finish_in_s,
    progress_for,
    progress_line,
)

NY = ZoneInfo("America/New_York")
OPEN = datetime(2026, 12, 4, 9, 30, tzinfo=NY)
CLOSE = datetime(2026, 12, 4, 16, 0, tzinfo=NY)


def test_the_finish_is_the_time_left_at_the_pace_so_far() -> None:
    # 1 h 30 of the 6 h 30 session in 3 wall seconds: 5 h left take 10 s more.
    point = ProgressPoint(OPEN + timedelta(hours=1.5), OPEN, CLOSE, fills=12, wall_s=3.0)
    assert point.fraction == pytest.approx(1.5 / 6.5)
    assert finish_in_s(point) == pytest.approx(10.0)
    assert progress_line(point, NY) == "progress 2026-12-04 11:00 (23%)  fills 12  finish in ~10s"


def test_before_any_pace_and_at_the_end_the_line_says_so() -> None:
    start = ProgressPoint(OPEN, OPEN, CLOSE, fills=0, wall_s=0.5)
    assert finish_in_s(start) is None
    assert progress_line(start, NY).endswith("finish: estimating")
    end = ProgressPoint(CLOSE, OPEN, CLOSE, fills=70, wall_s=9.0)
    assert progress_line(end, NY) == "progress 2026-12-04 16:00 (100%)  fills 70  done"


def test_a_long_finish_reads_in_minutes_and_hours() -> None:
    point = ProgressPoint(OPEN + timedelta(minutes=39), OPEN, CLOSE, fills=1, wall_s=100.0)
    assert progress_line(point, NY).endswith("finish in ~15m00s")  # 9 x 100 s left
    slow = ProgressPoint(OPEN + timedelta(minutes=39), OPEN, CLOSE, fills=1, wall_s=1000.0)
    assert progress_line(slow, NY).endswith("finish in ~2h30m")


def test_plain_lines_come_every_thirty_simulated_minutes_and_once_more_at_close() -> None:
    out = io.StringIO()
    lines = PeriodicLines(out, start=OPEN, end=CLOSE, tz=NY)
    step = timedelta(minutes=7)
    now = OPEN
    while now < OPEN + timedelta(hours=2):
        now += step
        lines.update(now, fills=3)
    lines.close()
    written = out.getvalue().splitlines()
    # 09:37, 09:44, ... 11:36 in 7-minute steps: the first update at or past 10:00, 10:30,
    # 11:00 and 11:30, then the last one again at close.
    assert [line[20:25] for line in written] == ["10:05", "10:33", "11:01", "11:36", "11:36"]
    assert all(line.startswith("progress 2026-12-04 ") for line in written)


def test_a_pipe_gets_lines_and_a_terminal_gets_the_bar() -> None:
    assert isinstance(progress_for(io.StringIO(), start=OPEN, end=CLOSE, tz=NY), PeriodicLines)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    bar = progress_for(Terminal(), start=OPEN, end=CLOSE, tz=NY)
    try:
        assert isinstance(bar, TerminalBar)
    finally:
        bar.close()


def test_the_fill_counter_counts_fill_events_only() -> None:
    counter = FillCounter()
    for kind in ("fill", "risk", "fill", "reject"):
        counter(EngineEvent(time=OPEN, kind=kind, text="x", va_id="a"))
    counter("not an event")
    assert counter.count == 2


def test_a_warning_logged_while_the_bar_is_drawn_goes_above_it(tmp_path: Path) -> None:
    """The log's console sink writes to ``sys.stderr`` as it is at each line, which the bar
    routes above itself (a sink bound to the stream at setup would write through the bar)."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    setup_logging(tmp_path / "logs", console=True)
    try:
        bar = TerminalBar(screen, start=OPEN, end=CLOSE, tz=NY)
        try:
            bar.update(OPEN + timedelta(hours=1), fills=2)
            logger.warning("the broker said something")
        finally:
            bar.close()
    finally:
        shutdown_logging()
    drawn = screen.getvalue()
    assert "WARNING the broker said something" in drawn
    assert drawn.index("WARNING the broker said something") < drawn.rindex("fills 2")  # the bar
