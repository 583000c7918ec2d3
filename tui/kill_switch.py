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

The input thread still needs the GIL, and the dashboard's process runs Textual: measured with
100 VAs (bench figure 3b), the key waited behind the UI thread for up to Python's 5 ms switch
interval, and behind full garbage collections of 65-140 ms every few seconds. ``tune_for_keys``
(called by ``main.py attach`` and ``main.py run``'s dashboard, never in a process that runs
tests or an engine) lowers the switch interval to 0.5 ms and makes full collections rare: what
was imported and built before the dashboard starts is frozen out of the collector, and a full
collection waits for ``FULL_GC_EVERY`` younger ones instead of 10.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

from loguru import logger
from textual import events
from textual.driver import Driver
from textual.message import Message

__all__ = [
    "FULL_GC_EVERY",
    "KILL_KEY",
    "SWITCH_INTERVAL_S",
    "KillSwitchSent",
    "express_driver",
    "tune_for_keys",
]

KILL_KEY = "h"
#: The dashboard process's GIL switch interval (Python's default: 5 ms).
SWITCH_INTERVAL_S = 0.0005
#: Collections of the middle generation before a full one (Python's default: 10).
FULL_GC_EVERY = 1000


def tune_for_keys() -> None:
    """The dashboard's process only (see the module docstring): a short GIL switch interval,
    the heap built so far frozen out of the collector, full collections rare."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_GC_EVERY)


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
