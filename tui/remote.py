"""``RemoteEngine``: the engine of another process, seen through its control socket, as the
dashboard's ``EngineControls``.

Threads:

* The ``LiveLink``'s threads (``control-link``, ``control-reader``) take each frame in: the
  state mirror, clock, gate and config are updated under one lock and the frame's items are
  handed to the bus subscribers (the dashboard's ``BusBridge``, which only parks them).
* Commands (halt, resume, flatten, pause, stop) return at once (``tui.remote_commands``: halt
  written on the caller's thread, its reply awaited on a thread of its own; the others in order
  on one sender thread); each outcome reaches the
  trader as a ``Notice`` on the bus ("Halt confirmed: the gate is closed", "... NOT confirmed:
  <why>").
* The questions (``inspect_va``, ``reload_config``) block, bounded, on the caller's thread: a
  worker thread of the dashboard, never the UI thread. ``ask_snapshot`` and ``working_orders``
  answer from the mirror at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from loguru import logger

from actors.messages.queries import VAInspection
from actors.messages.snapshots import OrderSnapshot
from core.config import ConfigError, EngineConfig
from core.config.from_dump import config_from_dump
from core.gate import GateState
from core.text import printable
from engine.closed_trades import ClosedTrades
from engine.control.client import ControlError, LiveLink
from engine.control.wire import (
    ClockInfo,
    EngineInfo,
    GateInfo,
    NotifyStatus,
    ReloadResult,
    State,
    Welcome,
)
from tui.bridge import Notice
from tui.remote_commands import CommandSender
from tui.remote_state import RemoteClock, RemoteGate, StateMirror

__all__ = ["LinkStatus", "NotAttached", "RemoteEngine", "StopResult"]

_REASON_MAX = 200  # wire.ReasonArgs
_BY_MAX = 64  # wire.ReasonArgs.by
_EPOCH = ClockInfo(datetime(1970, 1, 1, tzinfo=UTC), None)


class NotAttached(ConnectionError):
    """The first attach did not succeed within its wait (one line: where, and why)."""


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The link as the dashboard shows it: ``connected``, else ``problem`` (why not)."""

    path: str
    connected: bool
    problem: str = ""
    reconnect_s: float = 1.0


@dataclass(frozen=True, slots=True)
class StopResult:
    """The outcome of ``stop_engine``: ``done`` once the engine said bye, else ``text`` says
    what went wrong."""

    done: bool
    text: str


