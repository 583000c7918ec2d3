"""The control server's picture: one delta per batch, latest wins, a full state of what is open."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.domain import OrderStatus, TradingState
from core.gate import GateState
from engine.bus_parking import BusParking
from engine.control.state import ControlPicture
from engine.control.wire import ClockInfo, GateInfo
from tests.tui.fakes import Snapshots

CLOCK = ClockInfo(datetime(2026, 11, 16, 15, 0, tzinfo=UTC), None)
GATE = GateInfo(GateState.OPEN, "start")


def _tick(picture: ControlPicture, parking: BusParking, config: dict | None = None):  # type: ignore[no-untyped-def]
    return picture.advance(parking.drain(), clock=CLOCK, gate=GATE, config=config)


def test_a_delta_carries_the_latest_snapshot_per_key_and_every_event_in_order() -> None:
    parking, picture = BusParking(), ControlPicture(events_kept=10)
    parking(Snapshots.va("va1", equity=Decimal(1)))
    parking(Snapshots.event("first"))
    parking(Snapshots.va("va1", equity=Decimal(2)))
    parking(Snapshots.order("o-1"))
    parking(Snapshots.order("o-1", status=OrderStatus.FILLED))
    parking(Snapshots.risk(TradingState.ACTIVE))
    parking(Snapshots.risk(TradingState.HALTED))
    parking(Snapshots.event("second"))

    delta = _tick(picture, parking)

    assert (delta.seq, delta.full) == (1, False)
    assert [(va.va_id, va.equity) for va in delta.vas] == [("va1", Decimal(2))]
    assert [(o.order_id, o.status) for o in delta.orders] == [("o-1", OrderStatus.FILLED)]
    assert delta.risk is not None and delta.risk.state is TradingState.HALTED
    assert [e.text for e in delta.events] == ["first", "second"]
    assert delta.config is None


def test_an_empty_tick_is_still_a_frame_with_the_next_seq() -> None:
    parking, picture = BusParking(), ControlPicture(events_kept=10)
    first, second = _tick(picture, parking), _tick(picture, parking)
    assert (first.seq, second.seq) == (1, 2)
    assert not (second.vas or second.events or second.orders or second.positions)


def test_a_full_state_holds_open_positions_and_working_orders_only() -> None:
    parking, picture = BusParking(), ControlPicture(events_kept=10)
    parking(Snapshots.position("va1", "AAA", 100))
    parking(Snapshots.position("va2", "BBB", 50))
    parking(Snapshots.order("o-1"))
    parking(Snapshots.order("o-2"))
    _tick(picture, parking)
    parking(Snapshots.position("va2", "BBB", 0))  # closed
    parking(Snapshots.order("o-2", status=OrderStatus.CANCELLED))  # ended
    delta = _tick(picture, parking)

    full = picture.full(clock=CLOCK, gate=GATE, config={"x": 1}, dropped_events=3)

    assert [(p.va_id, p.quantity) for p in delta.positions] == [("va2", 0)]  # the delta says so
    assert [(p.va_id, p.contract.symbol) for p in full.positions] == [("va1", "AAA")]
    assert [o.order_id for o in full.orders] == ["o-1"]
    assert (full.full, full.seq, full.dropped_events, full.config) == (True, 2, 3, {"x": 1})


def test_a_full_state_carries_the_last_events_kept_only() -> None:
    parking, picture = BusParking(), ControlPicture(events_kept=3)
    for n in range(5):
        parking(Snapshots.event(f"e{n}"))
    _tick(picture, parking)

    full = picture.full(clock=CLOCK, gate=GATE, config={})

    assert [e.text for e in full.events] == ["e2", "e3", "e4"]


def test_a_seed_is_older_than_what_was_published_after_the_subscription() -> None:
    parking, picture = BusParking(), ControlPicture(events_kept=3)
    parking(Snapshots.va("va1", equity=Decimal(7)))
    _tick(picture, parking)

    assert picture.holds(Snapshots.va("va1"))
    assert not picture.holds(Snapshots.va("va2"))
    assert not picture.holds(Snapshots.risk())
