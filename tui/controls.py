"""The engine as the TUI sees it: a small structural protocol, and the trading-mode label.

The app depends on ``EngineControls`` only, never on ``actors.engine.Engine``, so tests pass a
fake that records calls and no actor needs to run. Every method in the protocol must be
thread-safe and return at once (the real engine ``tell``s actors); the UI thread calls them
directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from actors.config import LIVE_TRADING_PORTS
from broker.base import GateState

__all__ = [
    "PAPER_TRADING_PORTS",
    "BrokerSettingsLike",
    "BusLike",
    "ClockLike",
    "ConfigLike",
    "EngineControls",
    "GateLike",
    "IbSettingsLike",
    "TradingMode",
    "trading_mode",
]

#: TWS and IB Gateway's default paper-trading ports.
PAPER_TRADING_PORTS = frozenset({7497, 4002})


class BusLike(Protocol):
    """Publish/subscribe for snapshots and events (``actors.base.Bus``)."""

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Add ``callback`` (called on publishers' threads); returns the unsubscribe function."""
        ...


class ClockLike(Protocol):
    """The engine's clock (``actors.clock.Clock``); ``now()`` is safe from any thread."""

    @property
    def speed(self) -> float | None:
        """Simulated seconds per wall second; None = as fast as possible."""
        ...

    def now(self) -> datetime:
        """The current exchange time, timezone-aware."""
        ...


class GateLike(Protocol):
    """The kill switch (``broker.base.TradingGate``); every member is thread-safe."""

    @property
    def state(self) -> GateState:
        """What passes now."""
        ...

    @property
    def reason(self) -> str:
        """Why the gate is in its state."""
        ...

    def set(self, state: GateState, reason: str) -> None:
        """Change the state at once, for every thread."""
        ...


class IbSettingsLike(Protocol):
    """The parts of ``[broker.ib]`` the header reads."""

    @property
    def port(self) -> int:
        """TWS / Gateway port."""
        ...

    @property
    def allow_live(self) -> bool:
        """Whether the config permits a live-trading account."""
        ...


class BrokerSettingsLike(Protocol):
    """The parts of ``[broker]`` the header reads."""

    @property
    def kind(self) -> str:
        """``"sim"`` or ``"ib"``."""
        ...

    @property
    def ib(self) -> IbSettingsLike:
        """IB connection settings (read when ``kind`` is ``"ib"``)."""
        ...


class ConfigLike(Protocol):
    """The parts of ``EngineConfig`` the TUI reads."""

    @property
    def broker(self) -> BrokerSettingsLike:
        """Broker settings."""
        ...


class EngineControls(Protocol):
    """What the TUI needs from the engine. Every method is thread-safe and never blocks."""

    @property
    def bus(self) -> BusLike:
        """Where snapshots and events are published."""
        ...

    @property
    def clock(self) -> ClockLike:
        """The exchange clock (virtual in simulated runs)."""
        ...

    @property
    def config(self) -> ConfigLike:
        """The loaded configuration (frozen)."""
        ...

    @property
    def gate(self) -> GateLike:
        """The kill switch every order passes."""
        ...

    def halt(self, reason: str = ...) -> None:
        """Close the gate at once and tell the governor to halt."""
        ...

    def resume(self, reason: str = ...) -> None:
        """Ask the governor to resume trading."""
        ...

    def flatten(self, reason: str = ..., va_id: str | None = None) -> None:
        """Ask the governor to close every position (or one VA's)."""
        ...

    def pause_va(self, va_id: str, *, paused: bool, reason: str = ...) -> None:
        """Pause or unpause one virtual account."""
        ...


class TradingMode(StrEnum):
    """What the orders reach: the simulator, a paper account, or real money."""

    SIM = "SIM"
    PAPER = "PAPER"
    LIVE = "LIVE"


def trading_mode(config: ConfigLike) -> TradingMode:
    """The header's mode label for ``config``.

    A standard live port (7496/4001) is LIVE and a standard paper port (7497/4002) is PAPER.
    Any other port is LIVE when the config allows live trading (the safe reading: the label is
    red whenever real money may be at stake), else PAPER.
    """
    broker = config.broker
    if broker.kind == "sim":
        return TradingMode.SIM
    port = broker.ib.port
    if port in LIVE_TRADING_PORTS:
        return TradingMode.LIVE
    if port in PAPER_TRADING_PORTS:
        return TradingMode.PAPER
    return TradingMode.LIVE if broker.ib.allow_live else TradingMode.PAPER


if TYPE_CHECKING:
    from actors.engine import Engine

    def _engine_satisfies_protocol(engine: Engine) -> EngineControls:
        # mypy proves here that the real engine fits the protocol the app depends on.
        return engine
