"""``EngineApp``: the live dashboard, and ``run_tui`` to run it on the main thread.

Threads:

* Actor threads call the ``BusBridge`` subscribed on mount. It parks items under a lock and
  returns; no widget is touched and ``call_from_thread`` (which blocks) is never used.
* The UI thread (Textual's loop) owns every widget. A ``set_interval`` flush drains the bridge
  every ``flush_interval_s`` and applies the changes: keyed rows, changed cells only.
* Commands go to the engine straight from the UI thread: ``EngineControls`` methods are
  thread-safe and return at once (they ``tell`` actors), and the app never waits for their
  effect: a halt shows up when the governor's next status arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from loguru import logger
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Footer

from actors.messages import OrderSnapshot, PositionSnapshot, RiskStatus, TradingState
from tui.bridge import BusBridge
from tui.controls import EngineControls, trading_mode
from tui.event_log import EventLog
from tui.formatting import (
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    VA_COLUMNS,
    order_age_cell,
    order_cells,
    position_cells,
    position_key,
    position_line,
    va_cells,
)
from tui.header import StatusHeader
from tui.screens import ConfirmScreen, QuitChoice, QuitScreen
from tui.tables import KeyedTable

__all__ = ["EngineApp", "run_tui"]


@contextmanager
def _logged_failure(what: str, key: str) -> Iterator[None]:
    # One malformed snapshot must not take the dashboard (and its kill switch) down.
    try:
        yield
    except Exception:
        logger.exception("tui: could not show {} {}", what, key)


#: Positions listed by name in the flatten confirmation; the rest are counted.
FLATTEN_LIST_MAX = 12


class EngineApp(App[QuitChoice | None]):
    """The live dashboard of one engine.

    The return value (``App.run()``, ``app.return_value``) says how the user left: nothing was
    open, trades were left working, or everything was flattened first.

    Args:
        engine: the engine, or any object with the ``EngineControls`` members.
        flush_interval_s: how often the UI applies what the bus delivered.
        max_events: events the bridge holds between two flushes before dropping old ones.
    """

    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("h", "halt", "Halt"),
        Binding("r", "resume", "Resume"),
        Binding("f", "flatten", "Flatten all"),
        Binding("q", "quit", "Quit"),
    ]

    #: The governor's trading state (None until its first status); refreshes the footer.
    trading_state: reactive[TradingState | None] = reactive(None, bindings=True)

    def __init__(
        self,
        engine: EngineControls,
        *,
        flush_interval_s: float = 0.25,
        max_events: int = 1000,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._mode = trading_mode(engine.config)
        self._bridge = BusBridge(max_events=max_events)
        self._flush_interval_s = flush_interval_s
        self._unsubscribe: Callable[[], None] | None = None
        self._risk: RiskStatus | None = None
        self._positions: dict[str, PositionSnapshot] = {}
        self._orders: dict[str, OrderSnapshot] = {}
        self._quit_when_flat = False
        self._note = ""

    # -- layout and lifecycle (UI thread) ---------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(self._mode, id="status")
        with Vertical(id="body"):
            yield KeyedTable(VA_COLUMNS, id="vas")
            with Horizontal(id="trades"):
                yield KeyedTable(POSITION_COLUMNS, id="positions")
                yield KeyedTable(ORDER_COLUMNS, id="orders")
            yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        """Subscribe the bridge and start the flush timer (UI thread)."""
        self.query_one("#vas", KeyedTable).border_title = "Virtual accounts"
        self.query_one("#events", EventLog).border_title = "Events (newest first)"
        self._unsubscribe = self._engine.bus.subscribe(self._bridge)
        self.set_interval(self._flush_interval_s, self._apply_pending, name="flush")
        self.call_after_refresh(self._apply_pending)

    def on_unmount(self) -> None:
        """Unsubscribe the bridge (UI thread, at shutdown)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- what the dashboard shows (UI thread) -----------------------------------------------
    @property
    def positions(self) -> tuple[PositionSnapshot, ...]:
        """Open positions as currently shown."""
        return tuple(self._positions.values())

    @property
    def working_orders(self) -> tuple[OrderSnapshot, ...]:
        """Working orders as currently shown."""
        return tuple(self._orders.values())

    @property
    def risk_status(self) -> RiskStatus | None:
        """The governor's latest status (None before the first)."""
        return self._risk

    # -- the flush (UI thread, every flush_interval_s) --------------------------------------
    def _apply_pending(self) -> None:
        """Apply everything the bridge holds, then refresh the clock, ages and header."""
        if not self.is_running:  # shutting down: the widgets may already be gone
            return
        batch = self._bridge.drain()
        now = self._engine.clock.now()
        if batch.risk is not None:
            self._risk = batch.risk
            self.trading_state = batch.risk.state
        vas = self.query_one("#vas", KeyedTable)
        for va in batch.vas:
            with _logged_failure("VA", va.va_id):
                vas.upsert(va.va_id, va_cells(va))
        self._apply_positions(batch.positions)
        orders = self.query_one("#orders", KeyedTable)
        self._apply_orders(orders, batch.orders, now)
        for key, order in self._orders.items():
            orders.set_cell(key, "age", order_age_cell(order, now))
        if batch.events or batch.dropped_events:
            events = self.query_one("#events", EventLog)
            events.add(batch.events, dropped=batch.dropped_events)
        header = self.query_one("#status", StatusHeader)
        header.show_clock(now, self._engine.clock.speed)
        header.show_risk(self._risk, self._engine.gate.state, note=self._note)
        if self._quit_when_flat and not self._positions and not self._orders:
            self._quit_when_flat = False
            self.exit(QuitChoice.FLATTEN)

    def _apply_positions(self, snapshots: Iterable[PositionSnapshot]) -> None:
        table = self.query_one("#positions", KeyedTable)
        for snapshot in snapshots:
            key = position_key(snapshot)
            if snapshot.quantity == 0:
                self._positions.pop(key, None)
                table.discard(key)
            else:
                self._positions[key] = snapshot
                with _logged_failure("position", key):
                    table.upsert(key, position_cells(snapshot))
        table.border_title = f"Positions ({len(self._positions)})"

    def _apply_orders(
        self, table: KeyedTable, snapshots: Iterable[OrderSnapshot], now: datetime
    ) -> None:
        for snapshot in snapshots:
            key = snapshot.order_id
            if snapshot.status.is_terminal:
                self._orders.pop(key, None)
                table.discard(key)
            else:
                self._orders[key] = snapshot
                with _logged_failure("order", key):
                    table.upsert(key, order_cells(snapshot, now))
        table.border_title = f"Working orders ({len(self._orders)})"

    # -- keys (UI thread) -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out halt while halted, and resume while active."""
        if action == "halt" and self.trading_state is TradingState.HALTED:
            return None
        if action == "resume" and self.trading_state is TradingState.ACTIVE:
            return None
        return True

    def _dialog_open(self) -> bool:
        return isinstance(self.screen, ModalScreen)

    def action_halt(self) -> None:
        """``h``: the kill switch. No confirmation, works over open dialogs too; the engine
        closes the gate itself, before the governor has even seen the message."""
        self._engine.halt("halt key")
        self.notify("Halt sent: the gate is closed.", severity="error")

    def action_resume(self) -> None:
        """``r``: resume trading after a confirmation."""
        if self._dialog_open():
            return
        status = self._risk
        lines = [f"State: {status.state.value} ({status.reason})"] if status else []
        lines.append("New entries will be allowed again.")
        self.push_screen(ConfirmScreen("Resume trading?", lines), self._resume_answered)

    def _resume_answered(self, confirmed: bool | None) -> None:
        if confirmed:
            self._engine.resume("resume key")
            self.notify("Resume sent.")

    def action_flatten(self) -> None:
        """``f``: close every position after a confirmation listing them."""
        if self._dialog_open():
            return
        positions = list(self._positions.values())
        lines = [position_line(p) for p in positions[:FLATTEN_LIST_MAX]]
        if len(positions) > FLATTEN_LIST_MAX:
            lines.append(f"... and {len(positions) - FLATTEN_LIST_MAX} more")
        if not positions:
            lines.append("No open position is shown.")
        lines.append(f"{len(self._orders)} working order(s): entries are cancelled.")
        lines.append("Trading is HALTED once everything is flat.")
        title = f"Flatten all: close {len(positions)} position(s)?"
        self.push_screen(ConfirmScreen(title, lines), self._flatten_answered)

    def _flatten_answered(self, confirmed: bool | None) -> None:
        if confirmed:
            self._engine.flatten("flatten key")
            self.notify("Flatten sent.", severity="warning")

    async def action_quit(self) -> None:
        """``q`` (and ctrl+q): quit at once if nothing is open, else ask what to do first."""
        if self._dialog_open():
            return
        if not self._positions and not self._orders:
            self.exit(QuitChoice.NOTHING_OPEN)
            return
        screen = QuitScreen(positions=len(self._positions), orders=len(self._orders))
        self.push_screen(screen, self._quit_answered)

    def _quit_answered(self, choice: QuitChoice | None) -> None:
        if choice is QuitChoice.LEAVE:
            self.exit(QuitChoice.LEAVE)
        elif choice is QuitChoice.FLATTEN:
            # Quitting now would let the caller stop the engine before the closing orders
            # are out; the flush quits once no position or order is left.
            self._engine.flatten("quit: flatten first")
            self._quit_when_flat = True
            self._note = "QUITTING WHEN FLAT (q: choose again)"
        elif self._quit_when_flat:
            self._quit_when_flat = False
            self._note = ""


def run_tui(engine: EngineControls) -> None:
    """Run the dashboard on the calling thread (the main thread) until the user quits.

    The caller starts the engine before and stops it after; the dashboard only watches the
    bus and sends commands.
    """
    EngineApp(engine).run()
