"""Positions are compared between the reconciliation passes too: a difference that appears
while the engine runs connected (an assignment it did not book, a trade in TWS) is reported
once it is seen at two periodic checks, not only at the next restart or reconnect."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from actors.order_manager.position_check import POSITION_CHECK_S, SETTLE_WALL_S, check_spacing_s
from core.domain import TradingState
from tests.support.broker_truth import BrokerTruth, reconciled
from tests.support.engine import start_engine


def test_a_position_difference_appearing_between_passes_halts_at_the_second_check(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    truth = BrokerTruth(sim.engine)
    sim.advance(POSITION_CHECK_S + 5)  # checks that agree
    assert [r["pass"] for r in reconciled(sim)] == ["startup"]
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    truth.extra_positions = lambda n: {"SPY": 300}  # delivered by an unbooked assignment
    sim.advance(POSITION_CHECK_S)  # the first check that sees it: look again
    assert [r["pass"] for r in reconciled(sim)] == ["startup"]
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    sim.advance(POSITION_CHECK_S)  # seen again: a mismatch
    periodic = reconciled(sim)[-1]
    assert periodic["pass"] == "periodic" and periodic["mismatch"] is True
    assert periodic["differences"] == ["position SPY: ledger 0, broker 300"]
    assert sim.snapshot("governor").state is TradingState.HALTED
    sim.advance(2 * POSITION_CHECK_S)  # reported once
    assert [r["pass"] for r in reconciled(sim)] == ["startup", "periodic"]


def test_a_difference_gone_by_the_next_check_is_not_reported(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    truth = BrokerTruth(sim.engine)
    sim.advance(POSITION_CHECK_S + 5)
    truth.extra_positions = lambda n: {"SPY": 300}
    sim.advance(POSITION_CHECK_S)
    truth.extra_positions = lambda n: {}  # booked meanwhile
    sim.advance(2 * POSITION_CHECK_S)
    assert [r["pass"] for r in reconciled(sim)] == ["startup"]
    assert sim.snapshot("governor").state is TradingState.ACTIVE


def test_checks_on_a_fast_clock_are_spaced_beyond_the_brokers_settlement_grace() -> None:
    # At 300x, 300 clock seconds are 1 wall second: a settlement the IB adapter still waits
    # 2 wall seconds to match would be seen at two checks. The spacing keeps 5 wall seconds.
    assert check_spacing_s(SimpleNamespace(speed=300.0)) == SETTLE_WALL_S * 300.0 > POSITION_CHECK_S
    assert check_spacing_s(SimpleNamespace(speed=10.0)) == POSITION_CHECK_S
    assert check_spacing_s(SimpleNamespace(speed=None)) == POSITION_CHECK_S
