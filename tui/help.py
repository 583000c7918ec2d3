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

__all__ = ["KEY_HELP", "READ_ONLY_HEAD", "HelpScreen", "help_text"]

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
            ("e", "events: all, fills only, refusals only, risk only (repeats are folded)"),
            ("t", "closed trades: realized P&L and exit reason of each, the totals"),
            ("?", "this help"),
            ("q", "quit (asks when positions or orders are open); attached: detach or stop"),
            ("v", "READ-ONLY viewer (attach --read-only): why the trading keys do nothing"),
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
            ("T", "send a test notification to every [notify] service (URLs shown masked)"),
            ("escape", "back"),
        ),
    ),
    (
        "Dialogs",
        (
            ("y / n", "answer a confirmation (No has the focus)"),
            ("l / f", "quit dialog: leave trades working / flatten first"),
            ("d / s / f", "attached: detach (the engine keeps running) / stop it / flatten, stop"),
            ("escape", "cancel"),
        ),
    ),
)


#: The help's first lines for a read-only viewer.
READ_ONLY_HEAD = (
    "READ-ONLY viewer: the engine refuses this dashboard's commands.\n"
    "The trading keys (h r f x p, R, stopping at q) are refused here too;\n"
    "attach without --read-only to trade."
)


def help_text(*, read_only: bool = False) -> Text:
    """``KEY_HELP`` as aligned lines (``read_only``: headed by ``READ_ONLY_HEAD``)."""
    width = max(len(keys) for _, rows in KEY_HELP for keys, _ in rows) + 2
    text = Text(READ_ONLY_HEAD, style="bold yellow") if read_only else Text()
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

    def __init__(self, *, read_only: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self._read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(Text("Keys"), classes="dialog-title")
            with VerticalScroll(classes="help-body"):
                yield Static(
                    help_text(read_only=self._read_only), id="help-text", classes="dialog-body"
                )

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
