"""The engine's configuration: frozen, validated models of ``config.toml`` and how to load them.

Pure values, no threads: the engine loads the config once on the main thread (and the TUI may
re-parse it on its own thread to preview a reload) and hands the frozen ``EngineConfig`` to every
actor. Validation is strict because TOML already has types: ``port = "7497"`` is an error, not a
port. Every problem comes back as one line naming the file and the key path (see
``core.config_errors``). Nothing secret lives in ``config.toml``; credentials, should any ever be
needed, come from the environment, never from this file.

Units are in the names: ``_s`` seconds, ``_ms`` milliseconds, ``_min`` minutes, ``_pct`` percent
(2.0 means 2 %), ``_bps`` basis points. Money is ``Decimal``; rates and volatilities are floats.

The models live in ``sections.py`` (every table but the accounts), ``accounts.py`` (an account;
its ``[accounts.strategy]`` is validated by the strategy registry, ``core.strategies``, and each
strategy's own model lives beside the strategy), ``engine_config.py`` (the whole file,
cross-checked); ``loader.py`` reads and parses.
"""

from __future__ import annotations

from core.config.accounts import AccountConfig, AccountLimits
from core.config.engine_config import EngineConfig
from core.config.loader import load_config, parse_config
from core.config.notify import NOTIFY_KINDS, NotifySettings
from core.config.sections import (
    LIVE_TRADING_PORTS,
    BrokerSettings,
    ControlSettings,
    EngineSettings,
    ExitSettings,
    FilterSettings,
    IbSettings,
    InboxSettings,
    OptionExitSettings,
    OptionSettings,
    OrderSettings,
    RiskSettings,
    SimSettings,
    SymbolSettings,
)
from core.config_errors import ConfigError

__all__ = [
    "LIVE_TRADING_PORTS",
    "NOTIFY_KINDS",
    "AccountConfig",
    "AccountLimits",
    "BrokerSettings",
    "ConfigError",
    "ControlSettings",
    "EngineConfig",
    "EngineSettings",
    "ExitSettings",
    "FilterSettings",
    "IbSettings",
    "InboxSettings",
    "NotifySettings",
    "OptionExitSettings",
    "OptionSettings",
    "OrderSettings",
    "RiskSettings",
    "SimSettings",
    "SymbolSettings",
    "load_config",
    "parse_config",
]
