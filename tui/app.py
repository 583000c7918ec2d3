"""``EngineApp``: the live dashboard (``App.run()`` runs it on the main thread).

Threads:

* Actor threads call the ``BusBridge`` subscribed on mount. It parks items under a lock and
  returns; no widget is touched and ``call_from_thread`` (which blocks) is never used.
* The UI thread (Textual's loop) owns every widget. A ``set_interval`` flush drains the bridge
  every ``flush_interval_s`` and applies the changes: keyed rows, changed cells only.
* ``h`` halts from the terminal's input thread (``tui.kill_switch``), never queued behind a
  flush or a redraw; the UI thread only says so afterwards.
* Other commands go to the engine straight from the UI thread: ``EngineControls`` commands are
  thread-safe and return at once (they ``tell`` actors), and the app never waits for their
  effect: a halt shows up when the governor's next status arrives.
* Questions that block run in worker threads and post their answers back as messages: the
  snapshots asked once at start (the engine was started before the app subscribed), the VA
  inspector's ask (``tui.inspector``) and a config reload (``tui.config_screen``).

Attached to an engine in another process (``tui.remote.RemoteEngine``, ``tui.attached``) the
bus items arrive on the link's reader thread and are parked the same way; a full state replaces
what is shown; the commands' outcomes arrive as notices; a banner says when the engine cannot be
reached; ``q`` offers to detach or to stop the engine; a read-only viewer is refused every key
that trades.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer

from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.domain import TradingState
from tui.attached import TRADING_ACTIONS, TRADING_KEYS, LinkBanner
from tui.board import Board
from tui.bridge import BusBridge, Drained
from tui.config_screen import ConfigScreen
from tui.controls import EngineControls, attached, trading_mode
from tui.event_log import EventLog
from tui.first_snapshots import first_snapshots
from tui.formatting import (
    ORDER_COLUMNS,
    ORDER_OPTIONAL,
    POSITION_COLUMNS,
    POSITION_OPTIONAL,
    VA_COLUMNS,
    VA_OPTIONAL,
)
from tui.header import StatusHeader
from tui.help import HelpScreen
from tui.inspector import InspectorScreen
from tui.kill_switch import KillSwitchSent, express_driver
from tui.quitting import Quitting
from tui.screens import QuitChoice
from tui.tables import KeyedTable
from tui.trades import ClosedTradesScreen
from tui.trading_keys import TradingKeys, dashboard_by

__all__ = ["EngineApp"]


#: Actions that act on the dashboard's own tables: hidden on the other full screens.
_DASHBOARD_ONLY = frozenset(
    {"flatten_va", "pause_va", "inspect", "config", "event_filter", "closed_trades"}
)


class EngineApp(App[QuitChoice | None]):
    """The live dashboard of one engine.

    The return value (``App.run()``, ``app.return_value``) says how the user left: nothing was
    open, trades were left working, or everything was flattened first; attached to an engine in
    another process: detached, or the engine was stopped (``QuitChoice``).

    Args:
        engine: the engine, or any object with the ``EngineControls`` members.
        config_path: the config file ``R`` reloads on the config screen (None: no reload).
        flush_interval_s: how often the UI applies what the bus delivered.
        max_events: events the bridge holds between two flushes before dropping old ones.
        inspect_timeout_s: how long the inspector waits for a VA's answer.
        inspect_refresh_s: how often the inspector asks.
        stop_requested: set from another thread or a signal handler (SIGTERM, SIGINT) to leave
            as the config says: the app ends with None at its next flush, and the caller
            stops the engine with ``engine.on_shutdown``.
    """

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    ENABLE_COMMAND_PALETTE = False
    #: Seconds a notice stays (Textual's default, 5, left them over the screen too long).
    NOTIFICATION_TIMEOUT = 3.0
    #: Below 200 columns positions and orders are stacked, from 200 side by side.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (200, "-wide")]
    #: Below 32 lines (80x24) the panes lose their side and bottom borders.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        # A read-only viewer's first footer entry says so (hidden on a trading dashboard); the
        # labels are short enough for every key to fit a 120-column footer.
        Binding("v", "viewer", "READ-ONLY viewer"),
        Binding("h", "halt", "Halt"),
        Binding("r", "resume", "Resume"),
        Binding("f", "flatten", "Flatten all"),
        Binding("x", "flatten_va", "Flatten VA"),
        Binding("p", "pause_va", "Pause VA"),
        Binding("enter", "inspect", "Inspect"),
        Binding("c", "config", "Config"),
        Binding("e", "event_filter", "Filter"),
        Binding("t", "closed_trades", "Trades"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    #: The governor's trading state (None until its first status); refreshes the footer.
    trading_state: reactive[TradingState | None] = reactive(None, bindings=True)

    class Seeded(Message):
        """The snapshots actors gave when asked at start (posted from a worker thread)."""

        def __init__(self, items: tuple[object, ...]) -> None:
            super().__init__()
            self.items = items

    def __init__(
        self,
        engine: EngineControls,
        *,
        config_path: str | os.PathLike[str] | None = None,
        flush_interval_s: float = 0.25,
        max_events: int = 1000,
        inspect_timeout_s: float = 1.0,
        inspect_refresh_s: float = 1.0,
        stop_requested: threading.Event | None = None,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._stop_requested = stop_requested
        self._config_path = None if config_path is None else os.fspath(config_path)
        self._attached = attached(engine)
        self._read_only = self._attached is not None and self._attached.read_only
        self._mode = trading_mode(engine.config)
        self._bridge = BusBridge(max_events=max_events)
        self._flush_interval_s = flush_interval_s
        self._inspect_timeout_s = inspect_timeout_s
        self._inspect_refresh_s = inspect_refresh_s
        self._unsubscribe: Callable[[], None] | None = None
        self._risk: RiskStatus | None = None
        self._vas_table = KeyedTable(VA_COLUMNS, optional=VA_OPTIONAL, id="vas")
        self._positions_table = KeyedTable(
            POSITION_COLUMNS, optional=POSITION_OPTIONAL, id="positions"
        )
        self._orders_table = KeyedTable(ORDER_COLUMNS, optional=ORDER_OPTIONAL, id="orders")
        self._board = Board(
            vas=self._vas_table,
            positions=self._positions_table,
            orders=self._orders_table,
            configured=[account.id for account in engine.config.accounts if account.enabled],
        )
        self._keys = TradingKeys(
            self,
            engine,
            self._board,
            lambda: self._risk,
            attached=self._attached is not None,
            read_only=self._read_only,
            by=dashboard_by(),  # once, here: the kill switch's lane looks nothing up
        )
        self._quitting = Quitting(self, engine, self._board, self._keys, self._attached)
        self.flushes = 0

    # -- layout and lifecycle (UI thread) ---------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(self._mode, id="status")
        yield LinkBanner(id="link-banner")
        with Vertical(id="body"):
            yield self._vas_table
            with Horizontal(id="trades"):
                yield self._positions_table
                yield self._orders_table
            yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        """Subscribe the bridge, start the flush timer and ask for the first snapshots."""
        self._vas_table.border_title = "Virtual accounts (enter: inspect)"
        self._board.show_configured()
        self._unsubscribe = self._engine.bus.subscribe(self._bridge)
        self.set_interval(self._flush_interval_s, self._apply_pending, name="flush")
        self.call_after_refresh(self._apply_pending)
        if self._attached is None:  # attached, the full state arrives on the bus at once
            self.run_worker(self._ask_first_snapshots, name="first snapshots", thread=True)

    def on_unmount(self) -> None:
        """Unsubscribe the bridge (UI thread, at shutdown)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _ask_first_snapshots(self) -> None:
        """Worker thread: ask the governor, the position monitor and every VA for their state,
        so the dashboard is complete before they next publish; never touches a widget."""
        items = first_snapshots(self._engine, self._board.configured, self._inspect_timeout_s)
        self.post_message(self.Seeded(items))

    def on_engine_app_seeded(self, message: Seeded) -> None:
        """Park the first snapshots for the next flush, except where something newer is known
        (the bridge keeps a pending one; the board one already shown)."""
        for item in message.items:
            if isinstance(item, RiskStatus):
                if self._risk is None:
                    self._bridge.offer(item)
            elif isinstance(item, VASnapshot | PositionSnapshot) and self._board.is_new(item):
                self._bridge.offer(item)

    # -- what the dashboard shows (UI thread) -----------------------------------------------
    @property
    def positions(self) -> tuple[PositionSnapshot, ...]:
        """Open positions as currently shown."""
        return tuple(self._board.positions.values())

    @property
    def working_orders(self) -> tuple[OrderSnapshot, ...]:
        """Working orders as currently shown."""
        return tuple(self._board.orders.values())

    @property
    def risk_status(self) -> RiskStatus | None:
        """The governor's latest status (None before the first)."""
        return self._risk

    def va_snapshot(self, va_id: str) -> VASnapshot | None:
        """The latest snapshot of ``va_id`` applied by a flush."""
        return self._board.vas.get(va_id)

    @property
    def selected_va(self) -> str | None:
        """The VA under the cursor of the VA table (None when the table is empty)."""
        return self._board.selected_va

    # -- the flush (UI thread, every flush_interval_s) --------------------------------------
    def _apply_pending(self) -> None:
        """Apply everything the bridge holds, then refresh the clock, ages, countdowns and
        every header."""
        if not self.is_running:  # shutting down: the widgets may already be gone
            return
        if self._stop_requested is not None and self._stop_requested.is_set():
            self.exit(None)
            return
        self.flushes += 1
        batch = self._bridge.drain()
        now = self._engine.clock.now()
        if batch.replace_all:
            self._replace_all(batch)
        if batch.risk is not None:
            self._risk = batch.risk
            self.trading_state = batch.risk.state
        self._board.apply(batch, now, replace_all=batch.replace_all)
        if batch.replace_all:
            self.query_one("#events", EventLog).replace(batch.events, dropped=batch.dropped_events)
        elif batch.events or batch.dropped_events:
            events = self.query_one("#events", EventLog)
            events.add(batch.events, dropped=batch.dropped_events)
        for notice in batch.notices:
            # Text from the engine (a reason, a path) is shown as it is, never read as markup.
            severity = notice.severity
            self.notify(notice.text, severity=severity, markup=False)  # type: ignore[arg-type]
        if self._attached is not None:
            self._show_attachment()
        gate = self._engine.gate.state
        vas = self._board.vas.values()
        engine_pnl = sum((va.day_pnl for va in vas), Decimal(0)) if vas else None
        for header in self._headers():
            header.show_clock(now, self._engine.clock.speed)
            header.show_risk(self._risk, gate, note=self._quitting.note, engine_pnl=engine_pnl)
        self._quitting.check()

    def _replace_all(self, batch: Drained) -> None:
        """A full state from the attached engine: what it does not list is gone, and its
        config (a restarted engine may run another) decides the VA rows."""
        self._risk = batch.risk
        self.trading_state = None if batch.risk is None else batch.risk.state
        configured = [a.id for a in self._engine.config.accounts if a.enabled]
        if tuple(configured) != self._board.configured:
            self._board.reconfigure(configured)

    def _show_attachment(self) -> None:
        """The link's banner, and the last state dimmed while the engine is away."""
        assert self._attached is not None
        reachable = self.query_one("#link-banner", LinkBanner).show_link(self._attached)
        self.query_one("#body").set_class(not reachable, "-stale")
        self.query_one("#status").set_class(not reachable, "-stale")

    def _headers(self) -> Iterator[StatusHeader]:
        # The dashboard's header and the one of every screen pushed over it.
        for screen in self.screen_stack:
            yield from screen.query(StatusHeader).results(StatusHeader)

    # -- keys (UI thread) -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Grey out resume while active (halt never: the screen may be a tick behind the
        engine, e.g. another dashboard resumed it); hide the dashboard's own keys on the other
        full screens."""
        if action == "resume" and self.trading_state is TradingState.ACTIVE:
            return None
        if action == "viewer":
            return self._read_only
        if action in _DASHBOARD_ONLY and not self._on_dashboard():
            return False
        if self._read_only and action in TRADING_ACTIONS:
            return None  # greyed out; the key is refused with a notice (on_key)
        return True

    def on_key(self, event: events.Key) -> None:
        """A read-only viewer pressing a trading key is told why nothing happens."""
        if self._read_only and event.key in TRADING_KEYS:
            event.stop()
            self._keys.refused()

    def action_viewer(self) -> None:
        """``v`` (read-only only): say why the trading keys do nothing."""
        self._keys.refused()

    def _dialog_open(self) -> bool:
        return isinstance(self.screen, ModalScreen)

    def _on_dashboard(self) -> bool:
        return len(self.screen_stack) == 1

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal, with the kill switch on its input thread."""
        return express_driver(super().get_driver_class())

    def kill_switch(self) -> bool:
        """The terminal's input thread (``tui.kill_switch``): ``h`` halts before the UI thread
        has seen it; False for a read-only viewer (the key is then refused as usual)."""
        return self._keys.send_halt()

    def on_kill_switch_sent(self, _message: KillSwitchSent) -> None:
        """UI thread: the input thread sent the halt; say so."""
        self._keys.halt_sent()

    def action_halt(self) -> None:
        """``h``: the kill switch. No confirmation, works over every screen and dialog; the
        engine closes the gate itself, before the governor has even seen the message (attached:
        before it answers; the answer comes as a notice)."""
        self._keys.halt()

    def action_resume(self) -> None:
        """``r``: resume trading after a confirmation."""
        self._keys.resume()

    def action_flatten(self) -> None:
        """``f``: close every position after a confirmation listing them."""
        self._keys.flatten_all()

    def action_flatten_va(self) -> None:
        """``x``: flatten the VA under the cursor (confirm)."""
        va_id = self.selected_va
        if va_id is None:
            self.notify("No virtual account is shown yet.", severity="warning")
            return
        self.request_flatten_va(va_id)

    def request_flatten_va(self, va_id: str) -> None:
        """Ask to flatten ``va_id``, listing its positions and orders; flatten on yes."""
        self._keys.flatten_va(va_id)

    def action_pause_va(self) -> None:
        """``p``: pause the VA under the cursor, or unpause it (no confirmation)."""
        va_id = self.selected_va
        if va_id is None:
            self.notify("No virtual account is shown yet.", severity="warning")
            return
        self.toggle_pause_va(va_id)

    def toggle_pause_va(self, va_id: str) -> None:
        """Pause ``va_id``, or unpause it when its latest snapshot says it is paused."""
        self._keys.toggle_pause(va_id)

    def action_inspect(self) -> None:
        """``enter`` when no table has the focus: inspect the VA under the VA table's cursor."""
        va_id = self.selected_va
        if va_id is not None:
            self.open_inspector(va_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """``enter`` (or a click on the cursor row) in a table: inspect that row's VA."""
        va_id = self._board.va_of_row(event.data_table.id, event.row_key.value)
        if va_id is not None:
            event.stop()
            self.open_inspector(va_id)

    def open_inspector(self, va_id: str) -> None:
        """Push the inspector of ``va_id`` over the dashboard."""
        if not self._on_dashboard():
            return
        screen = InspectorScreen(
            va_id,
            engine=self._engine,
            dashboard=self,
            mode=self._mode,
            timeout_s=self._inspect_timeout_s,
            refresh_s=self._inspect_refresh_s,
        )
        self.push_screen(screen)

    def action_config(self) -> None:
        """``c``: the config screen."""
        if self._on_dashboard():
            path = self._config_path
            if path is None and self._attached is not None:
                path = self._attached.config_path  # the engine reloads its own file
            screen = ConfigScreen(
                engine=self._engine, mode=self._mode, config_path=path, read_only=self._read_only
            )
            self.push_screen(screen)

    def action_event_filter(self) -> None:
        """``e``: list only fills, only refusals, only risk events, or all of them."""
        self.query_one("#events", EventLog).next_filter()

    def action_closed_trades(self) -> None:
        """``t``: the closed trades, realized P&L and exit reason of each (``tui.trades``)."""
        if self._on_dashboard():
            self.push_screen(ClosedTradesScreen(engine=self._engine, mode=self._mode))

    def action_help(self) -> None:
        """``?``: every key."""
        if not self._dialog_open():
            self.push_screen(HelpScreen(read_only=self._read_only))

    async def action_quit(self) -> None:
        """``q`` (and ctrl+q): quit, detach or stop the engine (``tui.quitting``)."""
        if not self._dialog_open():
            self._quitting.ask()
