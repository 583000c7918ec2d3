"""Reconciliation passes while the market moves (bug D): a fill, a cancel or a re-placed stop's
fill between any two of the broker's reads never halts the engine, never retires an order that
filled and never leaves a position without its stop; only a stable position difference halts.

The restarted engine's broker is the simulator (which forgets its working orders on a restart)
under ``BrokerTruth``: what a real broker would still hold (the earlier run's working orders),
and fills and cancels that happen right after a chosen read, in every order the pass reads in.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.domain import Contract, OrderStatus, OrderType, Side, TradingState
from core.events import ExecutionEvent
from core.gate import GateState
from engine.engine import Engine
from tests.support.broker_truth import BrokerTruth, reconciled
from tests.support.engine import MONDAY_10, SimEngine, make_config, start_engine

LATER = MONDAY_10.replace(minute=30)
#: Entries rest for the whole test: no stale-entry cancel races the scripted fills.
PATIENT = make_config(orders="stale_entry_s = 3600")


def _restart(
    tmp_path: Path,
    prepare: Callable[[BrokerTruth], None],
    *,
    config: Any = PATIENT,
    warmup_s: float = 0.0,
) -> tuple[SimEngine, BrokerTruth]:
    """Start the engine again over ``BrokerTruth`` (``prepare`` fills it in before the start);
    with no warmup the startup pass has run and no reconcile tick yet."""
    truths: list[BrokerTruth] = []

    def factory(engine: Engine) -> Any:
        truth = BrokerTruth(engine)
        prepare(truth)
        truths.append(truth)
        return engine.broker

    sim = start_engine(tmp_path, config, start=LATER, broker_factory=factory, warmup_s=warmup_s)
    return sim, truths[0]


def _resting_entry(tmp_path: Path) -> str:
    """A first run that leaves a resting limit entry of 50 AAPL and its attached stop."""
    first = start_engine(tmp_path, PATIENT)
    sid = first.signal(
        "va1", "AAPL", quantity=50, order_type=OrderType.LMT, limit_price=Decimal("90.00")
    )
    assert first.ledger.order(sid).status is OrderStatus.SUBMITTED
    first.engine.stop()
    return sid


def _held_with_stop(tmp_path: Path) -> str:
    """A first run that leaves 50 AAPL held with its protective stop working."""
    first = start_engine(tmp_path)
    sid = first.signal("va1", "AAPL", quantity=50)
    assert first.ledger.order(f"{sid}.stop").status is OrderStatus.SUBMITTED
    first.engine.stop()
    return sid


def _held(sim: SimEngine) -> dict[str, int]:
    return {p.contract.key: p.quantity for p in sim.ledger.open_positions()}


@pytest.mark.parametrize("after_read", [0, 1, 2, 3, 4, 5])
def test_an_entry_that_fills_between_any_two_reads_keeps_its_stop_and_halts_nothing(
    tmp_path: Path, after_read: int
) -> None:
    """0: it filled while the engine was away; n: right after the pass's n-th broker read
    (whichever that is); beyond the pass's reads, at the first reconcile tick's."""
    sid = _resting_entry(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        truth.working(sid, Side.BUY, 50, OrderType.LMT)
        truth.working(f"{sid}.stop", Side.SELL, 50, OrderType.STP)
        if after_read == 0:
            truth.fill(sid, push=False)
        else:
            truth.after[after_read] = lambda: truth.fill(sid)

    sim, truth = _restart(tmp_path, prepare)
    sim.advance(5)  # the first reconcile tick: the second look
    sim.advance(5)  # and one more, for a pass that needed it
    assert [d["mismatch"] for d in reconciled(sim, LATER)] == [False]
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    assert sim.engine.gate.state is GateState.OPEN
    entry, stop = sim.ledger.order(sid), sim.ledger.order(f"{sid}.stop")
    assert (entry.status, entry.filled) == (OrderStatus.FILLED, 50)
    assert stop.status is OrderStatus.SUBMITTED and stop.quantity == 50
    assert f"{sid}.stop" not in truth.cancelled
    assert _held(sim) == {"AAPL": 50} == truth.held()


@pytest.mark.parametrize("after_read", [0, 1, 2, 3, 4, 5])
def test_a_stop_that_fires_between_any_two_reads_ends_filled_and_halts_nothing(
    tmp_path: Path, after_read: int
) -> None:
    sid = _held_with_stop(tmp_path)
    stop_id = f"{sid}.stop"

    def prepare(truth: BrokerTruth) -> None:
        truth.working(stop_id, Side.SELL, 50, OrderType.STP)
        if after_read == 0:
            truth.fill(stop_id, push=False)
        else:
            truth.after[after_read] = lambda: truth.fill(stop_id)

    sim, truth = _restart(tmp_path, prepare)
    sim.advance(5)
    sim.advance(5)
    assert [d["mismatch"] for d in reconciled(sim, LATER)] == [False]
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    stop = sim.ledger.order(stop_id)
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, 50)
    assert _held(sim) == {} == truth.held()
    working = [o.id for o in sim.ledger.orders(working_only=True)]
    assert working == [], f"a stop left working on a flat position: {working}"


@pytest.mark.parametrize("after_read", [1, 2, 3, 4])
def test_an_entry_cancelled_at_the_broker_during_the_pass_ends_cancelled_with_its_stop(
    tmp_path: Path, after_read: int
) -> None:
    sid = _resting_entry(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        truth.working(sid, Side.BUY, 50, OrderType.LMT)
        truth.working(f"{sid}.stop", Side.SELL, 50, OrderType.STP)
        truth.after[after_read] = lambda: truth.cancel(sid, f"{sid}.stop")

    sim, _truth = _restart(tmp_path, prepare)
    sim.advance(5)
    assert [d["mismatch"] for d in reconciled(sim, LATER)] == [False]
    for oid in (sid, f"{sid}.stop"):
        order = sim.ledger.order(oid)
        assert (order.status, order.filled) == (OrderStatus.CANCELLED, 0)
    assert _held(sim) == {} and sim.snapshot("va:va1").working_orders == 0
    assert sim.snapshot("governor").state is TradingState.ACTIVE


def test_a_replaced_stop_that_fills_at_once_is_no_position_mismatch(tmp_path: Path) -> None:
    """The stop was lost while the engine was away and the price has crossed it since: the
    replacement fills the moment it is placed, before the positions are read."""
    sid = _held_with_stop(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        truth.fill_on_place = lambda order: "restop" in order.client_order_id

    sim, truth = _restart(tmp_path, prepare)
    [restop] = [oid for oid in truth.placed if "restop" in oid]
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is False
    assert detail["differences"] == [f"order {sid}.stop (stop) is not at the broker"]
    assert sim.engine.gate.state is GateState.OPEN
    sim.advance(5)
    assert sim.ledger.order(restop).status is OrderStatus.FILLED
    assert sim.ledger.order(f"{sid}.stop").status is OrderStatus.CANCELLED
    assert _held(sim) == {} == truth.held()
    assert sim.snapshot("governor").state is TradingState.ACTIVE


def test_an_order_the_broker_does_not_have_is_ended_at_its_second_look_not_at_once(
    tmp_path: Path,
) -> None:
    sid = _resting_entry(tmp_path)  # the simulator forgot it: nothing in BrokerTruth
    sim, _truth = _restart(tmp_path, lambda truth: None)
    [detail] = reconciled(sim, LATER)  # the pass is reported, trading opens...
    assert detail["mismatch"] is False
    assert f"order {sid} (entry) is not at the broker" in detail["differences"]
    assert sim.engine.gate.state is GateState.OPEN
    assert sim.ledger.order(sid).status is OrderStatus.SUBMITTED  # ...the order waits
    sim.advance(5)
    for oid in (sid, f"{sid}.stop"):
        order = sim.ledger.order(oid)
        assert (order.status, order.filled) == (OrderStatus.CANCELLED, 0)
        assert sim.ledger.order_events(oid)[-1].detail == "not at the broker at startup"
    assert sim.snapshot("va:va1").working_orders == 0


def test_an_order_back_at_the_broker_by_its_second_look_keeps_working(tmp_path: Path) -> None:
    """Missing from the pass's open orders (a broker still re-listing them), listed again a
    tick later: it is reported, not ended, and neither is its attached stop."""
    sid = _resting_entry(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        def relist() -> None:
            truth.working(sid, Side.BUY, 50, OrderType.LMT)
            truth.working(f"{sid}.stop", Side.SELL, 50, OrderType.STP)

        truth.after[1] = relist  # right after the pass's open orders read

    sim, _truth = _restart(tmp_path, prepare)
    sim.advance(5)
    for oid in (sid, f"{sid}.stop"):
        assert sim.ledger.order(oid).status is OrderStatus.SUBMITTED
    reports = [e.reason for e in sim.ledger.risk_events() if e.kind == "reconcile"]
    assert f"order {sid} is at the broker after all" in reports
    assert sim.snapshot("va:va1").working_orders == 1


def test_a_fill_that_reaches_the_engine_after_the_pass_ends_its_order_filled(
    tmp_path: Path,
) -> None:
    """The entry filled while the engine was away and the broker already shows the position,
    but the execution is still on its way: the entry is not retired (its stop is not
    cancelled) and the difference in its contract is not a mismatch."""
    sid = _resting_entry(tmp_path)
    late: list[ExecutionEvent] = []

    def prepare(truth: BrokerTruth) -> None:
        truth.working(sid, Side.BUY, 50, OrderType.LMT)
        truth.working(f"{sid}.stop", Side.SELL, 50, OrderType.STP)
        late.append(truth.fill(sid, push=False))
        truth.fills.remove(late[0])  # not in the executions read yet

    sim, truth = _restart(tmp_path, prepare)
    assert reconciled(sim, LATER) == []  # no verdict on AAPL while the entry's fate is open
    assert sim.engine.gate.state is GateState.CLOSED
    truth.fills.append(late[0])
    truth.push(late[0], truth.status(sid, OrderStatus.FILLED, 50))
    sim.idle()
    sim.advance(5)
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is False
    assert sim.engine.gate.state is GateState.OPEN
    entry = sim.ledger.order(sid)
    assert (entry.status, entry.filled) == (OrderStatus.FILLED, 50)
    assert sim.ledger.order(f"{sid}.stop").status is OrderStatus.SUBMITTED
    assert f"{sid}.stop" not in truth.cancelled
    assert _held(sim) == {"AAPL": 50}


def test_a_position_difference_seen_once_is_not_a_mismatch(tmp_path: Path) -> None:
    _held_with_stop(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        # The first positions read shows 50 more AAPL (a replay in flight), later ones do not.
        truth.extra_positions = lambda n: (
            {"AAPL": 50} if truth.reads.count("positions") == 0 else {}
        )

    sim, _truth = _restart(tmp_path, prepare)
    assert reconciled(sim, LATER) == [] and sim.engine.gate.state is GateState.CLOSED
    sim.advance(5)
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is False and detail["looks"] == 2
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    assert sim.engine.gate.state is GateState.OPEN


def test_a_stable_position_difference_halts_at_its_second_look(tmp_path: Path) -> None:
    _held_with_stop(tmp_path)

    def prepare(truth: BrokerTruth) -> None:
        truth.extra_positions = lambda n: {"MSFT": 10}  # someone else's trade

    sim, _truth = _restart(tmp_path, prepare)
    assert reconciled(sim, LATER) == [] and sim.engine.gate.state is GateState.CLOSED
    sim.advance(5)
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is True and detail["pass"] == "startup"
    assert "position MSFT: ledger 0, broker 10" in detail["differences"]
    governor = sim.snapshot("governor")
    assert governor.state is TradingState.HALTED
    assert governor.reason.startswith("startup reconciliation: ")
    assert sim.engine.gate.state is GateState.CLOSED


def test_executions_that_change_at_every_read_are_reported_unconfirmed_without_a_halt(
    tmp_path: Path,
) -> None:
    """Another client trades MSFT all the time: no positions read is ever consistent."""
    _held_with_stop(tmp_path)

    def foreign(n: int) -> list[ExecutionEvent]:
        return [
            ExecutionEvent(
                f"other-{i}",
                "someone-else",
                Contract.stock("MSFT"),
                Side.BUY,
                1,
                Decimal("200"),
                Decimal(0),
                MONDAY_10,
            )
            for i in range(n)
        ]

    def prepare(truth: BrokerTruth) -> None:
        truth.extra_executions = foreign
        truth.extra_positions = lambda n: {"MSFT": n}

    sim, _truth = _restart(tmp_path, prepare)
    sim.advance(5)
    assert reconciled(sim, LATER) == []
    sim.advance(5)
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is False and detail["verdict"] == "unconfirmed"
    assert detail["looks"] == 3
    assert any(d.endswith("(unconfirmed)") for d in detail["differences"])
    assert sim.snapshot("governor").state is TradingState.ACTIVE


def test_a_pass_whose_broker_read_fails_runs_again_at_the_next_tick(tmp_path: Path) -> None:
    """A read that times out must not leave the gate closed for good; nor is it a crash (a slow
    answer is skipped like a lost link, and the pass runs at the next tick)."""
    _held_with_stop(tmp_path)
    failed: list[int] = []

    def prepare(truth: BrokerTruth) -> None:
        def flaky(n: int) -> list[ExecutionEvent]:
            if not failed:
                failed.append(n)
                raise TimeoutError("reqExecutions timed out")
            return []

        truth.extra_executions = flaky

    sim, _truth = _restart(tmp_path, prepare)
    assert failed and reconciled(sim, LATER) == []
    assert sim.engine.gate.state is GateState.CLOSED
    crashes = [e for e in sim.ledger.risk_events() if e.kind == "actor_crash"]
    assert crashes == []
    sim.advance(5)
    [detail] = reconciled(sim, LATER)
    assert detail["mismatch"] is False
    assert sim.engine.gate.state is GateState.OPEN
    sim.advance(5)  # the lost stop's second look
    [stop] = [o for o in sim.ledger.orders(working_only=True) if o.purpose == "stop"]
    assert "restop" in stop.id and stop.quantity == 50
