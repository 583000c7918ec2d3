"""The control channel's requests: what each op does to the engine and what it answers.

``ControlRequests.run(op, args, client)`` answers one decoded request (``wire.OP_ARGS``) or
raises ``RequestFailed(code, text)``. The commands only ``tell`` actors (``halt`` closes the gate
here, before the reply is written) and never block; ``inspect_va`` and ``reload_config`` block
(an actor's answer, a file): the server runs the ops in ``BLOCKING_OPS`` on its worker threads,
so a stuck VA never stalls its loop or another client.

Threads: the server's loop thread (the non-blocking ops), its worker threads (``BLOCKING_OPS``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import pykka

from actors.messages.queries import VAInspection
from actors.messages.snapshots import RiskStatus
from core.clock import Clock
from core.config import ConfigError, EngineConfig
from core.config_reload import ReloadPlan
from core.domain import TradingState
from core.gate import TradingGate
from core.text import printable
from engine.closed_trades import ClosedTrades
from engine.control.wire import (
    ClockInfo,
    ClosedTradesArgs,
    ErrorCode,
    FlattenArgs,
    Health,
    InspectArgs,
    NotifyStatus,
    PauseArgs,
    ReasonArgs,
    ReloadResult,
    StopArgs,
)
from engine.options import RunOptions

__all__ = ["BLOCKING_OPS", "ControlRequests", "ControlledEngine", "RequestFailed", "said_by"]

#: The ops that wait for an actor or a file: run off the loop thread.
BLOCKING_OPS = frozenset({"inspect_va", "reload_config", "closed_trades"})


class ControlledEngine(Protocol):
    """What of the engine the control channel reads and commands (``engine.engine.Engine`` is
    one; a protocol, so that this package does not import the engine that imports it). Every
    member is thread-safe."""

    config: EngineConfig
    options: RunOptions
    clock: Clock
    gate: TradingGate
    stopped_because: str | None
    started_at: datetime | None  # the run's start on the engine clock, once started
    crash_lock: threading.Lock
    crashes: Counter[str]

    def halt(self, reason: str = ...) -> None: ...

    def resume(self, reason: str = ...) -> None: ...

    def flatten(self, reason: str = ..., va_id: str | None = None) -> None: ...

    def pause_va(self, va_id: str, *, paused: bool, reason: str = ...) -> None: ...

    def inspect_va(self, va_id: str, timeout_s: float = ...) -> VAInspection: ...

    def reload_config(self, path: str) -> ReloadPlan: ...

    def closed_trades(self, limit: int = ...) -> ClosedTrades: ...

    def request_stop(self, flatten: bool | None) -> None: ...

    def notify_status(self) -> NotifyStatus: ...

    def notify_test(self) -> NotifyStatus: ...

    def has_actor(self, name: str) -> bool: ...


def said_by(reason: str, by: str) -> str:
    """``reason`` with who asked for it (``"halt from main.py halt (by alice)"``): the reason
    is what the governor stores in its ``risk_event`` row and shows in the events, so the
    journal names the person with the command."""
    who = printable(by).strip()
    return f"{reason} (by {who})" if who else reason


class RequestFailed(Exception):
    """A request that cannot be done: ``code`` (``wire.ErrorCode``) and one line (several for
    ``invalid_config``: one per problem)."""

    def __init__(self, code: ErrorCode, text: str) -> None:
        super().__init__(text)
        self.code: ErrorCode = code
        self.text = text


class ControlRequests:
    """Answers requests for one engine.

    Args:
        engine: the engine commanded.
        risk: the governor's latest status as the server knows it (loop thread).
        stopping: whether the engine is stopping (any thread).
    """

    def __init__(
        self,
        engine: ControlledEngine,
        *,
        risk: Callable[[], RiskStatus | None],
        stopping: Callable[[], bool],
    ) -> None:
        self._engine = engine
        self._risk = risk
        self._stopping = stopping
        self._started = time.monotonic()

    def run(self, op: str, args: object, client: str) -> object:
        """Do ``op`` (its arguments decoded by ``wire.decode_args``) for ``client``; the result
        ``wire.OP_RESULTS`` names (None for the others).

        Raises:
            RequestFailed: not found, timed out, invalid config, stopping, or failed.
        """
        engine = self._engine
        if op == "ping":
            return ClockInfo(engine.clock.now(), engine.clock.speed)
        if op == "health":
            return self.health()
        if op == "inspect_va":
            assert isinstance(args, InspectArgs)
            return self._inspect(args)
        if op == "closed_trades":
            assert isinstance(args, ClosedTradesArgs)
            return engine.closed_trades(args.limit)
        if op == "notify_status":
            return engine.notify_status()
        if self._stopping():
            raise RequestFailed("stopping", f"{op}: the engine is stopping")
        if op == "halt":
            assert isinstance(args, ReasonArgs)
            engine.halt(said_by(args.reason or f"halt from {client}", args.by))  # gate closes
        elif op == "resume":
            assert isinstance(args, ReasonArgs)
            engine.resume(said_by(args.reason or f"resume from {client}", args.by))
        elif op == "flatten":
            assert isinstance(args, FlattenArgs)
            if args.va_id is not None:
                self._known_va(args.va_id)
            engine.flatten(said_by(args.reason or f"flatten from {client}", args.by), args.va_id)
        elif op == "pause_va":
            assert isinstance(args, PauseArgs)
            self._known_va(args.va_id)
            what = "pause" if args.paused else "unpause"
            engine.pause_va(
                args.va_id, paused=args.paused, reason=args.reason or f"{what} from {client}"
            )
        elif op == "reload_config":
            return self._reload()
        elif op == "notify_test":
            return engine.notify_test()
        elif op == "stop":
            assert isinstance(args, StopArgs)
            engine.request_stop(args.flatten)
        else:
            raise RequestFailed("bad_request", f"unknown op {op!r}")
        return None

    def health(self) -> Health:
        """Whether the engine runs and will stay up, and what a person should look at."""
        engine = self._engine
        risk = self._risk()
        problems: list[str] = []
        stopping = self._stopping()
        if engine.stopped_because is not None:
            problems.append(engine.stopped_because)
        elif stopping:
            problems.append("the engine is stopping")
        if risk is not None:
            problems.extend(_risk_problems(risk))
        with engine.crash_lock:
            crashed = sorted(engine.crashes.items())
        problems.extend(f"{name} crashed {count} time(s)" for name, count in crashed)
        return Health(
            ok=not stopping and engine.stopped_because is None,
            state=risk.state if risk is not None else None,
            gate=engine.gate.state,
            connected=risk.connected if risk is not None else None,
            now=engine.clock.now(),
            uptime_s=round(time.monotonic() - self._started, 3),
            problems=tuple(problems),
        )

    def _inspect(self, args: InspectArgs) -> VAInspection:
        try:
            return self._engine.inspect_va(args.va_id, timeout_s=args.timeout_s)
        except pykka.Timeout:
            raise RequestFailed(
                "timeout", f"inspect_va: va:{args.va_id} did not answer within {args.timeout_s}s"
            ) from None
        except LookupError:
            raise RequestFailed("not_found", f"inspect_va: no running VA {args.va_id!r}") from None
        except pykka.ActorDeadError:
            raise RequestFailed("stopping", f"inspect_va: va:{args.va_id} has stopped") from None

    def _reload(self) -> ReloadResult:
        path = self._engine.options.config_path
        if not path:
            raise RequestFailed(
                "failed", "reload_config: the engine was not started from a config file"
            )
        try:
            plan = self._engine.reload_config(os.fspath(path))
        except ConfigError as err:
            raise RequestFailed("invalid_config", "\n".join(err.problems)) from None
        return ReloadResult(plan.applied, plan.refused)

    def _known_va(self, va_id: str) -> None:
        if not self._engine.has_actor(f"va:{va_id}"):
            raise RequestFailed("not_found", f"no running VA {va_id!r}")


def _risk_problems(risk: RiskStatus) -> list[str]:
    problems: list[str] = []
    if risk.logged_out:
        problems.append("broker logged out: log in to TWS / IB Gateway again")
    elif not risk.connected:
        problems.append("broker disconnected")
    if risk.data_stale:
        problems.append("market data stale: entries frozen")
    if risk.data_delayed:
        problems.append("market data delayed")
    if risk.state is not TradingState.ACTIVE:
        problems.append(f"trading {risk.state.value}: {risk.reason}")
    if risk.differences:
        problems.append(f"ledger and broker differ ({len(risk.differences)} difference(s))")
    return problems
