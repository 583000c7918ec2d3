"""Modal screens: yes/no confirmation, the quit question when trades are still open, and the
quit question of a dashboard attached to an engine in another process (detach or stop it).

Both run on the UI thread and only return a choice through ``dismiss``; the app acts on it.
``h`` (halt) works in both: a modal screen blocks the app's own bindings.
Body text is passed as ``Text``, never markup, so contract keys cannot be misread as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

__all__ = ["ConfirmScreen", "DetachScreen", "QuitChoice", "QuitScreen"]

#: A modal screen blocks the app's bindings; the kill switch must stay one key away.
_HALT = Binding("h", "app.halt", "Halt")


class QuitChoice(StrEnum):
    """How the app was left; the app's return value.

    The engine in this process (``EngineApp(engine)``): ``NOTHING_OPEN``, ``LEAVE`` or
    ``FLATTEN``; the caller stops the engine. Attached to an engine in another process: the
    engine keeps running (``DETACH``), or it was stopped (``STOP``, ``STOP_FLATTEN``) and said
    bye before the app returned.
    """

    NOTHING_OPEN = "nothing_open"  # no position or working order was shown
    LEAVE = "leave"  # positions and orders left working at the broker
    FLATTEN = "flatten"  # flattened, and quit once nothing was open
    DETACH = "detach"  # attached: the engine keeps running
    STOP = "stop"  # attached: the engine stopped, positions left working with their stops
    STOP_FLATTEN = "stop_flatten"  # attached: the engine flattened everything, then stopped


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question: ``y`` or the Yes button dismisses with True; ``n``, escape or
    the No button with False.

    Args:
        title: the question.
        lines: details shown under it (one per line).
        live: asked every ``refresh_s`` while the dialog is open for the question and lines
            as they are now (a position closed meanwhile leaves the list); None: fixed.
        refresh_s: how often ``live`` is asked.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
        _HALT,
    ]

    def __init__(
        self,
        title: str,
        lines: Sequence[str] = (),
        *,
        live: Callable[[], tuple[str, Sequence[str]]] | None = None,
        refresh_s: float = 0.25,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._question = title
        self._lines = tuple(lines)
        self._live = live
        self._refresh_s = refresh_s

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self._question), classes="dialog-title")
            body = Static(Text("\n".join(self._lines)), classes="dialog-body")
            body.display = bool(self._lines)
            yield body
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        """Focus No, so a stray enter cannot confirm; keep a live prompt current."""
        self.query_one("#no", Button).focus()
        if self._live is not None:
            self.set_interval(self._refresh_s, self.refresh_prompt, name="live prompt")

    def refresh_prompt(self) -> None:
        """Ask ``live`` again and show what changed (UI thread)."""
        if self._live is None:
            return
        title, lines = self._live()
        if title != self._question:
            self._question = title
            self.query_one(".dialog-title", Label).update(Text(title))
        if tuple(lines) != self._lines:
            self._lines = tuple(lines)
            body = self.query_one(".dialog-body", Static)
            body.update(Text("\n".join(self._lines)))
            body.display = bool(self._lines)

    def action_answer(self, answer: bool) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Yes -> True, No -> False."""
        event.stop()
        self.dismiss(event.button.id == "yes")


class _LeaveDialog(ModalScreen[QuitChoice | None]):
    """A dialog whose buttons (ids) and keys name a ``QuitChoice``; ``cancel`` or escape
    dismisses with None."""

    def action_choose(self, choice: str) -> None:
        """Close with the choice named ``choice`` (empty: cancel)."""
        self.dismiss(QuitChoice(choice) if choice else None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Map the pressed button to its choice."""
        event.stop()
        self.action_choose("" if event.button.id == "cancel" else str(event.button.id))


class QuitScreen(_LeaveDialog):
    """Positions or orders are open: leave them working (``l``), flatten first (``f``) or stay
    (escape, which dismisses with None).

    Args:
        positions: open positions shown in the dashboard.
        orders: working orders shown in the dashboard.
    """

    BINDINGS = [
        Binding("l", "choose('leave')", "Leave working"),
        Binding("f", "choose('flatten')", "Flatten first"),
        Binding("escape", "choose('')", "Cancel"),
        _HALT,
    ]

    def __init__(self, *, positions: int, orders: int) -> None:
        super().__init__(classes="dialog-screen")
        self._positions = positions
        self._orders = orders

    def compose(self) -> ComposeResult:
        body = (
            f"{self._positions} open position(s) and {self._orders} working order(s).\n"
            "Leave them: protective stops and working orders stay at the broker.\n"
            "Flatten first: close everything, then quit once nothing is open."
        )
        with Vertical(classes="dialog"):
            yield Label(Text("Quit with trades open?"), classes="dialog-title")
            yield Static(Text(body), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Leave working (l)", id="leave", variant="warning")
                yield Button("Flatten first (f)", id="flatten", variant="error")
                yield Button("Cancel (esc)", id="cancel", variant="primary")

    def on_mount(self) -> None:
        """Focus Cancel, so a stray enter changes nothing."""
        self.query_one("#cancel", Button).focus()


class DetachScreen(_LeaveDialog):
    """Leaving a dashboard attached to an engine in another process: detach (``d``, the
    default: the engine keeps running), stop it leaving positions working (``s``), flatten
    then stop it (``f``), or stay (escape, which dismisses with None).

    Args:
        positions: open positions shown in the dashboard.
        orders: working orders shown in the dashboard.
        read_only: a viewer: only detaching is offered.
    """

    BINDINGS = [
        Binding("d", "choose('detach')", "Detach"),
        Binding("s", "choose('stop')", "Stop engine"),
        Binding("f", "choose('stop_flatten')", "Flatten, stop"),
        Binding("escape", "choose('')", "Cancel"),
        _HALT,
    ]

    def __init__(self, *, positions: int, orders: int, read_only: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self._positions = positions
        self._orders = orders
        self._read_only = read_only

    def compose(self) -> ComposeResult:
        body = (
            f"{self._positions} open position(s) and {self._orders} working order(s).\n"
            "Detach: the engine keeps trading; attach again later.\n"
            "Stop: it stops; positions keep their protective stops.\n"
            "Flatten, stop: it closes everything, then stops."
        )
        if self._read_only:
            body += "\nREAD-ONLY viewer: you can only detach."
        with Vertical(classes="dialog"):
            yield Label(Text("Leave the dashboard?"), classes="dialog-title")
            yield Static(Text(body), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Detach (d)", id="detach", variant="primary")
                yield Button("Stop (s)", id="stop", variant="warning")
                yield Button("Flatten, stop (f)", id="stop_flatten", variant="error")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        """Focus Detach: enter leaves the engine running."""
        self.query_one("#detach", Button).focus()
