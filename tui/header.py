"""The status header: mode, exchange clock and speed, trading state, broker connection, day P&L,
the account line, the portfolio greek limits' use (a line only when one is set), limits, gate.

Narrower than ``COMPACT_BELOW`` columns it is compact: the mode, clock (on one line), state
and connection share the first line and the details (each a full line) follow, so nothing in
them is cut at 80 columns.

Runs on the UI thread only; the app calls ``show_*`` from its flush (on every screen that has a
header). Each label is updated only when its content changes, so an idle dashboard repaints
nothing here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from actors.messages.snapshots import RiskStatus
from core.domain import TradingState
from core.gate import GateState
from core.text import printable
from tui.controls import TradingMode
from tui.formatting import (
    STATE_CLASSES,
    date_label,
    day_pnl_pair_text,
    limits_label,
    speed_label,
)
from tui.risk_cells import account_text, greek_limits_text

__all__ = ["COMPACT_BELOW", "StatusHeader"]

#: Header widths (columns) below which it is compact.
COMPACT_BELOW = 160

_GATE_STYLES = {GateState.OPEN: "green", GateState.EXITS_ONLY: "yellow", GateState.CLOSED: "red"}
_CONNECTION_CLASSES = ("-connected", "-stale", "-disconnected", "-unknown")


class StatusHeader(Horizontal):
    """One band of labels at the top of the dashboard.

    Args:
        mode: what the orders reach; LIVE is shown in red.
    """

    def __init__(self, mode: TradingMode, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._mode = mode
        self._shown: dict[str, str | Text] = {}
        self._ready = False
        self._clock: tuple[datetime, float | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f" {self._mode.value} "), id="mode", classes=f"-{self._mode.value.lower()}"
        )
        yield Static(id="clock")
        yield Static(Text(" WAITING "), id="state", classes="-unknown")
        yield Static(Text(" BROKER ? "), id="connection", classes="-unknown")
        with Vertical(id="details"):
            yield Static(id="pnl")
            yield Static(id="account-line")
            # The portfolio greek limits' use: a line only while one is set ([risk]).
            greek_limits = Static(id="greek-limits")
            greek_limits.display = False
            yield greek_limits
            yield Static(id="limits")
            yield Static(id="flags")

    def on_mount(self) -> None:
        """The labels exist from now on (a header on a screen being pushed may be found by
        the app's flush before they do)."""
        self._ready = True

    def on_resize(self, event: events.Resize) -> None:
        """Compact below ``COMPACT_BELOW`` columns (UI thread)."""
        compact = event.size.width < COMPACT_BELOW
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            if self._clock is not None:
                self.show_clock(*self._clock)

    def _show(self, widget_id: str, content: str | Text) -> None:
        # Static.update repaints (and may re-layout) even for equal content: skip it then.
        if self._shown.get(widget_id) == content:
            return
        self._shown[widget_id] = content
        self.query_one(f"#{widget_id}", Static).update(
            content if isinstance(content, Text) else Text(content)
        )

    def show_clock(self, now: datetime, speed: float | None) -> None:
        """Exchange time, date and simulation speed."""
        if not self._ready:
            return
        self._clock = (now, speed)
        text = Text(f"{now:%H:%M:%S}", style="bold")
        separator = "  " if self.has_class("-compact") else "\n"
        text.append(f"{separator}{date_label(now)}{separator}{speed_label(speed)}")
        self._show("clock", text)

    def _set_class(self, widget_id: str, wanted: str, classes: tuple[str, ...]) -> None:
        label = self.query_one(f"#{widget_id}", Static)
        for cls in classes:
            label.set_class(cls == wanted, cls)

    def _show_greek_limits(self, status: RiskStatus | None) -> None:
        text = greek_limits_text(status)
        label = self.query_one("#greek-limits", Static)
        if (text is not None) != label.display:
            label.display = text is not None
        if text is not None:
            self._show("greek-limits", text)

    def show_risk(
        self,
        status: RiskStatus | None,
        gate: GateState,
        *,
        note: str = "",
        engine_pnl: Decimal | None = None,
    ) -> None:
        """Trading state (colored), broker connection, the day P&L (the engine's, ``engine_pnl``:
        the VAs' sum, beside the account's as the broker reports it) against the loss limit,
        the limits, the gate, and ``note`` (e.g. a pending quit).

        Before the governor's first status only the gate is known.
        """
        if not self._ready:
            return
        flags = Text("gate ")
        flags.append(gate.value, style=_GATE_STYLES.get(gate, ""))
        if status is not None and status.state is not TradingState.ACTIVE and status.reason:
            # Why it is not trading (a halt survives restarts: the trader must see its cause).
            hint = "  (r: resume)" if status.state is TradingState.HALTED else ""
            flags.append(f"  {printable(status.reason[:90])}{hint}", style="yellow")
        if note:
            flags.append(f"  {note}", style="bold yellow")
        self._show("flags", flags)
        self._show("account-line", account_text(status))
        self._show_greek_limits(status)
        state_class = "-unknown" if status is None else STATE_CLASSES[status.state]
        self._set_class("state", state_class, (*STATE_CLASSES.values(), "-unknown"))
        if status is None:
            connection_class, connection = "-unknown", " BROKER ? "
        elif status.connected and status.data_stale:
            connection_class, connection = "-stale", " DATA STALE "
        elif status.connected and status.data_delayed:
            # Delayed quotes (a paper login without live data): trading on 15-minute-old
            # prices must be visible at all times.
            connection_class, connection = "-stale", " DELAYED "
        elif status.connected:
            connection_class, connection = "-connected", " CONNECTED "
        elif status.logged_out:
            connection_class, connection = "-disconnected", " LOGGED OUT "
        else:
            connection_class, connection = "-disconnected", " DISCONNECTED "
        self._set_class("connection", connection_class, _CONNECTION_CLASSES)
        self._show("connection", connection)
        if status is None:
            self._show("state", " WAITING ")
            self._show("pnl", "day P&L -")
            self._show("limits", "no risk status yet")
            return
        self._show("state", f" {status.state.value} ")
        account = status.account_day_pnl
        self._show(
            "pnl",
            day_pnl_pair_text(
                engine_pnl,
                status.day_pnl if account is None else account,
                status.daily_loss_limit,
                judged=status.day_pnl,
                broker="sim" if self._mode is TradingMode.SIM else "IB",
            ),
        )
        self._show("limits", limits_label(status.limits))
