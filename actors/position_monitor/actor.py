"""The PositionMonitor actor: marks every open position on each quote for its contract,
publishes position snapshots, evaluates the exit rules and asks the owning VA to exit
(reduce-only) when one fires. It learns positions from the OrderManager's ``PositionChanged``.

Options: the option exit rules (profit target, stop, time) with the order each one closes
with, greeks, days to expiry and P&L as a percent of the credit on every position snapshot,
and per VA and for the portfolio a ``GreeksSnapshot`` (delta in dollars, theta per day, margin
in use) after every batch of quotes.

Stale marks (``core/rules/marks.py``): every snapshot carries its mark's time and whether it
is stale or delayed. On each ``MarksDue`` (engine timer) a mark that went stale is
published as such, and the exit rules run on it: a stop or time exit goes out labelled with
the mark's age (``ExitRequest.note``), a profit target waits for a fresh quote.

The actor routes each message to its parts, plain classes given their collaborators and
sharing the watched positions (``positions.py``): ``ExitRequests`` (``exits.py``),
``PositionSnapshots`` (``snapshots.py``), ``GreeksTotals`` (``greeks.py``) and ``MarkAges``
(``marks.py``). Everything but ``__init__`` runs on the actor's own thread; ``__init__`` runs
on the thread that starts the actor (the engine's).
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never, get_args

from actors.messages.events import PositionChanged, QuotesReady
from actors.messages.snapshots import PositionSnapshot
from actors.messages.timers import MarksDue
from actors.position_monitor.exits import ExitRequests
from actors.position_monitor.greeks import GreeksTotals
from actors.position_monitor.marks import MarkAges
from actors.position_monitor.positions import MonitorSettings, PositionKey, WatchedPosition
from actors.position_monitor.snapshots import PositionSnapshots
from actors.runtime.base import EngineActor
from actors.runtime.context import EngineContext
from core.domain import Purpose, Quote

__all__ = ["PositionMonitor", "PositionMonitorMessage"]

#: What the monitor is told.
PositionMonitorMessage = QuotesReady | MarksDue | PositionChanged


class PositionMonitor(EngineActor[PositionMonitorMessage]):
    address = "position_monitor"
    accepts = get_args(PositionMonitorMessage)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(book=ctx.book, bus=ctx.bus, on_crash=ctx.on_crash)
        self.ctx = ctx
        self.settings = MonitorSettings.of(ctx.config)
        self.watched: dict[PositionKey, WatchedPosition] = {}
        self.ages = MarkAges(calendar=ctx.calendar, settings=self.settings)
        self.snapshots = PositionSnapshots(
            settings=self.settings,
            ages=self.ages,
            quotes=ctx.quotes,
            calendar=ctx.calendar,
            ticks=ctx.broker,
            bus=ctx.bus,
        )
        self.exits = ExitRequests(
            settings=self.settings,
            ages=self.ages,
            calendar=ctx.calendar,
            ticks=ctx.broker,
            book=ctx.book,
            bus=ctx.bus,
        )
        self.greeks = GreeksTotals(snapshots=self.snapshots, bus=ctx.bus)

    def on_config_changed(self) -> None:
        self.settings.reload(self.ctx.config)

    def on_start(self) -> None:
        self.recover()

    def on_stop(self) -> None:
        for key in {w.contract.key for w in self.watched.values()}:
            self.ctx.quotes.unsubscribe(self.address, key)
        self.ctx.ledger.close()

    def recover(self) -> None:
        """Rebuild the watched positions from the ledger (stops from working stop orders)."""
        ledger = self.ctx.ledger
        stops = {
            (o.va_id, o.contract_key): o.stop_price
            for o in ledger.orders(working_only=True)
            if o.purpose == Purpose.STOP
        }
        self.watched.clear()
        self.greeks.clear()
        for position in ledger.open_positions():
            key = (position.va_id, position.contract_key)
            self.watched[key] = WatchedPosition(
                position.va_id,
                position.contract,
                position.quantity,
                position.avg_price,
                stops.get(key),
                position.opened_at,
            )
            self.ctx.quotes.subscribe(self.address, position.contract_key)

    def handle(self, message: PositionMonitorMessage) -> None:
        match message:
            case QuotesReady():
                self._mark_positions(self.ctx.quotes.take(self.address))
            case MarksDue():
                self._look_for_stale_marks(self.ctx.clock.now())
            case PositionChanged():
                self._position_changed(message)
            case _:
                assert_never(message)

    def _position_changed(self, change: PositionChanged) -> None:
        key = (change.va_id, change.contract.key)
        self.greeks.forget(change.va_id)
        if change.quantity == 0:
            gone = self.watched.pop(key, None)
            if gone is not None:
                self.snapshots.publish(gone, change.time, closed=True)
            if not any(w.contract.key == change.contract.key for w in self.watched.values()):
                self.ctx.quotes.unsubscribe(self.address, change.contract.key)
            return
        previous = self.watched.get(key)
        watched = WatchedPosition(
            change.va_id,
            change.contract,
            change.quantity,
            change.avg_price,
            change.stop_price,
            change.opened_at,
            mark=previous.mark if previous else None,
            quote=previous.quote if previous else None,
        )
        self.watched[key] = watched
        self.ctx.quotes.subscribe(self.address, change.contract.key)
        quote = self.ctx.quotes.latest(change.contract.key)
        if quote is not None:
            watched.mark_with(quote)
        self.snapshots.publish(watched, change.time)

    def _mark_positions(self, quotes: list[Quote]) -> None:
        """Mark the positions of a batch of quotes, run their exit rules, publish their
        snapshots and the greeks totals. (The governor takes the day's P&L from the broker,
        not from these marks: nothing is told to it per batch.)"""
        if not quotes:
            return
        by_key = {q.contract.key: q for q in quotes}
        now = self.ctx.clock.now()
        marked: set[PositionKey] = set()
        for key, watched in self.watched.items():
            quote = by_key.get(watched.contract.key)
            if quote is None:
                continue
            marked.add(key)
            watched.mark_with(quote)
            self.exits.run_exit_rules(watched, now)
            self.snapshots.publish(watched, now)
        self.greeks.publish(now, self.watched, marked)

    def _look_for_stale_marks(self, now: datetime) -> None:
        """Publish marks that went stale (or fresh) since the last snapshot, and run the exit
        rules on stale ones: no quote will run them (core/rules/marks.py)."""
        for watched in list(self.watched.values()):
            age = self.ages.age(watched, now)
            if age.stale:
                self.exits.run_exit_rules(watched, now, age)
            if age.stale != watched.stale:
                self.snapshots.publish(watched, now)

    def snapshot(self) -> list[PositionSnapshot]:
        now = self.ctx.clock.now()
        return [self.snapshots.snapshot(w, now) for w in self.watched.values()]
