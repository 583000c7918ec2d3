"""What a headless run shows besides its fill and risk lines: its progress while it runs
(``engine.progress``) and, once it has ended, the run's summary read from the ledger
(``db.run_summary``), printed the same way by ``main.py run --headless``, ``main.py stop`` and
``main.py run`` after its dashboard stopped the engine.

Threads: the command line's (main) thread.
"""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, TextIO

from db.reading import NoLedger, read_run_summary
from db.refusals import LedgerRefused
from engine.progress import FillCounter, RunProgress, progress_for

if TYPE_CHECKING:
    from engine.engine import Engine

__all__ = ["HeadlessProgress", "print_run_summary", "run_end"]


def run_end(engine: Engine) -> datetime | None:
    """When the run ends by itself (engine clock): ``--until``, else a max-speed run's session
    close (``engine.timers``); None: it runs until stopped."""
    if engine.options.until is not None:
        return engine.options.until
    if engine.clock.speed is None:
        calendar = engine.calendar
        return calendar.session_close(calendar.trading_day(engine.clock.now()))
    return None


class HeadlessProgress:
    """A headless run's progress on ``stream`` (a bar on a terminal, lines otherwise) from the
    engine's clock and the fills the bus carried; shown only for a run with an end
    (``run_end``). Subscribe before ``engine.start``; ``tick`` from the waiting loop."""

    def __init__(self, engine: Engine, stream: TextIO | None = None) -> None:
        self._engine = engine
        self._stream = stream or sys.stderr
        self.fills = FillCounter()
        self._unsubscribe = engine.bus.subscribe(self.fills)
        self._shown: RunProgress | None = None

    def begin(self) -> None:
        """After ``engine.start``: the bar or the first line's baseline."""
        end = run_end(self._engine)
        if end is None:
            return
        now = self._engine.clock.now()
        self._shown = progress_for(self._stream, start=now, end=end, tz=self._engine.config.tz)

    def tick(self) -> None:
        if self._shown is not None:
            self._shown.update(self._engine.clock.now(), self.fills.count)

    def close(self) -> None:
        """The last line (or the bar's last state) at the clock's time now."""
        self._unsubscribe()
        if self._shown is not None:
            self.tick()
            self._shown.close()
            self._shown = None


def print_run_summary(
    url: str,
    *,
    instance: str,
    tz: tzinfo,
    since: datetime,
    command: str,
    out: TextIO | None = None,
) -> bool:
    """The summary of the run that started at ``since`` on ``out`` (stdout); a ledger that
    cannot be read gives one line on stderr instead. Whether it was printed."""
    try:
        text = read_run_summary(url, instance=instance, tz=tz, since=since)
    except (NoLedger, LedgerRefused, ValueError, RuntimeError, OSError) as err:
        sys.stderr.write(f"{command}: no run summary: {err}\n")
        return False
    stream = out or sys.stdout
    stream.write(text)
    stream.flush()
    return True
