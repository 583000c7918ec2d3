"""The terminal dashboard: a Textual app that watches the engine's bus and sends it commands.

``EngineApp`` depends only on ``EngineControls`` (a structural protocol the real
``engine.engine.Engine`` satisfies), so it runs against a fake in tests, or in the engine's
process (the benchmarks' figure 2).
``RemoteEngine`` (``tui.remote``) is the engine of another process behind its control socket:
``main.py attach`` (``tui.attach_command``) runs the same app over it.

Screens: the dashboard (``tui.app``), the VA inspector (``tui.inspector``), the config screen
(``tui.config_screen``), the key help (``tui.help``) and the dialogs (``tui.screens``).
"""

from __future__ import annotations

from tui.app import EngineApp
from tui.bridge import Batch, BusBridge
from tui.config_screen import ConfigScreen
from tui.controls import EngineControls, TradingMode, trading_mode
from tui.help import HelpScreen
from tui.inspector import InspectorScreen
from tui.remote import RemoteEngine
from tui.screens import QuitChoice

__all__ = [
    "Batch",
    "BusBridge",
    "ConfigScreen",
    "EngineApp",
    "EngineControls",
    "HelpScreen",
    "InspectorScreen",
    "QuitChoice",
    "RemoteEngine",
    "TradingMode",
    "trading_mode",
]
