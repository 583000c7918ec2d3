"""``EngineTimers``: the engine's clock timers, each telling its actor that something is due
(reconcile, day roll, marks, inbox read), and the run's end (``--until``, or a max-speed run's
session close).

Threads: ``start`` and ``cancel`` run on the engine's caller thread (main or a test); the
timers fire on the clock's driver thread and only tell (never block).
"""

from __future__ import annotations

import threading
from datetime import datetime

from loguru import logger

from actors.inbox_quiet import InboxQuiet
from actors.messages.timers import DayRollDue, InboxReadDue, MarksDue, ReconcileDue
from actors.runtime.base import AddressBook
from core.calendar import TradingCalendar
from core.clock import Clock, Timer
from core.config import EngineConfig

__all__ = ["EngineTimers"]


class EngineTimers:
    """The engine's timers on ``clock``; ``done`` is set when the run reaches its end."""

    def __init__(
        self,
        *,
        clock: Clock,
        calendar: TradingCalendar,
        book: AddressBook,
        done: threading.Event,
        inbox_quiet: InboxQuiet | None = None,
    ) -> None:
        self._clock = clock
        self._inbox_quiet = inbox_quiet  # max speed: poll only a changed inbox file
        self._calendar = calendar
        self._book = book
        self._done = done
        self._timers: list[Timer] = []

    def start(self, config: EngineConfig, until: datetime | None) -> None:
        """Schedule every timer; the run ends at ``until`` (None: at today's session close on
        a max-speed clock, never otherwise)."""
        clock = self._clock
        interval = config.engine.reconcile_interval_s
        self._timers.append(clock.call_every(interval, self._reconcile_due, name="reconcile"))
        self._timers.append(clock.call_every(60.0, self._day_roll_due, name="day-roll"))
        # Stale marks are judged on the clock: no quote comes to say a mark went stale.
        marks_s = max(1.0, config.exits.stale_mark_s / 4)
        self._timers.append(clock.call_every(marks_s, self._marks_due, name="marks"))
        if config.inbox.enabled:
            self._timers.append(
                clock.call_every(config.inbox.poll_interval_s, self._inbox_due, name="inbox")
            )
        if until is None and clock.speed is None:
            until = self._calendar.session_close(self._calendar.trading_day(clock.now()))
        if until is not None:
            self._timers.append(clock.call_at(until, self._reached_until, name="until"))

    def cancel(self) -> None:
        """Cancel every timer (idempotent)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _reconcile_due(self) -> None:
        self._book.tell("order_manager", ReconcileDue(self._clock.now()))

    def _inbox_due(self) -> None:
        if self._inbox_quiet is not None and not self._inbox_quiet.has_news():
            return  # read to its end and unchanged since: the Inbox would find nothing
        self._book.tell("inbox", InboxReadDue(self._clock.now()))

    def _marks_due(self) -> None:
        self._book.tell("position_monitor", MarksDue(self._clock.now()))

    def _day_roll_due(self) -> None:
        self._book.tell("governor", DayRollDue(self._clock.now()))

    def _reached_until(self) -> None:
        logger.info("engine: reached {}", self._clock.now().isoformat())
        self._clock.stop()  # runs on the driver thread: stops advancing time at once
        self._done.set()
