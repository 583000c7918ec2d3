"""The status header: mode, exchange clock and speed, trading state, day P&L and limits.

Runs on the UI thread only; the app calls ``show_*`` from its flush. Each label is updated only
when its content changes, so an idle dashboard repaints nothing here.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from actors.messages import RiskStatus
from broker.base import GateState
from tui.controls import TradingMode
from tui.formatting import STATE_CLASSES, clock_label, day_pnl_text, limits_label

__all__ = ["StatusHeader"]

_GATE_STYLES = {GateState.OPEN: "green", GateState.EXITS_ONLY: "yellow", GateState.CLOSED: "red"}


class StatusHeader(Horizontal):
    """One band of labels at the top of the dashboard.

    Args:
        mode: what the orders reach; LIVE is shown in red.
    """

    def __init__(self, mode: TradingMode, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._mode = mode
        self._shown: dict[str, str | Text] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f" {self._mode.value} "), id="mode", classes=f"-{self._mode.value.lower()}"
        )
        yield Static(id="clock")
        yield Static(Text(" WAITING "), id="state", classes="-unknown")
        yield Static(id="pnl")
        yield Static(id="limits")
        yield Static(id="note")

    def _set(self, widget_id: str, content: str | Text) -> None:
        if self._shown.get(widget_id) == content:
            return
        self._shown[widget_id] = content
        self.query_one(f"#{widget_id}", Static).update(
            content if isinstance(content, Text) else Text(content)
        )

    def show_clock(self, now: datetime, speed: float | None) -> None:
        """Exchange time, date and simulation speed."""
        self._set("clock", clock_label(now, speed))

    def show_risk(self, status: RiskStatus | None, gate: GateState) -> None:
        """Trading state (colored), day P&L against the loss limit, the limits, and the gate.

        Before the governor's first status only the gate is known.
        """
        state_label = self.query_one("#state", Static)
        if status is None:
            self._set("state", " WAITING ")
            self._set("pnl", "day P&L -")
            self._set("limits", self._gate_text(gate))
            return
        self._set("state", f" {status.state.value} ")
        wanted = STATE_CLASSES[status.state]
        for cls in (*STATE_CLASSES.values(), "-unknown"):
            state_label.set_class(cls == wanted, cls)
        self._set("pnl", day_pnl_text(status.day_pnl, status.daily_loss_limit))
        limits = Text(limits_label(status.limits))
        limits.append("  ")
        limits.append_text(self._gate_text(gate))
        if not status.connected:
            limits.append("  BROKER DISCONNECTED", style="bold red")
        self._set("limits", limits)

    def show_note(self, note: str) -> None:
        """A short notice at the right (e.g. a pending quit); empty clears it."""
        self._set("note", Text(note, style="bold yellow"))

    @staticmethod
    def _gate_text(gate: GateState) -> Text:
        text = Text("gate ")
        text.append(gate.value, style=_GATE_STYLES.get(gate, ""))
        return text
