"""The second look of a reconciliation pass comes a reconcile interval later on the clock, not
at the next tick: ticks that queued up behind a slow read arrive together."""

from __future__ import annotations

from pathlib import Path

from actors.messages.timers import ReconcileDue
from core.domain import TradingState
from core.events import ConnectionEvent, ConnectionState
from engine.broker_router import BrokerRouter
from tests.support.broker_truth import BrokerTruth, reconciled
from tests.support.engine import start_engine


def test_a_backlog_of_reconcile_ticks_delivered_at_once_is_not_a_second_look(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.signal("va1", "AAPL", quantity=50)
    truth = BrokerTruth(sim.engine)
    truth.extra_positions = lambda n: {"AAPL": -50}  # sold elsewhere while we were away
    router = BrokerRouter(sim.engine.book, sim.engine.quotes)
    now = sim.engine.clock.now()
    book = sim.engine.book
    router.on_broker_event(ConnectionEvent(ConnectionState.DISCONNECTED, "lost", now))
    router.on_broker_event(ConnectionEvent(ConnectionState.CONNECTED, "back", now))
    # Ticks that queued behind the reconnect pass's reads: handled back to back, with the
    # clock standing still.
    for _ in range(4):
        book.tell("order_manager", ReconcileDue(now))
    sim.idle()
    assert reconciled(sim)[-1]["pass"] == "startup"  # still no verdict: one look so far
    assert sim.snapshot("governor").state is TradingState.ACTIVE
    sim.advance(5)  # one reconcile interval on the clock: the second look
    reconnect = reconciled(sim)[-1]
    assert reconnect["pass"] == "reconnect" and reconnect["looks"] == 2
    assert sim.snapshot("governor").state is TradingState.HALTED
