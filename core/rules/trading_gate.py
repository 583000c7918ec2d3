"""Which way the trading gate stands (pure): the trading state sets it, the broker link and
the startup reconciliation can only close it further.

HALTED closes it, REDUCING and FLATTENING let exits only, ACTIVE opens it. Before that: a
disconnected broker closes it, and so does an engine that has not yet reconciled its ledger
with the broker; market data gone stale narrows an open gate to exits only (orders still reach
the broker, so exits, stops and flatten pass).
"""

from __future__ import annotations

from core.domain import TradingState
from core.gate import GateState

__all__ = ["GATE_FOR_STATE", "gate_for"]

GATE_FOR_STATE = {
    TradingState.ACTIVE: GateState.OPEN,
    TradingState.REDUCING: GateState.EXITS_ONLY,
    TradingState.FLATTENING: GateState.EXITS_ONLY,
    TradingState.HALTED: GateState.CLOSED,
}


def gate_for(
    state: TradingState, reason: str, *, connected: bool, reconciled: bool, data_stale: bool
) -> tuple[GateState, str]:
    """The gate's state and the reason it shows, for ``state`` set for ``reason``."""
    if not connected:
        return GateState.CLOSED, "broker disconnected"
    if not reconciled:
        return GateState.CLOSED, "awaiting the startup reconciliation"
    gate = GATE_FOR_STATE[state]
    if data_stale and gate is GateState.OPEN:
        return GateState.EXITS_ONLY, "market data stale"
    return gate, reason
