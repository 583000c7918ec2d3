"""The engine as the TUI sees it: a small structural protocol, and the trading-mode label
(``core.trading_mode``, re-exported here).

The app depends on ``EngineControls`` only, never on ``engine.engine.Engine``, so tests pass a
fake that records calls and no actor needs to run; ``tui.remote.RemoteEngine`` is the engine of
another process behind its control socket (``AttachedControls``, ``attached``). Every method in
the protocol is thread-safe. The commands (halt, resume, flatten, pause) return at once (the real
engine ``tell``s actors; the remote one sends from its own threads) and the UI thread calls them
directly; ``ask_snapshot``, ``inspect_va`` and ``reload_config`` block (bounded) and are called
from worker threads only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from actors.messages.queries import VAInspection
from core.gate import GateState
from core.trading_mode import PAPER_TRADING_PORTS, TradingMode, trading_mode
from engine.closed_trades import ClosedTrades
from engine.control.wire import NotifyStatus

__all__ = [
    "PAPER_TRADING_PORTS",
    "READ_ONLY_REFUSAL",
    "AccountLike",
    "AttachedControls",
    "BrokerSettingsLike",
    "BrokeredConfigLike",
    "BusLike",
    "ClockLike",
    "ConfigLike",
    "EngineControls",
    "GateLike",
    "IbSettingsLike",
    "LinkLike",
    "ReloadPlanLike",
    "StopLike",
    "TradingMode",
    "attached",
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

    def halt(self, reason: str = ..., *, by: str = "") -> None:
        """Close the gate at once and tell the governor to halt; ``by``: who asked, journaled
        with the reason (``"halt key (by alice, dashboard)"``)."""
        ...

    def resume(self, reason: str = ..., *, by: str = "") -> None:
        """Ask the governor to resume trading (``by``: who asked, as for ``halt``)."""
        ...

    def flatten(self, reason: str = ..., va_id: str | None = None, *, by: str = "") -> None:
        """Ask the governor to close every position (or one VA's; ``by`` as for ``halt``)."""
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
            pykka.Timeout: the actor did not answer in time (busy or stalled); attached over
                the socket (``tui.remote``) the client's ``TimeoutError``: catch both.
            LookupError: no such VA.
            ConnectionError: attached, and the engine is not reachable now.
        """
        ...

    def closed_trades(self, limit: int = ...) -> ClosedTrades:
        """The latest ``limit`` closed trades and the totals over all of them. Blocks (the
        ledger, or attached: the engine's reply): worker threads only.

        Raises:
            ConnectionError, TimeoutError: attached, and the engine did not answer.
        """
        ...

    def notify_status(self) -> NotifyStatus:
        """The notification settings, service URLs masked, and the notifier's counters. Blocks
        (attached: the engine's reply): worker threads only.

        Raises:
            ConnectionError, TimeoutError: attached, and the engine did not answer.
        """
        ...

    def notify_test(self) -> NotifyStatus:
        """Send a test message to every notification service (queued on the notifier's worker;
        ``note`` says what was done). Blocks like ``notify_status``."""
        ...

    def reload_config(self, path: str) -> ReloadPlanLike:
        """Validate the file at ``path`` and apply what may change live. Blocks briefly:
        worker threads only.

        Raises:
            core.config.ConfigError: the file is invalid (``problems``: one line each);
                nothing was applied.
            TimeoutError, ConnectionError: attached, and the engine did not answer or is not
                reachable (``tui.remote``).
        """
        ...


#: What a read-only viewer is told when it presses a trading key.
READ_ONLY_REFUSAL = "read-only viewer: attach without --read-only to trade"


class LinkLike(Protocol):
    """An attached engine's link as the dashboard shows it (``tui.remote.LinkStatus``)."""

    @property
    def path(self) -> str:
        """The engine's control socket."""
        ...

    @property
    def connected(self) -> bool:
        """Whether the engine is reachable now."""
        ...

    @property
    def problem(self) -> str:
        """Why not (empty while connected)."""
        ...

    @property
    def reconnect_s(self) -> float:
        """How often the link tries to reattach."""
        ...


class StopLike(Protocol):
    """The outcome of ``stop_engine`` (``tui.remote.StopResult``)."""

    @property
    def done(self) -> bool:
        """The engine said bye."""
        ...

    @property
    def text(self) -> str:
        """What happened, in one line."""
        ...


class AttachedControls(EngineControls, Protocol):
    """An engine in another process, attached over its control socket (``tui.remote``): the
    dashboard shows its link, refuses trading keys when ``read_only``, and can stop it."""

    @property
    def read_only(self) -> bool:
        """A viewer: commands are refused (by the dashboard, and by the engine)."""
        ...

    @property
    def link_status(self) -> LinkLike:
        """Whether the engine is reachable now (any thread)."""
        ...

    @property
    def config_path(self) -> str | None:
        """The config file the engine reloads (None: not known yet)."""
        ...

    @property
    def stop_result(self) -> StopLike | None:
        """The outcome of the last ``stop_engine`` (None while it runs, or before any)."""
        ...

    def stop_engine(self, *, flatten: bool) -> None:
        """Ask the engine to stop (``flatten``: close every position first); returns at once."""
        ...


def attached(engine: EngineControls) -> AttachedControls | None:
    """``engine`` when it runs in another process (attached over its socket), else None.

    Looked up on the type: no property of ``engine`` is evaluated."""
    kind = type(engine)
    members = ("read_only", "link_status", "config_path", "stop_result", "stop_engine")
    return cast(AttachedControls, engine) if all(hasattr(kind, m) for m in members) else None


if TYPE_CHECKING:
    from engine.engine import Engine

    def _engine_satisfies_protocol(engine: Engine) -> EngineControls:
        # mypy proves here that the real engine fits the protocol the app depends on.
        return engine
