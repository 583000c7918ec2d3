"""A server's fault drill: the scenario's faults scheduled on its simulated clock, fired on its
event loop, and the record of what fired when.

Threads: ``schedule`` from the caller's thread (before or after ``start``); each fault's clock
timer runs on the ``clock-driver`` thread and only hands the fault to the loop
(``call_soon_threadsafe``); the fault's ``TwsSimServer`` method then runs on the
``tws-sim-loop`` thread, where the server's fault methods run their work directly. A fault due in
time the clock skipped (a night) fires as the clock lands after it. ``fired`` is readable from
any thread (a lock guards the list).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from broker.tws.scenario import KINDS, ScenarioFault
from core.clock import Timer

if TYPE_CHECKING:
    import asyncio

    from core.clock import VirtualClock


class DrillTarget(Protocol):
    """What a drill book drives: the simulated TWS (``TwsSimServer``), whose fault methods
    the scenario's kinds name."""

    @property
    def running(self) -> bool: ...

    def now(self) -> datetime: ...

    def clock_and_loop(self) -> tuple[VirtualClock, asyncio.AbstractEventLoop]: ...


__all__ = ["DrillBook", "FiredFault"]


@dataclass(frozen=True, slots=True)
class FiredFault:
    """One scenario fault that fired: when it was due and when it ran (simulated times), what
    was called, and its outcome (``ok``, the method's result, or ``error: ...``)."""

    index: int
    kind: str
    due: datetime
    fired_at: datetime
    call: str
    outcome: str
    note: str = ""

    @property
    def time(self) -> datetime:
        """When it ran (simulated): ``fired_at``."""
        return self.fired_at

    @property
    def detail(self) -> str:
        """One line: what was called, its outcome and the scenario's note."""
        note = f" ({self.note})" if self.note else ""
        return f"{self.call} -> {self.outcome}{note}"


class DrillBook:
    """The scenario faults of one ``TwsSimServer`` (see the module docstring for threads)."""

    def __init__(self, server: DrillTarget) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._pending: list[ScenarioFault] = []
        self._timers: list[Timer] = []
        self._fired: list[FiredFault] = []
        self._stopping = False

    def schedule(self, faults: Iterable[ScenarioFault]) -> None:
        """Arm ``faults`` (at ``start``, or at once on a running server)."""
        with self._lock:
            self._pending.extend(faults)
        if self._server.running:
            self.on_started()

    def on_started(self) -> None:
        """Put every pending fault on the server's clock (called by ``start``)."""
        clock, loop = self._server.clock_and_loop()
        with self._lock:
            self._stopping = False
            pending, self._pending = self._pending, []
            for fault in pending:
                handoff = _handoff(loop, self._fire, fault)
                self._timers.append(clock.call_at(fault.due, handoff, name=f"fault-{fault.index}"))

    def on_stopping(self) -> None:
        """Cancel the faults not yet fired (the server is stopping)."""
        with self._lock:
            self._stopping = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def fired(self) -> list[FiredFault]:
        """Every fault fired so far, in the order they fired."""
        with self._lock:
            return list(self._fired)

    def _fire(self, fault: ScenarioFault) -> None:
        """Run one fault's method (loop thread), log it once and record it."""
        with self._lock:
            if self._stopping:
                return
        method = getattr(self._server, KINDS[fault.kind].method)  # a name from the table
        call = fault.describe()
        try:
            result = method(*fault.args, **fault.kwargs)
            outcome = "ok" if result is None else repr(result)
        except Exception as err:  # reported in the record; a drill goes on
            outcome = f"error: {type(err).__name__}: {err}"
        fired_at = self._server.now()
        logger.info(
            "tws-sim: scenario fault {} {} due {} fired at {}: {}",
            fault.index,
            call,
            fault.due.isoformat(),
            fired_at.isoformat(),
            outcome,
        )
        record = FiredFault(fault.index, fault.kind, fault.due, fired_at, call, outcome, fault.note)
        with self._lock:
            self._fired.append(record)


def _handoff(loop: Any, fire: Callable[[ScenarioFault], None], fault: ScenarioFault) -> Any:
    """The clock timer's callback: hand ``fault`` to the loop (never blocks the clock)."""

    def post() -> None:
        try:
            loop.call_soon_threadsafe(fire, fault)
        except RuntimeError:  # the loop is closed: the server stopped
            logger.debug("tws-sim: fault {} not fired: the server stopped", fault.index)

    return post
