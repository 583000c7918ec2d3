"""The RiskGovernor's trading state and the kill switch: ACTIVE, REDUCING, FLATTENING, HALTED,
every change stored with its reason, the gate kept in line with the state (``core.rules.
trading_gate``), and the commands that change it (halt, resume, flatten).

A part of the governor, run on its actor thread. The gate it sets is read by every thread.
"""

from __future__ import annotations

import json

from loguru import logger

from actors.messages.commands import CancelEntries, Flatten, Halt, PauseVA, Resume
from actors.risk_governor.records import RiskEventWriter
from actors.risk_governor.state import STATE_KIND, TradingStatus
from actors.risk_governor.status import RiskStatusPublisher
from actors.runtime.base import AddressBook
from core.clock import Clock
from core.domain import TradingState
from core.gate import GateState, TradingGate
from core.rules.trading_gate import gate_for

__all__ = ["TradingStateKeeper"]


class TradingStateKeeper:
    def __init__(
        self,
        *,
        status: TradingStatus,
        gate: TradingGate,
        events: RiskEventWriter,
        publisher: RiskStatusPublisher,
        clock: Clock,
        book: AddressBook,
    ) -> None:
        self._status = status
        self._gate = gate
        self._events = events
        self._publisher = publisher
        self._clock = clock
        self._book = book
        self.halt_acks: set[str] = set()  # the VAs that saw the last halt

    def set_state(self, state: TradingState, reason: str) -> None:
        """Change the state (stored, logged, published) and move the gate with it."""
        now = self._clock.now()
        self._status.state = state
        self._status.reason = reason
        self.apply_gate()
        self._events.store(STATE_KIND, reason, now, state=state)
        logger.info("governor: {} ({})", state.value, reason)
        self._publisher.publish()

    def apply_gate(self) -> None:
        status = self._status
        self._gate.set(
            *gate_for(
                status.state,
                status.reason,
                connected=status.connected,
                reconciled=status.reconciled,
                data_stale=status.data_stale,
            )
        )

    def close_gate_to_recover(self) -> None:
        """Nothing passes while the governor rebuilds its state."""
        self._gate.set(GateState.CLOSED, "governor recovering")

    def halt(self, reason: str) -> None:
        """HALTED: the gate closes first, working entries are cancelled, every VA is told."""
        self._gate.set(GateState.CLOSED, reason)  # first: nothing passes from here on
        self.halt_acks.clear()
        self.set_state(TradingState.HALTED, reason)
        self._book.tell("order_manager", CancelEntries(reason))
        self._tell_every_va(Halt(reason))

    def resume(self, reason: str) -> None:
        self.set_state(TradingState.ACTIVE, reason)
        self._tell_every_va(Resume(reason))

    def flatten(self, command: Flatten) -> None:
        """Flatten one VA (it is paused; the state stays) or everything (FLATTENING until
        the OrderManager reports every position flat)."""
        if command.va_id is not None:
            now = self._clock.now()
            va_id, reason = command.va_id, f"flattened: {command.reason}"
            self._events.store("flatten_va", f"{va_id}: {command.reason}", now)
            # Stored and published here, before the order manager is told: the pause then
            # reaches the bus before the flatten's fills (from the VA it would race them).
            detail = json.dumps({"va": va_id, "paused": True, "reason": reason})
            self._events.store("va_paused", f"{va_id} {reason}", now, detail)
            self._book.tell(f"va:{va_id}", PauseVA(va_id, True, reason, stored=True))
            self._book.tell("order_manager", command)
            return
        self.set_state(TradingState.FLATTENING, command.reason)
        self._book.tell("order_manager", command)

    def flatten_done(self, va_id: str | None) -> None:
        if va_id is None and self._status.state is TradingState.FLATTENING:
            self.set_state(TradingState.HALTED, "flatten complete")

    def _tell_every_va(self, message: Halt | Resume) -> None:
        for name in self._book.names():
            if name.startswith("va:"):
                self._book.tell(name, message)
