"""Exits against a protective stop whose fill has not reached the engine yet (bug E): the exit
joins the stop's OCA group after the stop filled at the broker. On the simulator, with the
stop's events held back as if still on their way; the exit is the position monitor's own, sent
on the quote that triggered the stop (its stop rule sees the mark through the stop price)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from actors.order_manager.exits import overfilled
from broker.base import BrokerListener
from broker.sim import SimBroker
from core.domain import OrderRequest, OrderStatus, Quote, Side
from core.events import BrokerEvent
from db.records import OrderRecord
from engine.engine import Engine
from tests.support.engine import SimEngine, start_engine


class _Delayed:
    """Wraps the simulator's listener: events of the orders in ``hold`` are kept back (their
    fills happened at the broker, the engine has not heard) until ``release``."""

    def __init__(self, broker: SimBroker, *, strip_oca: bool = False) -> None:
        self.broker = broker
        self.hold: set[str] = set()
        self.held: list[BrokerEvent] = []
        self._listener: BrokerListener | None = None
        start, place = broker.start, broker.place_order

        def start_holding(listener: BrokerListener) -> None:
            self._listener = listener
            start(self)

        def place_order(order: OrderRequest) -> bool:
            # A venue with no OCA groups: exits and stops only reduce by the engine's word.
            return place(replace(order, oca_group=None) if strip_oca else order)

        broker.start = start_holding  # type: ignore[method-assign]
        broker.place_order = place_order  # type: ignore[method-assign]

    def on_quote(self, quote: Quote) -> None:
        assert self._listener is not None
        self._listener.on_quote(quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        assert self._listener is not None
        if getattr(event, "client_order_id", None) in self.hold:
            self.held.append(event)
        else:
            self._listener.on_broker_event(event)

    def release(self, *first: str) -> None:
        """Deliver what was held: the events of the orders in ``first`` first (in that order),
        then the rest, each order's events in the order they happened."""
        assert self._listener is not None
        self.hold.clear()
        held, self.held = self.held, []
        rank = {order_id: n for n, order_id in enumerate(first)}
        held.sort(key=lambda e: rank.get(getattr(e, "client_order_id", ""), len(rank)))
        for event in held:
            self._listener.on_broker_event(event)


def _start(tmp_path: Path, *, strip_oca: bool = False) -> tuple[SimEngine, _Delayed]:
    delays: list[_Delayed] = []

    def factory(engine: Engine) -> SimBroker:
        broker = engine.broker
        assert isinstance(broker, SimBroker)
        delays.append(_Delayed(broker, strip_oca=strip_oca))
        return broker

    sim = start_engine(tmp_path, broker_factory=factory)
    return sim, delays[0]


def _stop_fills_unheard(sim: SimEngine, delayed: _Delayed, entry_id: str) -> OrderRecord:
    """The protective stop triggers and fills at the broker, its events held back; on the same
    quote the position monitor asks for an exit (10 held, as far as the engine knows). Returns
    that exit."""
    stop = sim.ledger.order(f"{entry_id}.stop")
    delayed.hold.add(stop.id)
    sim.broker.set_mid("AAPL", float(stop.stop_price) - 1)
    sim.advance(5)
    assert [e for e in delayed.held if getattr(e, "status", None) is OrderStatus.FILLED]
    assert sim.ledger.order(stop.id).status.is_working  # the engine has not heard yet
    [exit_order] = [o for o in sim.ledger.orders(va_id="va1") if o.purpose == "exit"]
    assert exit_order.side is Side.SELL
    assert exit_order.quantity == 10  # sized from the 10 the engine still thinks held
    return exit_order


def _broker_position(sim: SimEngine) -> int:
    return sum(p.quantity for p in sim.engine.broker.positions() if p.contract.key == "AAPL")


