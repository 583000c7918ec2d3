"""Which way the trading gate stands for a trading state, the broker link and the startup
reconciliation (pure)."""

from __future__ import annotations

import pytest

from core.domain import TradingState
from core.gate import GateState
from core.rules.trading_gate import GATE_FOR_STATE, gate_for


@pytest.mark.parametrize("state", list(TradingState))
def test_a_connected_reconciled_engine_with_live_data_follows_its_state(
    state: TradingState,
) -> None:
    gate = gate_for(state, "why", connected=True, reconciled=True, data_stale=False)
    assert gate == (GATE_FOR_STATE[state], "why")


def test_every_trading_state_has_a_gate() -> None:
    assert set(GATE_FOR_STATE) == set(TradingState)


def test_a_disconnected_broker_closes_the_gate_whatever_the_state() -> None:
    for state in TradingState:
        assert gate_for(state, "x", connected=False, reconciled=False, data_stale=True) == (
            GateState.CLOSED,
            "broker disconnected",
        )


def test_no_trading_before_the_startup_reconciliation() -> None:
    assert gate_for(
        TradingState.ACTIVE, "x", connected=True, reconciled=False, data_stale=False
    ) == (
        GateState.CLOSED,
        "awaiting the startup reconciliation",
    )


def test_stale_data_narrows_an_open_gate_to_exits_and_leaves_a_closed_one_closed() -> None:
    active = gate_for(TradingState.ACTIVE, "x", connected=True, reconciled=True, data_stale=True)
    assert active == (GateState.EXITS_ONLY, "market data stale")
    halted = gate_for(TradingState.HALTED, "halt", connected=True, reconciled=True, data_stale=True)
    assert halted == (GateState.CLOSED, "halt")
    reducing = gate_for(
        TradingState.REDUCING, "daily_loss", connected=True, reconciled=True, data_stale=True
    )
    assert reducing == (GateState.EXITS_ONLY, "daily_loss")
