"""The stale-entry part of the OrderManager, built without an actor: an entry that stays
unfilled and quiet is cancelled once, and asked again only after the broker said something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from actors.order_manager.stale import StaleEntries
from actors.order_manager.state import OrderBook, WorkingOrder
from core.config import OrderSettings
from core.domain import Contract, OrderRequest, OrderStatus, OrderType, Purpose, Side
from db.records import OrderRecord

T0 = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
SETTINGS = OrderSettings(stale_entry_s=30.0, stale_quiet_s=3.0)


def _order(order_id: str, purpose: Purpose) -> WorkingOrder:
    request = OrderRequest(
        order_id, Contract("AAPL"), Side.BUY, OrderType.LMT, 10, limit_price=Decimal("100")
    )
    record = OrderRecord.from_request(request, va_id="va1", purpose=purpose.value, created_at=T0)
    return WorkingOrder(record, OrderStatus.SUBMITTED, last_event_at=T0)


def _part(*orders: WorkingOrder) -> tuple[StaleEntries, list[str]]:
    state = OrderBook(orders={o.id: o for o in orders})
    cancels: list[str] = []
    return StaleEntries(state, config=lambda: SETTINGS, cancel=cancels.append), cancels


def test_a_stale_entry_is_cancelled_once_however_many_ticks_pass_without_an_answer() -> None:
    entry = _order("e1", Purpose.ENTRY)
    stale, cancels = _part(entry)
    stale.cancel_stale(T0 + timedelta(seconds=29))
    assert cancels == []
    for seconds in (30, 31, 61, 95, 300):  # reconcile ticks; the broker says nothing
        stale.cancel_stale(T0 + timedelta(seconds=seconds))
    assert cancels == ["e1"]


def test_a_stale_entry_still_working_after_the_brokers_answer_is_asked_again() -> None:
    entry = _order("e1", Purpose.ENTRY)
    stale, cancels = _part(entry)
    stale.cancel_stale(T0 + timedelta(seconds=30))
    entry.last_event_at = T0 + timedelta(seconds=31)  # a status event: still working
    stale.cancel_stale(T0 + timedelta(seconds=32))  # quiet for 1 s only
    assert cancels == ["e1"]
    stale.cancel_stale(T0 + timedelta(seconds=35))
    assert cancels == ["e1", "e1"]


def test_stops_exits_and_fresh_or_busy_entries_are_not_cancelled() -> None:
    stop, exit_ = _order("s1", Purpose.STOP), _order("x1", Purpose.EXIT)
    busy = _order("e2", Purpose.ENTRY)
    busy.last_event_at = T0 + timedelta(seconds=59)  # a partial fill just now
    stale, cancels = _part(stop, exit_, busy)
    stale.cancel_stale(T0 + timedelta(seconds=60))
    assert cancels == []
