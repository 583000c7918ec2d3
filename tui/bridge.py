"""The bus subscriber that hands snapshots and events from actor threads to the UI thread.

``BusBridge`` is ``engine.bus_parking.BusParking`` (shared with the control server): actor
threads park items under a lock and return; the UI thread calls ``drain()`` on its own timer
and takes everything pending at once, never blocking an actor.

Attached to an engine in another process (``tui.remote.RemoteEngine``) the bus also delivers
three markers, parked the same way: ``FullState`` (everything the engine holds: the next
batch replaces what the dashboard shows), ``EventsLost`` (events the engine dropped for this
client) and ``Notice`` (a line for the trader, e.g. a command's outcome).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from engine.bus_parking import Batch, BusParking, Snapshot

__all__ = ["Batch", "BusBridge", "Drained", "EventsLost", "FullState", "Notice", "Snapshot"]

#: Notices kept between two drains (the oldest go first).
MAX_NOTICES = 50


@dataclass(frozen=True, slots=True)
class FullState:
    """Everything the engine holds now: what it does not list is gone (a position closed, an
    order ended while the dashboard was not looking)."""

    vas: tuple[VASnapshot, ...] = ()
    positions: tuple[PositionSnapshot, ...] = ()
    orders: tuple[OrderSnapshot, ...] = ()
    risk: RiskStatus | None = None
    events: tuple[EngineEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class EventsLost:
    """``count`` events the engine dropped before they reached this dashboard."""

    count: int


@dataclass(frozen=True, slots=True)
class Notice:
    """A line for the trader (``severity``: Textual's information, warning or error)."""

    text: str
    severity: str = "information"


@dataclass(frozen=True, slots=True)
class Drained(Batch):
    """A ``Batch`` plus the markers: ``replace_all`` (a full state: show only this batch) and
    the notices, oldest first."""

    replace_all: bool = False
    notices: tuple[Notice, ...] = ()


class BusBridge(BusParking):
    """Latest-wins parking for bus items between actor (or control-reader) threads and the UI
    thread. Every call returns at once; only ``drain`` (UI thread) empties it."""

    def __init__(self, *, max_events: int = 1000) -> None:
        super().__init__(max_events=max_events)
        # Held around every park and drain, so a full state and the deltas after it are taken
        # together or not at all (a drain never sees half a reset).
        self._order = threading.Lock()
        self._replace_all = False
        self._lost = 0
        self._notices: deque[Notice] = deque(maxlen=MAX_NOTICES)

    def __call__(self, item: object) -> None:
        """Bus callback (the publisher's thread): park ``item``; other types are ignored."""
        with self._order:
            if isinstance(item, FullState):
                super().drain()  # older than the full state: superseded
                self._replace_all, self._lost = True, 0
                for each in (*item.vas, *item.positions, *item.orders, *item.events):
                    super().__call__(each)
                if item.risk is not None:
                    super().__call__(item.risk)
            elif isinstance(item, EventsLost):
                self._lost += item.count
            elif isinstance(item, Notice):
                self._notices.append(item)
            else:
                super().__call__(item)

    def drain(self) -> Drained:
        """Take everything pending (UI thread; any thread is safe)."""
        with self._order:
            batch = super().drain()
            replace_all, self._replace_all = self._replace_all, False
            lost, self._lost = self._lost, 0
            notices = tuple(self._notices)
            self._notices.clear()
        return Drained(
            vas=batch.vas,
            positions=batch.positions,
            orders=batch.orders,
            risk=batch.risk,
            events=batch.events,
            dropped_events=batch.dropped_events + lost,
            replace_all=replace_all,
            notices=notices,
        )
