"""The OrderManager reads the broker for a reconciliation on a worker thread, so a fill never
waits behind a read (a read takes seconds over IB): a fill told while a read is held is booked
before the read returns; a read made stale by a fill booked meanwhile is no false difference; a
read that finds the link gone leaves its pass open; a stop while a read is held ends in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.messages.commands import Signal
from actors.messages.timers import ReconcileDue, ReconnectReconcileDue
from core.domain import Contract, OrderStatus, OrderType, Side
from core.events import ConnectionEvent, ConnectionState
from engine.engine import Engine
from tests.support.broker_truth import reconciled
from tests.support.engine import SimEngine, start_engine

#: The reads ``HeldReads`` can hold, by the broker method's name.
READS = ("open_orders", "executions", "positions", "completed_orders")


class HeldReads:
    """The simulator with reads the test can hold: ``hold(name, nth)`` makes the ``nth`` call
    of ``name`` from now on take its answer first, then wait (bounded) for ``release`` before
    returning it (or raising ``error``). Counts every call."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = dict.fromkeys(READS, 0)
        self.inside = threading.Event()
        self.release = threading.Event()
        self.error: Exception | None = None
        self.broker_stopped_with: list[int] = []  # executions in the ledger at the broker's stop
        self._held: tuple[str, int] | None = None
        self._engine: Engine | None = None

    def hold(self, name: str, nth: int = 1) -> None:
        self.inside.clear()
        self.release.clear()
        self._held = (name, self.calls[name] + nth)

    def factory(self, engine: Engine) -> Any:
        self._engine = engine
        broker = engine.broker
        for name in READS:
            setattr(broker, name, self._wrap(name, getattr(broker, name)))
        inner_stop = broker.stop

        def stop() -> None:
            self.broker_stopped_with.append(len(engine.ledger.executions()))
            self.release.set()  # the broker's stop fails a read under way
            inner_stop()

        broker.stop = stop
        return broker

    def _wrap(self, name: str, read: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
        def held_read() -> list[Any]:
            self.calls[name] += 1
            answer = read()
            if self._held == (name, self.calls[name]):
                self._held = None
                self.inside.set()
                assert self.release.wait(10), "the test never released the read"
                if self.error is not None:
                    raise self.error
            return answer

        return held_read


@pytest.fixture
def reads() -> Iterator[HeldReads]:
    """The held reads; a read still held when the test ends is released (before the engines
    stop)."""
    held = HeldReads()
    yield held
    held.release.set()


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``condition`` (bounded) while the engine is busy: a held read counts in flight, so
    ``SimEngine.idle`` would wait for it."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        pause.wait(0.02)
    return condition()


def _tell_entry(sim: SimEngine, signal_id: str, quantity: int = 10) -> None:
    """A market entry for 10 AAPL, told without waiting for the engine to be idle."""
    sim.engine.book.tell(
        "va:va1",
        Signal(
            signal_id=signal_id,
            va_id="va1",
            contract=Contract.stock("AAPL"),
            side=Side.BUY,
            time=sim.engine.clock.now(),
            source="test",
            quantity=quantity,
        ),
    )


def _executed(sim: SimEngine, order_id: str) -> int:
    return sum(e.quantity for e in sim.ledger.executions() if e.order_id == order_id)


def test_a_fill_told_while_a_reconcile_read_is_held_is_booked_before_the_read_returns(
    tmp_path: Path, reads: HeldReads
) -> None:
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    opened = reads.calls["open_orders"]
    reads.hold("open_orders")
    now = sim.engine.clock.now()
    sim.engine.book.tell("order_manager", ReconcileDue(now))
    assert reads.inside.wait(10), "the reconcile tick never read the broker"
    # Ticks told while the read is held are not queued behind it: the next one comes.
    sim.engine.book.tell("order_manager", ReconcileDue(now))
    sim.engine.book.tell("order_manager", ReconcileDue(now))
    _tell_entry(sim, "held-1")
    assert _wait_for(lambda: _executed(sim, "held-1") == 10), "the fill waited for the read"
    assert not reads.release.is_set()
    reads.release.set()
    sim.idle()
    assert sim.ledger.order("held-1").status is OrderStatus.FILLED
    assert sim.ledger.order("held-1.stop").status is OrderStatus.SUBMITTED
    assert reads.calls["open_orders"] == opened + 1
    assert [e.kind for e in sim.ledger.risk_events() if e.kind.startswith("reconcil")] == [
        "reconciled"  # the startup pass's only
    ]


def test_a_positions_read_made_stale_by_a_fill_booked_meanwhile_is_read_again(
    tmp_path: Path, reads: HeldReads
) -> None:
    """The reconnect pass reads open orders, executions, positions, executions. The second
    executions read is answered before a fill the OrderManager books while it is held: the
    broker's executions look unchanged around the positions read, but the ledger holds a fill
    that read did not see. The read is inconsistent and made again, so the pass agrees at its
    first look instead of seeing a difference that is not one."""
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    reads.hold("executions", nth=2)
    since = sim.engine.clock.now()
    sim.engine.book.tell("order_manager", ReconnectReconcileDue(since))
    assert reads.inside.wait(10), "the pass never made its second executions read"
    _tell_entry(sim, "stale-1")
    assert _wait_for(lambda: _executed(sim, "stale-1") == 10), "the fill waited for the read"
    reads.release.set()
    sim.idle()
    [notice] = [n for n in reconciled(sim, since) if n["pass"] == "reconnect"]
    assert (notice["looks"], notice["differences"], notice["mismatch"]) == (1, [], False)
    assert reads.calls["positions"] >= 2  # read again


def test_an_order_placed_while_a_pass_reads_the_open_orders_is_not_taken_for_gone(
    tmp_path: Path, reads: HeldReads
) -> None:
    """An entry filled and its stop placed while the reconnect pass's open-orders read is held:
    that read cannot list the stop, which is still no order the broker lost."""
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    since = sim.engine.clock.now()
    reads.hold("open_orders")
    sim.engine.book.tell("order_manager", ReconnectReconcileDue(since))
    assert reads.inside.wait(10)
    _tell_entry(sim, "new-1")
    assert _wait_for(lambda: sim.ledger.order("new-1.stop") is not None)
    reads.release.set()
    sim.idle()
    [notice] = [n for n in reconciled(sim, since) if n["pass"] == "reconnect"]
    assert notice["differences"] == []
    assert sim.ledger.order("new-1.stop").status is OrderStatus.SUBMITTED


def test_an_order_ended_while_a_pass_reads_the_open_orders_is_not_reported_unknown(
    tmp_path: Path, reads: HeldReads
) -> None:
    """A resting entry the broker lists in the held open-orders read ends (cancelled) before
    the read returns: it is no broker order the ledger lacks."""
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    sid = sim.signal(
        "va1", "AAPL", quantity=10, order_type=OrderType.LMT, limit_price=Decimal("90.00")
    )
    assert sim.ledger.order(sid).status is OrderStatus.SUBMITTED
    since = sim.engine.clock.now()
    reads.hold("open_orders")
    sim.engine.book.tell("order_manager", ReconnectReconcileDue(since))
    assert reads.inside.wait(10)
    sim.engine.broker.cancel_order(sid)
    assert _wait_for(lambda: sim.ledger.order(sid).status is OrderStatus.CANCELLED)
    reads.release.set()
    sim.idle()
    [notice] = [n for n in reconciled(sim, since) if n["pass"] == "reconnect"]
    assert notice["differences"] == []


def test_a_pass_whose_read_finds_the_link_gone_stays_open_and_runs_again_after_the_reconnect(
    tmp_path: Path, reads: HeldReads
) -> None:
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    since = sim.engine.clock.now()
    reads.hold("open_orders")
    reads.error = ConnectionError("the link is gone")
    sim.engine.book.tell("order_manager", ReconnectReconcileDue(since))
    assert reads.inside.wait(10)
    _tell_entry(sim, "gone-1")  # booked while the read is held
    assert _wait_for(lambda: _executed(sim, "gone-1") == 10), "the fill waited for the read"
    down = ConnectionEvent(ConnectionState.DISCONNECTED, "test", since)
    sim.engine.book.tell("order_manager", down)
    reads.release.set()
    sim.idle()
    reads.error = None
    sim.advance(10)  # reconcile ticks while the link is down read nothing
    assert [n for n in reconciled(sim, since) if n["pass"] == "reconnect"] == []
    up = ConnectionEvent(ConnectionState.CONNECTED, "test", sim.engine.clock.now())
    sim.engine.book.tell("order_manager", up)
    sim.advance(5)  # the next tick runs the open pass again
    [notice] = [n for n in reconciled(sim, since) if n["pass"] == "reconnect"]
    assert notice["mismatch"] is False and notice["differences"] == []


def test_a_stop_while_a_reconcile_read_is_held_books_what_was_told_and_ends_in_time(
    tmp_path: Path, reads: HeldReads
) -> None:
    """The read is held until the broker's stop fails it; a fill told meanwhile is booked with
    the broker still up, the stop stays within its bound, and the reader's thread is gone."""
    sim = start_engine(tmp_path, broker_factory=reads.factory)
    reads.hold("open_orders")
    reads.error = RuntimeError("ib-loop is not running")  # what the IB adapter raises then
    sim.engine.book.tell("order_manager", ReconcileDue(sim.engine.clock.now()))
    assert reads.inside.wait(10)
    _tell_entry(sim, "stop-1")
    assert _wait_for(lambda: _executed(sim, "stop-1") == 10), "the fill waited for the read"
    executions = len(sim.ledger.executions())
    started = time.monotonic()
    sim.engine.stop(timeout_s=3.0)
    assert time.monotonic() - started < 3.0 + 1.0  # the bound, with room for a loaded machine
    assert reads.broker_stopped_with == [executions]
    assert sim.engine.crashes == {}
    assert not [t for t in threading.enumerate() if t.name.startswith("order_manager-reads")]
