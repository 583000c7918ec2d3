"""A bus subscriber that parks snapshots and events from actor threads for one reader thread:
the dashboard's UI thread (``tui.bridge.BusBridge``) or the control server's loop
(``engine.control.server``).

Actor threads call the parking (``BusParking.__call__``): it stores the item under a lock and
returns; it never blocks on the reader (the dashboard's ``App.call_from_thread`` would block the
caller until the UI has run). Snapshots are kept latest-wins per (type, id), so a burst of
updates to one order costs the reader one update. Events are kept in order in a bounded deque.

The reader calls ``drain()`` on its own timer and takes everything pending at once.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot

__all__ = ["Batch", "BusParking", "Snapshot", "snapshot_key"]

#: The snapshot types the bridge keeps latest-wins.
Snapshot = VASnapshot | PositionSnapshot | OrderSnapshot | RiskStatus

_PendingKey = tuple[type, str]


@dataclass(frozen=True, slots=True)
class Batch:
    """Everything that arrived since the previous ``drain()``.

    Attributes:
        vas: latest snapshot per virtual account.
        positions: latest snapshot per (VA, contract); quantity 0 means closed.
        orders: latest snapshot per order; a terminal status means finished.
        risk: the latest risk status, if one arrived.
        events: engine events, oldest first.
        dropped_events: events discarded because the deque was full since the last drain.
    """

    vas: tuple[VASnapshot, ...] = ()
    positions: tuple[PositionSnapshot, ...] = ()
    orders: tuple[OrderSnapshot, ...] = ()
    risk: RiskStatus | None = None
    events: tuple[EngineEvent, ...] = ()
    dropped_events: int = 0

    @property
    def empty(self) -> bool:
        """True when nothing arrived."""
        return not (self.vas or self.positions or self.orders or self.events) and (
            self.risk is None and not self.dropped_events
        )


def snapshot_key(item: Snapshot) -> tuple[type, str]:
    """The identity a newer snapshot replaces: (type, VA id | "va|contract" | order id | "")."""
    if isinstance(item, VASnapshot):
        return (VASnapshot, item.va_id)
    if isinstance(item, PositionSnapshot):
        return (PositionSnapshot, f"{item.va_id}|{item.contract.key}")
    if isinstance(item, OrderSnapshot):
        return (OrderSnapshot, item.order_id)
    return (RiskStatus, "")


class BusParking:
    """Latest-wins parking for bus items between actor threads and one reader thread.

    Args:
        max_events: events kept between two drains; older ones are dropped (and counted) when a
            burst outruns the reader.
    """

    def __init__(self, *, max_events: int = 1000) -> None:
        self._lock = threading.Lock()
        self._pending: dict[_PendingKey, Snapshot] = {}
        self._events: deque[EngineEvent] = deque(maxlen=max_events)
        self._dropped = 0

    def __call__(self, item: object) -> None:
        """Bus callback; runs on the publishing actor's thread and returns at once.

        Items of other types are ignored.
        """
        if isinstance(item, EngineEvent):
            with self._lock:
                if len(self._events) == self._events.maxlen:
                    self._dropped += 1
                self._events.append(item)
            return
        if not isinstance(item, (VASnapshot, PositionSnapshot, OrderSnapshot, RiskStatus)):
            return
        key = snapshot_key(item)
        with self._lock:
            self._pending[key] = item

    def offer(self, item: Snapshot) -> bool:
        """Park ``item`` unless a snapshot with its key is pending already (any thread).

        For snapshots asked at start-up: one published meanwhile is newer and must win.
        Returns whether ``item`` was parked.
        """
        key = snapshot_key(item)
        with self._lock:
            if key in self._pending:
                return False
            self._pending[key] = item
            return True

    def drain(self) -> Batch:
        """Take everything pending (the reader's thread; any thread is safe)."""
        with self._lock:
            if not self._pending and not self._events and not self._dropped:
                return Batch()
            pending, self._pending = self._pending, {}
            events = tuple(self._events)
            self._events.clear()
            dropped, self._dropped = self._dropped, 0
        risk: RiskStatus | None = None
        vas: list[VASnapshot] = []
        positions: list[PositionSnapshot] = []
        orders: list[OrderSnapshot] = []
        for item in pending.values():
            if isinstance(item, VASnapshot):
                vas.append(item)
            elif isinstance(item, PositionSnapshot):
                positions.append(item)
            elif isinstance(item, OrderSnapshot):
                orders.append(item)
            else:
                risk = item
        return Batch(
            vas=tuple(vas),
            positions=tuple(positions),
            orders=tuple(orders),
            risk=risk,
            events=events,
            dropped_events=dropped,
        )
