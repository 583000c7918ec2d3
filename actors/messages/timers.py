"""Timer messages: what the engine's timers and an actor's own deferred work tell it. One class
per timer, so a handler matches on the type and a timer nobody handles is a type error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TimerMessage:
    """Base of every timer message: the engine-clock time it fired at."""

    time: datetime


@dataclass(frozen=True, slots=True)
class StartupReconcileDue(TimerMessage):
    """Engine -> OrderManager: compare the ledger with the broker once at start."""


@dataclass(frozen=True, slots=True)
class ReconnectReconcileDue(TimerMessage):
    """Engine -> OrderManager: the broker link came back; compare again."""


@dataclass(frozen=True, slots=True)
class ReconcileDue(TimerMessage):
    """Engine -> OrderManager, periodic: second looks, working orders, positions, stale
    entries."""


@dataclass(frozen=True, slots=True)
class PaceDue(TimerMessage):
    """OrderManager -> itself: the entry pacer may have room for a queued order."""


@dataclass(frozen=True, slots=True)
class RepriceDue(TimerMessage):
    """OrderManager -> itself: re-price the working flatten and exit limits."""


@dataclass(frozen=True, slots=True)
class RepricePlansDue(TimerMessage):
    """OrderManager -> itself: walk the option entries' re-price plans."""


@dataclass(frozen=True, slots=True)
class InboxReadDue(TimerMessage):
    """Engine -> Inbox, periodic: read the lines appended to the signal inbox."""


@dataclass(frozen=True, slots=True)
class InboxReadMore(TimerMessage):
    """Inbox -> itself: read the next bounded chunk (between chunks a stop gets in; dropped,
    like every timer, once the engine is stopping)."""


@dataclass(frozen=True, slots=True)
class MarksDue(TimerMessage):
    """Engine -> PositionMonitor, periodic: look for marks that went stale."""


@dataclass(frozen=True, slots=True)
class DayRollDue(TimerMessage):
    """Engine -> RiskGovernor, periodic: roll the trading day's counters when it changes."""
