"""What the events pane lists: engine events in the order they happened, repeats folded into
one line, and the filter the trader chose. Pure (no Textual); the pane (``tui.event_log``)
owns one on the UI thread.

Order: events are published from several actor threads, so two facts of the same instant can
reach the bus in either order (a VA's "paused: flattened" goes VA -> governor -> bus while the
flatten's fill goes broker -> order manager -> bus). The feed therefore orders by the event's
own engine time, and by arrival only among events of the very same time.

Folding: an event whose kind, VA and text (numbers aside for refusals, whose detail carries
the figures of the moment) equal an earlier line's replaces that line: the line moves to the
latest time and counts the repeats, so a refusal repeated every minute keeps one line instead
of pushing everything else out. Fills are never folded: each is a trade.
"""

from __future__ import annotations

import re
from bisect import insort
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from actors.messages.events import EngineEvent

__all__ = ["EVENT_FILTERS", "EventFeed", "EventFilter", "FoldedEvent", "fold_key"]

EventFilter = Literal["all", "fills", "refusals", "risk"]

#: The filters in the order the key cycles through them.
EVENT_FILTERS: tuple[EventFilter, ...] = ("all", "fills", "refusals", "risk")

#: The event kinds each filter shows (``all``: every kind).
_KINDS: dict[EventFilter, frozenset[str]] = {
    "fills": frozenset({"fill"}),
    "refusals": frozenset({"reject"}),
    "risk": frozenset({"risk", "overfill"}),
}

#: Kinds never folded: each one is a trade of its own.
_NEVER_FOLDED = frozenset({"fill", "overfill"})

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class FoldedEvent:
    """One line of the pane: the latest occurrence of an event, how many times it came, and
    the time of its first occurrence."""

    event: EngineEvent
    count: int = 1
    first_time: datetime | None = None

    @property
    def time(self) -> datetime:
        """The time of the latest occurrence."""
        return self.event.time


def fold_key(event: EngineEvent) -> tuple[str, str, str] | None:
    """What makes two events "the same" for folding (None: never folded). A refusal's numbers
    are left out (its detail names the figures of the moment: the same rule refusing the same
    symbol again is the same refusal)."""
    if event.kind in _NEVER_FOLDED:
        return None
    text = _NUMBER.sub("#", event.text) if event.kind == "reject" else event.text
    return (event.kind, event.va_id or "", text)


class EventFeed:
    """The pane's lines, oldest first internally, at most ``max_lines`` of them.

    Not thread-safe: one owner (the UI thread).
    """

    def __init__(self, *, max_lines: int = 300) -> None:
        self.max_lines = max_lines
        self._lines: list[tuple[datetime, int, FoldedEvent]] = []  # sorted by (time, arrival)
        self._by_key: dict[tuple[str, str, str], tuple[datetime, int, FoldedEvent]] = {}
        self._arrivals = 0
        self.filter: EventFilter = "all"

    def clear(self) -> None:
        """Forget every line (a full state from an attached engine follows)."""
        self._lines.clear()
        self._by_key.clear()

    def add(self, event: EngineEvent) -> None:
        """Take one event: a new line at its time, or a repeat folded into its earlier line."""
        self._arrivals += 1
        key = fold_key(event)
        count, first = 1, event.time
        old = self._by_key.get(key) if key is not None else None
        if old is not None:
            self._lines.remove(old)
            folded = old[2]
            count = folded.count + 1
            first = min(folded.first_time or folded.time, event.time)
            if event.time < folded.time:  # an older repeat arriving late: the line stays put
                event = folded.event
        entry = (event.time, self._arrivals, FoldedEvent(event, count, first))
        insort(self._lines, entry, key=lambda line: (line[0], line[1]))
        if key is not None:
            self._by_key[key] = entry
        while len(self._lines) > self.max_lines:
            gone = self._lines.pop(0)
            gone_key = fold_key(gone[2].event)
            if gone_key is not None and self._by_key.get(gone_key) is gone:
                del self._by_key[gone_key]

    def shown(self, event_filter: EventFilter | None = None) -> tuple[FoldedEvent, ...]:
        """The lines the filter (the feed's own by default) lets through, newest first."""
        chosen = self.filter if event_filter is None else event_filter
        kinds = _KINDS.get(chosen)
        return tuple(
            line
            for _, _, line in reversed(self._lines)
            if kinds is None or line.event.kind in kinds
        )

    def next_filter(self) -> EventFilter:
        """Move to the next filter (all, fills, refusals, risk, then all again)."""
        index = EVENT_FILTERS.index(self.filter)
        self.filter = EVENT_FILTERS[(index + 1) % len(EVENT_FILTERS)]
        return self.filter

    def __len__(self) -> int:
        return len(self._lines)
