"""The VA inspector: one virtual account's actor, seen from inside, refreshed every second.

Threads: the screen lives on the UI thread. Every ``refresh_s`` it starts one worker thread that
asks the actor (``engine.inspect_va``, bounded by ``timeout_s``) and posts the answer back as a
message (``post_message`` is thread-safe and never blocks). At most one ask is in flight, so a
stalled actor costs one blocked worker thread, never the UI: the screen then says
``actor busy: no answer in 1.0 s`` and keeps showing the last answer and the bus snapshot.
"""

from __future__ import annotations

from typing import Protocol

import pykka
from loguru import logger
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Sparkline, Static

from actors.messages.queries import VAInspection
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.rules.reconcile_text import first_differences
from core.text import printable
from tui.controls import EngineControls, TradingMode
from tui.header import StatusHeader
from tui.inspect_view import (
    account_text,
    config_text,
    decisions_text,
    equity_label,
    handled_stats_text,
    handled_text,
    holdings_text,
    orders_text,
    title_text,
)
from tui.panel import Panel
from tui.risk_cells import inspector_risk_text

__all__ = ["Dashboard", "InspectorScreen"]


class Dashboard(Protocol):
    """What the inspector reads from, and asks of, the dashboard (``EngineApp``)."""

    def va_snapshot(self, va_id: str) -> VASnapshot | None:
        """The latest snapshot of ``va_id`` from the bus."""
        ...

    @property
    def working_orders(self) -> tuple[OrderSnapshot, ...]:
        """Working orders as the dashboard shows them."""
        ...

    @property
    def risk_status(self) -> RiskStatus | None:
        """The governor's latest status (its reconciliation differences are shown here)."""
        ...

    @property
    def positions(self) -> tuple[PositionSnapshot, ...]:
        """Open positions as the dashboard shows them (the VA's risk and exits)."""
        ...

    def request_flatten_va(self, va_id: str) -> None:
        """Ask for a confirmation, then flatten ``va_id``."""
        ...

    def toggle_pause_va(self, va_id: str) -> None:
        """Pause ``va_id``, or unpause it if it is paused."""
        ...


