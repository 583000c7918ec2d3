"""The kill switch's own lane: ``h`` halts from the terminal's input thread, never queued behind
the dashboard's drawing.

Textual reads the terminal on an input thread of its driver and posts each key to the UI
thread's queue. The UI thread also applies every flush (100 VA rows: about 10 ms) and draws the
screen, so a key that arrives then waits for it: measured 0.9 ms at p50 and up to 34 ms from
the key to the app's action. ``express_driver`` wraps the driver Textual chose (``LinuxDriver``
in a terminal) so that ``KILL_KEY`` is handed to the app's ``kill_switch`` on the input thread
itself; the halt is on its way before the UI thread has seen the key. The key is then replaced
by ``KillSwitchSent`` in the UI queue, where the app says so on screen.

Headless runs (``App.run_test``, Textual's pilot) use Textual's ``HeadlessDriver``, which has no
input thread: there the key takes the app's ``h`` binding, which sends the same halt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger
from textual import events
from textual.driver import Driver
from textual.message import Message

__all__ = ["KILL_KEY", "KillSwitchSent", "express_driver"]

KILL_KEY = "h"


class KillSwitchSent(Message):
    """Posted in place of the ``h`` key whose halt the input thread has already sent."""


def express_driver(base: type[Driver]) -> type[Driver]:
    """``base`` with the kill switch pressed on its input thread (see the module docstring)."""

    class ExpressDriver(base):  # type: ignore[misc,valid-type]
        def process_message(self, message: Message) -> None:
            """Input thread: ``h`` goes to ``app.kill_switch()`` first; True means it was sent,
            and the app gets ``KillSwitchSent`` instead of the key; False (a read-only viewer)
            lets the key through to be refused as usual."""
            if isinstance(message, events.Key) and message.key == KILL_KEY:
                press: Callable[[], bool] | None = getattr(self._app, "kill_switch", None)
                if press is not None and _pressed(press):
                    message = KillSwitchSent()
            super().process_message(message)

    ExpressDriver.__name__ = ExpressDriver.__qualname__ = f"Express{base.__name__}"
    return ExpressDriver


def _pressed(press: Callable[[], Any]) -> bool:
    """Whether ``press`` sent the halt; a failure lets the key take the ordinary way."""
    try:
        return bool(press())
    except Exception:
        logger.exception("tui: the kill switch failed on the input thread; the key goes on")
        return False
