"""The dashboard's trading keys: halt at once; resume, flatten all and flatten one VA after a
confirmation; pause or unpause a VA. A read-only viewer (attached with ``--read-only``) is
refused each of them with one line. Each command goes with who asked (``by``: the OS user of
the dashboard's process, ``"alice, dashboard"``), journaled as the SSH commands' are.

Threads: the UI thread only. The engine's commands return at once (in this process they
``tell`` actors; attached, ``tui.remote`` sends them from its own threads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import ModalScreen

from actors.messages.snapshots import RiskStatus
from engine.operations.trading_commands import who_asks
from tui.board import Board
from tui.confirmations import flatten_all_prompt, flatten_va_prompt, resume_lines
from tui.controls import READ_ONLY_REFUSAL, EngineControls
from tui.screens import ConfirmScreen

__all__ = ["TradingKeys", "dashboard_by"]

_BY_MAX = 64  # wire.ReasonArgs.by
_DASHBOARD = ", dashboard"


def dashboard_by(environ: dict[str, str] | None = None) -> str:
    """Who asks when a dashboard key trades: the OS user of this process (with the SSH
    client's address over SSH, ``who_asks``) and ``dashboard``: ``"alice, dashboard"``, at
    most 64 characters. Looked up once, when the dashboard starts, never per key."""
    return who_asks(environ)[: _BY_MAX - len(_DASHBOARD)] + _DASHBOARD


class TradingKeys:
    """What the trading keys do, for one dashboard.

    Args:
        app: the dashboard (dialogs and notices).
        engine: where the commands go.
        board: what is shown (the confirmations list it).
        risk: the governor's latest status (the resume confirmation shows why it halted).
        attached: the engine runs in another process (its answer comes later, as a notice).
        read_only: a viewer: every key is refused.
        by: who asks (``dashboard_by``), sent with every halt, resume and flatten.
    """

    def __init__(
        self,
        app: App[Any],
        engine: EngineControls,
        board: Board,
        risk: Callable[[], RiskStatus | None],
        *,
        attached: bool,
        read_only: bool,
        by: str,
    ) -> None:
        self._app = app
        self._engine = engine
        self._board = board
        self._risk = risk
        self._attached = attached
        self.read_only = read_only
        self.by = by

    def refused(self) -> bool:
        """True (and the viewer told why) when this dashboard may not trade."""
        if self.read_only:
            self._app.notify(READ_ONLY_REFUSAL, severity="warning")
        return self.read_only

    def _busy(self) -> bool:
        return isinstance(self._app.screen, ModalScreen) or self.refused()

    def halt(self) -> None:
        """The kill switch: no confirmation, over every screen and dialog (UI thread)."""
        if self.refused():
            return
        self.send_halt()
        self.halt_sent()

    def send_halt(self) -> bool:
        """Any thread (``tui.kill_switch`` calls it on the terminal's input thread): send the
        halt unless this dashboard may not trade; whether it was sent. The screen is not told
        here: ``halt_sent`` does that on the UI thread."""
        if self.read_only:
            return False
        self._engine.halt("halt key", by=self.by)
        return True

    def halt_sent(self) -> None:
        """UI thread: say that the halt went out."""
        if self._attached:
            self._app.notify("Halt sent to the engine.", severity="error")
        else:
            self._app.notify("Halt sent: the gate is closed.", severity="error")

    def resume(self) -> None:
        """Resume trading after a confirmation."""
        if self._busy():
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._engine.resume("resume key", by=self.by)
                self._app.notify("Resume sent.")

        screen = ConfirmScreen(
            "Resume trading?",
            resume_lines(self._risk()),
            live=lambda: ("Resume trading?", resume_lines(self._risk())),
        )
        self._app.push_screen(screen, answered)

    def flatten_all(self) -> None:
        """Close every position after a confirmation listing them."""
        if self._busy():
            return
        board = self._board

        def prompt() -> tuple[str, list[str]]:
            return flatten_all_prompt(list(board.positions.values()), board.orders.values())

        title, lines = prompt()

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._engine.flatten("flatten key", by=self.by)
                self._app.notify("Flatten sent.", severity="warning")

        self._app.push_screen(ConfirmScreen(title, lines, live=prompt), answered)

    def flatten_va(self, va_id: str) -> None:
        """Flatten ``va_id`` after a confirmation listing its positions and orders."""
        if self._busy():
            return
        board = self._board

        def prompt() -> tuple[str, list[str]]:
            return flatten_va_prompt(va_id, board.positions.values(), board.orders.values())

        title, lines = prompt()

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._engine.flatten(f"flatten {va_id} key", va_id=va_id, by=self.by)
                self._app.notify(f"Flatten {va_id} sent.", severity="warning")

        self._app.push_screen(ConfirmScreen(title, lines, live=prompt), answered)

    def toggle_pause(self, va_id: str) -> None:
        """Pause ``va_id``, or unpause it when its latest snapshot says it is paused."""
        if self._busy():
            return
        snapshot = self._board.vas.get(va_id)
        pause = snapshot is None or snapshot.state != "paused"
        self._engine.pause_va(va_id, paused=pause, reason="pause key" if pause else "unpause key")
        self._app.notify(f"{'Pause' if pause else 'Unpause'} {va_id} sent.")
