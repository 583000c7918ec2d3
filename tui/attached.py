"""The dashboard's parts for an engine in another process (``tui.remote.RemoteEngine``): the
banner shown while the engine cannot be reached, and the trading keys a read-only viewer is
refused (leaving: ``tui.quitting``).

Threads: the UI thread only; the engine's link is read, never waited for.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.controls import AttachedControls

__all__ = ["TRADING_ACTIONS", "TRADING_KEYS", "LinkBanner"]

#: The dashboard's actions that trade (refused to a read-only viewer).
TRADING_ACTIONS = frozenset({"halt", "resume", "flatten", "flatten_va", "pause_va"})
#: Their keys, and config reload's (the keys a read-only viewer is told about).
TRADING_KEYS = frozenset({"h", "r", "f", "x", "p", "R"})


class LinkBanner(Static):
    """One line over the dashboard while the engine cannot be reached; hidden otherwise."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown = ""
        self.display = False

    @property
    def text(self) -> str:
        """The line shown ("" while hidden)."""
        return self._shown

    def show_link(self, engine: AttachedControls) -> bool:
        """Show the link's problem, or hide; returns whether the engine is reachable."""
        status = engine.link_status
        line = ""
        if not status.connected:
            problem = status.problem.replace(status.path, "it")  # the path is said once
            line = (
                f"engine not running at {status.path}: {problem}; reattaching every "
                f"{status.reconnect_s:g} s (showing the last state it sent)"
            )
        if line != self._shown:
            self._shown = line
            self.update(Text(line))
            self.display = bool(line)
        return status.connected
