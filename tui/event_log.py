"""The events pane: fills, rejections and risk events, newest first, bounded.

Runs on the UI thread only. The text is rebuilt only when events arrived in a flush, at most a
few times a second, however fast the engine publishes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from actors.messages.events import EngineEvent
from tui.formatting import event_line

__all__ = ["EventLog"]


class EventLog(VerticalScroll):
    """Newest-first list of the latest ``max_lines`` engine events.

    Args:
        max_lines: events kept on screen; older ones scroll out of memory.
    """

    def __init__(self, *, max_lines: int = 300, id: str | None = None) -> None:
        super().__init__(id=id)
        self._events: deque[EngineEvent] = deque(maxlen=max_lines)
        self._dropped = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("no events yet", style="dim"), id="event-lines")

    @property
    def events(self) -> tuple[EngineEvent, ...]:
        """The events shown, newest first."""
        return tuple(self._events)

    def replace(self, events: Iterable[EngineEvent], *, dropped: int = 0) -> None:
        """Show only ``events`` (oldest first): a full state from an attached engine."""
        self._events.clear()
        self._dropped = 0
        self.add(events, dropped=dropped)
        if not self._events and not dropped:
            self.query_one("#event-lines", Static).update(Text("no events yet", style="dim"))

    def add(self, events: Iterable[EngineEvent], *, dropped: int = 0) -> None:
        """Show ``events`` (oldest first, as they arrived) above the older ones.

        Args:
            events: the new events.
            dropped: events the bridge discarded in a burst; counted in the last line.
        """
        added = False
        for event in events:
            self._events.appendleft(event)
            added = True
        self._dropped += dropped
        if not added and not dropped:
            return
        text = Text("\n").join(event_line(event) for event in self._events)
        if self._dropped:
            text.append(f"\n({self._dropped} events dropped in bursts)", style="dim")
        self.query_one("#event-lines", Static).update(text)