def test_an_exit_sent_while_the_stops_fill_is_on_its_way_never_fills_into_the_flat_position(
    tmp_path: Path,
) -> None:
    sim, delayed = _start(tmp_path)
    entry = sim.signal("va1", "AAPL", quantity=10)
    exit_order = sim.ledger.order(_stop_fills_unheard(sim, delayed, entry).id)
    assert exit_order.status is OrderStatus.REJECTED and exit_order.filled == 0
    assert "OCA group is already filled" in exit_order.reason
    assert not [e for e in sim.ledger.executions() if e.order_id == exit_order.id]
    assert _broker_position(sim) == 0
    delayed.release()
    sim.idle()
    assert sim.ledger.order(f"{entry}.stop").status is OrderStatus.FILLED
    assert sim.ledger.open_positions() == []
    assert "va1|AAPL" not in sim.snapshot("order_manager")["positions"]
    snap = sim.snapshot("va:va1")
    assert snap.symbol is None and snap.working_orders == 0
    assert _broker_position(sim) == 0


def test_after_the_broker_says_the_stop_filled_no_exit_is_sent_into_its_group_again(
    tmp_path: Path,
) -> None:
    sim, delayed = _start(tmp_path)
    entry = sim.signal("va1", "AAPL", quantity=10)
    first = _stop_fills_unheard(sim, delayed, entry)
    assert sim.ledger.order(first.id).status is OrderStatus.REJECTED
    again = sim.signal("va1", "AAPL", Side.SELL, close=True)  # e.g. the monitor's retry
    assert sim.decisions()[again].rule == "stop_filled"
    assert sim.ledger.order(again) is None  # refused here, never sent
    delayed.release()
    sim.idle()
    assert sim.ledger.open_positions() == [] and _broker_position(sim) == 0
    assert sim.ledger.order(sim.signal("va1", "AAPL", Side.SELL, close=True)) is None


def test_an_exit_that_a_venue_without_oca_fills_into_a_flat_position_is_reported_and_closed(
    tmp_path: Path,
) -> None:
    sim, delayed = _start(tmp_path, strip_oca=True)
    entry = sim.signal("va1", "AAPL", quantity=10)
    exit_order = _stop_fills_unheard(sim, delayed, entry)
    assert sim.ledger.order(exit_order.id).status is OrderStatus.FILLED  # nothing stopped it
    assert _broker_position(sim) == -10  # the other side, at the broker
    delayed.release()  # the stop's fill now books the engine's position to -10
    sim.advance(5)
    overfills = [r for r in sim.ledger.risk_events() if r.kind == "overfill"]
    assert len(overfills) == 1 and f"{entry}.stop" in overfills[0].reason + str(overfills[0].detail)
    closes = [o for o in sim.ledger.orders(va_id="va1") if o.reason == "overfill"]
    assert len(closes) == 1 and closes[0].side is Side.BUY and closes[0].quantity == 10
    assert closes[0].status is OrderStatus.FILLED
    assert _broker_position(sim) == 0 and sim.ledger.open_positions() == []


def test_a_stops_execution_that_arrives_before_its_entrys_is_not_taken_for_an_overfill(
    tmp_path: Path,
) -> None:
    sim, delayed = _start(tmp_path)
    entry = f"t-va1-{sim._n + 1}"  # the id ``signal`` gives the next signal
    delayed.hold.update({entry, f"{entry}.stop"})
    assert sim.signal("va1", "AAPL", quantity=10) == entry  # fills at once, unheard
    stop = sim.ledger.order(f"{entry}.stop")
    sim.broker.set_mid("AAPL", float(stop.stop_price) - 1)
    sim.advance(5)  # the stop fills too
    assert _broker_position(sim) == 0
    delayed.release(stop.id, entry)  # e.g. a replay that reports the child first
    sim.advance(5)
    assert not [r for r in sim.ledger.risk_events() if r.kind == "overfill"]
    assert not [o for o in sim.ledger.orders(va_id="va1") if o.reason == "overfill"]
    assert sim.ledger.open_positions() == [] and _broker_position(sim) == 0


def test_a_reduce_only_fill_overfills_when_it_crosses_zero_or_grows_the_position() -> None:
    assert not overfilled(10, 0) and not overfilled(10, 4) and not overfilled(-10, -4)
    assert overfilled(0, -10) and overfilled(0, 10)  # into a flat position
    assert overfilled(10, -5) and overfilled(-10, 5)  # through zero
    assert overfilled(10, 15) and overfilled(-10, -15)  # the wrong side: grew it
