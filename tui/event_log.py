"""The events pane: fills, refusals and risk events, newest first, repeats folded, filtered.

Runs on the UI thread only. The text is rebuilt only when events arrived in a flush (or the
filter changed), at most a few times a second, however fast the engine publishes. What is
listed, in which order and folded how is ``tui.event_feed.EventFeed``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from actors.messages.events import EngineEvent
from tui.event_feed import EventFeed, EventFilter, FoldedEvent
from tui.formatting import event_line

__all__ = ["EventLog", "folded_line"]

#: The pane's title; the filter in force and its key are added to it.
TITLE = "Events (newest first)"


def folded_line(line: FoldedEvent) -> Text:
    """``event_line`` of the latest occurrence, plus ``x45 since 10:06:00`` for a repeat."""
    text = event_line(line.event)
    if line.count > 1 and line.first_time is not None:
        text.append(f"  x{line.count} since {line.first_time:%H:%M:%S}", style="bold magenta")
    return text


class EventLog(VerticalScroll):
    """Newest-first list of the latest ``max_lines`` engine events, repeats folded.

    Args:
        max_lines: lines kept; older ones scroll out of memory.
    """

    def __init__(self, *, max_lines: int = 300, id: str | None = None) -> None:
        super().__init__(id=id)
        self._feed = EventFeed(max_lines=max_lines)
        self._dropped = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("no events yet", style="dim"), id="event-lines")

    def on_mount(self) -> None:
        self._show_title()

    @property
    def events(self) -> tuple[EngineEvent, ...]:
        """The events shown (the latest of each folded line), newest first."""
        return tuple(line.event for line in self._feed.shown())

    @property
    def lines(self) -> tuple[FoldedEvent, ...]:
        """The lines shown, newest first."""
        return self._feed.shown()

    @property
    def filter(self) -> EventFilter:
        """The filter in force (all, fills, refusals, risk)."""
        return self._feed.filter

    def next_filter(self) -> EventFilter:
        """Show the next filter's events (the ``e`` key); returns the one now in force."""
        chosen = self._feed.next_filter()
        self._show_title()
        self._show_lines()
        return chosen

    def replace(self, events: Iterable[EngineEvent], *, dropped: int = 0) -> None:
        """Show only ``events`` (oldest first): a full state from an attached engine."""
        self._feed.clear()
        self._dropped = 0
        self.add(events, dropped=dropped)
        if not len(self._feed) and not dropped:
            self._show_lines()

    def add(self, events: Iterable[EngineEvent], *, dropped: int = 0) -> None:
        """Show ``events`` (as they arrived) among the older ones, by their time.

        Args:
            events: the new events.
            dropped: events the bridge discarded in a burst; counted in the last line.
        """
        added = False
        for event in events:
            self._feed.add(event)
            added = True
        self._dropped += dropped
        if added or dropped:
            self._show_lines()

    def _show_title(self) -> None:
        chosen = self._feed.filter
        self.border_title = TITLE if chosen == "all" else f"{TITLE}: {chosen} only"
        self.border_subtitle = f"e: filter ({chosen})"

    def _show_lines(self) -> None:
        lines = self._feed.shown()
        if lines:
            text = Text("\n").join(folded_line(line) for line in lines)
        elif len(self._feed):
            text = Text(f"no {self._feed.filter} events (e: next filter)", style="dim")
        else:
            text = Text("no events yet", style="dim")
        if self._dropped:
            text.append(f"\n({self._dropped} events dropped in bursts)", style="dim")
        self.query_one("#event-lines", Static).update(text)
