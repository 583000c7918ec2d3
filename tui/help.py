"""``?``: every key of the dashboard, its screens and dialogs, on one modal screen.

``KEY_HELP`` is the single list; a test checks that every binding of every screen is in it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

__all__ = ["KEY_HELP", "HelpScreen", "help_text"]

#: (section, ((keys, what they do), ...)), in the order shown.
KEY_HELP: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Dashboard",
        (
            ("h", "HALT: close the gate at once, no confirmation (works on every screen)"),
            ("r", "resume trading (confirm)"),
            ("f", "flatten all: close every position (confirm, lists them)"),
            ("x", "flatten the selected VA (confirm, lists its positions)"),
            ("p", "pause the selected VA, or unpause it"),
            ("enter", "open the selected VA's inspector (on any row of a table)"),
            ("c", "configuration: the settings in effect, reload the file"),
            ("?", "this help"),
            ("q", "quit (asks when positions or orders are open)"),
            ("up/down tab", "move in a table / to the next pane"),
        ),
    ),
    (
        "VA inspector",
        (
            ("x", "flatten this VA (confirm)"),
            ("p", "pause or unpause this VA"),
            ("escape", "back"),
        ),
    ),
    (
        "Configuration",
        (
            ("R", "reload the file: validate, apply what may change live, show the diff"),
            ("escape", "back"),
        ),
    ),
    (
        "Dialogs",
        (
            ("y / n", "answer a confirmation (No has the focus)"),
            ("l / f", "quit dialog: leave trades working / flatten first"),
            ("escape", "cancel"),
        ),
    ),
)


def help_text() -> Text:
    """``KEY_HELP`` as aligned lines."""
    width = max(len(keys) for _, rows in KEY_HELP for keys, _ in rows) + 2
    text = Text()
    for section, rows in KEY_HELP:
        if text:
            text.append("\n\n")
        text.append(section, style="bold underline")
        for keys, what in rows:
            text.append("\n")
            text.append(f"{keys:>{width}}  ", style="bold cyan")
            text.append(what)
    return text


class HelpScreen(ModalScreen[None]):
    """The key list; escape or ``?`` closes it, ``h`` still halts."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close"),
        Binding("h", "app.halt", "Halt"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(Text("Keys"), classes="dialog-title")
            with VerticalScroll(classes="help-body"):
                yield Static(help_text(), id="help-text", classes="dialog-body")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
