"""The bridge between actor threads and the UI thread: latest-wins, bounded, never blocking."""

from __future__ import annotations

import threading
from decimal import Decimal

from actors.runtime.base import Bus
from core.domain import OrderStatus, TradingState
from tests.tui.fakes import Snapshots
from tui.bridge import BusBridge


def test_an_empty_bridge_drains_an_empty_batch() -> None:
    assert BusBridge().drain().empty


def test_the_latest_snapshot_per_key_wins() -> None:
    bridge = BusBridge()
    bridge(Snapshots.va("va1", equity=Decimal(1)))
    bridge(Snapshots.va("va2"))
    bridge(Snapshots.va("va1", equity=Decimal(2)))
    bridge(Snapshots.order("o-1"))
    bridge(Snapshots.order("o-1", status=OrderStatus.FILLED))
    bridge(Snapshots.risk(TradingState.ACTIVE))
    bridge(Snapshots.risk(TradingState.HALTED))

    batch = bridge.drain()

    assert [(va.va_id, va.equity) for va in batch.vas] == [
        ("va1", 2),
        ("va2", Decimal("101250.50")),
    ]
    assert [(o.order_id, o.status) for o in batch.orders] == [("o-1", OrderStatus.FILLED)]
    assert batch.risk is not None and batch.risk.state is TradingState.HALTED
    assert bridge.drain().empty


def test_positions_are_keyed_by_va_and_contract() -> None:
    bridge = BusBridge()
    bridge(Snapshots.position("va1", "AAA", 100))
    bridge(Snapshots.position("va2", "AAA", 50))
    bridge(Snapshots.position("va1", "AAA", 0))

    quantities = {(p.va_id, p.contract.key): p.quantity for p in bridge.drain().positions}

    assert quantities == {("va1", "AAA"): 0, ("va2", "AAA"): 50}


def test_events_keep_their_order_and_the_oldest_are_dropped_and_counted_when_full() -> None:
    bridge = BusBridge(max_events=3)
    for n in range(5):
        bridge(Snapshots.event(f"e{n}"))

    batch = bridge.drain()

    assert [e.text for e in batch.events] == ["e2", "e3", "e4"]
    assert batch.dropped_events == 2
    assert bridge.drain().dropped_events == 0


def test_items_of_other_types_are_ignored() -> None:
    bridge = BusBridge()
    bridge("not a snapshot")
    bridge(42)
    assert bridge.drain().empty


def test_many_actor_threads_publishing_at_once_lose_no_key() -> None:
    bus = Bus()
    bridge = BusBridge()
    bus.subscribe(bridge)

    def actor(n: int) -> None:
        for equity in range(200):
            bus.publish(Snapshots.va(f"va{n}", equity=Decimal(equity)))

    threads = [threading.Thread(target=actor, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)

    batch = bridge.drain()

    assert sorted(va.va_id for va in batch.vas) == [f"va{n}" for n in range(8)]
    assert {va.equity for va in batch.vas} == {Decimal(199)}


def test_an_offered_snapshot_never_replaces_a_pending_one() -> None:
    bridge = BusBridge()
    bridge(Snapshots.va("va1", state="paused"))
    assert bridge.offer(Snapshots.va("va1", state="idle")) is False
    assert bridge.offer(Snapshots.va("va2", state="idle")) is True

    states = {va.va_id: va.state for va in bridge.drain().vas}

    assert states == {"va1": "paused", "va2": "idle"}
