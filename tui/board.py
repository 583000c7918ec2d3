"""``Board``: what the dashboard shows of VAs, positions and orders, and its three tables.

The app's flush hands it each drained ``Batch``; it keeps the latest snapshot per key and puts
them in keyed rows, changed cells only. Everything here runs on the UI thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from loguru import logger
from rich.text import Text

from actors.messages.snapshots import OrderSnapshot, PositionSnapshot, RiskStatus, VASnapshot
from tui.bridge import Batch
from tui.formatting import (
    order_age_cell,
    order_cells,
    position_cells,
    position_key,
    va_cells,
    va_state_cell,
    va_waiting_cells,
)
from tui.risk_cells import RiskTotals, risk_totals, totals_label
from tui.tables import KeyedTable

__all__ = ["Board"]


@contextmanager
def _logged_failure(what: str, key: str) -> Iterator[None]:
    # One malformed snapshot must not take the dashboard (and its kill switch) down.
    try:
        yield
    except Exception:
        logger.exception("tui: could not show {} {}", what, key)


class Board:
    """The VA, position and order tables and the snapshots behind them.

    Args:
        vas, positions, orders: the tables (``show_configured`` once they are mounted).
        configured: the VAs the config runs, in its order: each has a row from the start, and
            VAs it does not list are put after them, by id.
    """

    def __init__(
        self,
        *,
        vas: KeyedTable,
        positions: KeyedTable,
        orders: KeyedTable,
        configured: Sequence[str],
    ) -> None:
        self._vas_table = vas
        self._positions_table = positions
        self._orders_table = orders
        self.configured = tuple(configured)
        self._rank = {va_id: n for n, va_id in enumerate(self.configured)}
        self.vas: dict[str, VASnapshot] = {}
        self.positions: dict[str, PositionSnapshot] = {}
        self.orders: dict[str, OrderSnapshot] = {}
        self._cooling: set[str] = set()  # VAs whose cooldown countdown moves with the clock
        self._stale_vas: set[str] = set()  # VAs with a position whose mark is stale
        self._risk: dict[str, RiskTotals] = {}  # per VA: its positions' delta, theta, margin

    def show_configured(self) -> None:
        """A row per configured VA, waiting for its first snapshot (once the table is mounted)."""
        for va_id in self.configured:
            if va_id not in self._vas_table:
                self._vas_table.upsert(va_id, va_waiting_cells(va_id))

    @property
    def selected_va(self) -> str | None:
        """The VA under the cursor of the VA table."""
        return self._vas_table.cursor_key

    def va_of_row(self, table_id: str | None, key: str | None) -> str | None:
        """The VA a row of the VA, positions or orders table belongs to (None: unknown)."""
        if table_id == "vas":
            return key
        if table_id == "positions" and key in self.positions:
            return self.positions[key].va_id
        if table_id == "orders" and key in self.orders:
            return self.orders[key].va_id
        return None

    def is_new(self, item: RiskStatus | VASnapshot | PositionSnapshot) -> bool:
        """True when nothing is shown yet for ``item``'s key (risk status: never decided here)."""
        if isinstance(item, VASnapshot):
            return item.va_id not in self.vas
        if isinstance(item, PositionSnapshot):
            return position_key(item) not in self.positions and item.quantity != 0
        return False

    def apply(self, batch: Batch, now: datetime, *, replace_all: bool = False) -> None:
        """Show ``batch``, then move the clock-driven cells (order ages, cooldowns) to ``now``.

        ``replace_all`` (a full state from an attached engine): what ``batch`` does not list
        is gone first: its positions and orders, and the VAs the config does not run (a
        configured VA goes back to waiting for its snapshot).
        """
        if replace_all:
            self._forget_all_but(batch)
        self._apply_vas(batch.vas, now)
        moved = self._apply_positions(batch.positions)
        if replace_all:  # positions it did not list are gone: every VA's totals may move
            moved |= self.vas.keys()
        self._redraw_vas(moved, now)
        self._apply_orders(batch.orders, now)

    def reconfigure(self, configured: Sequence[str]) -> None:
        """The VAs the config runs changed (an engine restarted with another config): rows
        for the new ones, in its order; a row of one it no longer runs goes (with its
        snapshot, at the full state that follows)."""
        for va_id in set(self.configured) - set(configured) - self.vas.keys():
            self._vas_table.discard(va_id)  # a row still waiting for its first snapshot
        self.configured = tuple(configured)
        self._rank = {va_id: n for n, va_id in enumerate(self.configured)}
        self.show_configured()
        self._vas_table.sort_rows("id", self._order)

    def _forget_all_but(self, batch: Batch) -> None:
        vas = {snapshot.va_id for snapshot in batch.vas}
        for va_id in [va_id for va_id in self.vas if va_id not in vas]:
            del self.vas[va_id]
            self._cooling.discard(va_id)
            if va_id in self._rank:
                self._vas_table.upsert(va_id, va_waiting_cells(va_id))
            else:
                self._vas_table.discard(va_id)
        positions = {position_key(snapshot) for snapshot in batch.positions}
        for key in [key for key in self.positions if key not in positions]:
            del self.positions[key]
            self._positions_table.discard(key)
        orders = {snapshot.order_id for snapshot in batch.orders}
        for key in [key for key in self.orders if key not in orders]:
            del self.orders[key]
            self._orders_table.discard(key)

    def _redraw_vas(self, moved: set[str], now: datetime) -> None:
        """Re-draw the VA rows whose positions moved (their delta, theta and margin totals)
        or whose "a mark is stale" flag changed with them; the portfolio's totals go under
        the VA table."""
        if moved:
            by_va: dict[str, list[PositionSnapshot]] = {va_id: [] for va_id in moved}
            for position in self.positions.values():
                if position.va_id in by_va:
                    by_va[position.va_id].append(position)
            for va_id, positions in by_va.items():
                self._risk[va_id] = risk_totals(positions)
        stale = {p.va_id for p in self.positions.values() if p.mark_stale}
        changed, self._stale_vas = (stale ^ self._stale_vas) | moved, stale
        for va_id in changed & self.vas.keys():
            with _logged_failure("VA", va_id):
                self._vas_table.upsert(va_id, self._va_row(va_id, now))
        if moved:
            self._vas_table.border_subtitle = totals_label(risk_totals(self.positions.values()))

    def _va_row(self, va_id: str, now: datetime) -> tuple[Text, ...]:
        return va_cells(
            self.vas[va_id],
            now,
            stale_marks=va_id in self._stale_vas,
            risk=self._risk.get(va_id),
        )

    def _order(self, va_id: str) -> tuple[int, str]:
        return (self._rank.get(va_id, len(self._rank)), va_id)

    def _apply_vas(self, snapshots: Iterable[VASnapshot], now: datetime) -> None:
        table = self._vas_table
        added = False
        for snapshot in snapshots:
            va_id = snapshot.va_id
            added = added or va_id not in table
            self.vas[va_id] = snapshot
            if snapshot.state == "cooldown" and snapshot.cooldown_until is not None:
                self._cooling.add(va_id)
            else:
                self._cooling.discard(va_id)
            with _logged_failure("VA", va_id):
                table.upsert(va_id, self._va_row(va_id, now))
        if added:  # only VAs the config does not list (tests, tools): never in a normal run
            table.sort_rows("id", self._order)
        for va_id in self._cooling:
            table.set_cell(va_id, "state", va_state_cell(self.vas[va_id], now))

    def _apply_positions(self, snapshots: Iterable[PositionSnapshot]) -> set[str]:
        """Show the positions; returns the VAs whose positions changed."""
        table = self._positions_table
        moved: set[str] = set()
        for snapshot in snapshots:
            moved.add(snapshot.va_id)
            key = position_key(snapshot)
            if snapshot.quantity == 0:
                self.positions.pop(key, None)
                table.discard(key)
            else:
                self.positions[key] = snapshot
                with _logged_failure("position", key):
                    table.upsert(key, position_cells(snapshot))
        table.border_title = f"Positions ({len(self.positions)})"
        return moved

    def _apply_orders(self, snapshots: Iterable[OrderSnapshot], now: datetime) -> None:
        table = self._orders_table
        for snapshot in snapshots:
            key = snapshot.order_id
            if snapshot.status.is_terminal:
                self.orders.pop(key, None)
                table.discard(key)
            else:
                self.orders[key] = snapshot
                with _logged_failure("order", key):
                    table.upsert(key, order_cells(snapshot, now))
        table.border_title = f"Working orders ({len(self.orders)})"
        for key, order in self.orders.items():
            table.set_cell(key, "age", order_age_cell(order, now))
