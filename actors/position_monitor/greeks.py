"""The PositionMonitor's ``GreeksSnapshot`` totals: delta in dollars, theta per day and margin
in use, per VA and for the portfolio, published after every batch of quotes.

Only VAs with a position the batch re-marked, or changed since, are recomputed, from the
figures of the snapshots just published; the others keep their last totals
(bench/quotes_absorbed.py: with 100 VAs, rebuilding every VA's risk twice per batch made the
monitor's batches half as long again). A part of the monitor, run on its actor thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from actors.messages.snapshots import GreeksSnapshot
from actors.position_monitor.positions import PositionKey, WatchedPosition
from actors.position_monitor.snapshots import PositionSnapshots
from actors.runtime.base import Bus
from core.rules.greeks import PositionRisk, total_risk

__all__ = ["GreeksTotals"]


class GreeksTotals:
    def __init__(self, *, snapshots: PositionSnapshots, bus: Bus) -> None:
        self._snapshots = snapshots
        self._bus = bus
        self._by_va: dict[str, PositionRisk] = {}  # per VA, as last published

    def clear(self) -> None:
        self._by_va.clear()

    def forget(self, va_id: str) -> None:
        """The VA's positions changed: its totals are recomputed at the next batch."""
        self._by_va.pop(va_id, None)

    def publish(
        self,
        now: datetime,
        watched: Mapping[PositionKey, WatchedPosition],
        marked: set[PositionKey],
    ) -> None:
        """Publish the totals of every VA with a position in ``marked`` (re-marked by this
        batch, their snapshots just published) or forgotten since, then the portfolio's."""
        held = {position.va_id for position in watched.values()}
        for va_id in self._by_va.keys() - held:
            del self._by_va[va_id]
        outdated = {va_id for va_id, _ in marked} | (held - self._by_va.keys())
        by_va: dict[str, list[PositionRisk]] = {}
        for key, position in watched.items():
            if position.va_id in outdated:
                risk = (
                    position.risk
                    if key in marked and position.risk
                    else self._snapshots.risk(position)
                )
                by_va.setdefault(position.va_id, []).append(risk)
        for va_id, risks in sorted(by_va.items()):
            total = self._by_va[va_id] = total_risk(risks)
            self._bus.publish(
                GreeksSnapshot(
                    va_id,
                    total.delta_dollars,
                    total.theta_per_day,
                    total.margin,
                    total.positions,
                    now,
                )
            )
        total = total_risk(list(self._by_va.values()))
        self._bus.publish(
            GreeksSnapshot(
                None, total.delta_dollars, total.theta_per_day, total.margin, total.positions, now
            )
        )
