"""``Recorder``: a ``BrokerListener`` for broker tests (the simulator's and the IB adapter's) that
keeps every quote and event it is given, with views by kind and by order (thread-safe: brokers
call it from their own threads)."""

from __future__ import annotations

import threading
from typing import TypeVar

from core.domain import OrderStatus, Quote
from core.events import (
    AccountSnapshot,
    BrokerEvent,
    ConnectionEvent,
    ConnectionState,
    ExecutionEvent,
    OrderStatusEvent,
)

__all__ = ["Recorder"]

T = TypeVar("T")


class Recorder:
    """A BrokerListener that keeps what it hears."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.quotes: list[Quote] = []
        self.events: list[BrokerEvent] = []

    def on_quote(self, quote: Quote) -> None:
        with self._lock:
            self.quotes.append(quote)

    def on_broker_event(self, event: BrokerEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[T]) -> list[T]:
        """Every event of ``kind``, in arrival order."""
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]

    def order_events(self, cid: str) -> list[OrderStatusEvent | ExecutionEvent]:
        """Statuses and executions of one order, interleaved as they arrived."""
        with self._lock:
            return [
                e
                for e in self.events
                if isinstance(e, OrderStatusEvent | ExecutionEvent) and e.client_order_id == cid
            ]

    def statuses(self, cid: str) -> list[OrderStatus]:
        return [e.status for e in self.status_events(cid)]

    def status_events(self, cid: str) -> list[OrderStatusEvent]:
        return [e for e in self.of(OrderStatusEvent) if e.client_order_id == cid]

    def executions(self, cid: str | None = None) -> list[ExecutionEvent]:
        return [e for e in self.of(ExecutionEvent) if cid is None or e.client_order_id == cid]

    def connection_states(self) -> list[ConnectionState]:
        return [e.state for e in self.of(ConnectionEvent)]

    def accounts(self) -> list[AccountSnapshot]:
        return self.of(AccountSnapshot)

    def quotes_of(self, key: str) -> list[Quote]:
        with self._lock:
            return [q for q in self.quotes if q.contract.key == key]
