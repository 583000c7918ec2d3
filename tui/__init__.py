"""The terminal dashboard: a Textual app that watches the engine's bus and sends it commands.

``EngineApp`` depends only on ``EngineControls`` (a structural protocol the real
``actors.engine.Engine`` satisfies), so it runs against a fake in tests. ``run_tui(engine)``
runs it on the main thread; the caller starts and stops the engine.
"""

from __future__ import annotations

from tui.app import EngineApp, run_tui
from tui.bridge import Batch, BusBridge
from tui.controls import EngineControls, TradingMode, trading_mode
from tui.screens import QuitChoice

__all__ = [
    "Batch",
    "BusBridge",
    "EngineApp",
    "EngineControls",
    "QuitChoice",
    "TradingMode",
    "run_tui",
    "trading_mode",
]
