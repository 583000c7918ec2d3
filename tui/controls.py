"""The engine as the TUI sees it: a small structural protocol, and the trading-mode label
(``core.trading_mode``, re-exported here).

The app depends on ``EngineControls`` only, never on ``engine.engine.Engine``, so tests pass a
fake that records calls and no actor needs to run. Every method in the protocol is thread-safe.
The commands (halt, resume, flatten, pause) return at once (the real engine ``tell``s actors) and
the UI thread calls them directly; ``ask_snapshot``, ``inspect_va`` and ``reload_config`` block
(bounded) and are called from worker threads only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from actors.messages.queries import VAInspection
from core.gate import GateState
from core.trading_mode import PAPER_TRADING_PORTS, TradingMode, trading_mode

__all__ = [
    "PAPER_TRADING_PORTS",
    "AccountLike",
    "BrokerSettingsLike",
    "BrokeredConfigLike",
    "BusLike",
    "ClockLike",
    "ConfigLike",
    "EngineControls",
    "GateLike",
    "IbSettingsLike",
    "ReloadPlanLike",
    "TradingMode",
    "trading_mode",
]


class BusLike(Protocol):
    """Publish/subscribe for snapshots and events (``actors.runtime.base.Bus``)."""

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Add ``callback`` (called on publishers' threads); returns the unsubscribe function."""
        ...


class ClockLike(Protocol):
    """The engine's clock (``core.clock.Clock``); ``now()`` is safe from any thread."""

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


class BrokeredConfigLike(Protocol):
    """The part of ``EngineConfig`` the trading mode is read from."""

    @property
    def broker(self) -> BrokerSettingsLike:
        """Broker settings."""
        ...


class AccountLike(Protocol):
    """The parts of one ``[[accounts]]`` entry the TUI reads."""

    @property
    def id(self) -> str:
        """The VA's id."""
        ...

    @property
    def enabled(self) -> bool:
        """Whether the engine runs an actor for it."""
        ...


class ConfigLike(BrokeredConfigLike, Protocol):
    """The parts of ``EngineConfig`` the TUI reads: the broker, the VAs, and every value for
    the config screen."""

    @property
    def accounts(self) -> Sequence[AccountLike]:
        """The virtual accounts, in file order."""
        ...

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]:
        """Every setting as nested dicts (``mode="json"``: plain JSON values)."""
        ...


class ReloadPlanLike(Protocol):
    """The outcome of a config reload (``core.config_reload.ReloadPlan``)."""

    @property
    def applied(self) -> tuple[str, ...]:
        """One line per change applied live: ``"risk.max_trades_per_day: 10 -> 12"``."""
        ...

    @property
    def refused(self) -> tuple[str, ...]:
        """One line per change that needs a restart, with the reason."""
        ...


class EngineControls(Protocol):
    """What the TUI needs from the engine. Every member is thread-safe; the commands never
    block; the questions (``ask_snapshot``, ``inspect_va``, ``reload_config``) block, bounded,
    and are asked from worker threads."""

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
        """The effective configuration (frozen; replaced as a whole by a reload)."""
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

    def ask_snapshot(self, name: str, timeout_s: float = ...) -> Any:
        """Ask the actor at ``name`` (``governor``, ``position_monitor``, ``va:<id>``) for its
        current snapshot. Blocks up to ``timeout_s``: worker threads only.

        Raises:
            pykka.Timeout: no answer in time.
            LookupError: no actor at ``name``.
        """
        ...

    def inspect_va(self, va_id: str, timeout_s: float = ...) -> VAInspection:
        """Ask the VA's actor for its live state. Blocks up to ``timeout_s``: worker threads
        only, never the UI thread.

        Raises:
            pykka.Timeout: the actor did not answer in time (busy or stalled).
            LookupError: no such VA.
        """
        ...

    def reload_config(self, path: str) -> ReloadPlanLike:
        """Validate the file at ``path`` and apply what may change live. Blocks briefly:
        worker threads only.

        Raises:
            core.config.ConfigError: the file is invalid (``problems``: one line each);
                nothing was applied.
        """
        ...


if TYPE_CHECKING:
    from engine.engine import Engine

    def _engine_satisfies_protocol(engine: Engine) -> EngineControls:
        # mypy proves here that the real engine fits the protocol the app depends on.
        return engine
