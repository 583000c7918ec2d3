"""The collaborators every actor shares, built once by the engine (the composition root)."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.quote_book import QuoteBook
from actors.runtime.base import AddressBook, Bus
from broker.base import Broker
from core.calendar import TradingCalendar
from core.clock import Clock
from core.gate import TradingGate
from core.rules.decision import Decision
from core.rules.risk_rules import Pacer

if TYPE_CHECKING:
    from core.config import EngineConfig
    from db.ledger import Ledger

__all__ = ["EngineContext", "LockedPacer"]


class LockedPacer:
    """The engine-wide ``Pacer`` behind a lock: the governor takes entry slots, the order
    manager takes exit and cancel slots, on their own threads."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self._lock = threading.Lock()

    @property
    def max_per_s(self) -> int:
        return self._pacer.max_per_s

    def used(self, now_s: float) -> int:
        with self._lock:
            return self._pacer.used(now_s)

    def resize(self, max_per_s: int, reserve: int) -> None:
        """New limits (a config reload), keeping the last second's sends."""
        with self._lock:
            self._pacer = self._pacer.resized(max_per_s, reserve)

    def try_entry(self, now_s: float, messages: int) -> Decision:
        with self._lock:
            return self._pacer.try_entry(now_s, messages)

    def delay_for_peek(self, now_s: float) -> float:
        with self._lock:
            return self._pacer.delay_for_peek(now_s)

    def delay_for(self, now_s: float, messages: int = 1) -> float:
        with self._lock:
            return self._pacer.delay_for(now_s, messages)


@dataclass
class EngineContext:
    config: EngineConfig
    clock: Clock
    calendar: TradingCalendar
    ledger: Ledger
    book: AddressBook
    bus: Bus
    quotes: QuoteBook
    gate: TradingGate
    broker: Broker
    pacer: LockedPacer
    on_crash: Callable[[str, BaseException], float | None] | None = None
    #: The OrderManager makes its reconcile reads on its own thread instead of its worker: set
    #: by ``Engine.start`` when the engine drives a max-speed clock over the in-process
    #: simulator, where a read is a function call and the clock already waits for every
    #: message, so a worker only costs two thread hand-offs a market step.
    inline_reads: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def new_id(self, prefix: str) -> str:
        """A client id unique across restarts: prefix, run id, sequence."""
        return f"{prefix}-{self.run_id}-{next(self._ids)}"
