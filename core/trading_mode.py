"""What the orders reach, as the dashboard's header and ``main.py status`` name it: the simulator,
a paper account, real money, or nothing (a dry run).

Pure: read from the config. Shared by the dashboard (``tui.controls`` re-exports it) and the
control channel's ``EngineInfo`` (``engine.control.server``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from core.config.sections import LIVE_TRADING_PORTS

__all__ = ["PAPER_TRADING_PORTS", "BrokeredConfig", "TradingMode", "trading_mode"]

#: TWS and IB Gateway's default paper-trading ports.
PAPER_TRADING_PORTS = frozenset({7497, 4002})


class _IbSettings(Protocol):
    @property
    def port(self) -> int: ...

    @property
    def allow_live(self) -> bool: ...


class _BrokerSettings(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def ib(self) -> _IbSettings: ...


class BrokeredConfig(Protocol):
    """The part of ``EngineConfig`` the trading mode is read from."""

    @property
    def broker(self) -> _BrokerSettings: ...


class TradingMode(StrEnum):
    """What the orders reach: the simulator, a paper account, or real money (or nothing:
    a dry run stores the orders it would send and sends none)."""

    SIM = "SIM"
    PAPER = "PAPER"
    LIVE = "LIVE"
    DRY_RUN = "DRY-RUN"


def trading_mode(config: BrokeredConfig) -> TradingMode:
    """The mode label for ``config``.

    A standard live port (7496/4001) is LIVE and a standard paper port (7497/4002) is PAPER.
    Any other port is LIVE when the config allows live trading (the safe reading: the label is
    red whenever real money may be at stake), else PAPER. A dry run (``broker.ib.dry_run``, set
    by ``run --dry-run``) is DRY-RUN whatever the port: no order is sent.
    """
    broker = config.broker
    if broker.kind == "sim":
        return TradingMode.SIM
    if getattr(broker.ib, "dry_run", False):
        return TradingMode.DRY_RUN  # every order is marked dry_run in the ledger, none is sent
    port = broker.ib.port
    if port in LIVE_TRADING_PORTS:
        return TradingMode.LIVE
    if port in PAPER_TRADING_PORTS:
        return TradingMode.PAPER
    return TradingMode.LIVE if broker.ib.allow_live else TradingMode.PAPER
