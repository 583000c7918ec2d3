"""How the trader leaves the dashboard (``q``), in both modes.

* The engine in this process: quit at once when nothing is open, else ask: leave the trades
  working, or flatten first and quit once nothing is open (the caller then stops the engine).
* Attached to an engine in another process: ask: detach (the engine keeps running; the
  default), stop it leaving positions working, or flatten then stop; a stop is sent over the
  channel and the dashboard quits once the engine said bye, or says that it did not.

Threads: the UI thread only; ``check`` runs in every flush and never waits.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from tui.board import Board
from tui.controls import AttachedControls, EngineControls
from tui.screens import DetachScreen, QuitChoice, QuitScreen
from tui.trading_keys import TradingKeys

__all__ = ["Quitting"]


class Quitting:
    """The quit dialogs and what follows them, for one dashboard.

    Args:
        app: the dashboard (dialogs, notices, ``exit``).
        engine: flattened before quitting (in this process).
        board: what is open.
        keys: refuses a stop to a read-only viewer.
        attached: the engine in another process (None: in this one).
    """

    def __init__(
        self,
        app: App[Any],
        engine: EngineControls,
        board: Board,
        keys: TradingKeys,
        attached: AttachedControls | None,
    ) -> None:
        self._app = app
        self._engine = engine
        self._board = board
        self._keys = keys
        self._attached = attached
        self._when_flat = False
        self._stopping: QuitChoice | None = None
        #: What the header says meanwhile ("" when nothing is under way).
        self.note = ""

    def ask(self) -> None:
        """``q``: the dialog of this mode (or quit at once: nothing open, in this process)."""
        positions, orders = len(self._board.positions), len(self._board.orders)
        if self._attached is not None:
            read_only = self._attached.read_only
            dialog = DetachScreen(positions=positions, orders=orders, read_only=read_only)
            self._app.push_screen(dialog, self._detach_answered)
        elif not positions and not orders:
            self._app.exit(QuitChoice.NOTHING_OPEN)
        else:
            dialog_ = QuitScreen(positions=positions, orders=orders)
            self._app.push_screen(dialog_, self._quit_answered)

    def check(self) -> None:
        """Each flush: quit once flat (flatten first), or once the stopped engine said bye."""
        if self._when_flat and not self._board.positions and not self._board.orders:
            self._when_flat = False
            self._app.exit(QuitChoice.FLATTEN)
        if self._stopping is None or self._attached is None:
            return
        result = self._attached.stop_result
        if result is None:
            return
        choice, self._stopping = self._stopping, None
        if result.done:
            self._app.exit(choice)
        else:
            self.note = ""
            line = f"{result.text}; the dashboard stays attached."
            self._app.notify(line, severity="error", markup=False)  # the engine's words

    def _quit_answered(self, choice: QuitChoice | None) -> None:
        if choice is QuitChoice.LEAVE:
            self._app.exit(QuitChoice.LEAVE)
        elif choice is QuitChoice.FLATTEN:
            # Quitting now would let the caller stop the engine before the closing orders
            # are out; the flush quits once no position or order is left.
            self._engine.flatten("quit: flatten first", by=self._keys.by)
            self._when_flat = True
            self.note = "QUITTING WHEN FLAT (q: choose again)"
        elif self._when_flat:
            self._when_flat = False
            self.note = ""

    def _detach_answered(self, choice: QuitChoice | None) -> None:
        if choice is QuitChoice.DETACH:
            self._app.exit(QuitChoice.DETACH)
        elif choice is not None and self._attached is not None and not self._keys.refused():
            self._stopping = choice
            flatten = choice is QuitChoice.STOP_FLATTEN
            self._attached.stop_engine(flatten=flatten)
            first = "flattening, then stopping" if flatten else "stopping"
            self.note = f"ENGINE {first.upper()}: waiting for its bye"
