"""The trading gate: the kill switch checked before every submit, by the OrderManager and again
by the broker adapter.
"""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from core.domain import OrderRequest, OrderType


class GateState(StrEnum):
    OPEN = "open"  # entries and exits pass
    EXITS_ONLY = "exits_only"  # reduce-only orders pass (REDUCING, FLATTENING)
    CLOSED = "closed"  # nothing new passes (HALTED); cancels always pass


class TradingGate:
    """The kill switch: a shared flag checked before every submit, by the OrderManager and again
    by the broker adapter. Closing it takes effect at once on every thread (no mailbox in the
    way); the actors' acknowledgements confirm a halt, they do not enforce it."""

    __slots__ = ("_lock", "_reason", "_state")

    def __init__(self, state: GateState = GateState.CLOSED, reason: str = "not started") -> None:
        self._lock = threading.Lock()
        self._state = state
        self._reason = reason

    @property
    def state(self) -> GateState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    def set(self, state: GateState, reason: str) -> None:
        with self._lock:
            self._state = state
            self._reason = reason

    def allows(self, *, reduce_only: bool, protective_stop: bool = False) -> bool:
        """Whether a new order may pass now. Cancels are never gated; a reduce-only protective
        stop passes even a closed gate (halting never leaves a position unprotected)."""
        state = self._state
        if state is GateState.OPEN:
            return True
        if state is GateState.EXITS_ONLY:
            return reduce_only
        return reduce_only and protective_stop

    @staticmethod
    def is_protective_stop(order: OrderRequest) -> bool:
        return order.reduce_only and order.order_type is OrderType.STP
