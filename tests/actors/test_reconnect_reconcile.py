"""The reconnect pass: reported as its own kind, a fill still being replayed never halts, a
stable mismatch follows ``engine.on_mismatch``, an order not yet sent is left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.domain import OrderStatus, OrderType, Side, TradingState
from core.events import ConnectionEvent, ConnectionState
from engine.broker_router import BrokerRouter
from engine.engine import Engine
from tests.support.broker_truth import BrokerTruth, reconciled
from tests.support.engine import SimEngine, make_config, start_engine


def _held(sim: SimEngine) -> dict[str, int]:
    return {p.contract.key: p.quantity for p in sim.ledger.open_positions()}


def _mismatch_trade() -> Any:
    config = make_config()
    engine = config.engine.model_copy(update={"on_mismatch": "trade"})
    return config.model_copy(update={"engine": engine})


def _link(sim: SimEngine, *states: ConnectionState) -> None:
    """What the IB adapter reports, in order, through one router."""
    router = BrokerRouter(sim.engine.book, sim.engine.quotes)
    now = sim.engine.clock.now()
    for state in states:
        router.on_broker_event(ConnectionEvent(state, state.value.lower(), now))
    sim.idle()


def _reconnect(sim: SimEngine) -> None:
    """The connection lost, then back."""
    _link(sim, ConnectionState.DISCONNECTED, ConnectionState.CONNECTED)


def test_quotes_flowing_again_after_stale_data_run_no_reconciliation(tmp_path: Path) -> None:
    """Stale data loses nothing at the broker: only a lost link is followed by a pass."""
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    _link(sim, ConnectionState.DATA_STALE, ConnectionState.CONNECTED)
    assert [r["pass"] for r in reconciled(sim)] == ["startup"]
    _reconnect(sim)
    assert [r["pass"] for r in reconciled(sim)] == ["startup", "reconnect"]


def test_a_reconnect_runs_a_pass_of_its_own_kind(tmp_path: Path) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    _reconnect(sim)
    startup, reconnect = reconciled(sim)
    assert startup["pass"] == "startup" and reconnect["pass"] == "reconnect"
    assert reconnect["mismatch"] is False and reconnect["differences"] == []
    [event] = [e for e in sim.ledger.risk_events() if e.kind == "reconciled"][-1:]
    assert event.reason == "reconnect reconciliation: 0 difference(s)"
    assert sim.snapshot("governor").state is TradingState.ACTIVE


def test_a_fill_still_being_replayed_after_a_reconnect_never_halts(tmp_path: Path) -> None:
    """The stop fired at the broker while the connection was down; at the reconnect pass the
    broker's positions show it, its execution reaches the engine only after the pass."""
    truths: list[BrokerTruth] = []

    def factory(engine: Engine) -> Any:
        truths.append(BrokerTruth(engine))
        truths[0].keep = lambda order: order.order_type is OrderType.STP  # stops rest here
        return engine.broker

    sim = start_engine(tmp_path, broker_factory=factory)
    [truth] = truths
    sid = sim.signal("va1", "AAPL", quantity=50)
    stop_id = f"{sid}.stop"
    assert sim.ledger.order(stop_id).status is OrderStatus.SUBMITTED
    late = truth.fill(stop_id, push=False)
    truth.fills.remove(late)  # the broker's positions have it, its executions not yet
    _reconnect(sim)
    assert reconciled(sim)[-1]["pass"] == "startup"  # no verdict on AAPL yet
    truth.fills.append(late)
    truth.push(late, truth.status(stop_id, OrderStatus.FILLED, 50))
    sim.idle()
    sim.advance(5)
    reconnect = reconciled(sim)[-1]
    assert reconnect["pass"] == "reconnect" and reconnect["mismatch"] is False
    stop = sim.ledger.order(stop_id)
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, 50)
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    assert _held(sim) == {} == truth.held()
    assert [o.id for o in sim.ledger.orders(working_only=True)] == []


@pytest.mark.parametrize("on_mismatch", ["halt", "trade"])
def test_a_stable_mismatch_after_a_reconnect_follows_on_mismatch(
    tmp_path: Path, on_mismatch: str
) -> None:
    config = make_config() if on_mismatch == "halt" else _mismatch_trade()
    sim = start_engine(tmp_path, config)
    sim.signal("va1", "AAPL", quantity=50)
    truth = BrokerTruth(sim.engine)
    truth.extra_positions = lambda n: {"AAPL": -50}  # sold elsewhere while we were away
    _reconnect(sim)
    assert reconciled(sim)[-1]["pass"] == "startup"  # no verdict before the second look
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    sim.advance(5)
    reconnect = reconciled(sim)[-1]
    assert reconnect["pass"] == "reconnect" and reconnect["mismatch"] is True
    assert "position AAPL: ledger 50, broker 0" in reconnect["differences"]
    governor = sim.snapshot("governor")
    if on_mismatch == "halt":
        assert governor.state is TradingState.HALTED
        assert governor.reason.startswith("reconnect reconciliation: ")
    else:
        assert governor.state is TradingState.ACTIVE


def test_a_reconnect_pass_leaves_an_order_not_yet_sent_alone(tmp_path: Path) -> None:
    """An exit still waiting in the paced outbox is not at the broker yet: not a difference,
    and it goes out once its slot comes."""
    sim = start_engine(tmp_path, make_config(risk="max_messages_per_s = 10"))
    sim.signal("va1", "AAPL", quantity=50)
    now_s = sim.engine.clock.now().timestamp()
    while sim.engine.ctx.pacer.delay_for(now_s) == 0:  # fill the window
        pass
    exit_id = sim.signal("va1", "AAPL", Side.SELL, close=True)
    assert sim.ledger.order(exit_id).status is OrderStatus.PENDING_SUBMIT
    _reconnect(sim)
    reconnect = reconciled(sim)[-1]
    assert reconnect["pass"] == "reconnect" and reconnect["differences"] == []
    assert sim.ledger.order(exit_id).status is OrderStatus.PENDING_SUBMIT
    sim.advance(2)
    assert sim.ledger.order(exit_id).status is OrderStatus.FILLED
    assert sim.ledger.open_positions() == []
