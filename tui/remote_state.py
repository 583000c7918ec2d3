"""What the attached dashboard knows of its engine between two frames: the engine's clock moved
on by wall time (``RemoteClock``), its gate (``RemoteGate``), and a mirror of the state the
frames describe (``StateMirror``), which turns each frame into the items the dashboard's bus
delivers.

Threads: the control link's threads write (``seen``, ``apply``); any thread reads. The clock's
and the gate's readings are replaced as a whole (one attribute assignment), so a reader sees
either the old or the new one; the mirror's dictionaries change in place: ``RemoteEngine`` holds
its lock around every ``apply`` and every read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from core.gate import GateState
from engine.bus_parking import snapshot_key
from engine.control.wire import ClockInfo, GateInfo, State
from tui.bridge import EventsLost, FullState

__all__ = ["RemoteClock", "RemoteGate", "StateMirror"]


@dataclass(frozen=True, slots=True)
class _ClockReading:
    info: ClockInfo
    wall: float  # time.monotonic() when the frame arrived


class RemoteClock:
    """The engine's clock as the last frame gave it, moved on by this process's wall clock
    times the engine's speed; at max speed (``speed`` None) the last time known. ``now()`` is
    in ``tz()``, the engine config's time zone.

    Args:
        tz: the time zone to show (read on each call: a reattach may bring another config).
        start: the time shown before the first frame.
        wall: the wall clock, seconds (tests pass their own).
    """

    def __init__(
        self,
        tz: Callable[[], tzinfo],
        start: ClockInfo,
        *,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tz = tz
        self._wall = wall
        self._reading = _ClockReading(start, wall())

    def seen(self, info: ClockInfo) -> None:
        """A frame's clock (reader thread)."""
        self._reading = _ClockReading(info, self._wall())

    @property
    def speed(self) -> float | None:
        """Simulated seconds per wall second; None = as fast as possible."""
        return self._reading.info.speed

    def now(self) -> datetime:
        """The engine's time now, as well as this process can tell (any thread)."""
        reading = self._reading
        moment = reading.info.now
        if reading.info.speed is not None:
            elapsed = max(0.0, self._wall() - reading.wall)
            moment += timedelta(seconds=elapsed * reading.info.speed)
        return moment.astimezone(self._tz())


class RemoteGate:
    """The engine's kill switch as the last frame (or a confirmed halt) gave it."""

    def __init__(self, info: GateInfo) -> None:
        self._info = info

    def seen(self, info: GateInfo) -> None:
        """A frame's gate (reader thread) or a confirmed halt (sender thread)."""
        self._info = info

    @property
    def state(self) -> GateState:
        """What passes now."""
        return self._info.state

    @property
    def reason(self) -> str:
        """Why the gate is in its state."""
        return self._info.reason


class StateMirror:
    """The engine's state as the frames describe it: the latest snapshot per VA, position and
    order, the risk status and the last ``events_kept`` events.

    Args:
        events_kept: events handed to a dashboard that subscribes later.
    """

    def __init__(self, *, events_kept: int = 200) -> None:
        self._vas: dict[str, VASnapshot] = {}
        self._positions: dict[tuple[type, str], PositionSnapshot] = {}
        self._orders: dict[str, OrderSnapshot] = {}
        self._risk: RiskStatus | None = None
        self._events: deque[EngineEvent] = deque(maxlen=events_kept)

    def apply(self, frame: State) -> list[object]:
        """Take ``frame`` in; the items a bus subscriber gets for it (reader thread).

        A full frame replaces everything and gives one ``FullState``; a delta gives its
        snapshots, its risk status, its events in order, then ``EventsLost`` if the engine
        dropped some for this client.
        """
        if frame.full:
            self._vas, self._positions, self._orders = {}, {}, {}
            self._risk = None
            self._events.clear()
        for va in frame.vas:
            self._vas[va.va_id] = va
        for position in frame.positions:
            key = snapshot_key(position)
            if position.quantity == 0:
                self._positions.pop(key, None)
            else:
                self._positions[key] = position
        for order in frame.orders:
            if order.status.is_terminal:
                self._orders.pop(order.order_id, None)
            else:
                self._orders[order.order_id] = order
        if frame.risk is not None:
            self._risk = frame.risk
        self._events.extend(frame.events)
        if frame.full:
            return [self.full_state()]
        items: list[object] = [*frame.vas, *frame.positions, *frame.orders]
        if frame.risk is not None:
            items.append(frame.risk)
        items.extend(frame.events)
        if frame.dropped_events:
            items.append(EventsLost(frame.dropped_events))
        return items

    def full_state(self) -> FullState:
        """Everything known now, as one ``FullState`` (for a new subscriber)."""
        return FullState(
            vas=tuple(self._vas.values()),
            positions=tuple(self._positions.values()),
            orders=tuple(self._orders.values()),
            risk=self._risk,
            events=tuple(self._events),
        )

    @property
    def risk(self) -> RiskStatus | None:
        """The governor's latest status."""
        return self._risk

    def va(self, va_id: str) -> VASnapshot | None:
        """The latest snapshot of ``va_id``."""
        return self._vas.get(va_id)

    @property
    def positions(self) -> tuple[PositionSnapshot, ...]:
        """The open positions."""
        return tuple(self._positions.values())

    @property
    def orders(self) -> tuple[OrderSnapshot, ...]:
        """The working orders."""
        return tuple(self._orders.values())
