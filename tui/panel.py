"""``Panel``: a bordered, titled, scrollable block of text for the inspector and config screens.

UI thread only. ``show`` skips the update when the text did not change, so a screen refreshed
every second repaints only what moved.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

__all__ = ["Panel"]


def _signature(text: Text) -> tuple[str, str, tuple[Any, ...]]:
    return (text.plain, str(text.style), tuple(text.spans))


class Panel(VerticalScroll):
    """Text under a border title; scrolls when it is taller than the panel.

    Args:
        title: the border title.
        text: what to show until ``show`` is called.
    """

    def __init__(
        self,
        title: str,
        text: Text | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._title = title
        self._text = text if text is not None else Text("")
        self._shown = _signature(self._text)

    def compose(self) -> ComposeResult:
        yield Static(self._text, classes="panel-text")

    def on_mount(self) -> None:
        """Set the border title (UI thread)."""
        self.border_title = self._title

    @property
    def text(self) -> Text:
        """What the panel shows."""
        return self._text

    def show(self, text: Text) -> None:
        """Show ``text`` (UI thread); nothing happens when it is what is shown already."""
        signature = _signature(text)
        if signature == self._shown:
            return
        self._text = text
        self._shown = signature
        self.query_one(".panel-text", Static).update(text)
