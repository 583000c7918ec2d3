"""Progress of a long run (a headless ``--speed max`` day, ``main.py validate``) on stderr.

A terminal gets a progress bar (rich's, redrawn at most twice a wall second, on the caller's
thread: no thread of its own): the simulated time, the share of the run done, the fills so
far and the expected finish. Anything else (a pipe, a file) gets a plain line every
``LINE_EVERY_SIM`` of simulated time or ``LINE_EVERY_WALL_S`` wall seconds, whichever comes
first. Both read only what the caller hands them (the engine clock's time and a fill count
kept by ``FillCounter``, a bus subscriber that counts fill events): no work per quote.

rich is used for the bar because it is already installed (Textual depends on it), it sizes the
bar to the terminal and, while the bar is drawn, routes what others write to ``sys.stderr``
(the fill and risk lines, warnings) above it instead of through it.

Threads: ``update`` and ``close`` run on the caller's (main) thread; ``FillCounter`` is called
on the bus thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Protocol, TextIO

from actors.messages.events import EngineEvent
from core.text import short_duration

__all__ = [
    "LINE_EVERY_SIM",
    "LINE_EVERY_WALL_S",
    "FillCounter",
    "PeriodicLines",
    "ProgressPoint",
    "RunProgress",
    "TerminalBar",
    "finish_in_s",
    "progress_for",
    "progress_line",
]

#: A plain progress line at least this often in simulated time ...
LINE_EVERY_SIM = timedelta(minutes=30)
#: ... and this often in wall seconds.
LINE_EVERY_WALL_S = 30.0
_REDRAW_S = 0.5


@dataclass(frozen=True, slots=True)
class ProgressPoint:
    """Where a run is: the engine clock ``now`` between ``start`` and ``end`` (None: no known
    end), ``fills`` so far, and ``wall_s`` wall seconds since the run started."""

    now: datetime
    start: datetime
    end: datetime | None
    fills: int
    wall_s: float

    @property
    def fraction(self) -> float | None:
        """The share of the run done (0-1), None without an end."""
        if self.end is None:
            return None
        span = (self.end - self.start).total_seconds()
        if span <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.now - self.start).total_seconds() / span))


def finish_in_s(point: ProgressPoint) -> float | None:
    """Wall seconds until the end at the pace so far (None: no end, or too early to tell)."""
    if point.end is None or point.wall_s <= 0:
        return None
    done = (point.now - point.start).total_seconds()
    if done <= 0:
        return None
    left = max(0.0, (point.end - point.now).total_seconds())
    return left * point.wall_s / done


def _duration(seconds: float) -> str:
    return short_duration(max(0, round(seconds)))


def progress_line(point: ProgressPoint, tz: tzinfo) -> str:
    """One plain line: ``progress 2026-12-04 11:30 (31%)  fills 40  finish in ~9s``."""
    parts = [f"progress {point.now.astimezone(tz):%Y-%m-%d %H:%M}"]
    if point.fraction is not None:
        parts[0] += f" ({point.fraction:.0%})"
    parts.append(f"fills {point.fills}")
    parts.append(_finish(point))
    return "  ".join(parts)


def _finish(point: ProgressPoint) -> str:
    """``finish in ~9s``, ``done`` at the end, ``finish: estimating`` before a pace is known."""
    if point.fraction is not None and point.fraction >= 1.0:
        return "done"
    left = finish_in_s(point)
    return f"finish in ~{_duration(left)}" if left is not None else "finish: estimating"


class RunProgress(Protocol):
    """What a long run reports its progress to (the caller's thread)."""

    def update(self, now: datetime, fills: int) -> None: ...

    def close(self) -> None: ...


class FillCounter:
    """A bus subscriber counting fill events (``EngineEvent`` kind ``fill``); read ``count``
    from any thread (an int read is atomic)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, item: object) -> None:
        """Bus thread."""
        if isinstance(item, EngineEvent) and item.kind == "fill":
            self.count += 1


class PeriodicLines:
    """A plain ``progress_line`` on ``stream`` every ``LINE_EVERY_SIM`` of simulated time or
    ``LINE_EVERY_WALL_S`` wall seconds, and a last one at ``close``."""

    def __init__(self, stream: TextIO, *, start: datetime, end: datetime | None, tz: tzinfo):
        self._stream, self._start, self._end, self._tz = stream, start, end, tz
        self._began = time.monotonic()
        self._next_sim = start + LINE_EVERY_SIM
        self._next_wall = self._began + LINE_EVERY_WALL_S
        self._last: ProgressPoint | None = None

    def update(self, now: datetime, fills: int) -> None:
        wall = time.monotonic()
        point = ProgressPoint(now, self._start, self._end, fills, wall - self._began)
        self._last = point
        if now < self._next_sim and wall < self._next_wall:
            return
        while self._next_sim <= now:
            self._next_sim += LINE_EVERY_SIM
        self._next_wall = wall + LINE_EVERY_WALL_S
        self._write(point)

    def close(self) -> None:
        if self._last is not None:
            self._write(self._last)
            self._last = None

    def _write(self, point: ProgressPoint) -> None:
        self._stream.write(progress_line(point, self._tz) + "\n")  # one write: one line
        self._stream.flush()


class TerminalBar:
    """rich's progress bar on ``stream`` (a terminal): simulated time, bar, percentage, fills,
    expected finish. While it is drawn, what is written to ``sys.stderr`` goes above it."""

    def __init__(self, stream: TextIO, *, start: datetime, end: datetime | None, tz: tzinfo):
        from rich.console import Console  # noqa: PLC0415 - only a terminal needs it
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn  # noqa: PLC0415

        self._start, self._end, self._tz = start, end, tz
        self._began = time.monotonic()
        self._drawn = 0.0
        self._last: tuple[datetime, int] | None = None
        total = (end - start).total_seconds() if end is not None else None
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("fills {task.fields[fills]}  {task.fields[finish]}"),
            console=Console(file=stream, highlight=False),
            auto_refresh=False,  # redrawn by update: no refresh thread
            redirect_stdout=False,
            redirect_stderr=True,
            transient=False,
        )
        self._task = self._progress.add_task(
            f"{start.astimezone(tz):%Y-%m-%d %H:%M}", total=total, fills=0, finish=""
        )
        self._progress.start()

    def update(self, now: datetime, fills: int) -> None:
        self._last = (now, fills)
        wall = time.monotonic()
        if wall - self._drawn < _REDRAW_S:
            return
        self._draw(now, fills, wall)

    def _draw(self, now: datetime, fills: int, wall: float) -> None:
        self._drawn = wall
        point = ProgressPoint(now, self._start, self._end, fills, wall - self._began)
        self._progress.update(
            self._task,
            completed=(now - self._start).total_seconds(),
            description=f"{now.astimezone(self._tz):%Y-%m-%d %H:%M:%S}",
            fills=fills,
            finish=_finish(point),
        )
        self._progress.refresh()

    def close(self) -> None:
        if self._last is not None:
            self._draw(*self._last, time.monotonic())
        self._progress.stop()


def progress_for(
    stream: TextIO, *, start: datetime, end: datetime | None, tz: tzinfo
) -> RunProgress:
    """A bar when ``stream`` is a terminal, plain lines otherwise."""
    if stream.isatty():
        return TerminalBar(stream, start=start, end=end, tz=tz)
    return PeriodicLines(stream, start=start, end=end, tz=tz)