class _RemoteBus:
    """The bus a dashboard subscribes to: it gets the full state at once, then every frame's
    items, on the link's reader thread."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        """Add ``callback``; returns the unsubscribe function (any thread)."""
        return self._engine._subscribe(callback)


class RemoteEngine:
    """The engine behind the control socket at ``path`` (``EngineControls``).

    Args:
        path: the engine's control socket.
        read_only: a viewer: the engine refuses its commands (code ``read_only``).
        client: the name the engine logs for this connection.
        reconnect_s: the pause between two attempts to reattach.
        command_timeout_s: how long a command waits for its reply.
        stop_timeout_s: how long ``stop_engine`` waits for the engine's bye.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        client: str = "tui",
        reconnect_s: float = 1.0,
        command_timeout_s: float = 5.0,
        stop_timeout_s: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        self._read_only = read_only
        self._reconnect_s = reconnect_s
        self._command_timeout_s = command_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[object], None]] = []
        self._mirror = StateMirror()
        self._config: EngineConfig | None = None
        self._config_problem = ""
        self._config_changes = threading.Condition(self._lock)
        self._config_seen = 0
        self._info: EngineInfo | None = None
        self._clock = RemoteClock(self._tz, _EPOCH)
        self._gate = RemoteGate(GateInfo(GateState.CLOSED, "not attached yet"))
        self._status = LinkStatus(self.path, False, "not attached yet", reconnect_s)
        self._attached = threading.Event()
        self._went_away = threading.Event()
        self._stop_result: StopResult | None = None
        self._link = LiveLink(
            self.path,
            client=client,
            read_only=read_only,
            on_open=self._opened,
            on_state=self._state,
            on_lost=self._lost,
            reconnect_s=reconnect_s,
        )
        self._sender = CommandSender(
            self._link.send, self._notify, self._gate, timeout_s=command_timeout_s
        )
        self.bus = _RemoteBus(self)

    # -- lifecycle (the caller's thread) ------------------------------------------------------
    def start(self) -> None:
        """Start attaching (returns at once; ``wait_attached`` waits)."""
        self._sender.start()
        self._link.start()

    def wait_attached(self, timeout_s: float) -> None:
        """Wait (bounded) for the first attach with a usable config.

        Raises:
            NotAttached: none within ``timeout_s``; the message says why.
        """
        if self._attached.wait(timeout_s) and self._config is not None:
            return
        problem = self._config_problem or self._status.problem
        raise NotAttached(f"cannot attach to the engine at {self.path}: {problem}")

    def close(self) -> None:
        """Stop reattaching, close the link and the sender (not from a link callback)."""
        self._link.close()
        self._sender.close()

    # -- EngineControls: state ----------------------------------------------------------------
    @property
    def clock(self) -> RemoteClock:
        """The engine's clock, moved on between frames by wall time x speed."""
        return self._clock

    @property
    def gate(self) -> RemoteGate:
        """The engine's gate as last reported."""
        return self._gate

    @property
    def config(self) -> EngineConfig:
        """The engine's configuration (from its welcome, then from each reload).

        Raises:
            RuntimeError: not attached yet (``wait_attached`` first).
        """
        config = self._config
        if config is None:
            raise RuntimeError(f"not attached to the engine at {self.path} yet")
        return config

    @property
    def read_only(self) -> bool:
        """A viewer: the engine refuses every command on this link."""
        return self._read_only

    @property
    def config_path(self) -> str | None:
        """The config file the engine was started with (it reloads that one)."""
        info = self._info
        return None if info is None else info.config_path

    @property
    def engine_info(self) -> EngineInfo | None:
        """Who answered the last attach (None before the first)."""
        return self._info

    @property
    def link_status(self) -> LinkStatus:
        """Whether the engine is reachable now, and why not."""
        return self._status

    @property
    def stop_result(self) -> StopResult | None:
        """The outcome of the last ``stop_engine`` (None while it runs, or before any)."""
        return self._stop_result

    def ask_snapshot(self, name: str, timeout_s: float = 2.0) -> Any:
        """The latest snapshot the frames gave for ``name`` (``governor``,
        ``position_monitor``, ``va:<id>``); never blocks.

        Raises:
            LookupError: nothing known for ``name``.
        """
        with self._lock:
            if name == "governor" and self._mirror.risk is not None:
                return self._mirror.risk
            if name == "position_monitor":
                return list(self._mirror.positions)
            if name.startswith("va:") and (va := self._mirror.va(name[3:])) is not None:
                return va
        raise LookupError(f"nothing known of {name} at the engine at {self.path}")

    def working_orders(self, timeout_s: float = 1.0) -> tuple[OrderSnapshot, ...]:
        """Every working order the frames gave; never blocks."""
        with self._lock:
            return self._mirror.orders

    # -- EngineControls: questions (worker threads) ------------------------------------------
    def inspect_va(self, va_id: str, timeout_s: float = 1.0) -> VAInspection:
        """The VA's actor, asked by the engine (blocks up to ``timeout_s`` and the trip).

        Raises:
            TimeoutError: the actor (or the engine) did not answer in time.
            LookupError: no such VA.
            ConnectionError: not attached now.
            ControlError: the engine refused otherwise.
        """
        args = {"va_id": va_id, "timeout_s": min(max(timeout_s, 0.01), 10.0)}
        try:
            inspection = self._link.request("inspect_va", args, timeout_s + 2.0)
        except ControlError as err:
            if err.code == "not_found":
                raise LookupError(str(err)) from None
            if err.code == "timeout":
                raise TimeoutError(str(err)) from None
            raise
        assert isinstance(inspection, VAInspection)
        return inspection

    def closed_trades(self, limit: int = 200) -> ClosedTrades:
        """The engine's closed trades (blocks, bounded: worker threads only).

        Raises:
            TimeoutError, ConnectionError, ControlError: no answer, not attached, refused.
        """
        result = self._link.request("closed_trades", {"limit": limit}, self._command_timeout_s)
        assert isinstance(result, ClosedTrades)
        return result

    def notify_status(self) -> NotifyStatus:
        """The engine's notification settings (URLs masked by the engine) and counters (blocks,
        bounded: worker threads only).

        Raises:
            TimeoutError, ConnectionError, ControlError: no answer, not attached, refused.
        """
        result = self._link.request("notify_status", {}, self._command_timeout_s)
        assert isinstance(result, NotifyStatus)
        return result

    def notify_test(self) -> NotifyStatus:
        """Ask the engine to send a test message to its notification services (blocks, bounded:
        worker threads only; a read-only viewer is refused).

        Raises:
            TimeoutError, ConnectionError, ControlError: no answer, not attached, refused.
        """
        result = self._link.request("notify_test", {}, self._command_timeout_s)
        assert isinstance(result, NotifyStatus)
        return result

    def reload_config(self, path: str) -> ReloadResult:
        """Ask the engine to reload its own config file (``path`` is the one it was started
        with, shown on the config screen). Waits (bounded) for the new config to arrive, so
        ``config`` shows it when this returns.

        Raises:
            ConfigError: the engine found the file invalid (one problem per line); nothing
                was applied.
            ControlError, TimeoutError, ConnectionError: refused, no answer, not attached.
        """
        with self._lock:
            seen = self._config_seen
        try:
            result = self._link.request("reload_config", {}, self._command_timeout_s * 2)
        except ControlError as err:
            if err.code == "invalid_config":
                raise ConfigError(str(err).splitlines()) from None
            raise
        assert isinstance(result, ReloadResult)
        if result.applied:
            with self._config_changes:
                self._config_changes.wait_for(
                    lambda: self._config_seen != seen, timeout=self._command_timeout_s
                )
        return result

    # -- EngineControls: commands (return at once) -------------------------------------------
    def halt(self, reason: str = "manual halt", *, by: str = "") -> None:
        """Ask the engine to halt: the request is written now, on the caller's thread (any
        thread: the kill switch calls it on the terminal's input thread); the outcome comes as
        a notice. ``by``: who asked, sent as the op's ``by`` (the engine journals it)."""
        self._sender.halt(_asked(reason, by))

    def resume(self, reason: str = "manual resume", *, by: str = "") -> None:
        """Ask the engine to resume trading (in order after earlier commands)."""
        args = _asked(reason, by)
        self._sender.send("resume", args, "Resume", "Resume confirmed by the engine")

    def flatten(
        self, reason: str = "manual flatten", va_id: str | None = None, *, by: str = ""
    ) -> None:
        """Ask the engine to close every position, or ``va_id``'s."""
        what = "Flatten" if va_id is None else f"Flatten {va_id}"
        args = {**_asked(reason, by), "va_id": va_id}
        self._sender.send("flatten", args, what, f"{what} confirmed: closing orders go out")

    def pause_va(self, va_id: str, *, paused: bool, reason: str = "manual") -> None:
        """Ask the engine to pause (or unpause) ``va_id``."""
        what = f"{'Pause' if paused else 'Unpause'} {va_id}"
        args = {"va_id": va_id, "paused": paused, "reason": reason[:_REASON_MAX]}
        self._sender.send("pause_va", args, what, f"{what} confirmed")

    def stop_engine(self, *, flatten: bool) -> None:
        """Ask the engine to stop (``flatten``: close every position first, else leave them
        working with their stops); ``stop_result`` says how it went once the engine said bye,
        or ``stop_timeout_s`` passed."""
        self._stop_result = None
        self._sender.submit(lambda: self._stop(flatten))

    # -- the sender thread ---------------------------------------------------------------------
    def _stop(self, flatten: bool) -> None:
        """Send ``stop``, then wait (bounded) for the engine's bye (sender thread)."""
        self._went_away.clear()
        if not self._link.connected:
            self._stop_result = StopResult(False, f"not attached: {self._status.problem}")
            return
        try:
            self._link.request("stop", {"flatten": flatten}, self._stop_timeout_s)
        except ControlError as err:
            self._stop_result = StopResult(False, f"Stop refused by the engine: {err}")
            return
        except TimeoutError:
            pass  # it may still be stopping: wait for its bye below
        except ConnectionError:
            pass  # it said bye (or went away) before answering: the wait returns at once
        if not self._went_away.wait(self._stop_timeout_s):
            text = f"the engine did not say bye within {self._stop_timeout_s:g} s"
            self._stop_result = StopResult(False, f"Stop NOT confirmed: {text}")
            return
        self._stop_result = StopResult(True, self._status.problem)

    # -- the link's callbacks (link and reader threads) --------------------------------------
    def _opened(self, welcome: Welcome, first: State) -> None:
        try:
            config = config_from_dump(welcome.config)
        except ConfigError as err:
            config = None
            more = f" (and {len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
            self._config_problem = f"its config is not valid here: {err.problems[0]}{more}"
            logger.error("tui: the engine at {}: {}", self.path, self._config_problem)
        with self._lock:
            again = self._attached.is_set()
            if config is not None:
                self._set_config(config)
            self._info = welcome.engine
            self._seen(first)
            self._status = LinkStatus(self.path, True, "", self._reconnect_s)
        self._attached.set()
        if config is None and again:
            self._notify(Notice(f"The engine at {self.path}: {self._config_problem}", "error"))
        elif again:
            self._notify(Notice(f"Reattached to the engine at {self.path}."))

    def _state(self, frame: State) -> None:
        config: EngineConfig | None = None
        if frame.config is not None:
            try:
                config = config_from_dump(frame.config)
            except ConfigError as err:
                problem = printable(err.problems[0])
                self._notify(Notice(f"The engine's new config is not valid here: {problem}"))
        with self._lock:
            if config is not None:
                self._set_config(config)
            self._seen(frame)

    def _lost(self, reason: str) -> None:
        self._status = LinkStatus(self.path, False, reason, self._reconnect_s)
        self._went_away.set()

    def _set_config(self, config: EngineConfig) -> None:
        """(Under the lock.)"""
        self._config = config
        self._config_problem = ""
        self._config_seen += 1
        self._config_changes.notify_all()

    def _seen(self, frame: State) -> None:
        """Take ``frame`` in and hand its items to every subscriber (under the lock)."""
        self._clock.seen(frame.clock)
        self._gate.seen(frame.gate)
        items = self._mirror.apply(frame)
        for callback in self._subscribers:
            for item in items:
                callback(item)

    def _subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)
            if self._attached.is_set():
                callback(self._mirror.full_state())

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, notice: Notice) -> None:
        with self._lock:
            for callback in self._subscribers:
                callback(notice)

    def _tz(self) -> tzinfo:
        config = self._config
        return UTC if config is None else config.tz


def _asked(reason: str, by: str) -> dict[str, Any]:
    """A trading op's ``reason`` and, when given, ``by`` (who asked), cut to the wire's limits."""
    args: dict[str, Any] = {"reason": reason[:_REASON_MAX]}
    if by:
        args["by"] = by[:_BY_MAX]
    return args
