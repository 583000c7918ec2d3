"""A broker link that is down is a state, not a crash; and supervision does not loop: an actor
that keeps crashing is restarted later and later, then the engine halts with one reason."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actors.messages.events import Crash
from actors.messages.timers import ReconcileDue, ReconnectReconcileDue
from actors.runtime.supervision import CrashPolicy
from core.domain import TradingState
from core.events import ConnectionEvent, ConnectionState
from engine.broker_router import BrokerRouter
from engine.engine import Engine
from tests.support.engine import SimEngine, start_engine


class _LinkDown:
    """Broker reads that raise as ib_async does with no socket, while ``down`` is set."""

    def __init__(self, engine: Engine, error: type[Exception] = ConnectionError) -> None:
        self.down = threading.Event()
        self.reads = 0
        self.error = error
        broker = engine.broker
        for name in ("open_orders", "executions", "positions"):
            setattr(broker, name, self._wrap(getattr(broker, name)))

    def _wrap(self, read: Any) -> Any:
        def guarded() -> Any:
            if self.down.is_set():
                self.reads += 1
                raise self.error("Not connected")
            return read()

        return guarded


def _crash_events(sim: SimEngine) -> list[str]:
    return [e.reason for e in sim.ledger.risk_events() if e.kind == "actor_crash"]


def _link(sim: SimEngine, router: BrokerRouter, state: ConnectionState) -> None:
    """What the IB adapter reports, through the engine's router."""
    router.on_broker_event(ConnectionEvent(state, state.value.lower(), sim.engine.clock.now()))
    sim.idle()


def test_reconcile_ticks_while_disconnected_read_nothing_and_crash_nothing(
    tmp_path: Path,
) -> None:
    links: list[_LinkDown] = []

    def factory(engine: Engine) -> Any:
        links.append(_LinkDown(engine))
        return engine.broker

    sim = start_engine(tmp_path, broker_factory=factory)
    sim.signal("va1", "AAPL", quantity=10)
    link, router = links[0], BrokerRouter(sim.engine.book, sim.engine.quotes)
    link.down.set()
    _link(sim, router, ConnectionState.DISCONNECTED)
    sim.advance(60)  # a dozen reconcile ticks
    assert link.reads == 0, "a broker read was made while DISCONNECTED"
    assert _crash_events(sim) == []
    link.down.clear()
    _link(sim, router, ConnectionState.CONNECTED)
    sim.advance(10)
    passes = [e.reason for e in sim.ledger.risk_events() if e.kind == "reconciled"]
    assert passes[-1].startswith("reconnect reconciliation")
    assert _crash_events(sim) == []


@pytest.mark.parametrize(
    "error",
    [
        # The socket died a moment before the DISCONNECTED event.
        ConnectionError,
        # IB behind a backlog of requests: ``TimeoutError: no answer from ib-loop``.
        TimeoutError,
    ],
)
def test_a_read_that_fails_skips_the_tick_without_a_crash_and_the_pass_runs_again(
    tmp_path: Path, error: type[Exception]
) -> None:
    """The tick's read raises: the tick is skipped, nothing is rebuilt, and the interrupted
    reconnect pass runs again at a tick whose read succeeds."""
    links: list[_LinkDown] = []

    def factory(engine: Engine) -> Any:
        links.append(_LinkDown(engine, error))
        return engine.broker

    sim = start_engine(tmp_path, broker_factory=factory)
    links[0].down.set()
    sim.engine.book.tell("order_manager", ReconcileDue(sim.engine.clock.now()))
    sim.engine.book.tell("order_manager", ReconnectReconcileDue(sim.engine.clock.now()))
    sim.idle()
    assert links[0].reads == 2
    assert _crash_events(sim) == [] and sim.engine.crashes == {}
    links[0].down.clear()
    sim.advance(10)
    passes = [e.reason for e in sim.ledger.risk_events() if e.kind == "reconciled"]
    assert passes[-1].startswith("reconnect reconciliation")


def test_the_crash_policy_restarts_at_once_then_backs_off_then_halts_once() -> None:
    policy = CrashPolicy(
        window_s=60, backoff_after=2, halt_after=4, base_delay_s=1.0, max_delay_s=3.0
    )
    verdicts = [policy.record("order_manager", float(t), "ConnectionError: x") for t in range(6)]
    assert [v.delay_s for v in verdicts] == [0.0, 0.0, 1.0, 3.0, 3.0, 3.0]
    assert [bool(v.halt_reason) for v in verdicts] == [False, False, False, True, False, False]
    assert verdicts[3].halt_reason == (
        "order_manager crashed 4 times in 60s (last: ConnectionError: x); "
        "halted to stop a crash loop"
    )
    assert policy.record("governor", 5.0, "e").delay_s == 0.0  # counted per actor
    # A quiet window ends the storm: the next crash restarts at once and may halt again later.
    assert policy.record("order_manager", 200.0, "e") == policy.record("va:x", 0.0, "e")


def test_a_bad_crash_policy_is_refused_with_its_values() -> None:
    with pytest.raises(ValueError, match="backoff_after < halt_after"):
        CrashPolicy(backoff_after=5, halt_after=5)


def test_an_actor_crashing_in_a_loop_is_backed_off_and_the_engine_halts_with_the_reason(
    tmp_path: Path,
) -> None:
    sim = start_engine(tmp_path)
    sim.engine.crash_policy = CrashPolicy(
        window_s=60, backoff_after=2, halt_after=4, base_delay_s=0.2, max_delay_s=0.2
    )
    tracebacks: list[bool] = []
    sink = logger.add(
        lambda m: tracebacks.append(m.record["exception"] is not None),
        filter=lambda r: r["message"].startswith("position_monitor crashed on"),
    )
    try:
        started = time.monotonic()
        for _ in range(6):
            sim.engine.book.tell("position_monitor", Crash("poisoned"))
        sim.idle()
        elapsed = time.monotonic() - started
        # One line per crash; the traceback only while restarts are immediate.
        assert tracebacks == [True, True, False, False, False, False]
        # Crashes 3..6 each waited before their restart: no storm.
        assert elapsed >= 4 * 0.2
        events = _crash_events(sim)
        assert len(events) == 6
        assert events[0].endswith("restarted from the ledger (#1)")
        assert events[2].endswith("restarted from the ledger in 0.2s (#3)")
        status = sim.snapshot("governor")
        assert status.state is TradingState.HALTED
        assert status.reason.startswith("position_monitor crashed 4 times in 60s (last: ")
        halts = [e for e in sim.ledger.risk_events() if "crash loop" in e.reason]
        assert len({e.reason for e in halts}) == 1  # one reason, said once
    finally:
        logger.remove(sink)
