"""The dashboard's parts for an engine in another process (``tui.remote.RemoteEngine``): the
banner shown while the engine cannot be reached, the trading keys a read-only viewer is
refused, and leaving (detach, or stop the engine and wait for its bye).

Threads: the UI thread only; the engine's link and stop outcome are read, never waited for.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.controls import AttachedControls
from tui.screens import QuitChoice

__all__ = ["TRADING_ACTIONS", "TRADING_KEYS", "Leaving", "LinkBanner"]

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


class Leaving:
    """A stop asked of the attached engine, until it said bye (or did not)."""

    def __init__(self, engine: AttachedControls) -> None:
        self._engine = engine
        self.choice: QuitChoice | None = None

    def stop(self, choice: QuitChoice) -> str:
        """Ask the engine to stop (``STOP`` or ``STOP_FLATTEN``); the header's note."""
        self.choice = choice
        flatten = choice is QuitChoice.STOP_FLATTEN
        self._engine.stop_engine(flatten=flatten)
        first = "flattening, then stopping" if flatten else "stopping"
        return f"ENGINE {first.upper()}: waiting for its bye"

    def outcome(self) -> tuple[QuitChoice | None, str]:
        """(the choice to leave with, "") once the engine said bye; (None, why) when the stop
        failed; (None, "") while it runs or when none was asked."""
        if self.choice is None:
            return None, ""
        result = self._engine.stop_result
        if result is None:
            return None, ""
        choice, self.choice = self.choice, None
        return (choice, "") if result.done else (None, result.text)