class InspectorScreen(Screen[None]):
    """The live state of one VA's actor; ``x`` and ``p`` act on this VA, escape goes back.

    Args:
        va_id: the virtual account.
        engine: asked from worker threads only.
        dashboard: the app, for bus snapshots and the per-VA actions.
        mode: the trading mode, for the header.
        timeout_s: how long one ask may take before the actor counts as busy.
        refresh_s: how often the actor is asked.
    """

    DEFAULT_CSS = """
    InspectorScreen #equity-sparkline { height: 2; margin: 0 1; }
    InspectorScreen #equity-label { height: 1; padding: 0 1; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("x", "flatten_va", "Flatten this VA"),
        Binding("p", "pause_va", "Pause/resume this VA"),
    ]

    class Answered(Message):
        """A worker's outcome: the inspection, or why there is none (posted from its thread)."""

        def __init__(self, inspection: VAInspection | None, problem: str) -> None:
            super().__init__()
            self.inspection = inspection
            self.problem = problem

    def __init__(
        self,
        va_id: str,
        *,
        engine: EngineControls,
        dashboard: Dashboard,
        mode: TradingMode,
        timeout_s: float = 1.0,
        refresh_s: float = 1.0,
    ) -> None:
        super().__init__(classes="inspector")
        self.va_id = va_id
        self._engine = engine
        self._dashboard = dashboard
        self._mode = mode
        self._timeout_s = timeout_s
        self._refresh_s = refresh_s
        self._inspection: VAInspection | None = None
        self._latest: VASnapshot | None = None
        self._bus_seen: VASnapshot | None = None
        self._answered_at: str = ""
        self._problem = ""
        self._asking = False
        self.asks = 0

    # -- layout and lifecycle (UI thread) ---------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(self._mode, id="status")
        yield Static(id="inspector-title")
        yield Static(id="inspector-answer")
        yield Sparkline([], id="equity-sparkline")
        yield Static(equity_label(()), id="equity-label")
        with Horizontal(id="inspector-top"):
            yield Panel("Account", id="account")
            with Vertical(id="inspector-trades"):
                yield Panel("Positions", id="holdings")
                yield Panel("Working orders", id="working")
            yield Panel("Config", id="va-config")
        with Horizontal(id="inspector-bottom"):
            yield Panel("Last decisions (newest first, engine time)", id="decisions")
            yield Panel("Messages handled, by type (last: engine time)", id="handled")
        yield Footer()

    def on_mount(self) -> None:
        """Show what the bus knows at once, ask the actor, and keep asking every refresh_s."""
        self._show_state()
        self._ask()
        self.set_interval(self._refresh_s, self._tick, name="inspect")

    # -- what the screen shows (UI thread; read by tests) -----------------------------------
    @property
    def inspection(self) -> VAInspection | None:
        """The actor's last answer (None before the first)."""
        return self._inspection

    @property
    def answer_line(self) -> str:
        """The line under the title: when the actor last answered, or that it is busy."""
        return self._answer_text().plain

    # -- asking the actor -------------------------------------------------------------------
    def _tick(self) -> None:
        self._show_state()
        if not self._asking:
            self._ask()

    def _ask(self) -> None:
        self._asking = True
        self.asks += 1
        self.run_worker(
            self._fetch,
            name=f"inspect {self.va_id}",
            group="inspect",
            thread=True,
            exit_on_error=False,
        )

    def _fetch(self) -> None:
        """Worker thread: ask (bounded), then post the outcome; never touches a widget."""
        try:
            inspection = self._engine.inspect_va(self.va_id, timeout_s=self._timeout_s)
        except (pykka.Timeout, TimeoutError):  # in this process / attached over the socket
            self.post_message(
                self.Answered(None, f"actor busy: no answer in {self._timeout_s:.1f} s")
            )
        except LookupError:
            self.post_message(self.Answered(None, f"no actor for {self.va_id} (not running)"))
        except ConnectionError as exc:  # attached, and the engine is not reachable now
            self.post_message(self.Answered(None, f"engine not reachable: {exc}"))
        except Exception as exc:
            logger.exception("tui: inspecting {} failed", self.va_id)
            self.post_message(self.Answered(None, f"inspection failed: {exc}"))
        else:
            self.post_message(self.Answered(inspection, ""))

    def on_inspector_screen_answered(self, message: Answered) -> None:
        """Take a worker's outcome (UI thread)."""
        message.stop()
        self._asking = False
        self._problem = message.problem
        if message.inspection is not None:
            self._snapshot()  # a bus snapshot received before this answer is older than it
            self._inspection = message.inspection
            self._latest = message.inspection.snapshot
            self._answered_at = f"{self._engine.clock.now():%H:%M:%S}"
        self._show_state()

    # -- rendering --------------------------------------------------------------------------
    def _snapshot(self) -> VASnapshot | None:
        """The VA's snapshot received last: from the bus (via the dashboard) or in an answer."""
        bus = self._dashboard.va_snapshot(self.va_id)
        if bus is not None and bus is not self._bus_seen:
            self._bus_seen = self._latest = bus
        return self._latest

    def _answer_text(self) -> Text:
        if self._problem:
            text = Text(self._problem, style="bold red")
            if self._answered_at:
                text.append(f"  (showing its answer from {self._answered_at})", style="dim")
            return text
        if self._inspection is None:
            return Text(f"asking va:{self.va_id} ...", style="dim")
        return Text(
            f"live: answered at {self._answered_at}, asked every {self._refresh_s:g} s",
            style="green",
        )

    def _show_state(self) -> None:
        now = self._engine.clock.now()
        inspection = self._inspection
        snapshot = self._snapshot()
        crashes = inspection.crashes if inspection is not None else None
        self.query_one("#inspector-title", Static).update(
            title_text(self.va_id, snapshot, now, crashes=crashes)
        )
        answer = self._answer_text()
        status = self._dashboard.risk_status
        if status is not None and status.differences:
            answer.append("\nreconciliation differences: ", style="bold red")
            answer.append(printable(first_differences(status.differences)))  # broker's text
        self.query_one("#inspector-answer", Static).update(answer)
        if snapshot is not None:
            account = account_text(snapshot, now, crashes=crashes)
            account.append_text(inspector_risk_text(self.va_id, self._dashboard.positions))
            self.query_one("#account", Panel).show(account)
            self.query_one("#decisions", Panel).show(decisions_text(snapshot.last_decisions))
        if inspection is None:
            return
        known = {order.order_id: order for order in self._dashboard.working_orders}
        self.query_one("#holdings", Panel).show(holdings_text(inspection))
        self.query_one("#working", Panel).show(orders_text(inspection.working_orders, known, now))
        self.query_one("#va-config", Panel).show(config_text(inspection.config))
        handled = (
            handled_stats_text(inspection.handled_stats)
            if inspection.handled_stats
            else handled_text(inspection.handled, now)  # an engine that sends no statistics
        )
        self.query_one("#handled", Panel).show(handled)
        curve = inspection.equity_curve
        sparkline = self.query_one("#equity-sparkline", Sparkline)
        if list(sparkline.data or []) != list(curve):
            sparkline.data = list(curve)
        self.query_one("#equity-label", Static).update(equity_label(curve))

    # -- keys -------------------------------------------------------------------------------
    def action_back(self) -> None:
        """``escape``: back to the dashboard."""
        self.dismiss(None)

    def action_flatten_va(self) -> None:
        """``x``: flatten this VA (the dashboard asks for a confirmation)."""
        self._dashboard.request_flatten_va(self.va_id)

    def action_pause_va(self) -> None:
        """``p``: pause this VA, or unpause it."""
        self._dashboard.toggle_pause_va(self.va_id)
