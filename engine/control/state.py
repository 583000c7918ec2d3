"""What the control server knows of the engine between two flush ticks: the latest snapshot of
every VA, open position and working order, the latest risk status and the last events, kept
latest-wins, and the ``State`` frames made from them.

``ControlPicture`` is fed the batches ``engine.bus_parking.BusParking`` drains: each tick turns
one batch into one delta frame (shared by every client) and folds it into the picture a full
frame is made of (for a new client, or one that fell behind). A position with quantity 0 and an
order in a terminal status leave the picture (a delta still carries them: that is how a client
learns they ended), so its size is bounded by what is open, never by how long the engine ran.

Threads: the control server's loop thread only (pure values in, frozen frames out).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from actors.messages.events import EngineEvent
from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from engine.bus_parking import Batch, Snapshot, snapshot_key
from engine.control.wire import ClockInfo, GateInfo, State

__all__ = ["ControlPicture"]


class ControlPicture:
    """The engine's state as the control channel serves it (loop thread only).

    Args:
        events_kept: the last events a full frame carries (older ones are forgotten).
    """

    def __init__(self, *, events_kept: int) -> None:
        self.seq = 0
        self._vas: dict[str, VASnapshot] = {}
        self._positions: dict[str, PositionSnapshot] = {}
        self._orders: dict[str, OrderSnapshot] = {}
        self._risk: RiskStatus | None = None
        self._events: deque[EngineEvent] = deque(maxlen=events_kept)

    @property
    def risk(self) -> RiskStatus | None:
        """The governor's latest status (None before its first)."""
        return self._risk

    def holds(self, item: Snapshot) -> bool:
        """Whether a snapshot with ``item``'s key was taken in already (a seed then is older)."""
        kind, key = snapshot_key(item)
        if kind is VASnapshot:
            return key in self._vas
        if kind is PositionSnapshot:
            return key in self._positions
        if kind is OrderSnapshot:
            return key in self._orders
        return self._risk is not None

    def advance(
        self, batch: Batch, *, clock: ClockInfo, gate: GateInfo, config: dict[str, Any] | None
    ) -> State:
        """Take ``batch`` in and return the next delta frame (``config``: set when it changed)."""
        self._take(batch.vas, batch.positions, batch.orders, batch.risk, batch.events)
        self.seq += 1
        return State(
            seq=self.seq,
            full=False,
            clock=clock,
            gate=gate,
            vas=batch.vas,
            positions=batch.positions,
            orders=batch.orders,
            risk=batch.risk,
            events=batch.events,
            dropped_events=batch.dropped_events,
            config=config,
        )

    def full(
        self, *, clock: ClockInfo, gate: GateInfo, config: dict[str, Any], dropped_events: int = 0
    ) -> State:
        """Everything, as of the last delta (same ``seq``: the next delta follows it)."""
        return State(
            seq=self.seq,
            full=True,
            clock=clock,
            gate=gate,
            vas=tuple(self._vas[key] for key in sorted(self._vas)),
            positions=tuple(self._positions[key] for key in sorted(self._positions)),
            orders=tuple(self._orders[key] for key in sorted(self._orders)),
            risk=self._risk,
            events=tuple(self._events),
            dropped_events=dropped_events,
            config=config,
        )

    def _take(
        self,
        vas: Iterable[VASnapshot],
        positions: Iterable[PositionSnapshot],
        orders: Iterable[OrderSnapshot],
        risk: RiskStatus | None,
        events: Iterable[EngineEvent],
    ) -> None:
        for va in vas:
            self._vas[va.va_id] = va
        for position in positions:
            key = snapshot_key(position)[1]
            if position.quantity == 0:
                self._positions.pop(key, None)
            else:
                self._positions[key] = position
        for order in orders:
            if order.status.is_terminal:
                self._orders.pop(order.order_id, None)
            else:
                self._orders[order.order_id] = order
        if risk is not None:
            self._risk = risk
        self._events.extend(events)
